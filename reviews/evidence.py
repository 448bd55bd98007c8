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
        .select_related("domain")
        .order_by("domain__sort_order")
    ):
        if r.outcome == EvaluationResult.Outcome.INCONCLUSIVE:
            label = f"{r.domain}: the result is inconclusive"
        elif r.outcome == EvaluationResult.Outcome.THRESHOLD_EXCEEDED:
            label = f"{r.domain}: the score {r.score} reached the threshold {r.threshold}"
        else:
            label = f"{r.domain}: the result reached its threshold or was inconclusive before it was revised"
        out.append(Concern(f"result-{r.domain.slug}", label))
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
