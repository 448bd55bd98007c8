"""Reminders about planned results still missing as the review deadline nears.

Two ways in, one way out:
- the sweep (review_clock.act_on_due_items) sends the SLA policy's steps: the reviewers,
  then the lead, then the administrators, each once per review. The clock's
  ``next_reminder_at`` is the indexed moment of the next step, moved by compare-and-set
  exactly as ``next_warning_at`` is, so overlapping sweeps send nothing twice; the
  ResultsReminder rows' unique constraint stands behind it. A lead reviewing alone is both the
  reviewers and the lead: when both steps fall due at one sweep, one message says both.
- the Remind button (reviewer_remind): a lead or an administrator reminds one reviewer by
  hand, refused again within MANUAL_REMIND_GAP so a page pressed twice is not two emails.

"Overdue" here means: the review is in evaluation with its clock running, some planned
domain has no result, and the deadline is within the reviewer reminder window or past.

A paused clock (information owed by the developer) sends nothing: the deadline is frozen
and the reviewers may be waiting for that very information. On resume the steps are
planned again from the moved deadline; a step whose moment passed meanwhile is sent at
the next sweep, once. A determined, withdrawn or elapsed review has a stopped clock, and
the sweep's query reads running clocks only.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import rules
from accounts.roles import Role
from caisi_portal import clock, timefmt
from caisi_portal.errors import NotPermitted, ValidationFailed
from caisi_portal.words import counted

from .models import ReminderStep, ResultsReminder, ReviewClock, SlaPolicy, State

# A second press of Remind for the same reviewer within this time is refused: one email is
# a reminder, several in a minute are a storm.
MANUAL_REMIND_GAP = dt.timedelta(hours=1)

MSG_NOT_PERMITTED = "Only the lead of this review or an administrator sends reminders."
MSG_NOT_OVERDUE = "Nothing to remind about: {reviewer}'s planned results are recorded, or the deadline is not near."
MSG_TOO_SOON = "{reviewer} was reminded {ago} ago. Another reminder can be sent after {again}."

REMINDER_EVENT = "review.results_reminder"
ESCALATION_EVENT = "review.results_escalation"


# --- what is missing, and when the next step is due ------------------------------------------


def missing_domains(submission) -> list[str]:
    """The planned domains still missing a result for one of their planned benchmark versions
    (or with none planned), by name, in the plan's order. Named by domain: a reminder reaches
    reviewers who may not be cleared for a classified benchmark's name."""
    from django.db.models import Count, F, Q

    return list(
        submission.plan_items.annotate(
            planned=Count("versions", distinct=True),
            measured=Count(
                "versions",
                filter=Q(versions__results__submission_id=submission.pk),
                distinct=True,
            ),
        )
        .filter(Q(planned=0) | Q(measured__lt=F("planned")))
        .order_by("domain__sort_order", "domain__name")
        .values_list("domain__name", flat=True)
    )


def next_reminder_at(deadline_at: dt.datetime, handled, policy: SlaPolicy | None = None) -> dt.datetime | None:
    """The moment of the earliest step not yet handled, even if already past: a step is
    sent late rather than never (unlike the days-left warnings, each step tells different
    people)."""
    policy = policy or SlaPolicy.current()
    moments = [deadline_at - dt.timedelta(days=days) for step, days in policy.reminder_steps() if step not in handled]
    return min(moments) if moments else None


def plan(review_clock: ReviewClock, submission) -> None:
    """Set the clock's next reminder (unsaved) for a review now in evaluation, or clear it."""
    running = review_clock.status == ReviewClock.Status.RUNNING and submission.state == State.EVALUATION
    review_clock.next_reminder_at = (
        next_reminder_at(review_clock.deadline_at, review_clock.reminders_sent) if running else None
    )


def overdue(assignment, now: dt.datetime, policy: SlaPolicy | None = None) -> tuple[list[str], dt.datetime] | None:
    """(missing domains, deadline) when this assignment's planned results are overdue, else None."""
    submission = assignment.submission
    if submission.state != State.EVALUATION:
        return None
    review_clock = ReviewClock.objects.filter(submission_id=submission.pk, status=ReviewClock.Status.RUNNING).first()
    if review_clock is None:
        return None
    policy = policy or SlaPolicy.current()
    # The reviewer step's window; with that step turned off, only a passed deadline counts.
    window = dt.timedelta(days=policy.reminder_days)
    if review_clock.deadline_at - window > now:
        return None
    missing = missing_domains(submission)
    return (missing, review_clock.deadline_at) if missing else None


def describe_missing(missing: list[str]) -> str:
    """'2 planned results missing: Cyber offence, Chemistry'."""
    return f"{counted(len(missing), 'planned result')} missing: {', '.join(missing)}"


def remind_button_text(assignment, missing: list[str], deadline_at: dt.datetime, zone=None) -> str:
    """'Email Bob Okafor a reminder: 2 planned results missing, review due 3 Dec 2026'."""
    name = assignment.reviewer.get_full_name() or assignment.reviewer.get_username()
    return (
        f"Email {name} a reminder: {counted(len(missing), 'planned result')} missing, "
        f"review due {timefmt.day(deadline_at, zone)}"
    )


# --- sending -------------------------------------------------------------------------------------


def _words(
    step: str, submission, missing: list[str], deadline_at: dt.datetime, now: dt.datetime, lead=None, alone=False
) -> dict:
    """The event's extra payload: which domains are missing and by when, for every step. `alone`:
    the lead's escalation also carries the reviewers' reminder, the lead being the only reviewer."""
    due = timefmt.when(deadline_at, zone=dt.UTC)
    left = deadline_at - now
    from .review_clock import humanize

    remaining = humanize(left) if left > dt.timedelta(0) else f"none, overdue by {humanize(-left)}"
    if step in (ReminderStep.REVIEWER, ReminderStep.MANUAL):
        action = f"Record the planned results for {', '.join(missing)} by {due}."
    elif step == ReminderStep.LEAD and alone:
        action = (
            f"You are the review's only reviewer. Record the planned results for {', '.join(missing)} by {due}, "
            "or assign another reviewer to record them."
        )
    elif step == ReminderStep.LEAD:
        action = (
            f"Results for {', '.join(missing)} are still missing and the review is due {due}: "
            "see that your reviewers record them, or record them yourself."
        )
    else:
        led_by = f"The lead reviewer ({lead}) has been told" if lead else "The review has no lead reviewer"
        action = (
            f"Results for {', '.join(missing)} are still missing and the review is due {due}. "
            f"{led_by}; reassign or support the review so it is determined in time."
        )
    return {
        "missing_results": describe_missing(missing),
        "deadline_at": deadline_at.isoformat(),
        "remaining": remaining,
        "next_action": action,
        "reminder_step": str(step),
    }


# How the timeline says who was told (it is kept in UTC for every reader, like the elapse entry).
_SENT_TO = {
    ReminderStep.MANUAL: "Reminder sent to {names} (by email, or in their digest)",
    ReminderStep.REVIEWER: "Reminder sent to the reviewers ({names})",
    ReminderStep.LEAD: "Escalated to the lead reviewer ({names})",
    ReminderStep.ADMINISTRATOR: "Escalated to the administrators ({names})",
}
SENT_TO_ALONE = "Reminded and escalated in one message to the lead reviewer, the review's only reviewer ({names})"


def _send(*, submission, step, recipients, missing, deadline_at, now, actor=None, assignment=None, lead=None, also=()):
    """Event, deliveries, reminder rows and the timeline entry, in the caller's transaction.

    `also`: earlier steps these recipients are told in this same message (a lead reviewing alone:
    the reviewers' reminder), recorded as sent with it."""
    from partners.services import event_record

    from .services import audit_record

    if not recipients:
        return []
    event_type = REMINDER_EVENT if step in (ReminderStep.REVIEWER, ReminderStep.MANUAL) else ESCALATION_EVENT
    event_record(
        submission=submission,
        type=event_type,
        extra=_words(step, submission, missing, deadline_at, now, lead=lead, alone=bool(also)),
        recipients=recipients,
    )
    rows = ResultsReminder.objects.bulk_create(
        [
            ResultsReminder(
                submission=submission,
                assignment=assignment,
                step=told_step,
                recipient=person,
                sent_by=actor,
                sent_at=now,
                deadline_at=deadline_at,
                missing=missing,
            )
            for person in recipients
            for told_step in (step, *also)
        ]
    )
    names = ", ".join(str(p) for p in recipients)
    sent_to = SENT_TO_ALONE if also else _SENT_TO[step]
    audit_record(
        submission=submission,
        actor=actor,
        action="results_reminder" if event_type == REMINDER_EVENT else "results_escalation",
        comment=(
            f"{sent_to.format(names=names)}: {describe_missing(missing)}; "
            f"review due {timefmt.when(deadline_at, zone=dt.UTC)}."
        ),
        internal=True,
    )
    return rows


def _step_recipients(step: str, submission) -> tuple[list, object]:
    """Who a sweep step tells (of the submission's world), and the review's lead."""
    from reviews.models import Assignment

    assignments = list(
        Assignment.objects.filter(submission_id=submission.pk, reviewer__is_active=True).select_related("reviewer")
    )
    lead = next((a.reviewer for a in assignments if a.role == Assignment.Role.LEAD), None)
    if step == ReminderStep.REVIEWER:
        # The reviewers who record results; a review with no member reviewer is the lead's alone.
        members = [a.reviewer for a in assignments if a.role == Assignment.Role.MEMBER]
        people = members or ([lead] if lead else [])
    elif step == ReminderStep.LEAD:
        people = [lead] if lead else []
    else:
        people = list(
            get_user_model().objects.filter(
                is_active=True, groups__name=Role.ADMINISTRATOR, exercise_id=submission.exercise_id
            )
        )
    # Told once per step: a row already there (written by an earlier run) stands.
    already = set(
        ResultsReminder.objects.filter(submission_id=submission.pk, step=step).values_list("recipient_id", flat=True)
    )
    return [p for p in people if p.pk not in already], lead


def clock_remind(clock_id: int, now: dt.datetime) -> bool:
    """Send the reminder steps due on this clock, each once: compare-and-set on
    next_reminder_at. True if anyone was told."""
    review_clock = ReviewClock.objects.select_related("submission__organization").filter(pk=clock_id).first()
    if review_clock is None or review_clock.next_reminder_at is None or review_clock.next_reminder_at > now:
        return False
    policy = SlaPolicy.current()
    handled = list(review_clock.reminders_sent)
    due = [
        step
        for step, days in policy.reminder_steps()
        if step not in handled and review_clock.deadline_at - dt.timedelta(days=days) <= now
    ]
    handled = sorted(set(handled) | set(due))
    with transaction.atomic():
        won = ReviewClock.objects.filter(
            pk=clock_id, status=ReviewClock.Status.RUNNING, next_reminder_at=review_clock.next_reminder_at
        ).update(next_reminder_at=next_reminder_at(review_clock.deadline_at, handled, policy), reminders_sent=handled)
        if won != 1:
            return False
        submission = review_clock.submission
        if not due or submission.state != State.EVALUATION:
            return False
        missing = missing_domains(submission)
        if not missing:
            # Every planned result is in: the step is handled, and no one needs telling.
            return False
        told = False
        plans = {step: _step_recipients(step, submission) for step in due}
        alone = _reviewing_alone(plans)
        for step in due:
            recipients, lead = plans[step]
            also = ()
            if alone is not None and step == ReminderStep.REVIEWER:
                continue  # told in the lead's escalation, below, in the same message
            if alone is not None and step == ReminderStep.LEAD:
                also = (ReminderStep.REVIEWER,)
            told |= bool(
                _send(
                    submission=submission,
                    step=step,
                    recipients=recipients,
                    missing=missing,
                    deadline_at=review_clock.deadline_at,
                    now=now,
                    lead=lead,
                    also=also,
                )
            )
    return told


def _reviewing_alone(plans: dict):
    """The lead, when this sweep's reminder to the reviewers and escalation to the lead both fall
    due and go to that one person (no other reviewer): they get one message, not two at once."""
    reviewers = plans.get(ReminderStep.REVIEWER, ([], None))[0]
    leads = plans.get(ReminderStep.LEAD, ([], None))[0]
    if len(reviewers) == 1 and len(leads) == 1 and reviewers[0].pk == leads[0].pk:
        return leads[0]
    return None


def reviewer_remind(*, assignment, actor) -> ResultsReminder:
    """The Remind button: email one reviewer which planned results are missing and by when.

    The assignment's row is locked while the last reminder is read, so two presses at once
    are one reminder and one refusal.
    """
    from reviews.models import Assignment

    if not rules.may_remind_reviewer(actor, assignment):
        raise NotPermitted(MSG_NOT_PERMITTED)
    now = clock.now()
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().select_related("submission", "reviewer").get(pk=assignment.pk)
        reviewer = locked.reviewer
        found = overdue(locked, now)
        if found is None:
            raise ValidationFailed(MSG_NOT_OVERDUE.format(reviewer=reviewer))
        last = (
            ResultsReminder.objects.filter(assignment=locked, step=ReminderStep.MANUAL)
            .order_by("-sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
        if last is not None and now - last < MANUAL_REMIND_GAP:
            from .review_clock import humanize

            raise ValidationFailed(
                MSG_TOO_SOON.format(
                    reviewer=reviewer,
                    ago=humanize(now - last),
                    again=timefmt.when(last + MANUAL_REMIND_GAP),
                )
            )
        missing, deadline_at = found
        (row,) = _send(
            submission=locked.submission,
            step=ReminderStep.MANUAL,
            recipients=[reviewer],
            missing=missing,
            deadline_at=deadline_at,
            now=now,
            actor=actor,
            assignment=locked,
        )
    return row


def remind_outcome(row: ResultsReminder) -> str:
    """What the Remind button did, for the person who pressed it: emailed, or held by the
    reviewer's own choice (their digest or quiet hours) and when it will reach them."""
    from partners.models import Delivery

    missing = describe_missing(row.missing)
    delivery = (
        Delivery.objects.filter(
            recipient_id=row.recipient_id,
            channel=Delivery.Channel.EMAIL,
            event__submission_id=row.submission_id,
            event__type=REMINDER_EVENT,
        )
        .order_by("-event__occurred_at")
        .only("status", "next_attempt_at")
        .first()
    )
    if delivery is None:
        return f"Reminder recorded for {row.recipient}, who has no email address: {missing}."
    if delivery.status == Delivery.Status.HELD:
        return (
            f"Reminder recorded for {row.recipient}: {missing}. They chose a digest, so it reaches them "
            f"in the one due {timefmt.when(delivery.next_attempt_at)}."
        )
    if delivery.next_attempt_at > row.sent_at:
        return (
            f"Reminder recorded for {row.recipient}: {missing}. It is emailed when their quiet hours end, "
            f"{timefmt.when(delivery.next_attempt_at)}."
        )
    return f"Reminder emailed to {row.recipient}: {missing}."


def remind_offers(submission, user, assignments) -> dict[int, dict]:
    """The Remind buttons this person may press on the submission page, by assignment id:
    {'label': what it will do and to whom, 'sent': when this reviewer was last reminded}.

    A fixed number of queries: the clock, the plan and the last reminders are read once.
    """
    # Read from the assignments in hand first: most readers (reviewers, developers) may remind
    # no one, and the page then spends no query on it.
    leads = {a.reviewer_id for a in assignments if a.role == "lead"}
    if not assignments or not (rules.is_administrator(user) or user.pk in leads):
        return {}
    found = overdue(assignments[0], clock.now())
    if found is None:
        return {}
    assignments = [a for a in assignments if rules.may_remind_reviewer(user, a)]
    missing, deadline_at = found
    last = dict(
        ResultsReminder.objects.filter(assignment__in=assignments, step=ReminderStep.MANUAL)
        .order_by("assignment_id", "sent_at")
        .values_list("assignment_id", "sent_at")
    )
    return {
        a.pk: {"label": remind_button_text(a, missing, deadline_at), "last_sent": last.get(a.pk)} for a in assignments
    }
