"""The benchmark catalog: what measures a capability, at which classification, and where the
office's policy draws its lines.

A benchmark belongs to one evaluation domain and has versions. The version is what a score is
a score *of*: it carries its classification (who may know the benchmark exists by name, and
its scores), its metric and direction (is a higher score more dangerous?), the policy levels
that apply to it, the Inspect task names that produce it and the Inspect metrics that give its
score (its metric aliases), and whether it is current. Levels
are set by administrators with a reason; every change is kept (LevelChange), so the question
"was this model past the line, by the measure in force then?" has an answer.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Clearance
from caisi_portal.text import validate_multi_line, validate_single_line


class PolicyLevel(models.TextChoices):
    """The office's lines, from the lower to the higher concern."""

    ELEVATED = "elevated", "Elevated"
    CRITICAL = "critical", "Critical"


# In order of concern: a score past CRITICAL is also past ELEVATED.
LEVEL_ORDER = [PolicyLevel.ELEVATED, PolicyLevel.CRITICAL]


class Benchmark(models.Model):
    domain = models.ForeignKey("reviews.EvaluationDomain", on_delete=models.PROTECT, related_name="benchmarks")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120, unique=True, validators=[validate_single_line])
    description = models.TextField(blank=True, max_length=2000, validators=[validate_multi_line])
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["domain__sort_order", "name"]

    def __str__(self):
        return self.name


class BenchmarkVersion(models.Model):
    class Direction(models.TextChoices):
        HIGHER = "higher", "A higher score is more dangerous"
        LOWER = "lower", "A lower score is more dangerous"

    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="versions")
    label = models.CharField(max_length=40, validators=[validate_single_line])
    classification = models.IntegerField(choices=Clearance.choices, default=Clearance.UNCLASSIFIED)
    metric = models.CharField(max_length=80, validators=[validate_single_line])
    # The Inspect "scorer/metric" pairs (or metric names) that give this metric, tried in order
    # after the metric's own name: a log scored with match() reports match/accuracy, which the
    # office reads as CTF Ladder's solve rate.
    metric_aliases = models.JSONField(default=list, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.HIGHER)
    # The Inspect tasks whose logs produce this version's score (a task maps to one version).
    inspect_tasks = models.JSONField(default=list, blank=True)
    is_current = models.BooleanField(default=True)
    # Made by the migration from results recorded before the catalog: each kept its own threshold.
    is_legacy = models.BooleanField(default=False)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=500, blank=True, validators=[validate_single_line])
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["benchmark", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "label"], name="one_version_label_per_benchmark"),
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(is_current=False), name="a_retired_version_is_not_current"
            ),
        ]

    def __str__(self):
        return f"{self.benchmark.name} {self.label}"

    def reached(self, score: Decimal, thresholds: dict[str, Decimal]) -> str | None:
        """The highest policy level this score reaches, or None (below every line). At a
        threshold counts as reaching it, whichever the direction."""
        found = None
        for level in LEVEL_ORDER:
            threshold = thresholds.get(level)
            if threshold is None:
                continue
            past = score >= threshold if self.direction == self.Direction.HIGHER else score <= threshold
            if past:
                found = level
        return found


class LevelSetting(models.Model):
    """A policy level's threshold on one version, as it stands now."""

    version = models.ForeignKey(BenchmarkVersion, on_delete=models.CASCADE, related_name="levels")
    level = models.CharField(max_length=20, choices=PolicyLevel.choices)
    threshold = models.DecimalField(max_digits=9, decimal_places=3)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "level"], name="one_threshold_per_level")]

    def __str__(self):
        return f"{self.get_level_display()} at {self.threshold}"


def in_level_order(settings_) -> dict:
    """{level: threshold}, from the lower to the higher concern (as PolicyLevel lists them)."""
    found = {s.level: s.threshold for s in settings_}
    return {level: found[level] for level in PolicyLevel.values if level in found}


class LevelChange(models.Model):
    """Every setting of a version's levels, with who, when and why (never edited)."""

    version = models.ForeignKey(BenchmarkVersion, on_delete=models.CASCADE, related_name="level_changes")
    # {"elevated": "0.400", "critical": null}: the levels before and after, as text.
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField(max_length=500, validators=[validate_single_line])
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.version} levels changed {self.changed_at:%Y-%m-%d}"
