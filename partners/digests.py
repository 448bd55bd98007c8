"""Digests: one combined email instead of a storm of notifications.

A person (accounts.NotificationPreference) chooses to be emailed at once, in a daily digest at
a local hour, or in a weekly one (a day and an hour), and may keep quiet hours; a trusted
partner may have its emails digested (TrustedPartner.email_cadence; webhooks are always sent
at once). The decision is made when a delivery is written (`deliveries_schedule`):

- urgent now (a window that has elapsed, an order, an advisory, a missed office target, or a
  deadline already past or less than a day away): sent at once, whatever the digest or the
  quiet hours; urgency is judged when the item is written, from what is known then;
- urgent by the time the next digest would go out (a deadline less than 48 hours after it):
  never digested;
- otherwise, for a digest reader: status HELD, due at the next digest time (next_attempt_at,
  partially indexed for held rows, so the run reads only what is due);
- otherwise, within the person's quiet hours: pending, but not before the quiet hours end
  (the outbox's sweep sends it then), unless that would leave less than a day before its
  deadline.

`digests_send` (beat, every minute) gathers every held item that is due into one Delivery per
reader and address, with every item grouped by submission, and marks the items DIGESTED with
a pointer to it: claimed with FOR UPDATE SKIP LOCKED and marked with `WHERE status = 'held'`,
in one transaction, so two overlapping runs never send two digests or lose an item. It costs
a fixed number of queries however many people are due.

An item is read again when its digest is written, not only when it was held: a call to act
already answered (a concurrence given, or a proposal rewritten since) is left out, the item
DROPPED with the reason; a fact that changed since (the agreement reinstated, the review moved
on past what it asked) is said as it stands now. What each line depends on is read with the
events, in the same query.

Times are computed in the reader's zone with zoneinfo: a daily digest at 08:00 New York time
is at 08:00 on both sides of a DST change (13:00 UTC in winter, 12:00 UTC in summer).
Exercise mail is never held: it is recorded, not sent, and runs on simulated time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, Q, Subquery, Value, When
from django.urls import reverse

from accounts.models import DigestCadence, NotificationPreference, Weekday
from caisi_portal import clock, timefmt
from caisi_portal.text import one_line
from caisi_portal.words import counted

from .messages import HEADING_KEYS, detail_lines
from .models import SLA_BREACHED, Delivery, DeveloperEventType, PartnerEventType, event_label

URGENT_WITHIN = timefmt.URGENT_WITHIN  # 48 hours, as the deadline chips count it
# Events about a deadline reached or an order: nobody should read them a day late.
ALWAYS_URGENT = {
    PartnerEventType.WINDOW_ELAPSED,
    PartnerEventType.ACCESS_REMOVED,
    PartnerEventType.ACCESS_HOLD,
    PartnerEventType.ACCESS_REINSTATED,
    PartnerEventType.ADVISORY,
    # An office target already missed.
    SLA_BREACHED,
    # The developer's: a question the review now waits on (its clock is paused, so no running
    # deadline would mark it urgent), and a review ended without a determination.
    DeveloperEventType.INFORMATION_REQUESTED,
    DeveloperEventType.PAUSE_LIMIT_WARNING,
    DeveloperEventType.RETURNED,
    DeveloperEventType.WITHDRAWN_BY_OFFICE,
}
# Quiet hours never defer an email about a deadline to within this of it.
QUIET_LEAVES_AT_LEAST = dt.timedelta(hours=24)
READER_GONE = "Not sent: its reader was deactivated while it waited for a digest."
ACTED_ON = "Not sent: what it asked for was done, or overtaken by a newer request, before its digest went out."
# A digest run reads at most this many due items (the rest are due in the next run).
RUN_LIMIT = 100_000


def zone_of(name: str) -> dt.tzinfo:
    """The IANA zone named, or UTC for none (or for a name this system no longer knows)."""
    if not name:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True)
class Schedule:
    """When one reader is emailed. Hours are on the clock of `zone`."""

    cadence: str = DigestCadence.IMMEDIATE
    hour: int = 8
    weekday: int = Weekday.MONDAY
    zone: dt.tzinfo = dt.UTC
    quiet_start: int | None = None
    quiet_end: int | None = None

    @property
    def digested(self) -> bool:
        return self.cadence in (DigestCadence.DAILY, DigestCadence.WEEKLY)

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_start is not None and self.quiet_end is not None and self.quiet_start != self.quiet_end

    def next_digest_at(self, after: dt.datetime) -> dt.datetime:
        """The first digest time strictly after `after` (UTC)."""
        weekday = self.weekday if self.cadence == DigestCadence.WEEKLY else None
        return _next_local(after, self.hour, self.zone, weekday)

    def quiet_until(self, now: dt.datetime) -> dt.datetime | None:
        """When the quiet hours that hold `now` end; None when `now` is not in quiet hours."""
        if not self.has_quiet_hours:
            return None
        hour = now.astimezone(self.zone).hour
        start, end = self.quiet_start, self.quiet_end
        quiet = start <= hour < end if start < end else (hour >= start or hour < end)
        return _next_local(now, end, self.zone) if quiet else None


def _next_local(after: dt.datetime, hour: int, zone: dt.tzinfo, weekday: int | None = None) -> dt.datetime:
    """The first moment strictly after `after` that reads hour:00 on the clock of `zone` (on
    `weekday` if given). An hour the clocks skip (spring forward) falls an hour later that day;
    an hour they repeat (fall back) is its first occurrence: once a day either way."""
    day = after.astimezone(zone).date()
    for offset in range(9):
        candidate_day = day + dt.timedelta(days=offset)
        if weekday is not None and candidate_day.weekday() != weekday:
            continue
        # fold=0 and a round trip through UTC resolve skipped and repeated wall times.
        moment = dt.datetime.combine(candidate_day, dt.time(hour), tzinfo=zone).astimezone(dt.UTC)
        if moment > after:
            return moment
    raise AssertionError("unreachable: a week has every weekday")


def person_schedule(preference: NotificationPreference | None, time_zone: str) -> Schedule:
    if preference is None:
        return Schedule(zone=zone_of(time_zone))
    return Schedule(
        cadence=preference.cadence,
        hour=preference.digest_hour,
        weekday=preference.digest_weekday,
        zone=zone_of(time_zone),
        quiet_start=preference.quiet_start,
        quiet_end=preference.quiet_end,
    )


def partner_schedule(partner) -> Schedule:
    return Schedule(
        cadence=partner.email_cadence,
        hour=partner.digest_hour,
        weekday=partner.digest_weekday,
        zone=zone_of(partner.digest_time_zone),
    )


def describe(schedule: Schedule, zone_name: str) -> list[str]:
    """The schedule in plain words: ["Daily at 08:00 America/New_York", "Quiet 22:00–07:00"]."""
    where = zone_name or "UTC"
    if schedule.cadence == DigestCadence.DAILY:
        lines = [f"Daily at {schedule.hour:02d}:00 {where}"]
    elif schedule.cadence == DigestCadence.WEEKLY:
        lines = [f"Weekly on {Weekday(schedule.weekday).label} at {schedule.hour:02d}:00 {where}"]
    else:
        lines = ["Immediately, one email per event"]
    if schedule.has_quiet_hours:
        lines.append(f"Quiet {schedule.quiet_start:02d}:00–{schedule.quiet_end:02d}:00 {where}")
    if schedule.digested:
        lines.append("An item whose deadline would be less than 48 hours away by then is sent at once.")
    return lines


# --- the decision, when deliveries are written --------------------------------------------------


def _clock_deadlines(events) -> dict:
    """Each submission's review deadline, running or already elapsed (so an event about a
    review past its deadline is known to be late), for every event at once (one query). A
    paused clock has no deadline while it waits."""
    from submissions.models import ReviewClock

    return dict(
        ReviewClock.objects.filter(
            submission_id__in={e.submission_id for e in events},
            status__in=[ReviewClock.Status.RUNNING, ReviewClock.Status.ELAPSED],
        ).values_list("submission_id", "deadline_at")
    )


def deadline_of(event, clock_deadlines: dict) -> dt.datetime | None:
    """The nearest deadline an event is about: its review clock's, or one its payload names
    (a review deadline, or the moment an unanswered submission is returned)."""
    found = [
        clock_deadlines.get(event.submission_id),
        timefmt.parse(event.payload.get("deadline_at")),
        timefmt.parse(event.payload.get("returned_at")),
    ]
    found = [d for d in found if isinstance(d, dt.datetime)]
    return min(found) if found else None


def deliveries_schedule(deliveries: list[Delivery], events, now: dt.datetime) -> None:
    """Hold for a digest, or defer past quiet hours, the email deliveries about to be written
    (unsaved rows; webhooks and exercise mail are never held). Two queries at most, however
    many deliveries: the people's preferences and the submissions' deadlines."""
    emails = [
        d
        for d in deliveries
        if d.channel == Delivery.Channel.EMAIL and not d.event.is_exercise and d.status == "pending"
    ]
    people = {d.recipient_id for d in emails if d.recipient_id}
    partner_digest = any(d.partner_id and d.partner.email_cadence != DigestCadence.IMMEDIATE for d in emails)
    if not people and not partner_digest:
        return
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=people)} if people else {}
    if not preferences and not partner_digest:
        return  # nobody here chose a digest or quiet hours: everything goes at once
    clock_deadlines = _clock_deadlines(events)
    schedules: dict = {}
    for delivery in emails:
        if delivery.recipient_id:
            key = ("person", delivery.recipient_id)
            if key not in schedules:
                schedules[key] = person_schedule(preferences.get(delivery.recipient_id), delivery.recipient.time_zone)
        else:
            key = ("partner", delivery.partner_id)
            if key not in schedules:
                schedules[key] = partner_schedule(delivery.partner)
        event = delivery.event
        schedule_one(delivery, schedules[key], deadline_of(event, clock_deadlines), event.type in ALWAYS_URGENT, now)


def schedule_one(
    delivery: Delivery, schedule: Schedule, deadline: dt.datetime | None, always_urgent: bool, now: dt.datetime
) -> None:
    """Hold for a digest, or defer past quiet hours, one unsaved email (pending, due `now`).

    What is urgent now goes at once: an event urgent by its kind, or a deadline already past or
    less than a day away. Neither a digest nor quiet hours may hold it: the reader's quiet hours
    are for what can wait, and news of a deadline missed cannot (a window elapsing at 18:23
    must not wait for quiet hours to end at 20:00, or at 07:00 the next day).
    Otherwise an item is held for a digest only if its deadline is still more than 48 hours away
    when that digest goes out (a weekly digest would otherwise bring news of a deadline already
    past), and deferred by quiet hours only if a day is still left before its deadline when they end."""
    if always_urgent or (deadline is not None and deadline - now < QUIET_LEAVES_AT_LEAST):
        return
    if schedule.digested:
        digest_at = schedule.next_digest_at(now)
        if deadline is None or deadline - digest_at > URGENT_WITHIN:
            delivery.status = Delivery.Status.HELD
            delivery.next_attempt_at = digest_at
            return
    # Not held: quiet hours still defer it (the person asked not to be emailed then, and they
    # end within a day), unless waiting would leave less than a day before its deadline.
    quiet_until = schedule.quiet_until(now)
    if quiet_until is not None and (deadline is None or deadline - quiet_until >= QUIET_LEAVES_AT_LEAST):
        delivery.next_attempt_at = quiet_until


def held_reschedule(*, schedule: Schedule, now: dt.datetime, recipient=None, partner=None) -> int:
    """After a reader changes their preference (or time zone), what waits for them follows it:
    the items held for a digest, and the emails quiet hours deferred (pending, never tried, due
    later). Each is judged again as if written now: sent at once if it is urgent now, held for
    the new digest only while its deadline is still more than 48 hours after that digest, else
    sent at once or when quiet hours allow (never to within a day of its deadline). What is due
    now is queued after commit. Three queries however many items: the items with their events,
    the review deadlines, and one update."""
    waiting = Delivery.objects.filter(
        Q(status=Delivery.Status.HELD)
        | Q(
            status=Delivery.Status.PENDING,
            channel=Delivery.Channel.EMAIL,
            kind=Delivery.Kind.NOTIFICATION,
            attempts=0,
            next_attempt_at__gt=now,
            event__isnull=False,
            event__is_exercise=False,
        )
    ).select_related("event")
    waiting = waiting.filter(recipient=recipient) if recipient is not None else waiting.filter(partner=partner)
    waiting = list(waiting.select_for_update(of=("self",)).order_by("pk"))
    if not waiting:
        return 0
    clock_deadlines = _clock_deadlines([d.event for d in waiting])
    for delivery in waiting:
        delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, now
        event = delivery.event
        schedule_one(delivery, schedule, deadline_of(event, clock_deadlines), event.type in ALWAYS_URGENT, now)
    Delivery.objects.bulk_update(waiting, ["status", "next_attempt_at"])
    due = [d.pk for d in waiting if d.status == Delivery.Status.PENDING and d.next_attempt_at <= now]
    if due:
        transaction.on_commit(lambda: _enqueue(due))
    return len(waiting)


# --- the digest run -----------------------------------------------------------------------------


def digests_send(now: dt.datetime | None = None, limit: int = RUN_LIMIT) -> list:
    """Send every digest that is due: one Delivery per reader and address carrying all their
    due held items. Returns the new digests' ids (queued after commit).

    Queries, however many readers: the due items (one SELECT ... FOR UPDATE SKIP LOCKED of
    bare ids), their events (each read once, however many readers share it), the readers'
    time zones (people's, partners'), the digests (one INSERT), the items marked (one UPDATE,
    only rows still held), plus the transaction's own statements.
    """
    from django.contrib.auth import get_user_model

    from .models import Event, TrustedPartner

    now = now or clock.now()
    with transaction.atomic():
        items = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.HELD, next_attempt_at__lte=now)
            # Each reader's items side by side, so a full batch can leave its last reader whole.
            .order_by("next_attempt_at", "recipient_id", "partner_id", "address", "pk")
            .values_list("pk", "event_id", "recipient_id", "partner_id", "address")[:limit]
        )
        if len(items) == limit:
            # The batch is full: its last reader may have more items due, which would make a
            # second digest a minute later. They all wait for the next run instead.
            # (One reader with more than a whole batch gets it now, the rest next run.)
            last = items[-1][2:]
            items = [item for item in items if item[2:] != last] or items
        if not items:
            return []
        events = {
            e.pk: e
            for e in _as_it_stands(Event.objects.filter(pk__in={i[1] for i in items})).only(
                "type", "occurred_at", "payload", "is_exercise", "submission_id"
            )
        }
        readers = {
            ("person", pk): (zone, active)
            for pk, zone, active in get_user_model()
            .objects.filter(pk__in={i[2] for i in items if i[2]})
            .values_list("pk", "time_zone", "is_active")
        }
        readers |= {
            ("partner", pk): (zone, active)
            for pk, zone, active in TrustedPartner.objects.filter(pk__in={i[3] for i in items if i[3]}).values_list(
                "pk", "digest_time_zone", "is_active"
            )
        }
        groups: dict = {}
        gone, acted_on = [], []
        for item in items:
            # A person deactivated, or a partner removed, since the item was held gets nothing.
            if not readers.get(("person", item[2]) if item[2] else ("partner", item[3]), ("", False))[1]:
                gone.append(item[0])
            elif not still_asked(events[item[1]]):
                acted_on.append(item[0])
            else:
                groups.setdefault((item[2], item[3], item[4]), []).append(item)
        if gone or acted_on:
            Delivery.objects.filter(pk__in=[*gone, *acted_on], status=Delivery.Status.HELD).update(
                status=Delivery.Status.DROPPED,
                last_error=Case(When(pk__in=gone, then=Value(READER_GONE)), default=Value(ACTED_ON)),
            )
        writer = _DigestWriter()
        digests, pairs = [], []
        for (recipient_id, partner_id, address), group in groups.items():
            digest = Delivery(
                channel=Delivery.Channel.EMAIL,
                recipient_id=recipient_id,
                partner_id=partner_id,
                address=address,
                next_attempt_at=now,
            )
            zone = readers[("person", recipient_id) if recipient_id else ("partner", partner_id)][0]
            digest.subject, digest.body = writer.message(
                [events[item[1]] for item in group],
                zone,
                to_person=bool(recipient_id),
                notification_id=digest.webhook_id,
            )
            digests.append(digest)
            pairs += [(item[0], digest.pk) for item in group]
        Delivery.objects.bulk_create(digests)
        marked = _mark_included(pairs)
        if marked != len(pairs):
            # Only this run held these rows (FOR UPDATE), so this cannot happen; if it did, an
            # item would be in two digests or in none: undo it all rather than send it wrong.
            raise RuntimeError(f"{len(pairs) - marked} held items changed under a digest run")
        ids = [d.pk for d in digests]
        transaction.on_commit(lambda: _enqueue(ids))
    return ids


# --- what a digest line depends on, as it stands when the digest is written --------------------

CONCURRENCE_REQUESTED = "review.concurrence_requested"


def _as_it_stands(events):
    """The events, each with what its line depends on now, as subqueries of the same query (the
    run's query count does not change): the submission's state, whether a proposed
    determination or advisory asked about at the event's time still awaits a concurrence, and
    the developer's agreement."""
    from reviews.models import Advisory, Determination
    from submissions.models import Agreement, ModelSubmission

    asked_about = {
        "submission_id": OuterRef("submission_id"),
        # Proposed by the time of the request: a proposal rewritten later is a newer request.
        "proposed_at__lte": OuterRef("occurred_at"),
        "concurred_by__isnull": True,
        "issued_at__isnull": True,
    }
    of_submission = {"submission_id": OuterRef("submission_id")}
    return events.annotate(
        state_now=Subquery(ModelSubmission.objects.filter(pk=OuterRef("submission_id")).values("state")[:1]),
        concurrence_awaited=Exists(Determination.objects.filter(**asked_about))
        | Exists(Advisory.objects.filter(**asked_about))
        # Nothing proposed at all: nothing to judge it by, so it stands.
        | ~(Exists(Determination.objects.filter(**of_submission)) | Exists(Advisory.objects.filter(**of_submission))),
        agreement_now=Subquery(
            Agreement.objects.filter(organization_id=OuterRef("submission__organization_id")).values("status")[:1]
        ),
    )


def still_asked(event) -> bool:
    """Does the item still ask something of its reader? A concurrence request stands while the
    proposal (or, on a released model, the advisory) it was about awaits one: given by anyone,
    or overtaken by a rewritten proposal (which asks again itself), it is done. Only what is
    known to be done is left out."""
    if event.type != CONCURRENCE_REQUESTED:
        return True
    return getattr(event, "concurrence_awaited", True)


def payload_now(event) -> dict:
    """The event's facts as a digest says them: as written, except what has changed since. An
    agreement suspended or terminated and since changed again is named as it stands (with what
    it was); a call to act about a review that has since moved to another state is replaced by
    where the review is now, for the reader to look before acting."""
    from submissions.models import Agreement, State

    data = dict(event.payload)
    agreement_now = getattr(event, "agreement_now", None)
    said = str(data.get("agreement") or "")
    if said and agreement_now:
        label_now = Agreement.Status(agreement_now).label
        # Written as "Suspended: <the office's note>" (submissions.services._open_review_decide).
        if said.partition(":")[0].strip().lower() != label_now.lower():
            data["agreement"] = f"{label_now} now (it was {said})"
    state_now, state_then = getattr(event, "state_now", None), data.get("state")
    if data.get("next_action") and state_now and state_then and state_now != state_then:
        data["next_action"] = (
            f"It has moved on since: the submission is {State(state_now).label.lower()} now. "
            "Open it to see what, if anything, is still asked of you."
        )
    return data


def _enqueue(ids) -> int:
    from . import services

    return services._enqueue(ids)


def _mark_included(pairs: list[tuple]) -> int:
    """Each item DIGESTED with its digest, in one statement; only rows still HELD change."""
    if connection.vendor == "postgresql":
        table = Delivery._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{table}" AS d SET status = %s, digest_id = v.digest '  # noqa: S608
                "FROM unnest(%s::uuid[], %s::uuid[]) AS v(item, digest) "
                "WHERE d.id = v.item AND d.status = %s",
                [Delivery.Status.DIGESTED, [p[0] for p in pairs], [p[1] for p in pairs], Delivery.Status.HELD],
            )
            return cursor.rowcount
    # SQLite (make run): the same statement written by the ORM.
    return Delivery.objects.filter(pk__in=[p[0] for p in pairs], status=Delivery.Status.HELD).update(
        status=Delivery.Status.DIGESTED,
        digest_id=Case(*[When(pk=item, then=Value(digest)) for item, digest in pairs]),
    )


class _DigestWriter:
    """Writes digests, each line once per event and zone however many readers share it (a
    thousand readers of the same fifty events cost fifty lines per zone, not fifty thousand)."""

    def __init__(self):
        self._lines: dict = {}
        self._headings: dict = {}
        self._zones: dict = {}

    def _zone(self, name: str) -> dt.tzinfo:
        if name not in self._zones:
            self._zones[name] = zone_of(name)
        return self._zones[name]

    def _line(self, event, zone_name: str) -> str:
        key = (event.pk, zone_name)
        if key not in self._lines:
            zone = self._zone(zone_name)
            line = f"- {timefmt.when(event.occurred_at, zone=zone)}: {event_label(event.type)}"
            deadline = event.payload.get("deadline_at")
            if deadline:
                line += f" (review deadline {timefmt.when(deadline, zone=zone)})"
            # The same facts the single email carries (outcome, summary, release conditions,
            # an order, the open-weights note...), under the item, as they stand now.
            details = detail_lines(payload_now(event), skip=(*HEADING_KEYS, "deadline_at"))
            line = "\n".join([line, *(f"    {d}" if d else "" for d in details)])
            self._lines[key] = line
        return self._lines[key]

    def _heading(self, event) -> str:
        if event.submission_id not in self._headings:
            data = event.payload
            heading = one_line(
                f"{data.get('model_name', '')} {data.get('model_version', '')} ({data.get('organization', '')})"
            )
            self._headings[event.submission_id] = heading
        return self._headings[event.submission_id]

    def message(self, events: list, zone_name: str, *, to_person: bool, notification_id: str = "") -> tuple[str, str]:
        """One email with every event, grouped by submission (in order of each one's first
        event), each with its time in the reader's zone."""
        by_submission: dict = {}
        for event in sorted(events, key=lambda e: (e.occurred_at, e.submission_id, str(e.pk))):
            by_submission.setdefault(event.submission_id, []).append(event)
        subject = (
            f"Your CAISI digest: {counted(len(events), 'notification')} "
            f"about {counted(len(by_submission), 'submission')}"
        )
        if any(e.is_exercise for e in events):
            subject = f"[EXERCISE] {subject}"
        base = settings.PORTAL_BASE_URL.rstrip("/")
        lines = [subject, ""]
        for group in by_submission.values():
            heading = self._heading(group[0])
            lines += [heading, "-" * min(len(heading), 72)]
            lines += [self._line(event, zone_name) for event in group]
            path = group[0].payload.get("path")
            if to_person and path:
                lines.append(f"Open it in the portal: {base}{path}")
            lines.append("")
        lines += [
            "Items whose deadline was less than 48 hours away by this digest were emailed at once, not held;",
            "what was done before it went out (a concurrence already given) is left out.",
            f"Change when you are emailed, or see what waits for the next one: {base}{reverse('held_notifications')}"
            if to_person
            else "Your organization's staff can change the digest in the portal.",
            "",
            f"Notification id: {notification_id}",
            "CAISI Review Portal (simulation)",
        ]
        return subject, "\n".join(lines)


def digest_message(events: list, zone_name: str, *, to_person: bool, notification_id: str = "") -> tuple[str, str]:
    """One digest's subject and body (see _DigestWriter.message)."""
    return _DigestWriter().message(events, zone_name, to_person=to_person, notification_id=notification_id)
