"""The office's side of a review: who reviews, what they found, what they decided."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts import rules
from accounts.models import Clearance
from caisi_portal import timefmt


class EvaluationDomain(models.Model):
    """A capability or vulnerability area the office evaluates (administrators add more)."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Planned by default for new evaluations.")
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name


class ConflictOfInterest(models.Model):
    """A reason a reviewer may not review an organization's models."""

    class Kind(models.TextChoices):
        AFFILIATION = "affiliation", "Affiliated (current or former employment, equity)"
        DECLARED = "declared", "Declared by the reviewer"

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conflicts")
    organization = models.ForeignKey("submissions.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    note = models.TextField(blank=True)
    declared_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "conflicts of interest"
        constraints = [models.UniqueConstraint(fields=["reviewer", "organization"], name="one_conflict_per_pair")]

    def __str__(self):
        return f"{self.reviewer} / {self.organization}"


class Assignment(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead reviewer"
        MEMBER = "member", "Reviewer"

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["role", "assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "reviewer"], name="one_assignment_per_reviewer"),
            models.UniqueConstraint(fields=["submission"], condition=Q(role="lead"), name="one_lead_per_submission"),
        ]

    def __str__(self):
        return f"{self.reviewer} ({self.get_role_display()}) on {self.submission}"


class AssignmentHandover(models.Model):
    """An assignment the office ended: who left the review, who took over their role (no one,
    for a reviewer removed), and the handover note the one taking over reads. The outgoing
    assignment itself is gone; this row and the audit trail keep what happened."""

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="handovers")
    role = models.CharField(max_length=10, choices=Assignment.Role.choices)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    handed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # The assignment of the one who took over, while it lasts: their note is read with it.
    assignment = models.OneToOneField(
        Assignment, on_delete=models.SET_NULL, null=True, blank=True, related_name="handover"
    )
    note = models.TextField()
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["ended_at", "pk"]

    def __str__(self):
        to = f" to {self.handed_to}" if self.handed_to_id else ""
        return f"{self.reviewer} ({self.get_role_display()}){to} on {self.submission}"


class EvaluationPlanItem(models.Model):
    """A domain the review evaluates, and the benchmark versions that measure it (the domain's
    current versions when the submission is accepted; the lead may change them while evaluating)."""

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="plan_items")
    domain = models.ForeignKey(EvaluationDomain, on_delete=models.PROTECT, related_name="+")
    versions = models.ManyToManyField("benchmarks.BenchmarkVersion", related_name="+", blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["submission", "domain"], name="domain_planned_once")]

    def __str__(self):
        return f"{self.domain} for {self.submission}"


class EvaluationResult(models.Model):
    """A score for one benchmark version. Its outcome is computed from the version's policy
    levels in force when it was recorded (kept in levels_applied), never typed by a reviewer;
    a domain's outcome is the worst of its results' (domain_outcome)."""

    class Outcome(models.TextChoices):
        BELOW_THRESHOLD = "below_threshold", "Below every level"
        THRESHOLD_EXCEEDED = "threshold_exceeded", "Level reached"
        INCONCLUSIVE = "inconclusive", "Inconclusive"

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="results")
    # The version's domain, kept on the row: roll-ups, reminders and guards count by domain.
    domain = models.ForeignKey(EvaluationDomain, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey("benchmarks.BenchmarkVersion", on_delete=models.PROTECT, related_name="results")
    score = models.DecimalField(max_digits=9, decimal_places=3)
    # {"elevated": "0.400", "critical": "0.700"}: the version's levels when the score was judged,
    # so a later change of the line never rewrites what this result meant.
    levels_applied = models.JSONField(default=dict)
    # The highest policy level the score reached ("" when below every level, or inconclusive).
    level = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    # Once a result has reached its threshold or been inconclusive, that stays on the record:
    # revising the score or the threshold later does not make the concern go away.
    concern_raised_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    # Recorded by an allied institute's reviewer on a joint review: their institute (set from the
    # author's organization by the service), shown on pages, the API and exports.
    institute = models.ForeignKey(
        "submissions.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["domain__sort_order", "version_id"]
        constraints = [models.UniqueConstraint(fields=["submission", "version"], name="one_result_per_version")]

    def __str__(self):
        return f"{self.domain}: {self.get_outcome_display()}"

    @property
    def classification(self) -> int:
        return self.version.classification

    @property
    def severity_rank(self) -> int:
        """How bad, for the domain's roll-up: below < inconclusive < elevated < critical."""
        if self.outcome == self.Outcome.INCONCLUSIVE:
            return 1
        if self.outcome == self.Outcome.THRESHOLD_EXCEEDED:
            from benchmarks.models import LEVEL_ORDER

            return 2 + (LEVEL_ORDER.index(self.level) if self.level in LEVEL_ORDER else 0)
        return 0

    @property
    def verdict(self) -> str:
        """The outcome in words: which level the score reached, by the version's lines."""
        if self.outcome == self.Outcome.THRESHOLD_EXCEEDED and self.level:
            return f"{self.level.capitalize()} level reached"
        return self.get_outcome_display()

    @property
    def levels_words(self) -> str:
        """ "Elevated at 0.400, critical at 0.700": the lines this score was judged by."""
        return ", ".join(f"{level} at {value}" for level, value in self.levels_applied.items()) or "none set"


def domain_outcome(results) -> EvaluationResult | None:
    """The stated roll-up rule: a domain is as bad as its worst result (a critical level beats an
    elevated one, which beats an inconclusive run, which beats a score below every level)."""
    return max(results, key=lambda r: r.severity_rank, default=None)


class FindingQuerySet(models.QuerySet):
    def visible_to(self, user):
        return rules.scope_findings(self, user)


def evidence_upload_to(instance, filename):
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"evidence/{instance.submission_id}/{uuid.uuid4().hex}{suffix}"


class Finding(models.Model):
    class Severity(models.TextChoices):
        INFORMATIONAL = "informational", "Informational"
        LOW = "low", "Low"
        MODERATE = "moderate", "Moderate"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="findings")
    domain = models.ForeignKey(EvaluationDomain, on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(max_length=20, choices=Severity.choices)
    classification = models.IntegerField(choices=Clearance.choices, default=Clearance.UNCLASSIFIED)
    title = models.CharField(max_length=200)
    description = models.TextField()
    recommendation = models.TextField(blank=True)
    evidence = models.FileField(upload_to=evidence_upload_to, blank=True, max_length=300)
    evidence_name = models.CharField(max_length=255, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    # Recorded by an allied institute's reviewer on a joint review: their institute (set from the
    # author's organization by the service), shown on pages, the API and exports.
    institute = models.ForeignKey(
        "submissions.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Carried forward from the version this submission supersedes (the finding there, itself
    # perhaps carried): still open until the re-review's lead resolves it with a reason.
    carried_from = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="carried_to")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    resolution = models.TextField(blank=True, help_text="Why the finding no longer holds for this version.")

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            # Accepting a re-review carries each open finding once.
            models.UniqueConstraint(fields=["submission", "carried_from"], name="finding_carried_once")
        ]

    def __str__(self):
        return f"[{self.get_classification_display()}] {self.title}"

    @property
    def is_carried(self) -> bool:
        return self.carried_from_id is not None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


def evidence_fingerprint(submission_id) -> list:
    """The evidence a decision rests on, as plain values: each result and each finding."""
    results = EvaluationResult.objects.filter(submission_id=submission_id).order_by("version_id")
    findings = Finding.objects.filter(submission_id=submission_id).order_by("pk")
    return [
        [[r.version_id, str(r.score), r.level, r.outcome] for r in results],
        [[f.pk, f.severity, f.classification] for f in findings],
    ]


class Determination(models.Model):
    """The lead reviewer's decision. A flag is proposed, concurred with, then issued; so is a
    clearance against the evidence (a threshold exceeded, an inconclusive result, a high or
    critical finding), with a written justification for each such item."""

    class Outcome(models.TextChoices):
        CLEARED = "cleared", "Cleared"
        FLAGGED = "flagged", "Flagged"

    submission = models.OneToOneField(
        "submissions.ModelSubmission", on_delete=models.CASCADE, related_name="determination"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    rationale = models.TextField()
    release_conditions = models.TextField(blank=True)
    partner_summary = models.TextField(
        blank=True, help_text="What developer staff and trusted partners are told: no classified content."
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    concurred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    concurred_at = models.DateTimeField(null=True, blank=True)
    # What the second reviewer agreed to, sealed: a proposal changed afterwards no longer matches.
    concurred_digest = models.CharField(max_length=64, blank=True)
    # A clearance against the evidence: concern key -> why clearing is right all the same.
    justifications = models.JSONField(default=dict, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    # Issued late, after the review window elapsed: the record and every notice say so.
    issued_after_window = models.BooleanField(default=False)
    # A joint review: the allied institutes whose staff recorded results or findings, fixed
    # when the determination is issued (the record, its page and every notice name them).
    contributing_institutes = models.ManyToManyField("submissions.Organization", blank=True, related_name="+")

    class Meta:
        permissions = [("concur_determination", "Can concur with a proposed determination")]
        constraints = [
            models.CheckConstraint(
                condition=Q(concurred_by__isnull=True) | ~Q(concurred_by=models.F("decided_by")),
                name="concurrence_by_a_second_person",
            )
        ]

    def __str__(self):
        return f"{self.get_outcome_display()}: {self.submission}"

    def sealed_payload(self) -> bytes:
        """Exactly what is agreed to: the outcome, the texts and justifications, and the
        evidence as it stands (every result and finding)."""
        import json

        sealed = {
            "outcome": self.outcome,
            "rationale": self.rationale,
            "partner_summary": self.partner_summary,
            "release_conditions": self.release_conditions,
            "justifications": self.justifications or {},
            "evidence": evidence_fingerprint(self.submission_id),
        }
        return json.dumps(sealed, sort_keys=True, default=str).encode()

    def digest(self) -> str:
        """A fingerprint of the sealed payload. A concurrence sealed with it stops counting when
        any of it changes: a new SECRET finding, a revised score. Keyed with the secret key (an
        HMAC, not a plain hash): the digest is shown to everyone on the review, and the payload
        holds classified scores, which a plain hash would let a reader below their clearance
        find by trying the few thousand possible scores."""
        import hashlib
        import hmac

        key = settings.SECRET_KEY.encode()
        return hmac.new(key, b"determination-digest:" + self.sealed_payload(), hashlib.sha256).hexdigest()

    @property
    def concurrence_holds(self) -> bool:
        """A second reviewer concurred with this very text (not an earlier version of it)."""
        return self.concurred_by_id is not None and self.concurred_digest == self.digest()


class Advisory(models.Model):
    """What the office tells the developer and partners about a released model when a finding
    arrives after release. Proposed by the review's lead with the finding(s) it rests on; a
    second reviewer cleared for them concurs (the two-person rule, as for a flag), which issues it."""

    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="advisories")
    text = models.TextField(
        help_text="Exactly what the developer and trusted partners are told. No classified content."
    )
    findings = models.ManyToManyField(Finding, related_name="advisories")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    concurred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    concurred_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        verbose_name_plural = "advisories"
        constraints = [
            models.CheckConstraint(
                condition=Q(concurred_by__isnull=True) | ~Q(concurred_by=models.F("proposed_by")),
                name="advisory_concurrence_by_a_second_person",
            ),
            models.UniqueConstraint(
                fields=["submission"], condition=Q(issued_at__isnull=True), name="one_open_advisory_per_submission"
            ),
        ]

    def __str__(self):
        return f"Advisory on {self.submission}"


class ReviewerExpertise(models.Model):
    """A domain a reviewer declares they know (administrators record it; past results and
    findings count as well, without a row here). Used to rank assignment suggestions."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expertise")
    domain = models.ForeignKey(EvaluationDomain, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "reviewer expertise"
        constraints = [models.UniqueConstraint(fields=["reviewer", "domain"], name="expertise_declared_once")]

    def __str__(self):
        return f"{self.reviewer}: {self.domain}"


class ReviewerLeave(models.Model):
    """A period a reviewer is away, both days included. Assignment suggestions never suggest
    someone on leave during a review's window, and list them last with the dates."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leave")
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="The last day away.")
    note = models.CharField(max_length=200, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name = "reviewer leave"
        verbose_name_plural = "reviewer leave"
        ordering = ["starts_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="leave_ends_after_it_starts")
        ]

    def __str__(self):
        return f"{self.reviewer}: on leave {self.words}"

    @property
    def words(self) -> str:
        """ "12–20 Dec" """
        return timefmt.days(self.starts_on, self.ends_on)


class AssignmentPolicy(models.Model):
    """The office's one assignment policy (a single row, pk 1; administrators change it in the
    admin, each change audited). With `auto_assign_on_accept`, accepting a submission assigns
    the top suggestions at once: a lead and `reviewers_on_accept` reviewers."""

    auto_assign_on_accept = models.BooleanField(
        "assign on accept",
        default=False,
        help_text="Accepting a submission assigns the suggested lead and reviewers (never a conflicted "
        "or insufficiently cleared person).",
    )
    reviewers_on_accept = models.PositiveSmallIntegerField(
        "reviewers besides the lead", default=1, help_text="How many reviewers to assign besides the lead."
    )

    class Meta:
        verbose_name = "assignment policy"
        verbose_name_plural = "assignment policy"

    def __str__(self):
        return "Assignment policy"

    def save(self, *args, **kwargs):
        self.pk = 1  # one office, one policy
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> AssignmentPolicy:
        """The policy as it stands (defaults, unsaved, until an administrator sets one)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)
