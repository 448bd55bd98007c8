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

from caisi_portal.errors import PayloadTooLarge, ValidationFailed

MSG_NOT_INSTALLED = "Inspect support is not installed on this server (pip install -r requirements-inspect.txt)."
MSG_NOT_A_LOG = "This file is not a readable Inspect evaluation log ({reason})."
MSG_NOT_FINISHED = "This Inspect run did not finish successfully (status: {status}); it records no result."
MSG_NO_METRIC = "The log has no metric named '{metric}'. It has: {available}."


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


def result_from_inspect_log(*, submission, actor, domain, log, threshold, metric=None):
    """Record the domain's result from an Inspect log; a bad log changes nothing."""
    from . import services

    summary = read_inspect_log(log)
    if summary.status != "success":
        message = MSG_NOT_FINISHED.format(status=summary.status)
        raise ValidationFailed(message, details={"log": [message]})
    if not summary.metrics:
        message = MSG_NOT_A_LOG.format(reason="it holds no scores")
        raise ValidationFailed(message, details={"log": [message]})
    chosen = metric or next(iter(summary.metrics))
    if chosen not in summary.metrics:
        message = MSG_NO_METRIC.format(metric=chosen, available=", ".join(summary.metrics))
        raise ValidationFailed(message, details={"metric": [message]})
    lines = [
        f"From Inspect log: task {summary.task}, model {summary.model}, "
        f"{summary.dataset_samples if summary.dataset_samples is not None else 'unknown'} samples, "
        f"status {summary.status}.",
        "Metrics: " + ", ".join(f"{name} = {value:.4g}" for name, value in summary.metrics.items()),
        f"Score taken from {chosen}.",
    ]
    with transaction.atomic():
        return services.evaluation_result_record(
            submission=submission,
            domain=domain,
            actor=actor,
            score=summary.metrics[chosen],
            threshold=threshold,
            summary="\n".join(lines),
        )
