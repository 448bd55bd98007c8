"""The outbox: record events with the change that causes them, deliver after commit.

Delivery is at-least-once with a stable id per destination: a claimed attempt holds a
lease on the row, and is marked delivered only after the destination answered. A worker
that dies mid-send leaves the lease to expire and the sweep to retry, with the same id.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse

from accounts.roles import Role
from caisi_portal import clock, timefmt
from submissions import states
from submissions.transitions import event_audiences, transition_events

from . import digests, integrations
from .models import SLA_BREACHED, Delivery, DeliveryAttempt, Event, PartnerEventType, PreviousSecret, TrustedPartner
from .transports import TRANSPORTS, WEBHOOK_TIMEOUT, TransportError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Waits after attempts 1..7: about a day in all, each with +/-20% jitter so retries to
# one struggling receiver do not arrive in lockstep.
BACKOFF = [
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
    dt.timedelta(hours=14),
]
ETA_LIMIT = dt.timedelta(minutes=50)
# Fan-out: deliveries per task, parallel sends per task, and how often results are written.
SEND_BATCH = 50
SEND_THREADS = 16
RECORD_EVERY = 25
RECORD_AFTER = 0.5  # seconds
SEND_LIMITS = httpx.Limits(max_connections=SEND_THREADS, max_keepalive_connections=SEND_THREADS)
# Above this many deliveries from one action, a worker queues the batches (notifications_dispatch).
DISPATCH_OVER = 4 * SEND_BATCH
# The sweep leaves fresh deliveries to their own after-commit task for this long.
REQUEUE_GRACE = dt.timedelta(seconds=30)

# What each transition announces, and to whom inside the portal: declared with the transition.
TRANSITION_EVENTS = transition_events()

# Which people inside the portal are emailed for each event.
INTERNAL_AUDIENCE = {
    **event_audiences(),
    "review.deadline_warning": ("reviewers", "administrators"),
    # An office target missed (intake decision, reviewer assignment): the office's administrators.
    SLA_BREACHED: ("administrators",),
    # The developer is warned before an unanswered request returns the submission.
    "submission.pause_limit_warning": ("developer",),
    # An agreement suspended or terminated under an open review the office chose to continue.
    "submission.agreement_changed": ("developer", "reviewers"),
    # Sent to the people named when the event is recorded (the assignee, the possible concurrers).
    "review.assigned": (),
    "review.unassigned": (),
    "review.concurrence_requested": (),
    # Missing planned results: the reviewers, then the lead, then administrators, each named
    # by the sweep's step or the Remind button (submissions/reminders.py).
    "review.results_reminder": (),
    "review.results_escalation": (),
    # Not transitions: a hold leaves the state as it is; an advisory is issued on a released model.
    "submission.access_hold": ("developer", "administrators"),
    "submission.advisory": ("developer",),
}
# Events about a government order: each carries the order's facts.
ORDER_EVENTS = (PartnerEventType.ACCESS_REMOVED, PartnerEventType.ACCESS_HOLD, PartnerEventType.ACCESS_REINSTATED)
AFTER_WINDOW_NOTE = "This determination was issued after the review window had elapsed."

OPEN_WEIGHTS_NOTE = states.OPEN_WEIGHTS_NOTE


def backoff(attempt_number: int) -> dt.timedelta:
    base = BACKOFF[min(attempt_number, len(BACKOFF)) - 1]
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


JOINT_NOTE = "This was a joint review with allied institutes: {institutes}."


def partner_payload(
    submission, *, type: str, extra: dict | None = None, determinations: dict | None = None, joint: dict | None = None
) -> dict:
    """What a partner may know about a submission. Nothing classified, nobody internal.

    `determinations` (submission id -> issued determination) and `joint` (submission id -> the
    public names of the allied institutes of a joint review) save queries per submission when
    many events are written at once.
    """
    if determinations is None:
        determinations = _issued_determinations([submission])
    if joint is None:
        joint = _joint_institutes([submission])
    determination = determinations.get(submission.pk)
    payload = {
        "submission_id": submission.pk,
        "organization": submission.organization.name,
        "model_name": submission.model_name,
        "model_version": submission.model_version,
        "release_channel": submission.release_channel,
        "state": submission.state,
        "outcome": determination.outcome if determination else None,
        "determined_at": determination.issued_at.isoformat() if determination else None,
        "summary": determination.partner_summary if determination else "",
        "release_conditions": determination.release_conditions if determination else "",
        "released_at": submission.released_at.isoformat() if submission.released_at else None,
        "path": reverse("submissions:detail", args=[submission.pk]),
    }
    if determination is not None and determination.issued_after_window:
        payload["issued_after_window"] = True
        payload["after_window_note"] = AFTER_WINDOW_NOTE
    institutes = joint.get(submission.pk)
    if institutes:
        # A joint review says so, naming the institutes by their public names (never a person).
        payload["joint_review"] = True
        payload["joint_institutes"] = institutes
        payload["joint_note"] = JOINT_NOTE.format(institutes=", ".join(institutes))
    if type in ORDER_EVENTS:
        order = submission.access_orders.order_by("-recorded_at", "-pk").first()
        if order is not None:
            payload["order"] = {**order.facts(), "scope_description": order.scope_description}
    if type in (*ORDER_EVENTS, PartnerEventType.ADVISORY) and submission.is_open_weights:
        # Downstream builders identify what is affected by where the weights went and their hashes.
        payload["open_weights_note"] = OPEN_WEIGHTS_NOTE
        payload["weights_publications"] = [
            {"location": p.location, "sha256": p.sha256} for p in submission.weights_publications.current()
        ]
    if type == PartnerEventType.WINDOW_ELAPSED:
        payload["outcome"] = "window_elapsed"
    payload.update(extra or {})
    return payload


def _joint_institutes(submissions) -> dict:
    from joint.services import joint_institute_names

    return joint_institute_names(submissions)


def _issued_determinations(submissions) -> dict:
    from reviews.models import Determination

    issued = Determination.objects.filter(submission__in=[s.pk for s in submissions], issued_at__isnull=False)
    return {d.submission_id: d for d in issued}


def event_for_transition(submission, name: str) -> Event | None:
    event_type = TRANSITION_EVENTS.get(name)
    if event_type is None:
        return None
    return event_record(submission=submission, type=event_type)


def event_record(*, submission, type: str, extra: dict | None = None, recipients=()) -> Event:
    """Write the event and its deliveries in the caller's transaction; send after commit.

    `recipients` names people inside the portal to tell besides the event's usual audience
    (each told once, and only people of the submission's own world).
    """
    return events_record(submissions=[submission], type=type, extra=extra, recipients=recipients)[0]


def events_record(*, submissions, type: str, extra: dict | None = None, recipients=()) -> list[Event]:
    """One event of this type per submission, with every delivery, in a fixed number of queries.

    The sweep's bursts (thousands of windows elapsing at once) write theirs here together;
    a single event is the same call with one submission.
    """
    if not submissions:
        return []
    now = clock.now()
    determinations = _issued_determinations(submissions)
    joint = _joint_institutes(submissions)
    events = Event.objects.bulk_create(
        [
            Event(
                type=type,
                submission=submission,
                occurred_at=now,
                payload=partner_payload(submission, type=type, extra=extra, determinations=determinations, joint=joint),
                is_exercise=submission.is_exercise,
            )
            for submission in submissions
        ]
    )
    ids, deliveries = [], []
    for same_world in _by_world(events):
        if connection.vendor == "postgresql" and type in PartnerEventType.values:
            # Thousands of partners: their webhook rows are written by one INSERT ... SELECT, so
            # the transaction does not build a Python object per partner.
            ids += _insert_webhook_deliveries(same_world)
            deliveries += _partner_deliveries(same_world, channels=(Delivery.Channel.EMAIL,))
        else:
            deliveries += _partner_deliveries(same_world)
        deliveries += _internal_deliveries(same_world, recipients)
        deliveries += integrations.endpoint_deliveries(same_world)
    # Emails for readers who chose a digest are held for it; quiet hours defer the rest.
    digests.deliveries_schedule(deliveries, events, now)
    Delivery.objects.bulk_create(deliveries)
    ids += [d.pk for d in deliveries if d.status == Delivery.Status.PENDING and d.next_attempt_at <= now]
    if len(ids) > DISPATCH_OVER:
        # Thousands of deliveries: one message hands them to a worker, which queues the batches,
        # so the person whose action caused the event does not wait for hundreds of messages.
        event_ids = [str(e.pk) for e in events]
        transaction.on_commit(lambda: _dispatch(event_ids))
    elif ids:
        transaction.on_commit(lambda: _enqueue(ids))
    return events


def _dispatch(event_ids: list[str]) -> None:
    from .tasks import dispatch_notifications

    try:
        dispatch_notifications.delay(event_ids)
    except Exception:
        log.warning("Broker unavailable; the notices of %d events wait in the outbox for the sweep.", len(event_ids))


def notifications_dispatch(event_ids) -> int:
    """Queue in batches every delivery of these events that is still waiting for its first try."""
    waiting = Delivery.objects.filter(event_id__in=event_ids, status=Delivery.Status.PENDING, attempts=0)
    return _enqueue(waiting.order_by("pk").values_list("pk", flat=True))


def _by_world(events: list[Event]) -> list[list[Event]]:
    """Events grouped by their submission's world (live, or one exercise): each has its own
    partners and people."""
    worlds: dict = {}
    for event in events:
        worlds.setdefault(event.submission.exercise_id, []).append(event)
    return list(worlds.values())


def _insert_webhook_deliveries(events: list[Event]) -> list:
    """One pending webhook delivery per event and partner told (the partners `partners_told`
    finds; every event of one type and one world)."""
    partners = _partners_told_queryset(events[0].submission, events[0].type).exclude(webhook_url="")
    select_sql, select_params = partners.values(told_id=F("pk"), told_url=F("webhook_url")).query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (id, event_id, channel, partner_id, address, status, attempts, '  # noqa: S608
            "next_attempt_at, last_error) "
            "SELECT gen_random_uuid(), ev.id, %s, told.told_id, told.told_url, %s, 0, ev.at, '' "
            "FROM unnest(%s::uuid[], %s::timestamptz[]) AS ev(id, at) "
            f"CROSS JOIN ({select_sql}) AS told "
            "RETURNING id",
            [
                Delivery.Channel.WEBHOOK,
                Delivery.Status.PENDING,
                [e.pk for e in events],
                [e.occurred_at for e in events],
                *select_params,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def _partner_deliveries(events: list[Event], channels=None) -> list[Delivery]:
    """Each event's deliveries to the partners told (every event of one type and one world)."""
    if events[0].type not in PartnerEventType.values:
        return []
    out = []
    channels = channels or (Delivery.Channel.WEBHOOK, Delivery.Channel.EMAIL)
    if channels == (Delivery.Channel.EMAIL,) and connection.vendor == "postgresql":
        # Webhooks were written in SQL: only partners with an address to email are loaded
        # (of ten thousand webhook-only partners, none).
        told = _partners_told_queryset(events[0].submission, events[0].type).exclude(emails="")
        partners = list(told.select_related("organization"))
    else:
        partners = partners_told(events[0].submission, events[0].type)
    for event in events:
        now = event.occurred_at
        for partner in partners:
            if partner.webhook_url and Delivery.Channel.WEBHOOK in channels:
                out.append(
                    Delivery(
                        event=event,
                        channel=Delivery.Channel.WEBHOOK,
                        partner=partner,
                        address=partner.webhook_url,
                        next_attempt_at=now,
                    )
                )
            for address in dict.fromkeys(partner.email_list() if Delivery.Channel.EMAIL in channels else ()):
                out.append(
                    Delivery(
                        event=event,
                        channel=Delivery.Channel.EMAIL,
                        partner=partner,
                        address=address,
                        next_attempt_at=now,
                    )
                )
    return out


def partners_told(submission, event_type: str) -> list[TrustedPartner]:
    """The partners an event about this submission goes to: active, subscribed, of its world.

    Exercise events go only to an exercise's simulated partners, and live ones never do.
    """
    if connection.vendor == "postgresql":
        return list(_partners_told_queryset(submission, event_type).select_related("organization"))
    # SQLite (make run) has no JSON containment test: the subscription is checked here.
    partners = _partners_told_queryset(submission, None).select_related("organization")
    return [p for p in partners if event_type in (p.event_types or [])]


def _partners_told_queryset(submission, event_type: str | None):
    """The partners told of an event, as one query: active, of the submission's world, and
    (given an event type; PostgreSQL) subscribed to it, a JSON containment test."""
    partners = TrustedPartner.objects.filter(
        is_active=True, is_exercise=submission.is_exercise, organization__exercise_id=submission.exercise_id
    )
    return partners if event_type is None else partners.filter(event_types__contains=[event_type])


def announcement_preview(submission, *, outcome: str, partner_summary: str, release_conditions: str = "") -> dict:
    """Exactly what each partner will receive if this determination is issued now: the
    recipients, the email (subject and body) and the webhook's JSON, built by the same code
    that will send them, from an event that is not saved."""
    from .messages import email_for
    from .transports import webhook_body

    event_type = PartnerEventType.CLEARED if outcome == "cleared" else PartnerEventType.FLAGGED
    payload = partner_payload(submission, type=event_type)
    if submission.state == "window_elapsed":  # as it will be once issued: late
        payload.update(issued_after_window=True, after_window_note=AFTER_WINDOW_NOTE)
    payload.update(
        state=outcome,  # as it will be once issued
        outcome=outcome,
        determined_at=clock.now().isoformat(),
        summary=partner_summary.strip(),
        release_conditions=release_conditions.strip(),
    )
    event = Event(
        type=event_type,
        submission=submission,
        occurred_at=clock.now(),
        payload=payload,
        is_exercise=submission.is_exercise,
    )
    sample = Delivery(
        event=event, channel=Delivery.Channel.EMAIL, address="partner@example", next_attempt_at=event.occurred_at
    )
    subject, body = email_for(sample)
    body = body.replace(
        f"Notification id: {sample.webhook_id}", "Notification id: (each message gets its own when sent)"
    )
    recipients = [
        {
            "name": str(p.organization),
            "webhook": p.webhook_url,
            "emails": p.email_list(),
        }
        for p in partners_told(submission, event_type)
    ]
    return {"recipients": recipients, "subject": subject, "body": body, "webhook": webhook_body(sample)}


def _internal_deliveries(events: list[Event], recipients=()) -> list[Delivery]:
    """Emails to the people inside the portal each event is for (every event of one type and
    one world), one query per kind of audience however many events."""
    audience = INTERNAL_AUDIENCE.get(events[0].type, ())
    if not audience and not recipients:
        return []
    # An exercise's mail goes to its players only; live mail never to a player.
    users = (
        get_user_model().objects.filter(is_active=True, exercise_id=events[0].submission.exercise_id).exclude(email="")
    )
    submission_ids = [e.submission_id for e in events]
    chosen: dict = {e.submission_id: {} for e in events}  # submission -> {user id: user}, in order told

    def tell_all(people):
        for people_of in chosen.values():
            for u in people:
                people_of.setdefault(u.pk, u)

    if recipients:
        tell_all(list(users.filter(pk__in=[r.pk for r in recipients])))
    if "requester" in audience:
        for event in events:
            asked = event.submission.information_requests.order_by("-requested_at").values("requested_by_id")[:1]
            for u in users.filter(pk__in=asked):
                chosen[event.submission_id].setdefault(u.pk, u)
    if "developer" in audience:
        organizations = {e.submission_id: e.submission.organization_id for e in events}
        staff: dict = {}
        for u in users.filter(organization_id__in=set(organizations.values()), groups__name=Role.DEVELOPER_STAFF):
            staff.setdefault(u.organization_id, []).append(u)
        for submission_id, organization_id in organizations.items():
            for u in staff.get(organization_id, ()):
                chosen[submission_id].setdefault(u.pk, u)
    if "reviewers" in audience:
        assigned = users.filter(assignments__submission_id__in=submission_ids).annotate(
            told_about=F("assignments__submission_id")
        )
        for u in assigned:
            chosen[u.told_about].setdefault(u.pk, u)
    if "administrators" in audience:
        tell_all(list(users.filter(groups__name=Role.ADMINISTRATOR)))
    return [
        Delivery(
            event=event,
            channel=Delivery.Channel.EMAIL,
            recipient=u,
            address=u.email,
            next_attempt_at=event.occurred_at,
        )
        for event in events
        for u in chosen[event.submission_id].values()
    ]


def _enqueue(delivery_ids) -> int:
    """Queue the deliveries in batches: one task sends a batch over pooled connections."""
    from .tasks import deliver_notifications

    ids = [str(i) for i in delivery_ids]
    queued = 0
    for start in range(0, len(ids), SEND_BATCH):
        batch = ids[start : start + SEND_BATCH]
        try:
            deliver_notifications.delay(batch)
        except Exception:
            log.warning("Broker unavailable; %d deliveries wait in the outbox for the sweep.", len(ids) - queued)
            break
        queued += len(batch)
    return queued


def _enqueue_retry(delivery_id, retry_at: dt.datetime) -> None:
    """Queue the retry for its exact time when that is soon; later ones wait for the sweep.

    Etas far in the future would outlive the broker's visibility timeout and be
    redelivered early, so only near retries are queued.
    """
    from .tasks import deliver_notification

    if retry_at - clock.now() > ETA_LIMIT:
        return
    try:
        deliver_notification.apply_async(args=[str(delivery_id)], eta=retry_at)
    except Exception:
        log.warning("Broker unavailable; the retry of %s waits for the sweep.", delivery_id)


def deliveries_due(now: dt.datetime, limit: int = 500) -> list:
    return list(
        _not_paused(Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_requeue_due(now: dt.datetime) -> int:
    """The sweep's safety net: queue again what a lost task or dead worker left behind."""
    return _enqueue(deliveries_due(now - REQUEUE_GRACE))


def delivery_attempt(delivery_id) -> str:
    """Make one attempt if the delivery is due. Returns the delivery's status afterwards."""
    return deliveries_attempt([delivery_id]).get(str(delivery_id), "not_due")


def deliveries_attempt(delivery_ids) -> dict[str, str]:
    """One attempt at each of these deliveries that is due: delivery id -> status afterwards.

    The claim is one statement for the batch (a lease on each row, rows another worker holds
    skipped); the sends run in parallel threads over pooled keep-alive connections (the
    threads touch no database); results are written in bulk as they come, a few dozen at a
    time, so one slow endpoint holds up no other delivery's record. A worker that dies
    mid-batch leaves its leases to expire and the sweep to send again, with the same ids.
    """
    now = clock.now()
    deliveries = _claim(delivery_ids, now)
    if not deliveries:
        return {}
    statuses: dict[str, str] = {}
    pending: list[tuple] = []
    client = _http_client()
    # One resolution per endpoint host within a batch (the check at send time still runs per send).
    resolve = functools.lru_cache(maxsize=256)(socket.getaddrinfo)
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(deliveries))) as pool:
        sending = {pool.submit(_send, delivery, client, now, resolve) for delivery in deliveries}
        recorded_at = time.monotonic()
        while sending:
            done, sending = wait(sending, timeout=RECORD_AFTER, return_when=FIRST_COMPLETED)
            pending.extend(future.result() for future in done)
            # Written a few dozen at a time, and at least every RECORD_AFTER seconds, so a
            # slow endpoint still being waited for holds back no finished delivery's record.
            if pending and (
                len(pending) >= RECORD_EVERY or not sending or time.monotonic() - recorded_at >= RECORD_AFTER
            ):
                statuses.update(_record(pending))
                pending, recorded_at = [], time.monotonic()
    return statuses


def _not_paused(deliveries):
    """Without the webhooks of partners who paused them: those wait, unattempted (so never
    dead-lettered), until the partner resumes. A subquery, not a join, so that claiming
    locks the delivery rows only."""
    paused = TrustedPartner.objects.filter(paused_at__isnull=False).values("pk")
    return deliveries.exclude(channel=Delivery.Channel.WEBHOOK, partner_id__in=paused)


def _claim(delivery_ids, now) -> list[Delivery]:
    ids = list(delivery_ids)
    with transaction.atomic():
        claimed = list(
            _not_paused(
                Delivery.objects.select_for_update(skip_locked=True).filter(
                    pk__in=ids, status=Delivery.Status.PENDING, next_attempt_at__lte=now
                )
            ).values_list("pk", flat=True)
        )
        if claimed:
            Delivery.objects.filter(pk__in=claimed).update(
                next_attempt_at=now + settings.PARTNER_DELIVERY_LEASE, attempts=F("attempts") + 1
            )
    if not claimed:
        return []
    return list(
        Delivery.objects.select_related("event", "partner", "endpoint", "subscription__organization").filter(
            pk__in=claimed
        )
    )


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http_client() -> httpx.Client:
    """One pooled client per worker process: keep-alive connections outlive a batch."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=WEBHOOK_TIMEOUT, limits=SEND_LIMITS)
        return _client


def _send(delivery, client, started_at, resolve=None) -> tuple:
    """(delivery, attempt) for one send. Runs in a thread: no database here."""
    attempt = DeliveryAttempt(delivery=delivery, number=delivery.attempts, started_at=started_at)
    error = None
    try:
        if delivery.is_exercise_traffic:
            # Exercise traffic (an exercise's partner's or endpoint's tests included) is recorded
            # for the after-action review, never sent.
            attempt.error = "Exercise: recorded, not sent."
        else:
            outcome = TRANSPORTS[delivery.channel].send(delivery, client=client, resolve=resolve)
            attempt.status_code, attempt.latency_ms = outcome.status_code, outcome.latency_ms
    except TransportError as exc:
        attempt.status_code = exc.status_code
        attempt.error = str(exc)[:2000]
        error = exc
    except Exception as exc:  # a bug in one send must not lose the batch's records
        log.exception("Delivery %s failed unexpectedly", delivery.pk)
        attempt.error = f"Unexpected error ({exc.__class__.__name__})."
        error = TransportError(attempt.error)
    attempt.succeeded = error is None
    return delivery, attempt, error


def _record(results) -> dict[str, str]:
    """Write a group of attempts and their deliveries' new states: a few statements in all."""
    DeliveryAttempt.objects.bulk_create([attempt for _d, attempt, _e in results])
    statuses = {}
    delivered: dict[int, list] = {}
    now = clock.now()
    for delivery, attempt, error in results:
        # Only the attempt that holds the row writes it (a re-claim after a lost lease wins).
        ours = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING, attempts=attempt.number)
        if error is None:
            delivered.setdefault(attempt.number, []).append(delivery.pk)
            statuses[str(delivery.pk)] = Delivery.Status.DELIVERED
        elif error.permanent or attempt.number >= MAX_ATTEMPTS or delivery.kind == Delivery.Kind.TEST:
            # A test is tried once: its result answers "does my endpoint work now?".
            _dead_letter(delivery, attempt)
            statuses[str(delivery.pk)] = Delivery.Status.DEAD
        else:
            retry_at = now + backoff(attempt.number)
            ours.update(next_attempt_at=retry_at, last_error=attempt.error)
            _enqueue_retry(delivery.pk, retry_at)
            statuses[str(delivery.pk)] = Delivery.Status.PENDING
    for number, ids in delivered.items():
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING, attempts=number).update(
            status=Delivery.Status.DELIVERED, delivered_at=now, last_error=""
        )
    return statuses


def _dead_letter(delivery, attempt) -> None:
    """Dead-letter the delivery this attempt holds and, in the same transaction, write its
    alert: a worker that dies in between commits neither (the lease expires, the delivery is
    tried again and dead-lettered then, alerting once); one that loses the row to a re-claim
    changes nothing."""
    from . import self_service

    with transaction.atomic():
        ours = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING, attempts=attempt.number)
        # Only a partner's notifications alert (no query for a person's email or an alert).
        if ours.update(status=Delivery.Status.DEAD, last_error=attempt.error) and self_service._alerted(delivery):
            self_service.dead_letter_alert(delivery.pk)


MSG_REDELIVER_ROLE = (
    "Only the office's administrators and the partner's own staff can redeliver a notification "
    "(exercise ones are never sent)."
)
MSG_REDELIVER_STATUS = {
    Delivery.Status.PENDING: "It is still being tried: it cannot be queued again until it is delivered or "
    "dead-lettered.",
    Delivery.Status.HELD: "It waits for its reader's digest, which will carry it: it is not sent alone.",
    Delivery.Status.DIGESTED: "It went out inside a digest: the digest is what was sent, not this item alone.",
}
MSG_REDELIVER_TEST = "A test is not sent again: send a new test instead."


def delivery_redeliver(*, delivery: Delivery, actor) -> Delivery:
    """An administrator or the partner's staff send a dead-lettered (or delivered)
    notification again, with the same id (the receiver drops it if it already has it)."""
    from accounts import rules
    from caisi_portal.errors import ApplicationError, NotPermitted
    from submissions.services import audit_record

    if not rules.may_redeliver(actor, delivery):
        raise NotPermitted(MSG_REDELIVER_ROLE)
    if delivery.kind == Delivery.Kind.TEST:
        raise ApplicationError(MSG_REDELIVER_TEST)
    with transaction.atomic():
        # Held items wait for their digest and digested ones went out inside it: neither is
        # sent alone. The status is the one in the row now (two people pressing at once:
        # one queues it, the other is told it is already being tried).
        queued = Delivery.objects.filter(
            pk=delivery.pk, status__in=[Delivery.Status.DEAD, Delivery.Status.DELIVERED]
        ).update(status=Delivery.Status.PENDING, next_attempt_at=clock.now(), attempts=0, last_error="")
        if not queued:
            delivery.refresh_from_db()
            raise ApplicationError(MSG_REDELIVER_STATUS.get(delivery.status, "It cannot be sent again now."))
        audit_record(
            submission=None,
            actor=actor,
            action="notification_redelivered",
            comment=f"{delivery.label} to {delivery.partner or 'a person'} ({delivery.get_channel_display()}) "
            f"queued again as {delivery.webhook_id}",
            internal=True,
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


# Each signature lengthens every message and is one more secret that can leak: past this many
# previous secrets still signing, a rotation waits for one to end or for a revocation.
MAX_PREVIOUS_SECRETS = 3
MSG_SECRET_ROLE = "Only the office's administrators and the partner's own staff rotate or revoke its secrets."
MSG_NO_PREVIOUS_SECRET = "No previous secret signs now: only the current secret signs, so there is nothing to revoke."


def _secret_audit(actor, partner: TrustedPartner, what: str, detail: str) -> None:
    from accounts import rules
    from submissions.services import audit_record

    by = "" if rules.may_manage_partner(actor, partner) else " by its own staff"
    audit_record(
        submission=None,
        actor=actor,
        action="configuration_changed",
        comment=f"Trusted partner {partner}: {what}{by} ({detail})",
        internal=True,
    )


def _secret_named(previous: PreviousSecret) -> str:
    made = (
        f"made {timefmt.when(previous.made_at, zone=dt.UTC)}"
        if previous.made_at
        else "made when the partner was set up"
    )
    return f"the secret {made} (signing until {timefmt.when(previous.until, zone=dt.UTC)})"


def partner_secret_rotate(*, partner: TrustedPartner, actor) -> str:
    """A new webhook secret, shown once. The one it replaces keeps signing beside it for the
    overlap, and so does each earlier one until its own overlap ends: a receiver may have
    switched to any of them."""
    from django.utils import timezone

    from accounts import rules
    from caisi_portal.errors import ApplicationError, NotPermitted

    from .models import new_webhook_secret

    if not rules.may_run_partner_webhooks(actor, partner):
        raise NotPermitted(MSG_SECRET_ROLE)
    now = timezone.now()  # wall time: receivers check signatures against their own clocks
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().get(pk=partner.pk)
        still = locked.previous_secrets_signing(now)
        if len(still) >= MAX_PREVIOUS_SECRETS:
            first_end = min(p.until for p in still)
            raise ApplicationError(
                f"{len(still)} previous secrets still sign beside the current one. The first stops at "
                f"{timefmt.when(first_end, zone=dt.UTC)}: rotate after that, or revoke the previous secrets "
                "now (once your receiver uses the current one) and rotate again."
            )
        replaced = PreviousSecret(
            secret=locked.webhook_secret,
            made_at=locked.webhook_secret_made_at,
            until=now + dt.timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS),
        )
        locked.previous_secrets_set([replaced, *still])
        locked.webhook_secret, locked.webhook_secret_made_at = new_webhook_secret(), now
        locked.save(update_fields=["previous_secrets", "webhook_secret", "webhook_secret_made_at"])
        earlier = f"; {', '.join(_secret_named(p) for p in still)} still sign{'s' if len(still) == 1 else ''} too"
        earlier = earlier if still else ""
        _secret_audit(actor, locked, "webhook secret rotated", f"{_secret_named(replaced)}{earlier}")
    # The caller's copy shows the rotation (the page says until when the previous ones sign).
    partner.webhook_secret, partner.webhook_secret_made_at = locked.webhook_secret, locked.webhook_secret_made_at
    partner.previous_secrets = locked.previous_secrets
    return locked.webhook_secret


def partner_previous_secrets_revoke(*, partner: TrustedPartner, actor) -> list[PreviousSecret]:
    """Every previous secret stops signing now (one leaked, or the receiver has switched):
    only the current secret signs from the next message on. Returns the ones revoked."""
    from django.utils import timezone

    from accounts import rules
    from caisi_portal.errors import ApplicationError, NotPermitted
    from caisi_portal.words import counted

    if not rules.may_run_partner_webhooks(actor, partner):
        raise NotPermitted(MSG_SECRET_ROLE)
    now = timezone.now()  # wall time, as the signatures are
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().get(pk=partner.pk)
        still = locked.previous_secrets_signing(now)
        if not still:
            raise ApplicationError(MSG_NO_PREVIOUS_SECRET)
        locked.previous_secrets_set([])
        locked.save(update_fields=["previous_secrets"])
        _secret_audit(
            actor,
            locked,
            f"{counted(len(still), 'previous webhook secret')} revoked early",
            f"{', '.join(_secret_named(p) for p in still)}; only the current secret signs",
        )
    partner.previous_secrets = locked.previous_secrets
    return still


def partner_digest_set(
    *, partner: TrustedPartner, actor, cadence: str, digest_hour: int, digest_weekday: int, digest_time_zone: str
) -> TrustedPartner:
    """A partner's staff choose whether their organization's emails come at once or in a
    digest. Emails already held follow the new choice; webhooks are never held."""
    from accounts import rules
    from caisi_portal.errors import NotPermitted

    own = rules.partner_settings_of(actor)
    if own is None or own.pk != partner.pk:
        raise NotPermitted("Only the partner's own staff choose how its emails are gathered.")
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().get(pk=partner.pk)
        locked.email_cadence, locked.digest_hour, locked.digest_weekday = cadence, digest_hour, digest_weekday
        locked.digest_time_zone = digest_time_zone
        chosen = ["email_cadence", "digest_hour", "digest_weekday", "digest_time_zone"]
        # Only these fields: the rest (a webhook's host that resolves now) is the office's to check.
        locked.clean_fields(exclude=[f.name for f in TrustedPartner._meta.fields if f.name not in chosen])
        if locked.digest_time_zone and digests.zone_of(locked.digest_time_zone) is dt.UTC:
            from django.core.exceptions import ValidationError

            raise ValidationError({"digest_time_zone": "Choose a time zone from the list."})
        locked.save(update_fields=chosen)
        digests.held_reschedule(schedule=digests.partner_schedule(locked), now=clock.now(), partner=locked)
    return locked
