"""Evaluation evidence from the UK AI Security Institute's Inspect framework.

A reviewer uploads an Inspect log (.eval or .json); Inspect's own reader parses it, and
its scores become the result for one evaluation domain. Inspect is an optional extra
(requirements-inspect.txt): without it the upload is refused with a clear message.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from django.conf import settings
from django.db import transaction

from accounts import rules
from caisi_portal.errors import PayloadTooLarge, ValidationFailed

MSG_NOT_INSTALLED = "Inspect support is not installed on this server (pip install -r requirements-inspect.txt)."
MSG_NOT_A_LOG = "This file is not a readable Inspect evaluation log ({reason})."
MSG_NOT_FINISHED = "This Inspect run did not finish successfully (status: {status}); it records no result."
MSG_NO_METRIC = (
    "The log has no metric '{metric}'{aliases}, which {version} is scored by. It has: {available}. "
    "An administrator can name the log's metric as an alias of the version's in the benchmark catalog."
)
MSG_UNKNOWN_TASK = (
    "No benchmark version planned for this submission takes the Inspect task '{task}': an administrator "
    "names the task on its benchmark version in the catalog, and the lead plans that version."
)


@dataclass
class InspectSummary:
    task: str
    model: str
    dataset_samples: int | None
    status: str
    metrics: dict[str, float]


def read_inspect_log(uploaded) -> InspectSummary:
    """Parse an uploaded log with Inspect's reader. Raises ValidationFailed when it is not one."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise ValidationFailed(MSG_NOT_INSTALLED) from None
    if uploaded.size > settings.ARTIFACT_MAX_BYTES:
        raise PayloadTooLarge("The log is larger than the largest upload accepted.")
    suffix = PurePath(uploaded.name or "").suffix.lower()
    if suffix not in (".eval", ".json"):
        message = MSG_NOT_A_LOG.format(reason="the name must end in .eval or .json")
        raise ValidationFailed(message, details={"log": [message]})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
        try:
            log = read_eval_log(str(path), header_only=True)
        except Exception as exc:
            message = MSG_NOT_A_LOG.format(reason=f"{exc.__class__.__name__}: {str(exc)[:200]}")
            raise ValidationFailed(message, details={"log": [message]}) from None
    metrics = {}
    for score in (log.results.scores if log.results else []) or []:
        for name, metric in (score.metrics or {}).items():
            metrics[f"{score.name}/{name}"] = float(metric.value)
    return InspectSummary(
        task=log.eval.task,
        model=log.eval.model,
        dataset_samples=getattr(log.eval.dataset, "samples", None),
        status=str(log.status),
        metrics=metrics,
    )


def _named(metrics: dict[str, float], metric: str) -> tuple[str, float] | None:
    """A metric in the log: named in full ("scorer/metric") or by the metric alone when exactly
    one scorer reports it."""
    if metric in metrics:
        return metric, metrics[metric]
    matches = [(name, value) for name, value in metrics.items() if name.rsplit("/", 1)[-1] == metric]
    return matches[0] if len(matches) == 1 else None


def metric_of(metrics: dict[str, float], version) -> tuple[str, float] | None:
    """The version's score in the log, and the name the log gives it: its metric by name first,
    then each of its metric aliases in order (the scorer/metric pairs that produce it)."""
    for name in [version.metric, *(version.metric_aliases or [])]:
        found = _named(metrics, name)
        if found is not None:
            return found
    return None


def version_for_task(submission, actor, task: str):
    """The planned benchmark version whose Inspect tasks include this one, as the uploader may
    name it; None for an unknown task (or one only a higher clearance may know of)."""
    from benchmarks.models import BenchmarkVersion

    from .models import EvaluationPlanItem

    planned = EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission)
    for version in BenchmarkVersion.objects.filter(pk__in=planned.values("benchmarkversion_id")).select_related(
        "benchmark__domain"
    ):
        if task in (version.inspect_tasks or []) and rules.may_record_against(actor, submission, version):
            return version
    return None


def result_from_inspect_log(*, submission, actor, log):
    """Record a result from an Inspect log: the log's task names the benchmark version (in the
    submission's plan), the version's metric or one of its aliases names the score. A bad or unknown log changes
    nothing and says what it did not recognise."""
    from . import services

    summary = read_inspect_log(log)
    if summary.status != "success":
        message = MSG_NOT_FINISHED.format(status=summary.status)
        raise ValidationFailed(message, details={"log": [message]})
    if not summary.metrics:
        message = MSG_NOT_A_LOG.format(reason="it holds no scores")
        raise ValidationFailed(message, details={"log": [message]})
    task = sanitized(summary.task)
    version = version_for_task(submission, actor, summary.task)
    if version is None:
        message = MSG_UNKNOWN_TASK.format(task=task)
        raise ValidationFailed(message, details={"log": [message]})
    found = metric_of(summary.metrics, version)
    if found is None:
        aliases = version.metric_aliases or []
        message = MSG_NO_METRIC.format(
            metric=version.metric,
            aliases=f" (nor its alias{'es' if len(aliases) > 1 else ''} {', '.join(aliases)})" if aliases else "",
            version=version,
            available=", ".join(sanitized(m) for m in summary.metrics),
        )
        raise ValidationFailed(message, details={"log": [message]})
    taken_from, score = found
    by_alias = _named(summary.metrics, version.metric) is None
    source = f"{sanitized(taken_from)} (an alias of {version.metric})" if by_alias else version.metric
    lines = [
        f"From Inspect log: task {task}, model {sanitized(summary.model)}, "
        f"{summary.dataset_samples if summary.dataset_samples is not None else 'unknown'} samples, "
        f"status {summary.status}.",
        "Metrics: " + ", ".join(f"{sanitized(name)} = {value:.4g}" for name, value in summary.metrics.items()),
        f"Score taken from {source} for {version}.",
    ]
    with transaction.atomic():
        return services.evaluation_result_record(
            submission=submission, version=version, actor=actor, score=score, summary="\n".join(lines)
        )


def sanitized(text: str) -> str:
    """A name read from an uploaded log, safe to show and store: one line, printable, short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return text if len(text) <= 200 else text[:199] + "…"
