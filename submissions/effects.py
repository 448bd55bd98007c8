"""The steps transitions name in their declarations (submissions/transitions.py).

`inputs_check` holds every transition to the inputs it declares (an unknown key, a missing
required one or one of the wrong kind is refused with a message naming it); `prepare` turns
the inputs into the model method's arguments; the effects write what the transition creates.
All run inside `submission_transition`'s transaction.
"""

from __future__ import annotations

import datetime as dt

from caisi_portal import clock, timefmt
from caisi_portal.errors import SubmissionChanged, ValidationFailed
from caisi_portal.text import has_words

from .models import InformationRequest
from .states import State
from .transitions import Declared, Input

MSG_UNKNOWN_INPUT = "{label} does not take {keys}: it takes {known}."
MSG_NO_INPUT = "{label} takes no inputs (only a comment)."


def _kind_problem(given: Input, value) -> str:
    """Why this value is not of the input's kind (empty when it is)."""
    if given.kind == "text":
        return "" if isinstance(value, str) else "Give text here."
    if given.kind == "checklist":
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items()):
            return ""
        return "Give the checklist as items ticked or not."
    if given.kind == "domains":
        return "" if isinstance(value, list | tuple) else "Give a list of evaluation domains."
    if given.kind == "moment":
        return "" if value is None or isinstance(value, dt.date) else "Give a date or a date and time."
    if given.kind == "days":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return "" if ok else "Give a whole number of days."
    if given.kind == "choice":
        return "" if value in given.choices else "Choose one of: " + ", ".join(given.choices) + "."
    return f"Unknown input kind {given.kind!r}."


def inputs_check(declaration: Declared, data: dict) -> None:
    """Refuse what this transition does not take, and a value of the wrong kind.

    Silently dropping an unknown key would let a caller believe it set something (a release
    date under a name nothing reads), so it is an error that names the keys this one takes.
    """
    unknown = sorted(set(data) - set(declaration.inputs))
    if unknown:
        if declaration.inputs:
            message = MSG_UNKNOWN_INPUT.format(
                label=declaration.label,
                keys=", ".join(repr(k) for k in unknown),
                known=", ".join(declaration.inputs),
            )
        else:
            message = MSG_NO_INPUT.format(label=declaration.label)
        raise ValidationFailed(message, details={key: [message] for key in unknown})
    problems = {}
    for key, value in data.items():
        problem = _kind_problem(declaration.inputs[key], value)
        if problem:
            problems[key] = [problem]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)


def required_text(data: dict, key: str, message: str) -> str:
    value = data.get(key)
    value = value.strip() if isinstance(value, str) else value
    # Words, not just spaces or invisible marks (a zero-width space reads as nothing).
    if not value or (isinstance(value, str) and not has_words(value)):
        raise ValidationFailed(message, details={key: [message]})
    return value


def prepare(declaration: Declared, data: dict, submission) -> tuple[dict, dict]:
    """(model method kwargs, effect data): required inputs first, then the transition's own step."""
    for key, given in declaration.inputs.items():
        if given.required and given.kind == "text":
            required_text(data, key, given.required)
    if declaration.prepare:
        return STEPS[declaration.prepare](data, submission)
    return {}, data


def run(step: str, *args) -> None:
    if step:
        STEPS[step](*args)


# --- accept -------------------------------------------------------------------------------


def prepare_accept(data, submission):
    from .services import INTAKE_CHECKLIST, MSG_DUPLICATE_DOMAIN, MSG_EMPTY_PLAN

    checklist = data.get("checklist") or {}
    missing = [text for key, text in INTAKE_CHECKLIST.items() if not checklist.get(key)]
    if missing:
        raise ValidationFailed("Complete the intake checklist before accepting.", details={"checklist": missing})
    if "domains" in data:
        domains = list(data["domains"] or [])
        if not domains:
            raise ValidationFailed(MSG_EMPTY_PLAN, details={"domains": [MSG_EMPTY_PLAN]})
        if len({getattr(d, "pk", d) for d in domains}) != len(domains):
            raise ValidationFailed(MSG_DUPLICATE_DOMAIN, details={"domains": [MSG_DUPLICATE_DOMAIN]})
    if data.get("window_days") is not None:
        from .versions import window_days_check

        data = {**data, "window": window_days_check(submission, data["window_days"], clock.now())}
    return {"checklist": dict.fromkeys(INTAKE_CHECKLIST, True)}, data


def effect_accept(submission, actor, data):
    from reviews.models import EvaluationDomain, EvaluationPlanItem
    from reviews.services import default_plan_versions, findings_carry_forward

    domains = data.get("domains")
    if domains is None:
        domains = list(EvaluationDomain.objects.filter(is_active=True))
    items = EvaluationPlanItem.objects.bulk_create(
        [EvaluationPlanItem(submission=submission, domain=d) for d in domains]
    )
    # Each domain is measured by its current benchmark versions unless the lead chooses others.
    current = default_plan_versions(submission, domains)
    EvaluationPlanItem.versions.through.objects.bulk_create(
        [
            EvaluationPlanItem.versions.through(evaluationplanitem_id=item.pk, benchmarkversion_id=v.pk)
            for item in items
            for v in current.get(item.domain_id, [])
        ]
    )
    if data.get("window") is not None:
        _rereview_window(submission, actor, data["window"])
    # A new version: the earlier version's open findings carry forward, each to be resolved.
    findings_carry_forward(submission=submission, actor=actor)


def _rereview_window(submission, actor, window):
    """The office scoped this re-review to a shorter window: the review clock takes it (before
    the clock's accept step plans the reminders from the deadline), and the trail says so."""
    from .review_clock import clock_set_window
    from .services import audit_record

    review_clock = clock_set_window(submission, window, clock.now())
    audit_record(
        submission=submission,
        actor=actor,
        action="review_window_scoped",
        comment=f"A re-review of a new version: {window.days}-day window from submission; the review now ends "
        f"{timefmt.when(review_clock.deadline_at, zone=dt.UTC)}.",
    )


def after_accept(submission, actor):
    from reviews.services import assignment_on_accept

    assignment_on_accept(submission=submission, actor=actor)


# --- information requests ----------------------------------------------------------------


def effect_request_information(submission, actor, data):
    InformationRequest.objects.create(
        submission=submission, questions=data["questions"], requested_by=actor, requested_at=clock.now()
    )


def effect_answer(submission, actor, data):
    updated = InformationRequest.objects.filter(submission=submission, answered_at__isnull=True).update(
        answer=data["answer"], answered_by=actor, answered_at=clock.now()
    )
    if updated != 1:
        raise SubmissionChanged(state=submission.state)


# --- determinations ----------------------------------------------------------------------


def concurred_proposal(submission, name: str):
    """The concurred proposal a clear or flag would issue as it stands (None otherwise).

    A flag is always issued from its proposal; a clearance only when one was proposed
    (clearing against the evidence), else its texts are written on the clear page itself.
    """
    from reviews.models import Determination

    if name == "clear":
        return concurred_clearance(submission)
    if name == "flag":
        proposal = Determination.objects.filter(
            submission=submission, issued_at__isnull=True, outcome=Determination.Outcome.FLAGGED
        ).first()
        return proposal if proposal is not None and proposal.concurrence_holds else None
    return None


def concurred_clearance(submission):
    """A proposed clearance a second reviewer concurred with as it reads now, or None."""
    from reviews.models import Determination

    proposal = Determination.objects.filter(
        submission=submission, issued_at__isnull=True, outcome=Determination.Outcome.CLEARED
    ).first()
    return proposal if proposal is not None and proposal.concurrence_holds else None


def _late(submission) -> bool:
    """Issued after the review window elapsed (read before the state moves)."""
    return submission.state == State.WINDOW_ELAPSED


def prepare_clear(data, submission):
    from .services import MSG_PARTNER_SUMMARY

    # A concurred proposal is issued as it was agreed; otherwise the clear page writes the texts.
    if concurred_clearance(submission) is None:
        required_text(data, "rationale", "Give the rationale for clearing.")
        required_text(data, "partner_summary", MSG_PARTNER_SUMMARY)
    return {}, {**data, "after_window": _late(submission)}


def prepare_flag(data, submission):
    return {}, {**data, "after_window": _late(submission)}


def effect_clear(submission, actor, data):
    from reviews.models import Determination

    proposal = concurred_clearance(submission)
    if proposal is not None:
        # Issue exactly what the second reviewer concurred with.
        issued = Determination.objects.filter(
            pk=proposal.pk, issued_at__isnull=True, concurred_digest=proposal.concurred_digest
        ).update(issued_at=clock.now(), decided_by=actor, issued_after_window=data.get("after_window", False))
        if issued != 1:
            raise SubmissionChanged(state=submission.state)
        _note_institutes(submission)
        return
    # Clearing supersedes any flag that was proposed but not issued.
    Determination.objects.update_or_create(
        submission=submission,
        defaults={
            "outcome": Determination.Outcome.CLEARED,
            "rationale": data["rationale"],
            "release_conditions": data.get("release_conditions", ""),
            "partner_summary": data.get("partner_summary", ""),
            "decided_by": actor,
            "proposed_at": clock.now(),
            "concurred_by": None,
            "concurred_at": None,
            "issued_at": clock.now(),
            "issued_after_window": data.get("after_window", False),
        },
    )
    _note_institutes(submission)


def _note_institutes(submission) -> None:
    """A joint review's determination lists the allied institutes that contributed."""
    from reviews.services import determination_note_institutes

    determination_note_institutes(submission)


def effect_flag(submission, actor, data):
    from reviews.models import Determination

    issued = Determination.objects.filter(
        submission=submission, issued_at__isnull=True, concurred_by__isnull=False
    ).update(issued_at=clock.now(), decided_by=actor, issued_after_window=data.get("after_window", False))
    if issued != 1:
        raise SubmissionChanged(state=submission.state)
    _note_institutes(submission)


# --- after the review --------------------------------------------------------------------


def prepare_release(data, submission):
    released_at = data.get("released_at") or clock.now()
    typed_day = isinstance(released_at, dt.date) and not isinstance(released_at, dt.datetime)
    if typed_day:
        # A day without a time is the person's own calendar day: "today" anywhere is accepted.
        day = released_at
        future = day > timefmt.latest_day(clock.now())
        released_at = min(dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC), clock.now())
    else:
        future = released_at > clock.now()
    if future:
        raise ValidationFailed(
            "A release can only be recorded once it has happened.",
            details={"released_at": ["The release date is in the future."]},
        )
    submitted = submission.submitted_at if submission is not None else None
    if submitted is not None and (
        (day < timefmt.earliest_day(submitted)) if typed_day else (released_at.date() < submitted.date())
    ):
        message = (
            f"The model was submitted for review on {timefmt.day(submitted, zone=dt.UTC)}: "
            "a release recorded here cannot be earlier."
        )
        raise ValidationFailed(message, details={"released_at": [message]})
    return {"released_at": released_at, "note": data.get("note", "")}, data


def prepare_remove_access(data, submission):
    """The order's fields, checked; the effect writes the record with the state it found."""
    return {}, {**order_fields(data, submission), "previous_state": submission.state}


MSG_NAMED = "Name the deployments the order covers."


def order_fields(data: dict, submission) -> dict:
    """A government order's fields, checked (the transition and the hold share them)."""
    from .models import AccessRemovalOrder

    fields = {
        "reference": required_text(data, "reference", "Give the order's reference."),
        "authority": required_text(data, "authority", "Name the authority that issued the order."),
        "scope_description": (data.get("scope_description") or "").strip(),
    }
    issued_on = data.get("issued_on")
    if isinstance(issued_on, dt.datetime):
        issued_on = issued_on.date()
    if not isinstance(issued_on, dt.date):
        raise ValidationFailed("Give the date of the order.", details={"issued_on": ["Give the date of the order."]})
    if issued_on > timefmt.latest_day(clock.now()):
        message = "An order can only be recorded once it has been issued: the date is in the future."
        raise ValidationFailed(message, details={"issued_on": [message]})
    # An order about this model cannot come before the model was filed here (a mistyped year,
    # 1900 for 2026, would otherwise date the record and every notice wrongly).
    if submission.created_at and issued_on < timefmt.earliest_day(submission.created_at):
        message = (
            f"The order's date is before this model was filed ({timefmt.day(submission.created_at)}): check the date."
        )
        raise ValidationFailed(message, details={"issued_on": [message]})
    scope = data.get("scope")
    if scope not in AccessRemovalOrder.Scope.values:
        message = "Choose what the order covers."
        raise ValidationFailed(message, details={"scope": [message]})
    if scope == AccessRemovalOrder.Scope.NAMED_DEPLOYMENTS and not has_words(fields["scope_description"]):
        raise ValidationFailed(MSG_NAMED, details={"scope_description": [MSG_NAMED]})
    for key in ("reference", "authority"):
        if any(ch in fields[key] for ch in "\r\n"):
            message = "Keep it on one line."
            raise ValidationFailed(message, details={key: [message]})
    return {**fields, "issued_on": issued_on, "scope": scope}


def effect_remove_access(submission, actor, data):
    from .models import AccessRemovalOrder

    fields = {k: data[k] for k in ("reference", "authority", "scope_description", "issued_on", "scope")}
    AccessRemovalOrder.objects.create(
        submission=submission,
        kind=AccessRemovalOrder.Kind.REMOVAL,
        previous_state=data["previous_state"],
        open_weights=submission.is_open_weights,
        recorded_by=actor,
        recorded_at=clock.now(),
        **fields,
    )


def order_in_force(submission):
    from .models import AccessRemovalOrder

    return AccessRemovalOrder.objects.filter(submission=submission, lifted_at__isnull=True).first()


def prepare_reinstate_access(data, submission):
    order = order_in_force(submission)
    if order is None:
        raise SubmissionChanged(state=submission.state)
    return {"back_to": order.previous_state}, {**data, "order_id": order.pk}


def effect_reinstate_access(submission, actor, data):
    from .models import AccessRemovalOrder

    lifted = AccessRemovalOrder.objects.filter(pk=data["order_id"], lifted_at__isnull=True).update(
        lifted_at=clock.now(), lifted_by=actor, lift_reason=data["reason"].strip()
    )
    if lifted != 1:
        raise SubmissionChanged(state=submission.state)


# The steps a declaration may name (a test checks every name it uses is here).
STEPS = {
    step.__name__: step
    for step in (
        prepare_accept,
        effect_accept,
        after_accept,
        effect_request_information,
        effect_answer,
        prepare_clear,
        effect_clear,
        prepare_flag,
        effect_flag,
        prepare_release,
        prepare_remove_access,
        effect_remove_access,
        prepare_reinstate_access,
        effect_reinstate_access,
    )
}
