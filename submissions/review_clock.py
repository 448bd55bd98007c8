"""The 30-day review clock, SLA obligations, and the sweep that acts on what is due.

The database decides what happened; Celery only makes it prompt. Every due item is
found by one set-based query on an indexed column and acted on with a conditional
update (compare-and-set), so two sweeps, a retried task and the exact-time eta task
can never act twice on the same thing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F, Q, Value

from caisi_portal import clock, timefmt
from partners.models import SLA_BREACHED

from .models import (
    Agreement,
    AuditEntry,
    ClockPause,
    ModelSubmission,
    ReviewClock,
    SlaBreach,
    SlaKind,
    SlaObligation,
    SlaPolicy,
    State,
)

log = logging.getLogger(__name__)

# How far ahead an exact-time expiry task is queued. It must stay below the broker's
# visibility timeout, or Redis redelivers the waiting message; the sweep queues the
# task once a deadline comes this close.
ETA_HORIZON = dt.timedelta(minutes=50)
# Work done per kind per sweep run, so one run stays short; the next run takes the rest.
SWEEP_BATCH = 500
# How long one sweep task keeps taking full batches before it hands over to a fresh task. A
# burst is worked through in one run: a re-queued task would wait behind the notifications
# the burst itself just queued. Below beat's minute, so runs do not pile up.
SWEEP_RUN_SECONDS = 45


# --- arithmetic ----------------------------------------------------------------------------
# Pure functions of times and the policy, used by the transitions below and by the capacity
# planner's simulation (capacity/simulation.py), so a simulated review keeps the same deadlines.

# The policy's field for each obligation a transition opens (the determination's is the clock).
OBLIGATION_DAYS = {
    SlaKind.INTAKE_DECISION: "intake_decision_days",
    SlaKind.REVIEWER_ASSIGNMENT: "reviewer_assignment_days",
    SlaKind.DEVELOPER_ANSWER: "developer_answer_days",
}


def obligation_due_at(policy: SlaPolicy, kind: str, opened_at: dt.datetime) -> dt.datetime:
    """When an obligation of this kind, opened at `opened_at`, falls due under the policy."""
    return opened_at + dt.timedelta(days=getattr(policy, OBLIGATION_DAYS[kind]))


def review_window(window_days: int) -> dt.timedelta:
    """The review window an agreement grants: calendar days, counted from the submission."""
    return dt.timedelta(days=window_days)


def clock_deadline(started_at: dt.datetime, window: dt.timedelta, paused_total: dt.timedelta) -> dt.datetime:
    """The review deadline: the window from the start, pushed back by every closed pause."""
    return started_at + window + paused_total


def is_due(due_at: dt.datetime, now: dt.datetime) -> bool:
    """What the sweep asks of a deadline (`deadline_at <= now`): due at the moment itself."""
    return due_at <= now


def met_late(due_at: dt.datetime, met_at: dt.datetime | None) -> bool:
    """An obligation (or a window) is breached if it was still open when it fell due."""
    return met_at is None or is_due(due_at, met_at)


def _next_warning_at(deadline_at: dt.datetime, sent: list[int], now: dt.datetime) -> dt.datetime | None:
    """When the next days-left warning is due: the earliest moment still ahead.

    Warnings whose moment has already passed (a window shorter than the warning, or a
    deadline that moved) are left for warn_clock, which sends only the most urgent one.
    """
    for days in SlaPolicy.current().warning_offsets():
        if days in sent:
            continue
        moment = deadline_at - dt.timedelta(days=days)
        if moment >= now:
            return moment
    return None


def describe_remaining(review_clock: ReviewClock, now: dt.datetime) -> str:
    """'12 days 4 hours left; paused 3 days for information' and the like.

    Moments are written for the reader (caisi_portal.timefmt: their zone, named).
    """
    total_paused = review_clock.paused_total
    open_pause = None
    for pause in review_clock.pauses.all():
        if pause.ended_at is None:
            open_pause = pause
            total_paused += now - pause.started_at
    parts = []
    status = review_clock.status
    if status == ReviewClock.Status.STOPPED:
        if review_clock.stopped_at:
            left = humanize(review_clock.remaining(now))
            parts.append(f"stopped {timefmt.when(review_clock.stopped_at)} with {left} of the window left")
        else:
            parts.append("stopped")
    elif status == ReviewClock.Status.ELAPSED:
        parts.append("the review window has elapsed")
    else:
        remaining = review_clock.remaining(now)
        parts.append(f"{humanize(remaining)} left" if remaining > dt.timedelta(0) else "due now")
        if open_pause:
            parts.append(f"paused since {timefmt.when(open_pause.started_at)} ({open_pause.reason})")
    # "In all" says something only when an earlier pause adds to the one under way.
    if total_paused > dt.timedelta(0) and (open_pause is None or review_clock.paused_total > dt.timedelta(0)):
        parts.append(f"paused {humanize(total_paused)} in all for information")
    return "; ".join(parts)


def clock_cell(review_clock: ReviewClock | None, now: dt.datetime) -> tuple[str, str]:
    """A list row's review clock in a few words, with no query of its own: (text, status)."""
    if review_clock is None or review_clock.status == ReviewClock.Status.STOPPED:
        return "—", ""
    if review_clock.status == ReviewClock.Status.PAUSED:
        return "paused: information owed", "paused"
    if review_clock.status == ReviewClock.Status.ELAPSED:
        return "window elapsed", "elapsed"
    remaining = review_clock.deadline_at - now
    if remaining <= dt.timedelta(0):
        return "due now", "elapsed"
    # The chips' scale (caisi_portal.timefmt): red under 48 hours, amber under 7 days; said in
    # words as well as in colour, since colour is never the only signal.
    if remaining < timefmt.URGENT_WITHIN:
        return f"{humanize(remaining)} left (urgent)", "urgent"
    if remaining < timefmt.SOON_WITHIN:
        return f"{humanize(remaining)} left (at risk)", "at-risk"
    return f"{humanize(remaining)} left", "running"


def humanize(delta: dt.timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    out = []
    if days:
        out.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        out.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not days and (minutes or not hours):
        out.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(out)


# --- what transitions do to the clock ---------------------------------------------------------


def on_transition(submission: ModelSubmission, name: str, from_state: str, now: dt.datetime) -> None:
    """Start, pause, resume or stop the clock and open or close SLA obligations: the step the
    transition's declaration names (submissions/transitions.py), if any.

    Called by submission_transition inside its transaction: nothing here commits alone.
    """
    from .transitions import DECLARED

    step = DECLARED[name].clock
    if step:
        CLOCK_STEPS[step](submission, now)


def on_submit(submission, now):
    policy = SlaPolicy.current()
    _clock_start(submission, now)
    _open(submission, SlaKind.INTAKE_DECISION, obligation_due_at(policy, SlaKind.INTAKE_DECISION, now), now)


def on_accept(submission, now):
    policy = SlaPolicy.current()
    _close(submission, now, SlaKind.INTAKE_DECISION)
    _reminders_plan(submission)
    # A lead assigned during intake has already met the assignment target: nothing is owed.
    if not submission.assignments.filter(role="lead").exists():
        _open(submission, SlaKind.REVIEWER_ASSIGNMENT, obligation_due_at(policy, SlaKind.REVIEWER_ASSIGNMENT, now), now)


def on_request_information(submission, now):
    policy = SlaPolicy.current()
    _close(submission, now, SlaKind.INTAKE_DECISION)
    _clock_pause(submission, now, reason="information requested from the developer")
    _open(submission, SlaKind.DEVELOPER_ANSWER, obligation_due_at(policy, SlaKind.DEVELOPER_ANSWER, now), now)


def on_answer(submission, now):
    _close(submission, now, SlaKind.DEVELOPER_ANSWER)
    _clock_resume(submission, now)
    if submission.state == State.INTAKE:
        policy = SlaPolicy.current()
        _open(submission, SlaKind.INTAKE_DECISION, obligation_due_at(policy, SlaKind.INTAKE_DECISION, now), now)


def on_determined(submission, now):
    """Cleared, flagged or withdrawn: the window stops and nothing more is owed.

    A late determination (after the window elapsed) leaves the clock as it ended: elapsed."""
    if not ReviewClock.objects.filter(submission=submission, status=ReviewClock.Status.ELAPSED).exists():
        _clock_stop(submission, now, ReviewClock.Status.STOPPED)
    _close(submission, now)


def on_elapse(submission, now):
    _windows_ended([(submission, ReviewClock.objects.get(submission=submission))], now)


# The steps a declaration may name.
CLOCK_STEPS = {
    step.__name__: step for step in (on_submit, on_accept, on_request_information, on_answer, on_determined, on_elapse)
}


def on_lead_assigned(submission: ModelSubmission, now: dt.datetime) -> None:
    _close(submission, now, SlaKind.REVIEWER_ASSIGNMENT)


def _reminders_plan(submission):
    """Evaluation begins: plan the first results reminder from the deadline (reminders.py)."""
    from . import reminders

    review_clock = ReviewClock.objects.select_for_update().filter(submission=submission).first()
    if review_clock is None:
        return
    reminders.plan(review_clock, submission)
    review_clock.save(update_fields=["next_reminder_at"])


def _clock_start(submission, now):
    agreement = Agreement.objects.get(organization_id=submission.organization_id)
    window = review_window(agreement.review_window_days)
    deadline = clock_deadline(now, window, dt.timedelta(0))
    review_clock = ReviewClock.objects.create(
        submission=submission,
        exercise_id=submission.exercise_id,
        started_at=now,
        window=window,
        deadline_at=deadline,
        next_warning_at=_next_warning_at(deadline, [], now),
    )
    queue_expiry_task(review_clock.pk, deadline, now, review_clock.exercise_id)


def _clock_pause(submission, now, reason):
    review_clock = ReviewClock.objects.select_for_update().get(submission=submission)
    ClockPause.objects.create(clock=review_clock, started_at=now, reason=reason)
    review_clock.status = ReviewClock.Status.PAUSED
    review_clock.next_warning_at = None
    # No reminders while the developer owes information: the deadline is frozen.
    review_clock.next_reminder_at = None
    review_clock.pause_cap_at, review_clock.pause_step_at = pause_limit(review_clock.paused_total, now)
    review_clock.save(update_fields=["status", "next_warning_at", "next_reminder_at", "pause_cap_at", "pause_step_at"])


def pause_limit(
    paused_before: dt.timedelta, now: dt.datetime, policy: SlaPolicy | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """(when the pause limit is reached, the first step before it) for a pause starting now:
    the limit counts every pause of the review, so earlier ones leave less of it. `policy`:
    the current one unless given (the capacity planner passes the one it simulates)."""
    policy = policy or SlaPolicy.current()
    cap_at = now + max(dt.timedelta(days=policy.information_pause_cap_days) - paused_before, dt.timedelta(0))
    warn = dt.timedelta(days=policy.pause_cap_warning_days)
    if not warn:
        return cap_at, cap_at
    # Never returned with less notice than the warning's: with less of the allowance left (a
    # late second request), the developer is warned at once and has the warning's lead to answer.
    cap_at = max(cap_at, now + warn)
    return cap_at, cap_at - warn


def _clock_resume(submission, now):
    review_clock = ReviewClock.objects.select_for_update().get(submission=submission)
    pause = ClockPause.objects.get(clock=review_clock, ended_at__isnull=True)
    pause.ended_at = now
    pause.save(update_fields=["ended_at"])
    review_clock.paused_total += now - pause.started_at
    review_clock.deadline_at = clock_deadline(review_clock.started_at, review_clock.window, review_clock.paused_total)
    review_clock.status = ReviewClock.Status.RUNNING
    review_clock.next_warning_at = _next_warning_at(review_clock.deadline_at, review_clock.warnings_sent, now)
    review_clock.pause_cap_at = review_clock.pause_step_at = None
    from . import reminders

    reminders.plan(review_clock, submission)
    review_clock.save(
        update_fields=[
            "paused_total",
            "deadline_at",
            "status",
            "next_warning_at",
            "next_reminder_at",
            "pause_cap_at",
            "pause_step_at",
        ]
    )
    queue_expiry_task(review_clock.pk, review_clock.deadline_at, now, review_clock.exercise_id)


def clock_set_window(submission, window: dt.timedelta, now: dt.datetime) -> ReviewClock:
    """Give a running review a new window (a re-review scoped at acceptance): the deadline, the
    days-left warnings, the reminders and the exact-time expiry follow it. Called inside the
    transition's transaction; the caller has checked the window (submissions.versions)."""
    review_clock = ReviewClock.objects.select_for_update().get(submission=submission)
    review_clock.window = window
    review_clock.deadline_at = clock_deadline(review_clock.started_at, window, review_clock.paused_total)
    update = ["window", "deadline_at"]
    if review_clock.status == ReviewClock.Status.RUNNING:
        review_clock.next_warning_at = _next_warning_at(review_clock.deadline_at, review_clock.warnings_sent, now)
        from . import reminders

        reminders.plan(review_clock, submission)
        update += ["next_warning_at", "next_reminder_at"]
    review_clock.save(update_fields=update)
    if review_clock.status == ReviewClock.Status.RUNNING:
        queue_expiry_task(review_clock.pk, review_clock.deadline_at, now, review_clock.exercise_id)
    return review_clock


def _clock_stop(submission, now, status):
    review_clock = ReviewClock.objects.filter(submission=submission).first()
    if review_clock is None:  # withdrawn as a draft: no clock was ever started
        return
    ClockPause.objects.filter(clock=review_clock, ended_at__isnull=True).update(ended_at=now)
    review_clock.status = status
    review_clock.stopped_at = now
    review_clock.next_warning_at = None
    review_clock.next_reminder_at = None
    review_clock.pause_cap_at = review_clock.pause_step_at = None
    review_clock.save(
        update_fields=["status", "stopped_at", "next_warning_at", "next_reminder_at", "pause_cap_at", "pause_step_at"]
    )


def _open(submission, kind, due_at, now):
    SlaObligation.objects.create(
        submission=submission, exercise_id=submission.exercise_id, kind=kind, due_at=due_at, opened_at=now
    )


def _close(submission, now, kind=None):
    open_ = SlaObligation.objects.filter(submission=submission, closed_at__isnull=True)
    if kind:
        open_ = open_.filter(kind=kind)
    open_.update(closed_at=now)


def queue_expiry_task(clock_id: int, deadline: dt.datetime, now: dt.datetime, exercise_id: int | None = None) -> bool:
    """Queue the exact-time expiry task once per deadline, if the deadline is near.

    Compare-and-set on eta_scheduled_for: of two sweeps, one queues. A lost task costs
    only promptness: the next sweep expires the clock anyway.
    """
    # An exercise clock runs on simulated time: the exercise's sweep expires it, not an eta.
    if exercise_id is not None or deadline - now > ETA_HORIZON:
        return False
    won = (
        ReviewClock.objects.filter(pk=clock_id, deadline_at=deadline)
        .exclude(eta_scheduled_for=deadline)
        .update(eta_scheduled_for=deadline)
    )
    if not won:
        return False

    def enqueue():
        from .tasks import expire_review_clock

        try:
            expire_review_clock.apply_async(args=[clock_id], eta=deadline)
        except Exception:
            log.warning("Could not queue the expiry task for clock %s; the sweep will act.", clock_id)

    transaction.on_commit(enqueue)
    return True


# --- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepReport:
    expired: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    pause_steps: list[int] = field(default_factory=list)
    failed: list[tuple[str, int]] = field(default_factory=list)
    etas_queued: int = 0
    notifications_requeued: int = 0
    batch_full: bool = False

    def merge(self, other: SweepReport) -> SweepReport:
        self.expired += other.expired
        self.warned += other.warned
        self.reminded += other.reminded
        self.breached += other.breached
        self.pause_steps += other.pause_steps
        self.failed += other.failed
        self.etas_queued += other.etas_queued
        self.notifications_requeued += other.notifications_requeued
        self.batch_full = other.batch_full
        return self

    def as_dict(self):
        return {
            "expired": len(self.expired),
            "warned": len(self.warned),
            "reminded": len(self.reminded),
            "breached": len(self.breached),
            "pause_steps": len(self.pause_steps),
            "failed": len(self.failed),
            "etas_queued": self.etas_queued,
            "notifications_requeued": self.notifications_requeued,
            "batch_full": self.batch_full,
        }


EXPIRY, WARNING, REMINDER, BREACH, PAUSE = "expiry", "warning", "reminder", "breach", "pause"


def _scope(exercise_id: int | None) -> Q:
    return Q(exercise__isnull=True) if exercise_id is None else Q(exercise_id=exercise_id)


def _due_items_queryset(now: dt.datetime, exercise_id: int | None = None):
    scope = _scope(exercise_id)
    expiries = ReviewClock.objects.filter(scope, status=ReviewClock.Status.RUNNING, deadline_at__lte=now).values_list(
        Value(EXPIRY), "pk"
    )
    warnings = ReviewClock.objects.filter(
        scope, status=ReviewClock.Status.RUNNING, next_warning_at__lte=now
    ).values_list(Value(WARNING), "pk")
    reminders = ReviewClock.objects.filter(
        scope, status=ReviewClock.Status.RUNNING, next_reminder_at__lte=now
    ).values_list(Value(REMINDER), "pk")
    breaches = SlaObligation.objects.filter(
        scope, closed_at__isnull=True, breached_at__isnull=True, due_at__lte=now
    ).values_list(Value(BREACH), "pk")
    pauses = ReviewClock.objects.filter(scope, status=ReviewClock.Status.PAUSED, pause_step_at__lte=now).values_list(
        Value(PAUSE), "pk"
    )
    return expiries.union(warnings, reminders, breaches, pauses, all=True)


_PLACEHOLDER_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_PLACEHOLDER_EXERCISE = -7_000_001
_compiled_due_items: dict[tuple, tuple[str, list, list[int], list[int]]] = {}


def due_items(
    now: dt.datetime, limit: int | None = SWEEP_BATCH, exercise_id: int | None = None
) -> list[tuple[str, int]]:
    """Everything the clock owes now, as (kind, id), in one set-based query.

    Live items by default; an exercise's items (at its simulated "now") with exercise_id.
    Each branch reads only its partial index (clock_running_deadline,
    clock_running_next_warning, clock_running_next_reminder, sla_open_due; the clock_exercise_* ones for an exercise),
    so the cost follows the due rows, not the open clocks. No global order: every due item
    is acted on, a full batch only means the next run starts at once.

    The ORM writes the SQL once per process; later calls only put in "now". With few
    rows due, building the four-branch query each minute would cost more than
    running it (bench/README.md).
    """
    key = (connection.vendor, limit, exercise_id is None)
    if key not in _compiled_due_items:
        qs = _due_items_queryset(_PLACEHOLDER_NOW, None if exercise_id is None else _PLACEHOLDER_EXERCISE)
        sql, params = (qs if limit is None else qs[:limit]).query.sql_with_params()
        marker = connection.ops.adapt_datetimefield_value(_PLACEHOLDER_NOW)
        _compiled_due_items[key] = (
            sql,
            list(params),
            [i for i, p in enumerate(params) if p == marker],
            [i for i, p in enumerate(params) if p == _PLACEHOLDER_EXERCISE],
        )
    sql, params, now_positions, exercise_positions = _compiled_due_items[key]
    params = list(params)
    for i in now_positions:
        params[i] = connection.ops.adapt_datetimefield_value(now)
    for i in exercise_positions:
        params[i] = exercise_id
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def near_deadlines_without_eta(now: dt.datetime, limit: int = SWEEP_BATCH) -> list[tuple[int, dt.datetime]]:
    """Running clocks due within the eta horizon whose exact-time task is not queued."""
    return list(
        # Exercise clocks run on simulated time: their sweep, not a wall-time eta, expires them.
        ReviewClock.objects.filter(
            status=ReviewClock.Status.RUNNING, deadline_at__lte=now + ETA_HORIZON, exercise__isnull=True
        )
        .filter(Q(eta_scheduled_for__isnull=True) | ~Q(eta_scheduled_for=F("deadline_at")))
        .values_list("pk", "deadline_at")[:limit]
    )


def sweep() -> SweepReport:
    """Act on everything due now. Safe to run twice at once and to re-run."""
    from partners.services import deliveries_requeue_due

    now = clock.now()
    report = act_on_due_items(now)
    for clock_id, deadline in near_deadlines_without_eta(now):
        with transaction.atomic():
            report.etas_queued += queue_expiry_task(clock_id, deadline, now)
    report.notifications_requeued = deliveries_requeue_due(now)
    return report


# Due clocks elapsed per transaction: large enough to pay for a transaction's fixed cost many
# times over, small enough that the rows stay locked for well under a second.
EXPIRE_CHUNK = 100


def sweep_run(seconds: float = SWEEP_RUN_SECONDS) -> SweepReport:
    """Sweep, and again while batches come back full, for up to `seconds`; a batch still
    full at the end is left to the caller (the task queues the next run)."""
    ends = time.monotonic() + seconds
    report = sweep()
    # Only the due items again: notices of a burst still waiting in the queue are not lost,
    # and queuing them again on every pass would only add duplicates behind them.
    while report.batch_full and time.monotonic() < ends:
        report.merge(act_on_due_items(clock.now()))
    return report


def act_on_due_items(now: dt.datetime, exercise_id: int | None = None) -> SweepReport:
    """Expiries, warnings, results reminders and breaches due at `now` (live, or one
    exercise's at its time)."""
    from .reminders import clock_remind

    report = SweepReport()
    items = due_items(now, limit=SWEEP_BATCH, exercise_id=exercise_id)
    # Expiries first: a clock that is both due and owed a warning needs no warning.
    expiries = [pk for kind, pk in items if kind == EXPIRY]
    for start in range(0, len(expiries), EXPIRE_CHUNK):
        _expire_chunk(expiries[start : start + EXPIRE_CHUNK], report)
    for kind, pk in sorted(item for item in items if item[0] != EXPIRY):
        # Each item on its own: one that raises is logged and left for the next run, and the
        # others go on (a bad row must not stop every deadline behind it).
        try:
            with transaction.atomic():
                if kind == WARNING and warn_clock(pk, now):
                    report.warned.append(pk)
                elif kind == REMINDER and clock_remind(pk, now):
                    report.reminded.append(pk)
                elif kind == BREACH and breach_obligation(pk, now):
                    report.breached.append(pk)
                elif kind == PAUSE and pause_step(pk, now):
                    report.pause_steps.append(pk)
        except Exception:
            log.exception("Sweep: the %s of %s failed; left for the next run, the others go on.", kind, pk)
            report.failed.append((kind, pk))
    # A full batch runs again at once, unless every item in it failed (no hot loop on bad rows).
    report.batch_full = len(items) >= SWEEP_BATCH and len(report.failed) < len(items)
    return report


def _expire_chunk(clock_ids: list[int], report: SweepReport) -> None:
    """Elapse a chunk together; if that raises, each clock on its own, so one bad row is
    logged and left for the next run while the others end on time."""
    try:
        report.expired += clocks_expire(clock_ids)
        return
    except Exception:
        if len(clock_ids) == 1:
            log.exception("Sweep: the expiry of %s failed; left for the next run, the others go on.", clock_ids[0])
            report.failed.append((EXPIRY, clock_ids[0]))
            return
        log.warning("Sweep: a chunk of %d expiries failed; acting on each alone.", len(clock_ids))
    for clock_id in clock_ids:
        _expire_chunk([clock_id], report)


def expire_clock(clock_id: int) -> bool:
    """Move the submission to window_elapsed if its clock is due. True if this call did it."""
    return bool(clocks_expire([clock_id]))


def clocks_expire(clock_ids) -> list[int]:
    """Elapse the due clocks among these, all in one transaction; return the clocks elapsed.

    The one way a review window ends (the exact-time task passes one clock, the sweep a
    batch): the state machine's own elapse transition and check for each submission, then
    the audit entries, the clocks stopped, the obligations closed, the determination
    breaches and the notifications written together, in a fixed number of queries, so a
    burst of ten thousand deadlines is acted on in seconds rather than minutes.

    A submission someone is changing at this moment (its row locked) is skipped, not
    waited for: their change stands, or the next sweep acts. A clock paused, stopped or
    moved meanwhile is no longer due and is left alone.
    """
    from caisi_portal.errors import ApplicationError
    from partners.services import TRANSITION_EVENTS, events_record

    from .services import audit_record_many, transition_check

    now = clock.now()
    with transaction.atomic():
        due = (
            ModelSubmission.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organization", "review_clock")
            .filter(
                review_clock__pk__in=list(clock_ids),
                review_clock__status=ReviewClock.Status.RUNNING,
                review_clock__deadline_at__lte=now,
            )
            .order_by("pk")
        )
        ending = []
        for submission in due:
            try:
                transition_check(submission, "elapse", None)
            except ApplicationError as exc:
                # Determined, withdrawn or paused first: that change stands.
                log.info("Clock %s not expired: %s", submission.review_clock.pk, exc.message)
                continue
            ending.append((submission, submission.state))
            submission.elapse(actor=None)
        if not ending:
            return []
        # The rows are locked: no one can have moved them since they were read.
        ModelSubmission.objects.filter(pk__in=[s.pk for s, _ in ending]).update(state=State.WINDOW_ELAPSED)
        audit_record_many(
            [
                AuditEntry(
                    submission=submission,
                    action="elapse",
                    from_state=from_state,
                    to_state=submission.state,
                    # Kept in the timeline for every reader: written in UTC, the zone named.
                    comment=(
                        f"The {submission.review_clock.window.days}-day review window ended at "
                        f"{timefmt.when(submission.review_clock.deadline_at, zone=dt.UTC)} without a determination."
                    ),
                    at=now,
                )
                for submission, from_state in ending
            ]
        )
        _windows_ended([(submission, submission.review_clock) for submission, _ in ending], now)
        events_record(submissions=[submission for submission, _ in ending], type=TRANSITION_EVENTS["elapse"])
    return [submission.review_clock.pk for submission, _ in ending]


def _windows_ended(ended: list[tuple[ModelSubmission, ReviewClock]], now) -> None:
    """The elapse's effect on the clocks: stopped, every obligation closed, and the
    determination breach recorded (the unique constraint keeps it to one per submission)."""
    clock_ids = [review_clock.pk for _, review_clock in ended]
    ClockPause.objects.filter(clock_id__in=clock_ids, ended_at__isnull=True).update(ended_at=now)
    ReviewClock.objects.filter(pk__in=clock_ids).update(
        status=ReviewClock.Status.ELAPSED, stopped_at=now, next_warning_at=None, next_reminder_at=None
    )
    SlaObligation.objects.filter(submission_id__in=[s.pk for s, _ in ended], closed_at__isnull=True).update(
        closed_at=now
    )
    SlaBreach.objects.bulk_create(
        [
            SlaBreach(submission=s, kind=SlaKind.DETERMINATION, due_at=review_clock.deadline_at, detected_at=now)
            for s, review_clock in ended
        ],
        ignore_conflicts=True,
    )


def warn_clock(clock_id: int, now: dt.datetime) -> bool:
    """Send the due days-left warning once: compare-and-set on next_warning_at."""
    from partners.services import event_record

    review_clock = ReviewClock.objects.select_related("submission").filter(pk=clock_id).first()
    if review_clock is None or review_clock.next_warning_at is None or review_clock.next_warning_at > now:
        return False
    offsets = SlaPolicy.current().warning_offsets()
    due_days = [
        d
        for d in offsets
        if d not in review_clock.warnings_sent and review_clock.deadline_at - dt.timedelta(days=d) <= now
    ]
    if not due_days:
        return False
    # The most urgent due warning is sent; larger ones it supersedes are marked handled.
    days = min(due_days)
    sent = sorted(set(review_clock.warnings_sent) | set(due_days), reverse=True)
    next_warning = _next_warning_at(review_clock.deadline_at, sent, now)
    with transaction.atomic():
        won = ReviewClock.objects.filter(
            pk=clock_id, status=ReviewClock.Status.RUNNING, next_warning_at=review_clock.next_warning_at
        ).update(next_warning_at=next_warning, warnings_sent=sent)
        if won != 1:
            return False
        event_record(
            submission=review_clock.submission,
            type="review.deadline_warning",
            extra={
                "days_left": days,
                "deadline_at": review_clock.deadline_at.isoformat(),
                "remaining": humanize(review_clock.deadline_at - now),
            },
        )
    return True


def pause_step(clock_id: int, now: dt.datetime) -> bool:
    """An information request still unanswered: warn the developer before the pause limit, then,
    at the limit, return the submission (withdrawn for lack of an answer). Compare-and-set on
    pause_step_at, so two sweeps act once."""
    from partners.services import event_record

    from .services import submission_transition

    review_clock = ReviewClock.objects.select_related("submission").filter(pk=clock_id).first()
    if review_clock is None or review_clock.pause_step_at is None or not is_due(review_clock.pause_step_at, now):
        return False
    cap_at = review_clock.pause_cap_at
    reached = cap_at is not None and is_due(cap_at, now)
    warn = dt.timedelta(days=SlaPolicy.current().pause_cap_warning_days)
    if reached and warn and review_clock.pause_step_at < cap_at:
        # The warning was never sent (the sweep was down through it): warn now and give the
        # warning's notice, rather than return a submission nobody was warned about.
        reached, cap_at = False, now + warn
    with transaction.atomic():
        won = ReviewClock.objects.filter(
            pk=clock_id, status=ReviewClock.Status.PAUSED, pause_step_at=review_clock.pause_step_at
        ).update(
            pause_step_at=None if reached else cap_at, pause_cap_at=review_clock.pause_cap_at if reached else cap_at
        )
        if won != 1:
            return False
        submission = review_clock.submission
        if reached:
            submission_transition(submission=submission, name="return_unanswered", actor=None)
        else:
            event_record(
                submission=submission,
                type="submission.pause_limit_warning",
                extra={
                    "returned_at": cap_at.isoformat(),
                    "remaining": humanize(cap_at - now),
                    "next_action": "Answer the office's information request, or the submission is returned "
                    "(withdrawn for lack of an answer) when the time left runs out.",
                },
            )
    return True


# The office's own targets missed: its administrators are emailed, with what to do now. The
# determination's is told by the window elapsing (review.window_elapsed goes to them too); the
# developer's answer is chased by its own warning and the return.
BREACH_EVENT = SLA_BREACHED
_ACKNOWLEDGE = " Then acknowledge the breach under Dashboard, SLA breaches, saying why it was missed."
OFFICE_TARGETS = {
    SlaKind.INTAKE_DECISION: "Decide on intake now: accept the submission for evaluation, or request information "
    "from the developer, on its page." + _ACKNOWLEDGE,
    SlaKind.REVIEWER_ASSIGNMENT: "Assign a lead reviewer now, on the submission's page." + _ACKNOWLEDGE,
}


def breach_obligation(obligation_id: int, now: dt.datetime) -> bool:
    """Record a missed target once: compare-and-set on breached_at (and one breach per
    obligation), so two sweeps, or one run twice, record it and tell it once. A missed office
    target emails the administrators of the submission's world in the same transaction."""
    from partners.services import event_record

    with transaction.atomic():
        won = SlaObligation.objects.filter(
            pk=obligation_id, closed_at__isnull=True, breached_at__isnull=True, due_at__lte=now
        ).update(breached_at=now)
        if won != 1:
            return False
        obligation = SlaObligation.objects.select_related("submission").get(pk=obligation_id)
        SlaBreach.objects.create(
            submission_id=obligation.submission_id,
            kind=obligation.kind,
            obligation=obligation,
            due_at=obligation.due_at,
            detected_at=now,
        )
        if obligation.kind in OFFICE_TARGETS:
            event_record(
                submission=obligation.submission,
                type=BREACH_EVENT,
                extra={
                    "sla_target": obligation.get_kind_display(),
                    "sla_due_at": obligation.due_at.isoformat(),
                    "next_action": OFFICE_TARGETS[obligation.kind],
                },
            )
    return True


def breach_acknowledge(*, breach: SlaBreach, actor, note: str) -> SlaBreach:
    from accounts import rules
    from caisi_portal.errors import NotPermitted, ValidationFailed

    from .services import audit_record

    if not rules.may_acknowledge_breach(actor, breach):
        raise NotPermitted("Only administrators acknowledge SLA breaches (of their own world: live or exercise).")
    if not note.strip():
        message = "Say why the breach is acknowledged."
        raise ValidationFailed(message, details={"note": [message]})
    with transaction.atomic():
        won = SlaBreach.objects.filter(pk=breach.pk, acknowledged_at__isnull=True).update(
            acknowledged_by=actor, acknowledged_at=clock.now(), acknowledgement_note=note.strip()
        )
        if won != 1:
            raise ValidationFailed("This breach has already been acknowledged.")
        audit_record(
            submission=breach.submission,
            actor=actor,
            action="breach_acknowledged",
            comment=f"{breach.get_kind_display()}: {note.strip()}",
            internal=True,
        )
    breach.refresh_from_db()
    return breach
