"""Every transition of a submission, declared once.

One declaration says everything a transition is and does: where it goes from and to, the
guards that must hold (each explains itself, submissions/guards.py), who may take it
(accounts.rules), its label and what the person is told afterwards, the inputs it takes (typed;
anything else is refused), the audit label, what it does to the review clock, and the event it
announces with the people inside the portal who are told. The model's @transition decorators
read the state machine's part from here (`declared`), `submission_transition` the rest, the
outbox its events and audiences, the audit trail its labels. A test lists every transition of
the state machine and fails if one lacks a declaration, or a declaration names a step that
does not exist.

Steps (`prepare`, `effect`, `after`, `clock`) are named, not imported: they live in
submissions.effects and submissions.review_clock, which import the models this module must not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django_fsm import RETURN_VALUE

from accounts import rules
from caisi_portal.text import LONG_TEXT

from .guards import condition
from .states import DETERMINABLE_STATES, ORDER_REMOVAL_STATES, State


@dataclass(frozen=True)
class Input:
    """One input a transition takes: its kind, and the message when a required one is missing."""

    kind: str  # "text", "checklist", "domains", "moment", "choice", "days"
    required: str = ""  # empty: optional
    limit: int = LONG_TEXT  # characters, for text
    help: str = ""
    choices: tuple[str, ...] = ()  # the values a "choice" takes


@dataclass(frozen=True)
class Declared:
    name: str
    source: tuple | str
    target: object
    label: str
    audit_label: str
    permission: Callable
    done: str = ""
    guards: tuple[str, ...] = ()
    inputs: dict[str, Input] = field(default_factory=dict)
    # Named steps, run in this order inside the transition's transaction:
    prepare: str = ""  # submissions.effects.<prepare>(data, submission) -> (method kwargs, effect data)
    effect: str = ""  # submissions.effects.<effect>(submission, actor, data), after the state moves
    clock: str = ""  # submissions.review_clock.<clock>(submission, now)
    event: str = ""  # the event announced (partners.services); empty: none
    audience: tuple[str, ...] = ()  # who inside the portal is told of the event
    after: str = ""  # submissions.effects.<after>(submission, actor), after the clock and the event

    def fsm(self) -> dict:
        """The state machine's part, for the model's @transition decorator."""
        return {
            "source": self.source,
            "target": self.target,
            "conditions": [condition(name) for name in self.guards],
            "permission": self.permission,
            "custom": {"label": self.label, "done": self.done},
        }


TEXT_CAP_ANSWER = 50000
TEXT_CAP_NOTE = 5000
# A determination's texts: required on the clear page unless a concurred proposal is issued
# (effects.prepare_clear decides).
DETERMINATION_TEXTS = {
    "rationale": Input("text", help="Why the model is cleared (the office's record)."),
    "release_conditions": Input("text", help="Conditions on the release, told to the developer and partners."),
    "partner_summary": Input("text", help="Exactly what the developer and trusted partners are told."),
}

SCOPES = ("all_access", "named_deployments", "new_downloads")  # AccessRemovalOrder.Scope
MSG_LIFT_REASON = "Say why the order is lifted: the reason is kept with the order and in the audit trail."
# A government order, as the office records it (AccessRemovalOrder).
ORDER_INPUTS = {
    "reference": Input("text", required="Give the order's reference.", limit=200),
    "issued_on": Input("moment", required="Give the date of the order.", help="The date the order was issued."),
    "authority": Input("text", required="Name the authority that issued the order.", limit=200),
    "scope": Input("choice", required="Choose what the order covers.", choices=SCOPES),
    "scope_description": Input("text", limit=TEXT_CAP_NOTE, help="What the order covers, in its own terms."),
}

DECLARATIONS: tuple[Declared, ...] = (
    Declared(
        name="submit",
        source=State.DRAFT,
        target=State.INTAKE,
        label="Submit for review",
        audit_label="Submitted for review",
        done="Submitted for review. The office has {intake_decision_days} to decide on intake.",
        guards=("agreement_allows_submission", "required_fields_present", "artifacts_received"),
        permission=rules.may_act_for_developer("submissions.submit_modelsubmission"),
        clock="on_submit",
    ),
    Declared(
        name="accept",
        source=State.INTAKE,
        target=State.EVALUATION,
        label="Accept into evaluation",
        audit_label="Accepted into evaluation",
        done="Accepted into evaluation. A lead reviewer is to be assigned within {reviewer_assignment_days};"
        " the review has {review_time_left} left.",
        guards=("artifacts_received",),
        permission=rules.may_accept,
        inputs={
            "checklist": Input("checklist", required="Complete the intake checklist before accepting."),
            "domains": Input("domains", help="The evaluation domains planned (default: every active one)."),
            # A re-review of a new version (submissions.versions): a shorter window than the agreement's.
            "window_days": Input(
                "days",
                help="A new version's re-review: its window in days from submission, at most the agreement's.",
            ),
        },
        prepare="prepare_accept",
        effect="effect_accept",
        clock="on_accept",
        # Told to the developer's own webhook endpoints (partners.integrations); nobody is
        # emailed: the developer follows it on the submission's page.
        event="submission.accepted",
        after="after_accept",
    ),
    Declared(
        name="request_information",
        source=(State.INTAKE, State.EVALUATION),
        target=State.INFORMATION_REQUESTED,
        label="Request information",
        audit_label="Information requested",
        done="Information requested. The review clock is paused until the developer answers"
        " (they have {developer_answer_days}).",
        permission=rules.may_request_information,
        inputs={"questions": Input("text", required="Write the questions the developer must answer.")},
        effect="effect_request_information",
        clock="on_request_information",
        event="submission.information_requested",
        audience=("developer",),
    ),
    Declared(
        name="answer_information_request",
        source=State.INFORMATION_REQUESTED,
        target=RETURN_VALUE(State.INTAKE, State.EVALUATION),
        label="Answer information request",
        audit_label="Information provided",
        done="Answer sent to the office. The review clock runs again: {review_time_left} left.",
        permission=rules.may_act_for_developer("submissions.answer_information_request"),
        inputs={"answer": Input("text", required="Write the answer to the office's questions.", limit=TEXT_CAP_ANSWER)},
        effect="effect_answer",
        clock="on_answer",
        event="submission.information_answered",
        # The office is told when it is someone's turn: whoever asked, and the review's reviewers.
        audience=("requester", "reviewers"),
    ),
    Declared(
        name="clear",
        # Late, after the window: the same guards and concurrence; the record and notices say so.
        source=DETERMINABLE_STATES,
        target=State.CLEARED,
        label="Clear for release",
        audit_label="Cleared",
        done="Cleared for release.{after_window} The developer and the subscribed partners are told.",
        guards=("every_planned_domain_has_result", "clearance_justified", "carried_findings_resolved"),
        permission=rules.may_determine,
        inputs=DETERMINATION_TEXTS,
        prepare="prepare_clear",
        effect="effect_clear",
        clock="on_determined",
        event="submission.cleared",
        audience=("developer",),
    ),
    Declared(
        name="flag",
        source=DETERMINABLE_STATES,
        target=State.FLAGGED,
        label="Flag",
        audit_label="Flagged",
        done="Flagged.{after_window} The developer and the subscribed partners are told.",
        guards=("has_serious_finding", "flag_proposal_concurred"),
        permission=rules.may_determine,
        prepare="prepare_flag",
        effect="effect_flag",
        clock="on_determined",
        event="submission.flagged",
        audience=("developer",),
    ),
    Declared(
        name="withdraw",
        source=(State.DRAFT, State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION),
        target=State.WITHDRAWN,
        label="Withdraw",
        audit_label="Withdrawn",
        done="Withdrawn: the office will not review this submission.",
        permission=rules.may_act_for_developer("submissions.withdraw_modelsubmission"),
        clock="on_determined",
    ),
    Declared(
        name="withdraw_for_agreement",
        source=(State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION),
        target=State.WITHDRAWN,
        label="Withdraw: the agreement no longer covers it",
        audit_label="Withdrawn by the office: the review agreement was suspended or terminated",
        done="Withdrawn: the developer and the reviewers are told the review ends with the agreement.",
        guards=("agreement_no_longer_in_force",),
        permission=rules.may_withdraw_for_agreement,
        clock="on_determined",
        event="submission.withdrawn_by_office",
        audience=("developer", "reviewers"),
    ),
    Declared(
        name="return_unanswered",
        source=State.INFORMATION_REQUESTED,
        target=State.WITHDRAWN,
        label="Return: information never provided",
        audit_label="Returned: the information request went unanswered past the pause limit",
        # Only the review clock, at the pause limit (SlaPolicy.information_pause_cap_days).
        permission=rules.is_review_clock,
        clock="on_determined",
        event="submission.returned",
        audience=("developer", "reviewers", "administrators"),
    ),
    Declared(
        name="elapse",
        source=(State.INTAKE, State.EVALUATION),
        target=State.WINDOW_ELAPSED,
        label="Review window elapsed",
        audit_label="Review window elapsed",
        permission=rules.is_review_clock,
        clock="on_elapse",
        event="submission.window_elapsed",
        audience=("developer", "reviewers", "administrators"),
    ),
    Declared(
        name="record_release",
        source=(State.CLEARED, State.FLAGGED, State.WINDOW_ELAPSED),
        target=State.RELEASED,
        label="Record release",
        audit_label="Release recorded",
        done="Release recorded.",
        guards=("no_order_holds_release",),
        permission=rules.may_act_for_developer("submissions.record_release"),
        inputs={
            "released_at": Input("moment", help="When it was released (default: now); a day, or a moment."),
            "note": Input("text", limit=TEXT_CAP_NOTE, help="Where and how it was released."),
        },
        prepare="prepare_release",
        event="submission.released",
    ),
    Declared(
        name="remove_access",
        # Deployed: released, or cleared / past its window and deployed all the same. An order on a
        # model not yet released holds the release instead (submissions.services.access_order_record).
        source=ORDER_REMOVAL_STATES,
        target=State.ACCESS_REMOVED,
        label="Record access-removal order",
        audit_label="Access-removal order recorded",
        done="Access-removal order recorded. The developer and the subscribed partners are told.",
        permission=rules.may_record_access_removal,
        inputs=ORDER_INPUTS,
        prepare="prepare_remove_access",
        effect="effect_remove_access",
        event="submission.access_removed",
        audience=("developer", "administrators"),
    ),
    Declared(
        name="reinstate_access",
        source=State.ACCESS_REMOVED,
        target=RETURN_VALUE(State.RELEASED, State.CLEARED, State.WINDOW_ELAPSED),
        label="Lift the order (reinstate access)",
        audit_label="Access-removal order lifted",
        done="Order lifted: access is reinstated. The developer and the subscribed partners are told.",
        permission=rules.may_record_access_removal,
        inputs={"reason": Input("text", required=MSG_LIFT_REASON, limit=TEXT_CAP_NOTE)},
        prepare="prepare_reinstate_access",
        effect="effect_reinstate_access",
        event="submission.access_reinstated",
        audience=("developer", "administrators"),
    ),
)

DECLARED: dict[str, Declared] = {d.name: d for d in DECLARATIONS}


def declared(name: str) -> dict:
    """The @transition arguments of the named transition (the model reads them from here)."""
    return DECLARED[name].fsm()


def transition_events() -> dict[str, str]:
    """transition name -> the event type it announces."""
    return {d.name: d.event for d in DECLARATIONS if d.event}


def event_audiences() -> dict[str, tuple[str, ...]]:
    """event type -> who inside the portal is told, for the events transitions announce."""
    return {d.event: d.audience for d in DECLARATIONS if d.event}


def audit_labels() -> dict[str, str]:
    return {d.name: d.audit_label for d in DECLARATIONS}
