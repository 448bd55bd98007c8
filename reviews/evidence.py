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
    from .models import EvaluationResult, Finding

    out = []
    worrying = (EvaluationResult.Outcome.THRESHOLD_EXCEEDED, EvaluationResult.Outcome.INCONCLUSIVE)
    for r in submission.results.filter(outcome__in=worrying).select_related("domain").order_by("domain__sort_order"):
        if r.outcome == EvaluationResult.Outcome.INCONCLUSIVE:
            label = f"{r.domain}: the result is inconclusive"
        else:
            label = f"{r.domain}: the score {r.score} reached the threshold {r.threshold}"
        out.append(Concern(f"result-{r.domain.slug}", label))
    serious = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)
    # Named by severity, domain and number only: a finding's title may be above a reader's clearance.
    for f in submission.findings.filter(severity__in=serious).select_related("domain").order_by("recorded_at", "pk"):
        out.append(Concern(f"finding-{f.pk}", f"{f.get_severity_display()} finding no. {f.pk} in {f.domain}"))
    return out


def unjustified(submission, justifications: dict) -> list[Concern]:
    """The concerns a set of justifications leaves without a written reason."""
    given = {k for k, v in (justifications or {}).items() if isinstance(v, str) and v.strip()}
    return [c for c in concerns(submission) if c.key not in given]
