"""New versions of a model: which earlier version a submission may supersede, and how a
re-review may be scoped.

A submission supersedes an earlier version of the same model: the same developer organization
(and so the same world: organizations belong to one), the same model name, filed before it,
whose review has ended with an outcome the office can compare against (cleared, flagged, past
its window, released or access removed). Each refusal says why in words. A version is
superseded by at most one live submission (a chain, never a fork); the database backs that
(`one_live_successor_per_version`) and that no submission supersedes itself.

The office may scope the re-review when it accepts it: a smaller plan (the accept's domains)
and a shorter window, counted like the agreement's from the moment it was submitted, never
longer than the window the submission was given (submissions.review_clock sets it).
"""

from __future__ import annotations

import datetime as dt

from caisi_portal.errors import ValidationFailed

from .states import State, state_phrase

# The earlier version's review has ended with an outcome: there are results to compare and
# findings to carry forward (a withdrawn one was never reviewed; an open one is still running).
SUPERSEDABLE_STATES = (State.CLEARED, State.FLAGGED, State.WINDOW_ELAPSED, State.RELEASED, State.ACCESS_REMOVED)

MSG_NOT_YOURS = (
    "A new version can supersede only an earlier version of {organization}'s own model: {what} is not one of them."
)
MSG_ITSELF = "A submission cannot supersede itself: choose the earlier version it replaces."
MSG_OTHER_MODEL = (
    "{earlier} is another model: a new version supersedes an earlier version of the same model ({name}). "
    "Give this submission the same model name, or choose a version of {name}."
)
MSG_LATER = "{earlier} was filed after this submission: a new version can supersede only an earlier one."
MSG_WITHDRAWN = (
    "{earlier} was withdrawn, so the office never reviewed it: there is nothing to compare or carry forward."
)
MSG_NOT_ENDED = (
    "{earlier} is {state}: only a version whose review has ended (cleared, flagged, past its review window, "
    "released or access removed) can be superseded. Wait for its determination, or withdraw it and file this one."
)
MSG_LOOP = "Superseding {earlier} would make a loop: {earlier} already supersedes this submission (through {path})."
MSG_TAKEN = "{earlier} is already superseded by {other} ({state}): supersede {other} instead, or withdraw it first."
MSG_FIXED = "Only a draft chooses the version it supersedes: once submitted, the link is part of the review."


def supersedes_resolve(submission, value):
    """The earlier submission `value` names (an instance, an id, or None), or ValidationFailed.

    Anything that is not one of the submission's own organization's submissions (another
    organization's, another world's, one that does not exist) gets the same answer, so the
    refusal never tells whether someone else's submission exists.
    """
    from .models import ModelSubmission

    if value in (None, ""):
        return None
    pk = getattr(value, "pk", value)
    try:
        pk = int(pk)
    except (TypeError, ValueError, OverflowError):
        pk = None
    if pk is not None and not 1 <= pk < 2**63:  # no row has such an id (and the database would refuse it)
        pk = None
    earlier = None
    if pk is not None and not isinstance(value, bool):
        earlier = (
            ModelSubmission.objects.filter(
                pk=pk, organization_id=submission.organization_id, exercise_id=submission.exercise_id
            )
            .select_related("organization")
            .first()
        )
    if earlier is None:
        what = f"submission #{pk}" if pk is not None else "the submission chosen"
        message = MSG_NOT_YOURS.format(organization=submission.organization, what=what)
        raise ValidationFailed(message, details={"supersedes": [message]})
    return earlier


def supersedes_refusal(submission, earlier) -> str:
    """Why `submission` may not supersede `earlier` ("" when it may). Both are of the same
    organization and world already (supersedes_resolve)."""
    from .models import ModelSubmission

    if submission.pk is not None and earlier.pk == submission.pk:
        return MSG_ITSELF
    if earlier.model_name.strip().casefold() != (submission.model_name or "").strip().casefold():
        return MSG_OTHER_MODEL.format(earlier=earlier, name=submission.model_name or "this model")
    if submission.pk is not None and (earlier.created_at, earlier.pk) > (submission.created_at, submission.pk):
        return MSG_LATER.format(earlier=earlier)
    # A loop can only be made by hand-edited data (an earlier version is filed first): refuse it all the same.
    path, step, seen = [], earlier, set()
    while step is not None and step.pk not in seen:
        seen.add(step.pk)
        if submission.pk is not None and step.supersedes_id == submission.pk:
            return MSG_LOOP.format(earlier=earlier, path=" → ".join([str(earlier), *path]) or str(earlier))
        step = ModelSubmission.objects.filter(pk=step.supersedes_id).first() if step.supersedes_id else None
        if step is not None:
            path.append(str(step))
    if earlier.state == State.WITHDRAWN:
        return MSG_WITHDRAWN.format(earlier=earlier)
    if earlier.state not in SUPERSEDABLE_STATES:
        return MSG_NOT_ENDED.format(earlier=earlier, state=state_phrase(earlier.state))
    other = (
        ModelSubmission.objects.filter(supersedes=earlier)
        .exclude(state=State.WITHDRAWN)
        .exclude(pk=submission.pk)
        .first()
    )
    if other is not None:
        return MSG_TAKEN.format(earlier=earlier, other=other, state=state_phrase(other.state))
    return ""


def supersedes_check(submission, value):
    """The earlier version to link (or None), refused with the reason in words."""
    earlier = supersedes_resolve(submission, value)
    if earlier is None:
        return None
    refusal = supersedes_refusal(submission, earlier)
    if refusal:
        raise ValidationFailed(refusal, details={"supersedes": [refusal]})
    return earlier


def supersedable_for(organization_id, exercise_id, *, exclude_pk=None):
    """The versions a draft of this organization could choose (the form's list): ended reviews,
    not yet superseded by a live submission. The model name and the order are checked on save."""
    from .models import ModelSubmission

    taken = ModelSubmission.objects.filter(supersedes__isnull=False).exclude(state=State.WITHDRAWN)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    return (
        ModelSubmission.objects.filter(
            organization_id=organization_id, exercise_id=exercise_id, state__in=SUPERSEDABLE_STATES
        )
        .exclude(pk__in=taken.values("supersedes_id"))
        .exclude(pk=exclude_pk)
        .order_by("model_name", "-created_at")
    )


# --- scoping a re-review at acceptance -----------------------------------------------------------

MSG_WINDOW_NOT_REREVIEW = (
    "Only a new version of a model the office reviewed before can be re-reviewed in a shorter window: "
    "this submission supersedes no earlier version."
)
MSG_WINDOW_RANGE = "A re-review's window is between 1 day and the agreement's {days}-day window."
MSG_WINDOW_OVER = (
    "A {days}-day window counted from the submission ({submitted}) would already have ended: choose at least "
    "{at_least} days."
)


def window_days_check(submission, days, now: dt.datetime) -> dt.timedelta:
    """The shorter window a re-review may be given at acceptance, or ValidationFailed.

    At least a day, at most the window the submission was given (the agreement's when it was
    submitted), and still ahead: counted from the submission like the agreement's window, with
    the time the clock stood paused for information added back."""
    from caisi_portal import timefmt

    from .models import ReviewClock

    if submission.supersedes_id is None:
        raise ValidationFailed(MSG_WINDOW_NOT_REREVIEW, details={"window_days": [MSG_WINDOW_NOT_REREVIEW]})
    review_clock = ReviewClock.objects.filter(submission=submission).first()
    given = review_clock.window.days if review_clock is not None else 30
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= given:
        message = MSG_WINDOW_RANGE.format(days=given)
        raise ValidationFailed(message, details={"window_days": [message]})
    from .review_clock import clock_deadline, is_due, review_window

    window = review_window(days)
    if review_clock is not None and is_due(
        clock_deadline(review_clock.started_at, window, review_clock.paused_total), now
    ):
        spent = now - review_clock.started_at - review_clock.paused_total
        message = MSG_WINDOW_OVER.format(
            days=days, submitted=timefmt.when(review_clock.started_at), at_least=spent.days + 1
        )
        raise ValidationFailed(message, details={"window_days": [message]})
    return window
