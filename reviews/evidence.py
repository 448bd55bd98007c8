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
    # Said to everyone who reads the review, and written into shared text (guard refusals, the
    # trail): a classified benchmark's result is named by its domain only.
    label: str
    # The classification of the evidence behind it: a result's benchmark version's, a finding's.
    classification: int = 0
    finding_id: int | None = None


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
        out.append(Concern(_result_key(r), _result_label(r), r.version.classification))
    serious = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)
    # Named by severity, domain and order only: a finding's title may be above a reader's clearance.
    findings = list(submission.findings.select_related("domain").order_by("recorded_at", "pk"))
    for number, f in enumerate(findings, start=1):
        if f.severity in serious:
            label = f"{f.get_severity_display()} finding in {f.domain} (finding {number} of {len(findings)})"
            out.append(Concern(f"finding-{f.pk}", label, f.classification, f.pk))
    return out


def unjustified(submission, justifications: dict) -> list[Concern]:
    """The concerns a set of justifications leaves without a written reason."""
    from caisi_portal.text import has_words

    given = {k for k, v in (justifications or {}).items() if isinstance(v, str) and has_words(v)}
    return [c for c in concerns(submission) if c.key not in given]


def readable_concerns(submission, user, found: list[Concern] | None = None) -> set[str]:
    """The keys of the concerns whose evidence this person may read: a result's benchmark
    version within their evidence clearance (accounts.rules.evidence_clearance), a finding in
    their scope (accounts.rules.scope_findings)."""
    from accounts import rules

    from .models import Finding

    found = concerns(submission) if found is None else found
    clearance = rules.evidence_clearance(user, submission)
    visible = set(Finding.objects.visible_to(user).filter(submission=submission).values_list("pk", flat=True))
    return {
        c.key for c in found if (c.finding_id in visible if c.finding_id is not None else c.classification <= clearance)
    }


def justifications_shown(determination, user, found: list[Concern] | None = None) -> dict[str, str]:
    """The justifications of a clearance this person may read: those written for a concern
    whose evidence they are cleared for. A justification speaks of its evidence (a classified
    benchmark's score, a SECRET finding), so it goes no further than the evidence does. One
    written for a key no longer among the concerns is withheld: closed by default."""
    readable = readable_concerns(determination.submission, user, found)
    return {k: v for k, v in (determination.justifications or {}).items() if k in readable}


def justifications_withheld(determination, shown: dict) -> int:
    """How many of the determination's justifications were left out of `shown`."""
    return len(determination.justifications or {}) - len(shown)


def _result_key(result) -> str:
    # The version is part of the key: a domain may have several versions planned, and each result
    # is its own concern, justified on its own. A result from before the catalog kept its domain's
    # key, so justifications written for it then still answer it. (The API documents both forms.)
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
