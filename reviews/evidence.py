"""What in the evidence speaks against clearing: the items a clearance must justify.

A result over its threshold or inconclusive, and every high or critical finding. Each item
has a stable key, so a justification written for it stays attached to it; an item recorded
after a clearance was proposed is new, and needs its own justification (and a fresh
concurrence) before the clearance can be issued.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concern:
    key: str
    label: str


def concerns(submission) -> list[Concern]:
    from django.db.models import Q

    from .models import EvaluationResult, Finding

    out = []
    worrying = Q(outcome__in=(EvaluationResult.Outcome.THRESHOLD_EXCEEDED, EvaluationResult.Outcome.INCONCLUSIVE))
    # A concern once raised stays one, even if the result was revised since.
    for r in (
        submission.results.filter(worrying | Q(concern_raised_at__isnull=False))
        .select_related("domain", "version__benchmark")
        .order_by("domain__sort_order", "version_id")
    ):
        out.append(Concern(_result_key(r), _result_label(r)))
    serious = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)
    # Named by severity, domain and order only: a finding's title may be above a reader's clearance.
    findings = list(submission.findings.select_related("domain").order_by("recorded_at", "pk"))
    for number, f in enumerate(findings, start=1):
        if f.severity in serious:
            label = f"{f.get_severity_display()} finding in {f.domain} (finding {number} of {len(findings)})"
            out.append(Concern(f"finding-{f.pk}", label))
    return out


def unjustified(submission, justifications: dict) -> list[Concern]:
    """The concerns a set of justifications leaves without a written reason."""
    from caisi_portal.text import has_words

    given = {k for k, v in (justifications or {}).items() if isinstance(v, str) and has_words(v)}
    return [c for c in concerns(submission) if c.key not in given]


def _result_key(result) -> str:
    # A result from before the catalog kept its domain's key, so justifications written for it
    # then still answer it.
    if result.version.is_legacy:
        return f"result-{result.domain.slug}"
    return f"result-{result.domain.slug}-{result.version_id}"


def _result_label(result) -> str:
    """The concern in words. A classified benchmark's result is named by its domain and what it
    reached only: a reader of the clear page may not be cleared for the benchmark or its score."""
    from accounts.models import Clearance

    from .models import EvaluationResult

    named = result.version.classification == Clearance.UNCLASSIFIED
    what = f"{result.domain}: {result.version}" if named else f"{result.domain}: a classified benchmark's result"
    if result.outcome == EvaluationResult.Outcome.INCONCLUSIVE:
        return f"{what} is inconclusive"
    if result.outcome == EvaluationResult.Outcome.THRESHOLD_EXCEEDED:
        if not named:
            return f"{what} reached the {result.level or 'elevated'} level"
        line = result.levels_applied.get(result.level, "")
        return f"{what}: the score {result.score} reached the {result.level} level ({line})"
    return f"{what} reached a level or was inconclusive before it was revised"
