"""Transition guards that can explain themselves.

Each guard returns the list of reasons a transition may not happen now (empty when it
may). The FSM uses them as ``conditions``; the transition service uses the same
functions to tell the person exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

GUARDS: dict[str, Callable] = {}
# What each guard checks, as an item of a task list ("A model card uploaded"): the submission
# page shows each item of an action done or missing, with the guard's own reasons.
GUARD_LABELS: dict[str, str] = {}


def guard(label: str):
    def register(func):
        GUARDS[func.__name__] = func
        GUARD_LABELS[func.__name__] = label
        return func

    return register


def condition(name: str):
    """An FSM condition backed by the named guard."""

    def check(instance) -> bool:
        return not GUARDS[name](instance)

    check.__name__ = name
    check.guard_name = name
    return check


def checklist_for(transition) -> Callable:
    """(label, reasons) for each guard of one transition: done when reasons is empty."""

    def check(instance) -> list[tuple[str, list[str]]]:
        return [
            (GUARD_LABELS[cond.guard_name], GUARDS[cond.guard_name](instance))
            for cond in transition.conditions
            if getattr(cond, "guard_name", None)
        ]

    return check


def problems_for(transition) -> Callable:
    """Collect the explanations of every guard on one FSM transition."""

    def explain(instance) -> list[str]:
        reasons: list[str] = []
        for cond in transition.conditions:
            name = getattr(cond, "guard_name", None)
            if name:
                reasons.extend(GUARDS[name](instance))
            elif not cond(instance):
                reasons.append(f"The condition {cond.__name__} is not met.")
        return reasons

    return explain


@guard("A signed review agreement")
def agreement_allows_submission(submission) -> list[str]:
    from .models import Agreement

    agreement = Agreement.objects.filter(organization_id=submission.organization_id).first()
    if agreement is None:
        return [f"{submission.organization} has no review agreement with the office, so it cannot submit."]
    if not agreement.allows_submission:
        return [
            f"{submission.organization}'s review agreement is {agreement.get_status_display().lower()}: "
            "only an organization with a signed, unsuspended agreement can submit."
        ]
    return []


@guard("The review agreement suspended or terminated")
def agreement_no_longer_in_force(submission) -> list[str]:
    """The office ends a review itself only when the agreement that brought it no longer holds
    (otherwise withdrawing is the developer's decision)."""
    from .models import Agreement

    status = (
        Agreement.objects.filter(organization_id=submission.organization_id).values_list("status", flat=True).first()
    )
    if status in (Agreement.Status.SUSPENDED, Agreement.Status.TERMINATED):
        return []
    return [
        f"{submission.organization}'s review agreement is in force: only the developer can withdraw this "
        "submission. The office ends a review itself only when it suspends or terminates the agreement."
    ]


REQUIRED_FOR_SUBMIT = {
    "model_name": "the model name",
    "model_version": "the version",
    "release_channel": "the release channel",
    "planned_release_date": "the planned release date",
    "capabilities": "the description of capabilities",
    "intended_use": "the intended use",
    "evaluator_access": "how evaluators get access",
}


@guard("Every required field filled in")
def required_fields_present(submission) -> list[str]:
    missing = [label for field, label in REQUIRED_FOR_SUBMIT.items() if not getattr(submission, field)]
    return ["Fill in " + ", ".join(missing) + "."] if missing else []


@guard("A model card or system card uploaded")
def artifacts_received(submission) -> list[str]:
    from .models import Artifact

    cards = (Artifact.Kind.MODEL_CARD, Artifact.Kind.SYSTEM_CARD)
    if not submission.pk or not submission.artifacts.filter(kind__in=cards).exists():
        return ["Upload a model card or system card first."]
    return []


@guard("A result for every planned benchmark")
def every_planned_domain_has_result(submission) -> list[str]:
    """Each planned domain is measured by at least one benchmark version, and each planned
    version has a result. Counted by domain: the guard's words reach people who may not be
    cleared for a classified benchmark's name."""
    from reviews.models import EvaluationPlanItem

    planned = list(submission.plan_items.select_related("domain").order_by("domain__sort_order"))
    if not planned:
        return ["The evaluation plan has no domains."]
    through = EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission)
    versions: dict = {}
    for item_id, version_id in through.values_list("evaluationplanitem_id", "benchmarkversion_id"):
        versions.setdefault(item_id, set()).add(version_id)
    done = set(submission.results.values_list("version_id", flat=True))
    unmeasured = [item.domain.name for item in planned if not versions.get(item.pk)]
    missing = {
        item.domain.name: len(versions[item.pk] - done) for item in planned if versions.get(item.pk, set()) - done
    }
    problems = []
    if unmeasured:
        problems.append(
            f"No benchmark is planned for {', '.join(unmeasured)}: the lead plans one (an administrator adds "
            "it to the catalog first if there is none)."
        )
    if missing:
        total = sum(len(v) for v in versions.values())
        waiting = sum(missing.values())
        problems.append(
            f"{total - waiting} of {total} planned benchmark results are recorded: still to record in "
            + ", ".join(f"{name} ({n})" for name, n in missing.items())
            + "."
        )
    return problems


@guard("A finding of high or critical severity")
def has_serious_finding(submission) -> list[str]:
    from reviews.models import Finding

    serious = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)
    if not submission.findings.filter(severity__in=serious).exists():
        return ["Flagging needs at least one finding of severity high or critical."]
    return []


@guard("A proposed flag, concurred by a second reviewer")
def flag_proposal_concurred(submission) -> list[str]:
    from reviews.models import Determination

    proposal = Determination.objects.filter(submission=submission, issued_at__isnull=True).first()
    if proposal is None or proposal.outcome != Determination.Outcome.FLAGGED:
        return ["Propose the flag with its rationale first (two-person rule)."]
    if not proposal.partner_summary.strip():
        return ["The proposal has no summary for the developer and partners: propose it again with one."]
    if not proposal.concurrence_holds:
        return ["A second reviewer must concur with the proposed flag as it now reads (two-person rule)."]
    return []


@guard("Any evidence against clearing justified and concurred")
def clearance_justified(submission) -> list[str]:
    """Clearing against the evidence takes two people and a written reason per concern."""
    from reviews import evidence
    from reviews.models import Determination

    found = evidence.concerns(submission)
    if not found:
        return []
    labels = "; ".join(c.label for c in found)
    proposal = Determination.objects.filter(submission=submission, issued_at__isnull=True).first()
    if proposal is None or proposal.outcome != Determination.Outcome.CLEARED:
        return [
            f"The evidence speaks against clearing ({labels}). Clearing anyway needs a written justification "
            "for each of these and a second reviewer's concurrence: propose the clearance first."
        ]
    missing = evidence.unjustified(submission, proposal.justifications)
    if missing:
        return [
            "The proposed clearance gives no justification for: "
            + "; ".join(c.label for c in missing)
            + ". Propose it again with one for each."
        ]
    if not proposal.concurrence_holds:
        return ["A second reviewer must concur with the proposed clearance as it now reads (two-person rule)."]
    return []


@guard("Release free of any government order")
def no_order_holds_release(submission) -> list[str]:
    """A government order recorded before release holds it until lifted (reinstatement)."""
    from caisi_portal import timefmt

    from .models import AccessRemovalOrder

    if not submission.pk:
        return []
    order = AccessRemovalOrder.objects.filter(submission=submission, lifted_at__isnull=True).first()
    if order is None:
        return []
    return [
        f"Government order {order.reference} ({order.authority}, {timefmt.day(order.issued_on)}) holds the "
        f"release of {submission.model_name} {submission.model_version}: a release cannot be recorded until "
        "the office records that the order is lifted."
    ]


@guard("Every finding carried from the earlier version resolved")
def carried_findings_resolved(submission) -> list[str]:
    """A new version is not cleared while a finding carried from the version it supersedes is
    still open: the lead resolves each with a reason first (reviews.services.finding_resolve).
    Counted, not named: a finding's title may be above a reader's clearance."""
    from caisi_portal.words import counted

    if not submission.pk or submission.supersedes_id is None:
        return []
    open_ = submission.findings.filter(carried_from__isnull=False, resolved_at__isnull=True).count()
    if not open_:
        return []
    earlier = submission.supersedes
    verb = "is" if open_ == 1 else "are"
    return [
        f"{counted(open_, 'finding')} carried from {earlier} {verb} still unresolved: the lead reviewer resolves "
        "each, with the reason it no longer holds for this version (Findings, on this page), before the model "
        "can be cleared."
    ]
