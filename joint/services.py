"""What changes joint reviews: arrangements (administrators) and invitations (the office invites,
the institute answers). Each change is audited; who may is asked of accounts.rules."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import NotPermitted, SubmissionChanged, TransitionRefused, ValidationFailed
from caisi_portal.text import text_problems
from submissions.models import ModelSubmission, Organization
from submissions.services import audit_record
from submissions.states import OPEN_REVIEW_STATES

from .models import DataSharingArrangement, JointReviewInvitation

MSG_NOT_INSTITUTE = "{organization} is not an allied institute."
MSG_NO_ARRANGEMENT = (
    "{institute} has no data-sharing arrangement in force with the office: record one (or renew the ended one) "
    "before inviting it."
)
MSG_OTHER_WORLD = (
    "{institute} belongs to {its_world}, and this submission to {sub_world}: an institute joins reviews of its own "
    "world only (live with live, an exercise with its own exercise)."
)
MSG_INVITATION_LAPSED = (
    "The arrangement this invitation was made under ({reference}) is not in force: the office must invite "
    "your institute again under one that is."
)
MSG_ALREADY_INVITED = "{institute} is already invited to this review."
MSG_NOT_OPEN = "Institutes are invited while the review is open (intake, information requested or evaluation)."
MSG_INVITE = "Only the review's administrators and its lead reviewer invite an allied institute."
MSG_RESPOND = "Only a reviewer of the invited institute, with no conflict with the developer, answers this invitation."
MSG_WITHDRAW = "Only the review's administrators and its lead reviewer withdraw an invitation."
MSG_ANSWERED = "This invitation has already been answered or withdrawn."
MSG_ARRANGEMENTS = "Only the office's administrators record and end data-sharing arrangements."
MSG_ARRANGEMENT_ACTIVE = "{institute} already has an active arrangement: end it before recording another."
MSG_ARRANGEMENT_ENDED = "This arrangement has already ended."
MSG_ARRANGEMENT_DATES = "The end day cannot come before the start day."


def _world_name(exercise_id) -> str:
    return "the live office" if exercise_id is None else "a training exercise"


def _refuse_text(**fields) -> None:
    problems = text_problems(**fields)
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)


def arrangement_in_force(institute, day=None) -> DataSharingArrangement | None:
    """The institute's active arrangement in force today (on the portal's clock), or None."""
    day = day or clock.now().date()
    found = DataSharingArrangement.objects.filter(
        institute=institute, status=DataSharingArrangement.Status.ACTIVE
    ).first()
    return found if found is not None and found.in_force_on(day) else None


# --- arrangements ----------------------------------------------------------------------------


def arrangement_record(
    *, actor, institute, reference: str, classification_cap: int, starts_on: dt.date, ends_on: dt.date | None = None
) -> DataSharingArrangement:
    """An administrator records an arrangement with an allied institute (one active at a time)."""
    if not rules.may_manage_arrangements(actor):
        raise NotPermitted(MSG_ARRANGEMENTS)
    if institute.kind != Organization.Kind.ALLIED_INSTITUTE or not rules.same_world(actor, institute.exercise_id):
        message = MSG_NOT_INSTITUTE.format(organization=institute)
        raise ValidationFailed(message, details={"institute": [message]})
    reference = (reference or "").strip()
    _refuse_text(single_line={"reference": reference}, limits={"reference": 120})
    if not reference:
        message = "Give the arrangement's reference."
        raise ValidationFailed(message, details={"reference": [message]})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(MSG_ARRANGEMENT_DATES, details={"ends_on": [MSG_ARRANGEMENT_DATES]})
    try:
        with transaction.atomic():
            arrangement = DataSharingArrangement.objects.create(
                institute=institute,
                reference=reference,
                classification_cap=int(classification_cap),
                starts_on=starts_on,
                ends_on=ends_on,
                recorded_by=actor,
                recorded_at=clock.now(),
            )
            audit_record(
                submission=None,
                actor=actor,
                action="arrangement_recorded",
                comment=f"{arrangement.reference} with {institute}: up to "
                f"{arrangement.get_classification_cap_display()}, from {starts_on.isoformat()}"
                + (f" to {ends_on.isoformat()}" if ends_on else ""),
                internal=True,
            )
    except IntegrityError:
        message = MSG_ARRANGEMENT_ACTIVE.format(institute=institute)
        raise ValidationFailed(message, details={"institute": [message]}) from None
    return arrangement


def arrangement_end(*, actor, arrangement: DataSharingArrangement, reason: str) -> DataSharingArrangement:
    """End an arrangement: from now on the institute's staff see none of its joint reviews."""
    if not rules.may_manage_arrangements(actor) or not rules.same_world(actor, arrangement.institute.exercise_id):
        raise NotPermitted(MSG_ARRANGEMENTS)
    reason = (reason or "").strip()
    _refuse_text(single_line={"reason": reason}, limits={"reason": 500})
    if not reason:
        message = "Say why the arrangement ends: it is kept with it and in the audit trail."
        raise ValidationFailed(message, details={"reason": [message]})
    today = clock.now().date()
    with transaction.atomic():
        # Conditional update: two administrators ending it at once, one is recorded.
        ended = DataSharingArrangement.objects.filter(
            pk=arrangement.pk, status=DataSharingArrangement.Status.ACTIVE
        ).update(
            status=DataSharingArrangement.Status.ENDED,
            ends_on=today,
            ended_by=actor,
            end_reason=reason,
        )
        if ended != 1:
            raise ValidationFailed(MSG_ARRANGEMENT_ENDED)
        audit_record(
            submission=None,
            actor=actor,
            action="arrangement_ended",
            comment=f"{arrangement.reference} with {arrangement.institute}: {reason}",
            internal=True,
        )
        # Its open invitations end with it: an invitation under an ended arrangement gives no
        # access, so it must not read "accepted" or wait for an answer (and the office may
        # invite the institute again under a new arrangement).
        open_invitations = list(
            JointReviewInvitation.objects.select_for_update()
            .filter(
                arrangement=arrangement,
                status__in=(JointReviewInvitation.Status.PENDING, JointReviewInvitation.Status.ACCEPTED),
            )
            .select_related("submission")
        )
        now = clock.now()
        JointReviewInvitation.objects.filter(pk__in=[i.pk for i in open_invitations]).update(
            status=JointReviewInvitation.Status.WITHDRAWN, withdrawn_by=actor, withdrawn_at=now
        )
        for invitation in open_invitations:
            audit_record(
                submission=invitation.submission,
                actor=actor,
                action="institute_invitation_withdrawn",
                comment=f"{arrangement.institute}: arrangement {arrangement.reference} ended",
                internal=True,
            )
    arrangement.refresh_from_db()
    return arrangement


# --- invitations -----------------------------------------------------------------------------


def _lock_open(submission) -> None:
    state = ModelSubmission.objects.select_for_update().filter(pk=submission.pk).values_list("state", flat=True)
    current = state.first()
    if current not in OPEN_REVIEW_STATES:
        raise SubmissionChanged(state=current or submission.state)


def invitation_create(*, actor, submission, institute, note: str = "") -> JointReviewInvitation:
    """The office invites an allied institute to a review, under its arrangement in force.

    Refused, with the reason, when the institute is not an allied institute, belongs to another
    world (live vs exercise), has no arrangement in force, or is already invited.
    """
    if not rules.runs_the_review(actor, submission):
        raise NotPermitted(MSG_INVITE)
    if not rules.may_invite_institute(actor, submission):
        raise TransitionRefused(MSG_NOT_OPEN, state=submission.state)
    if institute.kind != Organization.Kind.ALLIED_INSTITUTE:
        message = MSG_NOT_INSTITUTE.format(organization=institute)
        raise ValidationFailed(message, details={"institute": [message]})
    if institute.exercise_id != submission.exercise_id:
        message = MSG_OTHER_WORLD.format(
            institute=institute,
            its_world=_world_name(institute.exercise_id),
            sub_world=_world_name(submission.exercise_id),
        )
        raise ValidationFailed(message, details={"institute": [message]})
    note = (note or "").strip()
    _refuse_text(multi_line={"note": note}, limits={"note": 5000})
    arrangement = arrangement_in_force(institute)
    if arrangement is None:
        message = MSG_NO_ARRANGEMENT.format(institute=institute)
        raise ValidationFailed(message, details={"institute": [message]})
    try:
        with transaction.atomic():
            _lock_open(submission)
            invitation = JointReviewInvitation.objects.create(
                submission=submission,
                institute=institute,
                arrangement=arrangement,
                note=note,
                invited_by=actor,
                invited_at=clock.now(),
            )
            audit_record(
                submission=submission,
                actor=actor,
                action="institute_invited",
                comment=f"{institute}, under {arrangement.reference} (up to "
                f"{arrangement.get_classification_cap_display()})",
                internal=True,
            )
    except IntegrityError:
        message = MSG_ALREADY_INVITED.format(institute=institute)
        raise ValidationFailed(message, details={"institute": [message]}) from None
    return invitation


def invitation_respond(*, actor, invitation: JointReviewInvitation, accept: bool) -> JointReviewInvitation:
    """A reviewer of the invited institute accepts (its staff then see the review within the
    cap) or declines."""
    if not rules.may_respond_to_invitation(actor, invitation):
        its_own = (
            rules.is_institute_reviewer(actor)
            and actor.organization_id == invitation.institute_id
            and rules.same_world(actor, invitation.submission.exercise_id)
        )
        if its_own and invitation.status != JointReviewInvitation.Status.PENDING:
            raise ValidationFailed(MSG_ANSWERED)
        raise NotPermitted(MSG_RESPOND)
    status = JointReviewInvitation.Status.ACCEPTED if accept else JointReviewInvitation.Status.DECLINED
    own = DataSharingArrangement.objects.get(pk=invitation.arrangement_id)  # as it is now, not as read
    if accept and not (own.status == DataSharingArrangement.Status.ACTIVE and own.in_force_on(clock.now().date())):
        # The invitation's own arrangement, not any other in force: access is under that one.
        message = MSG_INVITATION_LAPSED.format(reference=own.reference)
        raise ValidationFailed(message)
    with transaction.atomic():
        _lock_open(invitation.submission)
        updated = JointReviewInvitation.objects.filter(
            pk=invitation.pk, status=JointReviewInvitation.Status.PENDING
        ).update(status=status, responded_by=actor, responded_at=clock.now())
        if updated != 1:
            raise ValidationFailed(MSG_ANSWERED)
        audit_record(
            submission=invitation.submission,
            actor=actor,
            action="institute_accepted" if accept else "institute_declined",
            comment=invitation.institute.shown_publicly,
            # That the review is joint is no secret from the developer (its notices say so);
            # a declined invitation is the office's own business.
            internal=not accept,
        )
    invitation.refresh_from_db()
    _forget_caps(actor)
    return invitation


def invitation_withdraw(*, actor, invitation: JointReviewInvitation) -> JointReviewInvitation:
    """The office withdraws an invitation: the institute's staff no longer see the review
    (what they recorded stays, marked with their institute)."""
    if not rules.may_withdraw_invitation(actor, invitation):
        if rules.runs_the_review(actor, invitation.submission):
            raise ValidationFailed(MSG_ANSWERED)
        raise NotPermitted(MSG_WITHDRAW)
    with transaction.atomic():
        updated = JointReviewInvitation.objects.filter(
            pk=invitation.pk,
            status__in=(JointReviewInvitation.Status.PENDING, JointReviewInvitation.Status.ACCEPTED),
        ).update(status=JointReviewInvitation.Status.WITHDRAWN, withdrawn_by=actor, withdrawn_at=clock.now())
        if updated != 1:
            raise ValidationFailed(MSG_ANSWERED)
        audit_record(
            submission=invitation.submission,
            actor=actor,
            action="institute_invitation_withdrawn",
            comment=str(invitation.institute),
            internal=True,
        )
    invitation.refresh_from_db()
    return invitation


def _forget_caps(user) -> None:
    if hasattr(user, "_caisi_joint_caps"):
        del user._caisi_joint_caps


# --- what the record says --------------------------------------------------------------------


def contributing_institutes(submission):
    """The allied institutes whose staff recorded results or findings on this review."""
    from reviews.models import EvaluationResult, Finding

    ids = set(
        EvaluationResult.objects.filter(submission=submission, institute__isnull=False).values_list(
            "institute_id", flat=True
        )
    ) | set(
        Finding.objects.filter(submission=submission, institute__isnull=False).values_list("institute_id", flat=True)
    )
    return Organization.objects.filter(pk__in=ids).order_by("name")


def joint_institute_names(submissions) -> dict[int, list[str]]:
    """For notices: each joint review's institutes, by their public names (those that took part:
    an accepted invitation, or results or findings their staff recorded). Three queries however
    many submissions."""
    from reviews.models import EvaluationResult, Finding

    ids = [s.pk for s in submissions]
    named: dict[int, dict[int, str]] = {}
    fields = ("submission_id", "institute_id", "institute__public_name", "institute__name")
    rows = [
        *JointReviewInvitation.objects.filter(
            submission_id__in=ids, status=JointReviewInvitation.Status.ACCEPTED
        ).values_list(*fields),
        *EvaluationResult.objects.filter(submission_id__in=ids, institute__isnull=False).values_list(*fields),
        *Finding.objects.filter(submission_id__in=ids, institute__isnull=False).values_list(*fields),
    ]
    for submission_id, institute_id, public_name, name in rows:
        named.setdefault(submission_id, {})[institute_id] = public_name or name
    return {sid: sorted(names.values()) for sid, names in named.items()}
