"""What changes submissions, agreements and artifacts.

``submission_transition`` is the single path for every state change: views, the API,
Celery tasks and the exercise engine all call it, so no path can move a submission
without its guard checks, its permission check and its audit entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import NotPermitted, PayloadTooLarge, SubmissionChanged, TransitionRefused, ValidationFailed
from caisi_portal.text import SHORT_TEXT, has_words, text_problems
from partners.services import event_for_transition, event_record

from . import effects, review_clock, versions
from .guards import checklist_for, problems_for
from .models import (
    Agreement,
    AgreementEvent,
    Artifact,
    AuditEntry,
    ModelSubmission,
    Organization,
    ReviewClock,
    SlaPolicy,
    State,
)
from .states import OPEN_REVIEW_STATES, state_phrase
from .transitions import DECLARED, MSG_LIFT_REASON

# --- audit -----------------------------------------------------------------------------


def audit_record(*, submission, actor, action, from_state="", to_state="", comment="", internal=False):
    # Every change to a submission passes here: a person never writes into another world's
    # record (a player into live data, or a live account into an exercise), whatever the caller.
    # A configuration entry (no submission) is the live office's.
    world = submission.exercise_id if submission is not None else rules.LIVE
    if actor is not None and not rules.same_world(actor, world):
        raise NotPermitted(MSG_OTHER_WORLD)
    return AuditEntry.objects.create(
        submission=submission,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        internal=internal,
        at=clock.now(),
    )


def audit_record_many(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Several unsaved entries written at once, sealed in this order (the sweep's bursts)."""
    from .audit_chain import seal_many

    for entry in entries:
        world = entry.submission.exercise_id if entry.submission_id is not None else rules.LIVE
        if entry.actor is not None and not rules.same_world(entry.actor, world):
            raise NotPermitted(MSG_OTHER_WORLD)
    seal_many(entries)
    return AuditEntry.objects.bulk_create(entries)


def _describe(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def configuration_change_record(*, actor, obj, before: dict | None, action: str = "configuration_changed") -> None:
    """An entry in the office's audit chain for a change to its configuration.

    `before` maps field names to their old values (None when the object is new); the entry
    says what changed, from what to what. Secrets are never written into the trail.
    """
    parts = []
    # Bookkeeping Django writes by itself is not a change anyone made.
    fields = [f for f in obj._meta.concrete_fields if not f.primary_key and f.name not in ("last_login", "date_joined")]
    for field in fields:
        if "secret" in field.name or field.name == "password":
            if before is not None and before.get(field.attname) != getattr(obj, field.attname):
                parts.append(f"{field.verbose_name} changed")
            continue
        old, new = (before or {}).get(field.attname), getattr(obj, field.attname)
        if before is None or old != new:
            parts.append(
                f"{field.verbose_name}: {_describe(new)}"
                if before is None
                else f"{field.verbose_name}: {_describe(old)} → {_describe(new)}"
            )
    if before is not None and not parts and action == "configuration_changed":
        return  # saved without a change: nothing happened
    label = f"{obj._meta.verbose_name.capitalize()} {obj}"
    audit_record(
        submission=None,
        actor=actor,
        action=action,
        comment=(label + (": " + "; ".join(parts) if parts and action != "configuration_removed" else "")),
        internal=True,
    )


def configuration_links_record(*, actor, obj, before: dict, after: dict) -> None:
    """Changes to an object's many-to-many links (roles, permissions) in the audit chain."""
    parts = []
    for name, now in after.items():
        was = before.get(name, set())
        if was != now:
            added, removed = sorted(now - was), sorted(was - now)
            change = "; ".join(
                [
                    *([f"added {', '.join(added)}"] if added else []),
                    *([f"removed {', '.join(removed)}"] if removed else []),
                ]
            )
            parts.append(f"{name}: {change}")
    if parts:
        audit_record(
            submission=None,
            actor=actor,
            action="configuration_changed",
            comment=f"{obj._meta.verbose_name.capitalize()} {obj}: " + "; ".join(parts),
            internal=True,
        )


def configuration_values(obj) -> dict:
    """The current stored values of a configuration object (for `before`)."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


MSG_CONFIGURATION = "Only the office's administrators change its configuration."


@transaction.atomic
def configuration_save(*, actor, obj) -> None:
    """Save a configuration object (domain, SLA policy, organization, partner, agreement...)
    and record the change in the office's audit chain, in one transaction."""
    if not rules.may_change_configuration(actor):
        raise NotPermitted(MSG_CONFIGURATION)
    before = None
    if obj.pk is not None:
        stored = type(obj).objects.filter(pk=obj.pk).first()
        before = configuration_values(stored) if stored is not None else None
    obj.save()
    configuration_change_record(
        actor=actor, obj=obj, before=before, action="configuration_added" if before is None else "configuration_changed"
    )


@transaction.atomic
def configuration_delete(*, actor, obj) -> None:
    if not rules.may_change_configuration(actor):
        raise NotPermitted(MSG_CONFIGURATION)
    configuration_change_record(actor=actor, obj=obj, before=configuration_values(obj), action="configuration_removed")
    obj.delete()


# --- transitions -------------------------------------------------------------------------

INTAKE_CHECKLIST = {
    "cards_received": "The model card or system card is present and readable.",
    "access_confirmed": "Evaluators' access to the model has been confirmed.",
    "release_plan_confirmed": "The release channel and planned release date are confirmed.",
}

MSG_NOT_PERMITTED = "You may not {label} this submission."
MSG_PARTNER_SUMMARY = (
    "Write the summary the developer and trusted partners will receive: what they are told must never be empty."
)
MSG_EMPTY_PLAN = "Plan at least one evaluation domain: a review with no domain could never be cleared."
MSG_DUPLICATE_DOMAIN = "Each evaluation domain can be planned once: remove the repeated one."
MSG_OTHER_WORLD = "That belongs to another world (live data or a training exercise) than your account."
MSG_NOT_FROM_STATE = "A submission that is {state} cannot be moved by '{label}'."
MSG_UNKNOWN_TRANSITION = "There is no action called '{name}'."


def _fsm_transitions(submission) -> dict:
    """name -> django_fsm Transition leaving the current state, whatever its guards say."""
    field = ModelSubmission._meta.get_field("state")
    return {t.name: t for t in field.get_all_transitions(ModelSubmission) if t.source in (submission.state, "*")}


def transition_label(name: str) -> str:
    for t in ModelSubmission._meta.get_field("state").get_all_transitions(ModelSubmission):
        if t.name == name:
            return t.custom.get("label", name.replace("_", " "))
    return name.replace("_", " ")


def transition_done_message(submission, name: str) -> str:
    """What a person is told after taking a transition, in their words: what happened and
    what comes next ("Submitted for review. The office has 3 days to decide on intake.")."""
    from caisi_portal.words import counted

    done = ""
    for t in ModelSubmission._meta.get_field("state").get_all_transitions(ModelSubmission):
        if t.name == name:
            done = t.custom.get("done", "")
            break
    if not done:
        return f"{transition_label(name)}: done. The submission is now {state_phrase(submission.state)}."
    policy = SlaPolicy.current()
    window = ReviewClock.objects.filter(submission=submission).first()
    left = window.remaining(clock.now()) if window else None
    after_window = ""
    if "{after_window}" in done:
        from reviews.models import Determination

        if Determination.objects.filter(
            submission=submission, issued_at__isnull=False, issued_after_window=True
        ).exists():
            after_window = " Issued after the review window: the record and every notice say so."
    return done.format(
        after_window=after_window,
        intake_decision_days=counted(policy.intake_decision_days, "day"),
        reviewer_assignment_days=counted(policy.reviewer_assignment_days, "day"),
        developer_answer_days=counted(policy.developer_answer_days, "day"),
        review_time_left=review_clock.humanize(left) if left is not None else "its full window",
    )


def all_transition_names() -> list[str]:
    seen: list[str] = []
    for t in ModelSubmission._meta.get_field("state").get_all_transitions(ModelSubmission):
        if t.name not in seen:
            seen.append(t.name)
    return seen


def transition_required_inputs() -> dict[str, list[str]]:
    """Each transition that requires inputs, and their names (as declared in submissions/transitions.py)."""
    required = {name: [k for k, given in d.inputs.items() if given.required] for name, d in DECLARED.items()}
    return {name: fields for name, fields in required.items() if fields}


def available_transitions(submission, user) -> list:
    """The transitions this user may take now: right state, guards met, permitted."""
    return list(submission.get_available_user_state_transitions(user))


def transition_check(submission, name: str, user) -> None:
    """Raise NotPermitted or TransitionRefused if this user cannot take it now."""
    transitions = _fsm_transitions(submission)
    label = transition_label(name).lower()
    if name not in all_transition_names():
        reason = MSG_UNKNOWN_TRANSITION.format(name=name)
        raise TransitionRefused(reason, state=submission.state, details={"reasons": [reason]})
    if name not in transitions:
        reason = MSG_NOT_FROM_STATE.format(state=state_phrase(submission.state), label=label)
        raise TransitionRefused(reason, state=submission.state, details={"reasons": [reason]})
    fsm = transitions[name]
    # The review clock (no user) acts in every world; a person only in their own.
    if user is not None and not rules.same_world(user, submission.exercise_id):
        raise NotPermitted(MSG_NOT_PERMITTED.format(label=label))
    if not fsm.has_perm(submission, user):
        raise NotPermitted(MSG_NOT_PERMITTED.format(label=label))
    reasons = problems_for(fsm)(submission)
    if reasons:
        raise TransitionRefused(" ".join(reasons), state=submission.state, details={"reasons": reasons})


def action_checklists(submission, user) -> list[dict]:
    """The transitions this person could take from this state, each with its task list.

    Each is {name, label, enabled, items: [(what, reasons)]}: an item is done when it has no
    reasons. Read from the guards the state machine itself uses, so the page shows an action
    disabled beside exactly what is missing, and can never disagree with the rules.
    """
    out = []
    for name, fsm in _fsm_transitions(submission).items():
        if user is None or not rules.same_world(user, submission.exercise_id) or not fsm.has_perm(submission, user):
            continue
        items = checklist_for(fsm)(submission)
        out.append(
            {
                "name": name,
                "label": transition_label(name),
                "enabled": not any(reasons for _what, reasons in items),
                "items": items,
            }
        )
    return out


def blocked_transitions(submission, user, checklists=None) -> list[tuple[str, str, list[str]]]:
    """(name, label, reasons) for each transition this person could take were its guards met."""
    return [
        (c["name"], c["label"], [r for _what, reasons in c["items"] for r in reasons])
        for c in (checklists if checklists is not None else action_checklists(submission, user))
        if not c["enabled"]
    ]


def transition_blockers(submission, name: str, user) -> list[str]:
    """Why this user cannot take this transition now (empty when they can), for pages."""
    try:
        transition_check(submission, name, user)
    except TransitionRefused as exc:
        return exc.details["reasons"]
    except NotPermitted as exc:
        return [exc.message]
    return []


def concurred_proposal(submission, name: str):
    """The concurred proposal a clear or flag would issue as it stands (None otherwise)."""
    return effects.concurred_proposal(submission, name)


def submission_transition(
    *,
    submission: ModelSubmission,
    name: str,
    actor,
    comment: str = "",
    expected_state: str | None = None,
    data: dict | None = None,
) -> ModelSubmission:
    """Move a submission by the named transition, with every side effect, atomically.

    What it takes and does is its declaration's (submissions/transitions.py). Raises
    TransitionRefused (wrong state or unmet guard), NotPermitted, ValidationFailed (missing,
    mistyped or unknown inputs) or SubmissionChanged (someone else moved it first).
    """
    data = dict(data or {})
    declaration = DECLARED.get(name)
    if declaration is not None:
        effects.inputs_check(declaration, data)
        limits = {key: given.limit for key, given in declaration.inputs.items() if given.kind == "text"}
    else:
        limits = {}
    problems = text_problems(multi_line={**data, "comment": comment}, limits={**limits, "comment": 5000})
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)
    if expected_state is not None and submission.state != expected_state:
        raise SubmissionChanged(state=submission.state)
    transition_check(submission, name, actor)
    method_kwargs, effect_data = effects.prepare(declaration, data, submission)
    from_state = submission.state
    try:
        with transaction.atomic():
            getattr(submission, name)(actor=actor, **method_kwargs)
            submission.save()
            effects.run(declaration.effect, submission, actor, effect_data)
            audit_record(
                submission=submission,
                actor=actor,
                action=name,
                from_state=from_state,
                to_state=submission.state,
                comment=comment.strip(),
            )
            review_clock.on_transition(submission, name, from_state, clock.now())
            event_for_transition(submission, name)
            # After the clock and its obligations are set up (accept: an assigned lead closes them).
            effects.run(declaration.after, submission, actor)
    except ConcurrentTransition:
        current = ModelSubmission.objects.filter(pk=submission.pk).values_list("state", flat=True).first()
        submission.refresh_from_db()
        raise SubmissionChanged(state=current or from_state) from None
    except TransitionNotAllowed:
        # A guard that held at the check fails now: someone changed the evidence meanwhile.
        submission.refresh_from_db()
        reasons = (
            problems_for(_fsm_transitions(submission)[name])(submission) if name in _fsm_transitions(submission) else []
        )
        message = " ".join(reasons) or SubmissionChanged.MESSAGE.format(state=state_phrase(submission.state))
        raise TransitionRefused(message, state=submission.state, details={"reasons": reasons}) from None
    except SubmissionChanged:
        submission.refresh_from_db()
        raise
    return submission


# --- drafts and artifacts ----------------------------------------------------------------

DRAFT_FIELDS = (
    "model_name",
    "model_version",
    "release_channel",
    "planned_release_date",
    "capabilities",
    "intended_use",
    "training_compute_flops",
    "evaluator_access",
    # A new version of a model reviewed before: the earlier version (submissions.versions).
    "supersedes",
)
MSG_DUPLICATE_VERSION = "Your organization already has a submission for {name} {version}."


def submission_create_draft(*, actor, **fields) -> ModelSubmission:
    if not rules.may_create_submission(actor):
        raise NotPermitted("Only developer staff of an AI developer organization can file submissions.")
    organization = actor.organization
    values = _draft_values(fields)
    chosen = values.pop("supersedes", None)
    submission = ModelSubmission(
        organization=organization,
        exercise_id=organization.exercise_id,
        is_exercise=organization.exercise_id is not None,
        created_by=actor,
        **values,
    )
    submission.supersedes = versions.supersedes_check(submission, chosen)
    with transaction.atomic():
        _save_draft(submission)
        audit_record(submission=submission, actor=actor, action="draft_created", to_state=State.DRAFT)
        if submission.supersedes_id is not None:
            _supersedes_record(submission, actor)
    return submission


def submission_update_draft(*, submission: ModelSubmission, actor, **fields) -> ModelSubmission:
    if not rules.may_edit_draft(actor, submission):
        if rules.is_developer_of(actor, submission.organization_id) and submission.state != State.DRAFT:
            raise TransitionRefused("Only a draft can be edited.", state=submission.state)
        raise NotPermitted("Only the developer's staff can edit a submission.")
    values = _draft_values(fields)
    before = submission.supersedes_id
    for key, value in values.items():
        if key != "supersedes":
            setattr(submission, key, value)
    # Checked on every save, chosen now or before: a renamed draft may no longer be a version of it.
    chosen = values.get("supersedes", submission.supersedes_id)
    submission.supersedes = versions.supersedes_check(submission, chosen)
    try:
        with transaction.atomic():
            _save_draft(submission)
            if submission.supersedes_id != before:
                _supersedes_record(submission, actor)
    except ConcurrentTransition:
        raise SubmissionChanged(state=submission.state) from None
    return submission


def _supersedes_record(submission, actor) -> None:
    earlier = submission.supersedes
    audit_record(
        submission=submission,
        actor=actor,
        action="supersedes_chosen",
        comment=f"A new version of {earlier}." if earlier is not None else "No longer a new version of another.",
    )


def _draft_values(fields: dict) -> dict:
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields: " + ", ".join(sorted(unknown)))
    return dict(fields)


def _save_draft(submission):
    try:
        submission.full_clean(exclude=["state", "created_at", "created_by", "organization"])
    except DjangoValidationError as exc:
        details = exc.message_dict
        if NON_FIELD_ERRORS in details:
            # The only model-wide rule is one live submission per model version.
            message = MSG_DUPLICATE_VERSION.format(name=submission.model_name, version=submission.model_version)
            details = {**details, "model_version": [message]}
            del details[NON_FIELD_ERRORS]
        first = next(iter(details.values()))[0]
        raise ValidationFailed(first, details=details) from None
    try:
        with transaction.atomic():
            submission.save()
    except IntegrityError as exc:
        if "one_live_successor_per_version" in str(exc):
            # Another draft chose the same earlier version at the same moment: the refusal says which.
            refusal = versions.supersedes_refusal(submission, submission.supersedes) or versions.MSG_FIXED
            raise ValidationFailed(refusal, details={"supersedes": [refusal]}) from None
        message = MSG_DUPLICATE_VERSION.format(name=submission.model_name, version=submission.model_version)
        raise ValidationFailed(message, details={"model_version": [message]}) from None


# What an artifact may be: sniffed from its bytes, and its name must agree.
PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".md", ".txt", ".json", ".csv"}
MSG_TOO_LARGE = "The file is {size}; the largest artifact accepted is {limit}."
MSG_BAD_TYPE = "Artifacts must be PDF, Markdown, plain text, JSON or CSV files."
MSG_MISMATCH = "The file's content does not match its name ({suffix})."


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return None
    return "text/plain"


def artifact_validate(uploaded) -> tuple[str, str]:
    """Return (safe original name, content type) or raise ValidationFailed."""
    limit = settings.ARTIFACT_MAX_BYTES
    if uploaded.size > limit:
        message = MSG_TOO_LARGE.format(size=filesizeformat(uploaded.size), limit=filesizeformat(limit))
        raise PayloadTooLarge(message, details={"file": [message]})
    name = get_valid_filename(PurePath(uploaded.name or "artifact").name)[:200] or "artifact"
    suffix = PurePath(name).suffix.lower()
    uploaded.seek(0)
    head = uploaded.read(64 * 1024)
    uploaded.seek(0)
    sniffed = _sniff(head)
    if suffix not in PDF_SUFFIXES | TEXT_SUFFIXES or sniffed is None:
        raise ValidationFailed(MSG_BAD_TYPE, details={"file": [MSG_BAD_TYPE]})
    if (suffix in PDF_SUFFIXES) != (sniffed == "application/pdf"):
        message = MSG_MISMATCH.format(suffix=suffix)
        raise ValidationFailed(message, details={"file": [message]})
    if suffix == ".json":
        try:
            json.loads(uploaded.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            message = "The JSON file could not be read as JSON."
            raise ValidationFailed(message, details={"file": [message]}) from None
        finally:
            uploaded.seek(0)
    content_type = {".md": "text/markdown", ".json": "application/json", ".csv": "text/csv"}.get(suffix, sniffed)
    return name, content_type


def artifact_upload(*, submission: ModelSubmission, actor, kind: str, uploaded) -> Artifact:
    if not rules.may_upload_artifact(actor, submission):
        raise NotPermitted("Only the developer's staff can add artifacts, and only before evaluation starts.")
    if kind not in Artifact.Kind.values:
        raise ValidationFailed("Choose what kind of artifact this is.", details={"kind": ["Unknown kind."]})
    name, content_type = artifact_validate(uploaded)
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    artifact = Artifact(
        submission=submission,
        kind=kind,
        original_name=name,
        size=uploaded.size,
        content_type=content_type,
        sha256=digest.hexdigest(),
        uploaded_by=actor,
        uploaded_at=clock.now(),
    )
    with transaction.atomic():
        artifact.file.save(name, uploaded, save=False)
        artifact.save()
        audit_record(
            submission=submission,
            actor=actor,
            action="artifact_uploaded",
            comment=f"{artifact.get_kind_display()}: {name}",
        )
    return artifact


# --- agreements -----------------------------------------------------------------------------

AGREEMENT_ACTIONS = {
    "open_negotiation": "Open negotiation",
    "sign": "Record signature",
    "suspend": "Suspend",
    "reinstate": "Reinstate",
    "terminate": "Terminate",
}


def agreement_change_consequence(agreement: Agreement, action: str, open_reviews: int) -> str:
    """What one status change does, to whom, and whether it can be undone: said before it is made."""
    org = agreement.organization
    carry_on = (
        f" For each of its {open_reviews} open review{'s' if open_reviews != 1 else ''}, you choose below: "
        "it continues to a determination, or it is withdrawn."
        if open_reviews
        else ""
    )
    return {
        "open_negotiation": f"Records that {org} is negotiating. It still cannot submit models for review.",
        "sign": f"{org} can submit models for review from today, each with a "
        f"{agreement.review_window_days}-day review window. The signature is dated today.",
        "suspend": f"{org} can no longer submit new models.{carry_on} Reinstating undoes it.",
        "reinstate": f"{org} can submit models for review again.",
        "terminate": f"Ends the agreement for good: it cannot be reinstated, only replaced by a new one. "
        f"{org} can no longer submit new models.{carry_on}",
    }.get(action, "")


def agreement_available_actions(agreement: Agreement) -> list[tuple[str, str]]:
    names = {t.name for t in agreement.get_available_status_transitions()}
    return [(name, label) for name, label in AGREEMENT_ACTIONS.items() if name in names]


# What may happen to each open review when its agreement is suspended or terminated.
REVIEW_FATES = {
    "continue": "Continue to a determination (the developer and the reviewers are told)",
    "withdraw": "Withdraw it (the review ends; the developer and the reviewers are told)",
}
ENDING_ACTIONS = ("suspend", "terminate")
MSG_CHOOSE_FATES = "Choose what happens to each open review: {names}."
MSG_FATES_STRAY = (
    "Not an open review of {organization} ({ids}): it may have ended while you were choosing. Check the list again."
)


def agreement_open_reviews(agreement: Agreement):
    """The agreement's organization's open reviews (its own world: organizations belong to one)."""
    return ModelSubmission.objects.filter(
        organization_id=agreement.organization_id, state__in=OPEN_REVIEW_STATES
    ).order_by("pk")


def _fates_check(agreement, action: str, reviews: list, fates: dict) -> dict:
    """submission -> fate, refusing a missing or unknown choice, or one for a review not open now."""
    fates = {str(k): v for k, v in (fates or {}).items()}
    if action not in ENDING_ACTIONS:
        if fates:
            message = "Only suspending or terminating an agreement decides what happens to open reviews."
            raise ValidationFailed(message, details={"open_reviews": [message]})
        return {}
    by_id = {str(s.pk): s for s in reviews}
    stray = [k for k in fates if k not in by_id]
    if stray:
        message = MSG_FATES_STRAY.format(ids=", ".join(stray[:5]), organization=agreement.organization)
        raise ValidationFailed(message, details={"open_reviews": [message]})
    bad = [k for k, v in fates.items() if v not in REVIEW_FATES]
    if bad:
        message = "Each open review either continues or is withdrawn (`continue` or `withdraw`)."
        raise ValidationFailed(message, details={"open_reviews": [message]})
    missing = [str(s) for k, s in by_id.items() if k not in fates]
    if missing:
        message = MSG_CHOOSE_FATES.format(names=", ".join(missing))
        raise ValidationFailed(message, details={"open_reviews": [message]})
    return {by_id[k]: v for k, v in fates.items()}


MSG_AGREEMENTS_WHO = "Only administrators can change agreements."
MSG_AGREEMENT_NOTE = "Say why the agreement changes: the reason is kept in its history and the audit trail."


def agreement_change_status(
    *, agreement: Agreement, action: str, actor, note: str = "", open_reviews: dict | None = None
) -> Agreement:
    """Change an agreement's status, with a reason. Suspending or terminating it decides, for
    each open review of the organization, whether it continues (with a notice) or is withdrawn:
    `open_reviews` maps each submission's id to "continue" or "withdraw", one for every review
    open at that moment (a review opened meanwhile is refused, never decided by default)."""
    if not rules.may_manage_agreements(actor, agreement):
        raise NotPermitted(MSG_AGREEMENTS_WHO)
    if not has_words(note):
        raise ValidationFailed(MSG_AGREEMENT_NOTE, details={"note": [MSG_AGREEMENT_NOTE]})
    problems = text_problems(multi_line={"note": note}, limits={"note": SHORT_TEXT})
    if problems:
        raise ValidationFailed(problems["note"][0], details=problems)
    if action not in dict(agreement_available_actions(agreement)):
        raise TransitionRefused(
            f"An agreement that is {agreement.get_status_display().lower()} cannot be changed that way.",
            state=agreement.status,
        )
    from_status = agreement.status
    try:
        with transaction.atomic():
            # The open reviews as they stand, locked: a submission filed meanwhile waits for this
            # change and then finds the agreement suspended; one already filed must be decided.
            reviews = list(agreement_open_reviews(agreement).select_for_update())
            fates = _fates_check(agreement, action, reviews, open_reviews)
            getattr(agreement, action)()
            agreement.save()
            AgreementEvent.objects.create(
                agreement=agreement,
                from_status=from_status,
                to_status=agreement.status,
                recorded_by=actor,
                recorded_at=clock.now(),
                note=note,
            )
            _agreement_in_the_chain(
                agreement,
                actor,
                f"status: {from_status} → {agreement.status}"
                + (f" ({note.strip()})" if note.strip() else "")
                + "".join(f"; {s}: {fate}" for s, fate in fates.items()),
            )
            for submission, fate in fates.items():
                _open_review_decide(submission, fate, agreement, actor, note.strip())
    except ConcurrentTransition:
        agreement.refresh_from_db()
        raise TransitionRefused(
            "This agreement changed while you were working on it. Reload and try again.", state=agreement.status
        ) from None
    return agreement


def _open_review_decide(submission, fate: str, agreement, actor, note: str) -> None:
    status = agreement.get_status_display().lower()
    if fate == "withdraw":
        submission_transition(
            submission=submission,
            name="withdraw_for_agreement",
            actor=actor,
            comment=f"The review agreement was {status}: {note}",
        )
        return
    audit_record(
        submission=submission,
        actor=actor,
        action="agreement_review_continues",
        comment=f"The review agreement was {status} ({note}); this review continues to a determination.",
    )
    from partners.services import event_record

    event_record(
        submission=submission,
        type="submission.agreement_changed",
        extra={
            "agreement": f"{status.capitalize()}: {note}",
            "next_action": "The review continues to a determination under the agreement's terms at submission.",
        },
    )


def agreement_set_window(*, agreement: Agreement, actor, days: int) -> Agreement:
    if not rules.may_manage_agreements(actor, agreement):
        raise NotPermitted(MSG_AGREEMENTS_WHO)
    if not 1 <= int(days) <= 30:
        message = "The review window is between 1 and 30 days."
        raise ValidationFailed(message, details={"review_window_days": [message]})
    with transaction.atomic():
        before = agreement.review_window_days
        agreement.review_window_days = int(days)
        agreement.save(update_fields=["review_window_days"])
        if before != agreement.review_window_days:
            _agreement_in_the_chain(agreement, actor, f"review window: {before} → {agreement.review_window_days} days")
    return agreement


def _agreement_in_the_chain(agreement, actor, change: str) -> None:
    """Live agreements' changes go into the office's audit chain (an exercise's stay in its
    agreement history, which the after-action report reads)."""
    if agreement.organization.exercise_id is None:
        audit_record(
            submission=None,
            actor=actor,
            action="configuration_changed",
            comment=f"Agreement of {agreement.organization}: {change}",
            internal=True,
        )


def organization_ensure_agreement(organization: Organization) -> Agreement:
    agreement, _ = Agreement.objects.get_or_create(organization=organization)
    return agreement


# --- the public register -----------------------------------------------------------------------

PUBLISHABLE_STATES = (State.CLEARED, State.FLAGGED, State.WINDOW_ELAPSED, State.RELEASED, State.ACCESS_REMOVED)
MSG_NOT_PUBLISHABLE = "Only a review that has ended (determined or elapsed) can be listed in the public register."


def submission_set_published(*, submission: ModelSubmission, actor, published: bool) -> ModelSubmission:
    """The office's choice to list (or delist) a finished review in the public register."""
    if not rules.may_publish(actor, submission):
        raise NotPermitted(
            "Only the office's administrators decide what the public register lists (never exercise data)."
        )
    if published and submission.state not in PUBLISHABLE_STATES:
        raise ValidationFailed(MSG_NOT_PUBLISHABLE)
    with transaction.atomic():
        changed = ModelSubmission.objects.filter(pk=submission.pk, published_at__isnull=published).update(
            published_at=clock.now() if published else None, published_by=actor if published else None
        )
        if changed:
            audit_record(
                submission=submission, actor=actor, action="published" if published else "unpublished", internal=True
            )
            # The register's followers are told in the same transaction (outbox rows), sent after it.
            from register.services import followers_notify

            followers_notify(submission=submission, listed=published)
    submission.refresh_from_db(fields=["published_at", "published_by"])
    return submission


# --- government orders: removal, hold, lifting ------------------------------------------------

MSG_ORDER_NOT_HERE = (
    "An order can be recorded on a model that is cleared, flagged, past its review window or released; "
    "this one is {state}."
)
MSG_ORDER_IN_FORCE = "Order {reference} is in force on this model: lift it before recording another."
MSG_ORDERS = "Only the office's administrators record and lift government orders."
MSG_NOT_IN_FORCE = "This order was lifted already."
MSG_FLAGGED_DEPLOYED = (
    "The model is flagged and its release is not on record: the order is recorded as a hold on the release."
)


def access_order_in_force(submission):
    from .models import AccessRemovalOrder

    return AccessRemovalOrder.objects.filter(submission=submission, lifted_at__isnull=True).first()


def access_order_record(
    *, submission, actor, data: dict, deployed: bool = False, comment: str = "", expected_state=None
):
    """Record a government order. On a deployed model (released; or cleared / past its window
    and deployed, `deployed`) the submission moves to access removed (the remove_access
    transition); on one not yet released the order holds the release: the state stays, and
    record_release's guard refuses until the order is lifted. Returns the order."""
    from .models import AccessRemovalOrder
    from .states import ORDER_HOLD_STATES, ORDER_REMOVAL_STATES

    if not rules.may_record_access_removal(submission, actor):
        raise NotPermitted(MSG_ORDERS)
    if expected_state is not None and submission.state != expected_state:
        raise SubmissionChanged(state=submission.state)
    if submission.state not in (*ORDER_REMOVAL_STATES, *ORDER_HOLD_STATES):
        message = MSG_ORDER_NOT_HERE.format(state=state_phrase(submission.state))
        raise TransitionRefused(message, state=submission.state, details={"reasons": [message]})
    in_force = access_order_in_force(submission)
    if in_force is not None:
        message = MSG_ORDER_IN_FORCE.format(reference=in_force.reference)
        raise TransitionRefused(message, state=submission.state, details={"reasons": [message]})
    removal = submission.state == State.RELEASED or (deployed and submission.state in ORDER_REMOVAL_STATES)
    if removal:
        submission_transition(submission=submission, name="remove_access", actor=actor, comment=comment, data=data)
        return access_order_in_force(submission)
    effects.inputs_check(DECLARED["remove_access"], data)
    problems = text_problems(
        single_line={"reference": data.get("reference", ""), "authority": data.get("authority", "")},
        multi_line={"scope_description": data.get("scope_description", ""), "comment": comment},
        limits={"reference": 200, "authority": 200, "scope_description": 5000, "comment": 5000},
    )
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)
    fields = effects.order_fields(data, submission)
    try:
        with transaction.atomic():
            current = (
                ModelSubmission.objects.select_for_update().filter(pk=submission.pk).values_list("state", flat=True)
            )
            if current.first() != submission.state:
                raise SubmissionChanged(state=current.first() or submission.state)
            order = AccessRemovalOrder.objects.create(
                submission=submission,
                kind=AccessRemovalOrder.Kind.HOLD,
                previous_state=submission.state,
                open_weights=submission.is_open_weights,
                recorded_by=actor,
                recorded_at=clock.now(),
                **fields,
            )
            audit_record(
                submission=submission,
                actor=actor,
                action="access_hold_recorded",
                comment=_order_comment(order, comment),
            )
            event_record(submission=submission, type="submission.access_hold")
    except IntegrityError:  # another administrator's order won the race
        submission.refresh_from_db()
        raise TransitionRefused(
            MSG_ORDER_IN_FORCE.format(reference=getattr(access_order_in_force(submission), "reference", "")),
            state=submission.state,
        ) from None
    return order


def _order_comment(order, comment: str = "") -> str:
    parts = [f"Order {order.reference} ({order.authority}), scope: {order.get_scope_display().lower()}"]
    if order.open_weights_note:
        parts.append(order.open_weights_note)
    if comment.strip():
        parts.append(comment.strip())
    return ". ".join(parts)


def access_order_lift(*, order, actor, reason: str):
    """Lift an order in force (reinstatement): a removal returns the submission to the state
    the order found it in; a hold lets the release be recorded again."""
    from .models import AccessRemovalOrder

    submission = order.submission
    if not rules.may_record_access_removal(submission, actor):
        raise NotPermitted(MSG_ORDERS)
    if order.lifted_at is not None:
        raise TransitionRefused(MSG_NOT_IN_FORCE, state=submission.state, details={"reasons": [MSG_NOT_IN_FORCE]})
    if order.kind == AccessRemovalOrder.Kind.REMOVAL:
        submission_transition(submission=submission, name="reinstate_access", actor=actor, data={"reason": reason})
        order.refresh_from_db()
        return order
    reason = effects.required_text({"reason": reason}, "reason", MSG_LIFT_REASON)
    problems = text_problems(multi_line={"reason": reason}, limits={"reason": 5000})
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)
    with transaction.atomic():
        ModelSubmission.objects.select_for_update().filter(pk=submission.pk).exists()
        lifted = AccessRemovalOrder.objects.filter(pk=order.pk, lifted_at__isnull=True).update(
            lifted_at=clock.now(), lifted_by=actor, lift_reason=reason
        )
        if lifted != 1:
            raise TransitionRefused(MSG_NOT_IN_FORCE, state=submission.state, details={"reasons": [MSG_NOT_IN_FORCE]})
        order.refresh_from_db()
        audit_record(
            submission=submission,
            actor=actor,
            action="access_hold_lifted",
            comment=f"Order {order.reference}: {reason}",
        )
        event_record(submission=submission, type="submission.access_reinstated")
    return order


# --- where open weights were published -----------------------------------------------------------

MSG_LOCATION = "Give an http(s) URL or a Hugging Face repository as hf://owner/name."
MSG_LOCATION_CREDENTIALS = (
    "Leave credentials and query strings (where access tokens go) out of the location: "
    "it is shown to partners and the public."
)
MSG_LOCATION_FRAGMENT = "Leave out the part after #: give the address of the files themselves."
MSG_LOCATION_HTTPS = "Give an https address: the location is published for anyone to check the files."
MSG_LOCATION_PRIVATE = (
    "Give a public address: this one only reaches a private network, which downstream builders cannot see."
)
MSG_LOCATION_IDN = "Write the host name in its ASCII form (xn--…): letters from other scripts can imitate a known host."
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".corp", ".intranet")
MSG_SHA256 = "Give the file's SHA-256 as 64 hexadecimal characters."
MSG_PUBLICATION_DUPLICATE = "This location and file hash are already recorded."
MSG_PUBLICATIONS = "Only the developer's staff record where their own open-weights model was published."
HF_LOCATION = re.compile(
    r"hf://[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}(@[\w.-]{1,100})?(/[\w.@/-]{1,300})?", re.ASCII
)
SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)


def weights_location_problem(location: str) -> str:
    """Why this is not a publication location ("" when it is): an http(s) URL without
    credentials, or hf://owner/name (with an optional @revision and path)."""
    from urllib.parse import urlsplit

    from django.core.validators import URLValidator

    if not location or len(location) > 500 or any(ch.isspace() or not ch.isprintable() for ch in location):
        return MSG_LOCATION
    if location.startswith("hf://"):
        if not HF_LOCATION.fullmatch(location) or ".." in location or any(p == "." for p in location[5:].split("/")):
            return MSG_LOCATION
        return ""
    try:
        URLValidator(schemes=["http", "https"])(location)
    except DjangoValidationError:
        return MSG_LOCATION
    parts = urlsplit(location)
    try:
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        return MSG_LOCATION
    if parts.username is not None or parts.query or "?" in location:
        # A query string is where signed links carry their tokens; the register shows this.
        return MSG_LOCATION_CREDENTIALS
    if parts.fragment or "#" in location:
        return MSG_LOCATION_FRAGMENT
    if parts.scheme != "https":
        return MSG_LOCATION_HTTPS
    if not (parts.hostname or "").isascii():
        # Look-alike letters (a Latin "ɡ" for "g") would pass for a trusted host on the register.
        return MSG_LOCATION_IDN
    if not public_host(parts.hostname or ""):
        return MSG_LOCATION_PRIVATE
    return ""


def public_host(host: str) -> bool:
    """A name or address anyone could reach: not a loopback, private, link-local or reserved
    address (nor an IPv6 form leading to one), nor a name only a private network resolves."""
    import ipaddress

    from partners.destinations import is_public_address

    host = host.strip("[]").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return is_public_address(host)
    if "." not in host:
        return False  # "localhost", an intranet short name
    return not host.endswith(PRIVATE_SUFFIXES)


def weights_publication_record(*, submission, actor, location: str, sha256: str):
    """The developer says where their open-weights model's weights were published, file by file."""
    from .models import WeightsPublication

    if not rules.may_record_weights_publication(actor, submission):
        raise NotPermitted(MSG_PUBLICATIONS)
    location = (location or "").strip() if isinstance(location, str) else ""
    sha256 = (sha256 or "").strip().lower() if isinstance(sha256, str) else ""
    problems = {}
    problem = weights_location_problem(location)
    if problem:
        problems["location"] = [problem]
    if not SHA256.fullmatch(sha256):
        problems["sha256"] = [MSG_SHA256]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)
    if WeightsPublication.objects.current().filter(submission=submission, location=location, sha256=sha256).exists():
        raise ValidationFailed(MSG_PUBLICATION_DUPLICATE, details={"sha256": [MSG_PUBLICATION_DUPLICATE]})
    try:
        with transaction.atomic():
            publication = WeightsPublication.objects.create(
                submission=submission, location=location, sha256=sha256, recorded_by=actor, recorded_at=clock.now()
            )
            audit_record(
                submission=submission,
                actor=actor,
                action="weights_publication_recorded",
                comment=f"{location} (SHA-256 {sha256[:12]}…)",
            )
    except IntegrityError:  # the same file recorded twice at once: one is kept
        raise ValidationFailed(MSG_PUBLICATION_DUPLICATE, details={"sha256": [MSG_PUBLICATION_DUPLICATE]}) from None
    return publication


MSG_PUBLICATION_REASON = "Say why the record is withdrawn (for example: the hash was of another file)."
MSG_PUBLICATION_GONE = "This record was withdrawn already."


def weights_publication_withdraw(*, publication, actor, reason: str):
    """Withdraw a mistaken publication record: it leaves the page's list, the register and
    later notices; the record and the reason stay in the audit chain."""
    from .models import WeightsPublication

    refusal = rules.weights_withdrawal_refusal(
        actor, publication.submission, order_in_force=access_order_in_force(publication.submission) is not None
    )
    if refusal:
        raise NotPermitted(refusal)
    reason = reason.strip() if isinstance(reason, str) else ""
    problems = text_problems(single_line={}, multi_line={"reason": reason}, limits={"reason": 2000})
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)
    if not has_words(reason):
        raise ValidationFailed(MSG_PUBLICATION_REASON, details={"reason": [MSG_PUBLICATION_REASON]})
    with transaction.atomic():
        withdrawn = WeightsPublication.objects.filter(pk=publication.pk, withdrawn_at__isnull=True).update(
            withdrawn_at=clock.now(), withdrawn_by=actor, withdrawn_reason=reason
        )
        if not withdrawn:  # two people withdrawing it at once: the first one did
            raise ValidationFailed(MSG_PUBLICATION_GONE)
        audit_record(
            submission=publication.submission,
            actor=actor,
            action="weights_publication_withdrawn",
            comment=f"{publication.location} (SHA-256 {publication.sha256[:12]}…): {reason}",
        )
    publication.refresh_from_db()
    return publication
