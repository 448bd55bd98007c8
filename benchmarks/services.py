"""Changing the catalog: benchmarks, their versions and their policy levels.

Every change is made by a live administrator cleared for the version (accounts.rules), in one
transaction with its record: a LevelChange for levels, and an entry in the office's audit
chain. The chain is read by administrators of every clearance, so a classified version is
named there by its number, classification and domain only.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from accounts import rules
from accounts.models import Clearance
from caisi_portal import clock
from caisi_portal.errors import NotPermitted, ValidationFailed
from caisi_portal.text import control_characters, text_problems

from .models import LEVEL_ORDER, Benchmark, BenchmarkVersion, LevelChange, LevelSetting, PolicyLevel

MSG_NOT_PERMITTED = "Only the office's administrators change the benchmark catalog."
MSG_ABOVE_CLEARANCE = "This benchmark version is classified above your clearance."
MSG_HIDDEN_CURRENT = (
    "This benchmark's current version is above your clearance: an administrator cleared for it adds the next version."
)
MAX_TASKS = 20
MAX_ALIASES = 10
MAX_ALIAS_LENGTH = 120
RESERVED_SLUGS = {"new", "versions"}
MAX_THRESHOLD = Decimal("999999.999")


def audit_label(version: BenchmarkVersion) -> str:
    """How the audit chain names a version: by name only when it is unclassified."""
    if version.classification == Clearance.UNCLASSIFIED:
        return f"Benchmark version {version}"
    return (
        f"Benchmark version #{version.pk} ({Clearance(version.classification).label}, {version.benchmark.domain.name})"
    )


def _audit(actor, version, what: str, details: str) -> None:
    """The audit chain is read by administrators of every clearance: a classified version's
    entry says what happened (`what`), never its levels or the reason (`details`), which stay
    in the version's own history, shown only to those cleared for it."""
    from submissions.services import audit_record

    text = f"{what} ({details})" if version.classification == Clearance.UNCLASSIFIED else what
    audit_record(
        submission=None,
        actor=actor,
        action="configuration_changed",
        comment=f"{audit_label(version)}: {text}",
        internal=True,
    )


def levels_clean(levels: dict, direction: str) -> dict[str, Decimal]:
    """The thresholds as decimals, checked: at least one level, within range, and critical
    beyond elevated in the direction of danger."""
    cleaned: dict[str, Decimal] = {}
    for level in LEVEL_ORDER:
        raw = levels.get(level)
        if raw in (None, ""):
            continue
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise ValidationFailed(f"The {PolicyLevel(level).label.lower()} threshold must be a number.") from None
        if not value.is_finite() or abs(value) > MAX_THRESHOLD:
            raise ValidationFailed(
                f"The {PolicyLevel(level).label.lower()} threshold must be between -999999.999 and 999999.999."
            )
        cleaned[level] = value.quantize(Decimal("0.001"))
    if not cleaned:
        raise ValidationFailed("Set at least one policy level: a benchmark with no line cannot decide an outcome.")
    unknown = set(levels) - set(PolicyLevel.values)
    if unknown:
        raise ValidationFailed(f"Unknown policy level: {', '.join(sorted(map(str, unknown)))[:200]}.")
    elevated, critical = cleaned.get(PolicyLevel.ELEVATED), cleaned.get(PolicyLevel.CRITICAL)
    if elevated is not None and critical is not None:
        higher = direction == BenchmarkVersion.Direction.HIGHER
        if (higher and critical <= elevated) or (not higher and critical >= elevated):
            side = "above" if higher else "below"
            raise ValidationFailed(
                f"The critical threshold must be {side} the elevated one: "
                f"{BenchmarkVersion.Direction(direction).label.lower()}."
            )
    return cleaned


def tasks_clean(tasks, *, actor, exclude_version=None) -> list[str]:
    """Inspect task names: single lines, no repeats, each producing one current version."""
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.splitlines()]
    if not isinstance(tasks, list | tuple):
        raise ValidationFailed("Inspect tasks are a list of task names.")
    cleaned = []
    for task in tasks:
        if not isinstance(task, str):
            raise ValidationFailed("Each Inspect task is a name (text).")
        task = task.strip()
        if not task:
            continue
        if len(task) > 200 or control_characters(task):
            raise ValidationFailed(
                "An Inspect task name is one line of at most 200 characters, without control characters."
            )
        if task not in cleaned:
            cleaned.append(task)
    if len(cleaned) > MAX_TASKS:
        raise ValidationFailed(f"At most {MAX_TASKS} Inspect tasks per version.")
    for other in BenchmarkVersion.objects.filter(retired_at__isnull=True).exclude(
        pk=getattr(exclude_version, "pk", None)
    ):
        taken = set(cleaned) & set(other.inspect_tasks or [])
        if taken:
            # Named only to someone who may know the other version exists.
            whose = str(other) if rules.may_change_benchmark_version(actor, other) else "another benchmark version"
            raise ValidationFailed(
                f"The Inspect task {sorted(taken)[0]!r} already produces {whose}: a task maps to one version."
            )
    return cleaned


def aliases_clean(aliases, *, metric: str) -> list[str]:
    """Metric aliases as Inspect names them: "scorer/metric", or a metric alone; one line each,
    no repeats, never the version's own metric (it is tried first anyway)."""
    if isinstance(aliases, str) or not isinstance(aliases, list | tuple):
        raise ValidationFailed("Metric aliases are a list of Inspect metric names, such as match/accuracy.")
    cleaned = []
    for alias in aliases:
        if not isinstance(alias, str):
            raise ValidationFailed("Each metric alias is a name (text), such as match/accuracy.")
        alias = alias.strip()
        if not alias:
            continue
        if "\n" in alias or "\r" in alias or control_characters(alias):
            raise ValidationFailed(f"A metric alias is one line, without control characters: {alias[:40]!r}.")
        if len(alias) > MAX_ALIAS_LENGTH:
            raise ValidationFailed(f"A metric alias is at most {MAX_ALIAS_LENGTH} characters.")
        if any(not part.strip() for part in alias.split("/")):
            raise ValidationFailed(
                f"{alias!r} names no Inspect metric: write scorer/metric (such as match/accuracy) or a metric alone."
            )
        if alias == metric.strip():
            raise ValidationFailed(
                f"{alias!r} is the version's metric already: an alias is another name a log gives it."
            )
        if alias not in cleaned:
            cleaned.append(alias)
    if len(cleaned) > MAX_ALIASES:
        raise ValidationFailed(f"At most {MAX_ALIASES} metric aliases per version.")
    return cleaned


def _text_check(single_line: dict, limits: dict) -> None:
    """Names, labels, metrics and reasons: one line each, within their lengths, not blank."""
    problems = text_problems(single_line=single_line, limits=limits)
    for name, value in single_line.items():
        if not isinstance(value, str) or not value.strip():
            problems.setdefault(name, ["This is required."])
    if problems:
        first = next(iter(problems.items()))
        raise ValidationFailed(f"{first[0].replace('_', ' ').capitalize()}: {first[1][0]}", details=problems)


def _may(actor, classification: int) -> None:
    if not rules.may_manage_benchmarks(actor):
        raise NotPermitted(MSG_NOT_PERMITTED)
    if classification > actor.clearance:
        raise NotPermitted(
            f"You hold {Clearance(actor.clearance).label} clearance: you cannot make a "
            f"{Clearance(classification).label} benchmark version."
        )


def benchmark_create(*, actor, domain, name: str, slug: str, description: str = "", **version) -> BenchmarkVersion:
    """A new benchmark with its first version (a benchmark without one measures nothing)."""
    _may(actor, int(version.get("classification", Clearance.UNCLASSIFIED)))
    _text_check({"name": name, "slug": slug}, {"name": 120, "slug": 60})
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(
            f"The short name {slug!r} is taken by the catalog's own pages.",
            details={"slug": ["Choose another short name."]},
        )
    if text_problems(multi_line={"description": description}, limits={"description": 2000}):
        raise ValidationFailed("Description: keep it to 2,000 characters, without control characters.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                benchmark = Benchmark.objects.create(
                    domain=domain, name=name, slug=slug, description=description, created_at=clock.now()
                )
        except IntegrityError:
            # The same words whether or not the reader may see the benchmark that holds them.
            raise ValidationFailed("This name or short name is taken: choose another.") from None
        return benchmark_version_create(actor=actor, benchmark=benchmark, **version)


def benchmark_version_create(
    *,
    actor,
    benchmark,
    label: str,
    classification: int,
    metric: str,
    direction: str,
    levels: dict,
    inspect_tasks=(),
    metric_aliases=(),
    reason: str = "First levels.",
) -> BenchmarkVersion:
    """A new version of a benchmark, current from now: the benchmark's earlier versions stop
    being current (they keep their scores and levels)."""
    classification = int(classification)
    _may(actor, classification)
    _text_check({"label": label, "metric": metric, "reason": reason}, {"label": 40, "metric": 80, "reason": 500})
    if direction not in BenchmarkVersion.Direction.values:
        raise ValidationFailed("Choose whether a higher or a lower score is more dangerous.")
    thresholds = levels_clean(levels, direction)
    aliases = aliases_clean(list(metric_aliases), metric=metric)
    now = clock.now()
    with transaction.atomic():
        tasks = tasks_clean(list(inspect_tasks), actor=actor)
        Benchmark.objects.select_for_update().get(pk=benchmark.pk)  # one new version at a time
        if benchmark.versions.filter(label=label).exists():
            raise ValidationFailed(f"The version label {label!r} is taken for {benchmark.name}: choose another.")
        current = list(benchmark.versions.filter(is_current=True))
        if any(not rules.may_change_benchmark_version(actor, v) for v in current):
            # A new version ends the current one's standing: nobody ends a line they may not read.
            raise NotPermitted(MSG_HIDDEN_CURRENT)
        benchmark.versions.filter(pk__in=[v.pk for v in current]).update(is_current=False)
        version = BenchmarkVersion.objects.create(
            benchmark=benchmark,
            label=label,
            classification=classification,
            metric=metric,
            direction=direction,
            inspect_tasks=tasks,
            metric_aliases=aliases,
            is_current=True,
            created_at=now,
        )
        LevelSetting.objects.bulk_create(
            [LevelSetting(version=version, level=k, threshold=v) for k, v in thresholds.items()]
        )
        LevelChange.objects.create(
            version=version,
            before={},
            after={k: str(v) for k, v in thresholds.items()},
            reason=reason,
            changed_by=actor,
            changed_at=now,
        )
        _audit(actor, version, "added", _levels_words(thresholds))
    return version


def _levels_words(thresholds: dict) -> str:
    return ", ".join(f"{PolicyLevel(k).label.lower()} at {v}" for k, v in thresholds.items()) or "no levels"


def _change_allowed(actor, version, reason, missing: str) -> str:
    """The checks before changing a version: who, their clearance, and a reason."""
    if not rules.may_manage_benchmarks(actor):
        raise NotPermitted(MSG_NOT_PERMITTED)
    if not rules.may_change_benchmark_version(actor, version):
        raise NotPermitted(MSG_ABOVE_CLEARANCE)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationFailed(missing)
    _text_check({"reason": reason}, {"reason": 500})
    return reason


def _locked_unretired(version, retired: str) -> BenchmarkVersion:
    locked = BenchmarkVersion.objects.select_for_update().select_related("benchmark__domain").get(pk=version.pk)
    if locked.retired_at is not None:
        raise ValidationFailed(retired.format(version=locked))
    return locked


def benchmark_version_levels_set(*, actor, version: BenchmarkVersion, levels: dict, reason: str) -> LevelChange:
    """New thresholds for a version, with the reason; the old ones stay in its history.
    Results already recorded keep the outcome their levels gave them when recorded."""
    reason = _change_allowed(actor, version, reason, "Say why the levels change: the reason stays in its history.")
    with transaction.atomic():
        locked = _locked_unretired(version, "{version} is retired: its levels are kept as they were.")
        thresholds = levels_clean(levels, locked.direction)
        before = {s.level: str(s.threshold) for s in locked.levels.all()}
        after = {k: str(v) for k, v in thresholds.items()}
        if before == after:
            raise ValidationFailed("These are the levels in force already: nothing to change.")
        locked.levels.all().delete()
        LevelSetting.objects.bulk_create(
            [LevelSetting(version=locked, level=k, threshold=v) for k, v in thresholds.items()]
        )
        change = LevelChange.objects.create(
            version=locked, before=before, after=after, reason=reason, changed_by=actor, changed_at=clock.now()
        )
        _audit(
            actor,
            locked,
            "levels changed",
            f"{_levels_words({k: Decimal(v) for k, v in before.items()})} → {_levels_words(thresholds)}; {reason}",
        )
    return change


def benchmark_version_aliases_set(*, actor, version: BenchmarkVersion, aliases) -> BenchmarkVersion:
    """The Inspect metrics that give this version's score besides its metric's own name.
    Results already recorded keep their scores; logs imported from now on are read by these."""
    if not rules.may_manage_benchmarks(actor):
        raise NotPermitted(MSG_NOT_PERMITTED)
    if not rules.may_change_benchmark_version(actor, version):
        raise NotPermitted(MSG_ABOVE_CLEARANCE)
    with transaction.atomic():
        locked = _locked_unretired(version, "{version} is retired: no log is read for it any more.")
        cleaned = aliases_clean(aliases, metric=locked.metric)
        if cleaned == locked.metric_aliases:
            raise ValidationFailed("These are the metric aliases in force already: nothing to change.")
        before, locked.metric_aliases = locked.metric_aliases, cleaned
        locked.save(update_fields=["metric_aliases"])
        _audit(
            actor,
            locked,
            "metric aliases changed",
            f"{', '.join(before) or 'none'} → {', '.join(cleaned) or 'none'}, for {locked.metric}",
        )
    return locked


def benchmark_version_retire(*, actor, version: BenchmarkVersion, reason: str) -> BenchmarkVersion:
    """No longer planned or produced by Inspect tasks; its results and history stay."""
    reason = _change_allowed(actor, version, reason, "Say why the version is retired.")
    with transaction.atomic():
        locked = _locked_unretired(version, "{version} was retired already.")
        locked.retired_at, locked.retired_reason, locked.is_current = clock.now(), reason, False
        locked.save(update_fields=["retired_at", "retired_reason", "is_current"])
        _audit(actor, locked, "retired", reason)
    return locked
