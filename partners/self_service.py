"""A trusted partner's own side of the outbox: test, pause and resume its webhooks, and the
alert sent once when one of its deliveries is dead-lettered.

The rules are accounts.rules' (`may_run_partner_webhooks`: the partner's own staff, and the
office's administrators); each service asks them again, whoever called it, and writes an
entry in the office's audit chain. Reads for the Integration page are here too (selectors).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from accounts.roles import Role
from caisi_portal import clock, timefmt
from caisi_portal.errors import ApplicationError, NotPermitted

from .models import Delivery, TrustedPartner

log = logging.getLogger(__name__)

MSG_NOT_YOURS = "Only the partner's own staff and the office's administrators can change how its webhooks are sent."
MSG_NO_WEBHOOK = "Your organization has no webhook URL with the office: ask the office to add one, then test it."
MSG_INACTIVE = "The office has turned notifications to your organization off: ask the office to turn them on again."
MSG_PAUSED_TEST = "Your webhooks are paused: resume them first (a test would wait behind the paused deliveries)."
MSG_TEST_WAITING = "A test is already on its way: wait for its result (on this page) before sending another."
MSG_ALREADY_PAUSED = "Your webhooks are already paused."
MSG_NOT_PAUSED = "Your webhooks are not paused: there is nothing to resume."

TEST_EVENT = "webhook.test"
# Deliveries one backlog task sends in order before it hands the rest to a fresh task.
BACKLOG_PER_TASK = 200


def _check(actor, partner) -> None:
    from accounts import rules

    if not rules.may_run_partner_webhooks(actor, partner):
        raise NotPermitted(MSG_NOT_YOURS)


def _audit(actor, comment: str, action: str = "configuration_changed") -> None:
    from submissions.services import audit_record

    audit_record(submission=None, actor=actor, action=action, comment=comment, internal=True)


def _by(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else "someone no longer with the portal"


# --- the test event --------------------------------------------------------------------------


def webhook_test_record(*, address: str, data: dict, now, **destination) -> Delivery:
    """A `webhook.test` delivery to one destination, written in the caller's transaction.

    `destination` names who it is for as Delivery's own fields (`partner=` a trusted partner;
    a developer's endpoint would pass its own field the same way). It is signed and sent like
    any other webhook (Standard Webhooks, the destination's secrets), tried once; its body is
    written now, so what is sent is exactly what was asked for.
    """
    body = json.dumps(
        {"type": TEST_EVENT, "timestamp": now.isoformat(), "data": data}, separators=(",", ":"), sort_keys=True
    )
    return Delivery.objects.create(
        kind=Delivery.Kind.TEST,
        channel=Delivery.Channel.WEBHOOK,
        address=address,
        subject="Test webhook",
        body=body,
        next_attempt_at=now,
        **destination,
    )


def partner_webhook_test(*, partner: TrustedPartner, actor) -> Delivery:
    """Send a signed `webhook.test` to the partner's endpoint (and nowhere else), once.

    Refused, with the reason, when there is no endpoint, notifications are off, the webhooks
    are paused, or a test is still on its way (two presses send one test). An exercise
    partner's test is recorded, never sent.
    """
    from . import services

    _check(actor, partner)
    now = clock.now()
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().select_related("organization").get(pk=partner.pk)
        if not locked.webhook_url:
            raise ApplicationError(MSG_NO_WEBHOOK)
        if not locked.is_active:
            raise ApplicationError(MSG_INACTIVE)
        if locked.is_paused:
            raise ApplicationError(MSG_PAUSED_TEST)
        if Delivery.objects.filter(partner=locked, kind=Delivery.Kind.TEST, status=Delivery.Status.PENDING).exists():
            raise ApplicationError(MSG_TEST_WAITING)
        delivery = webhook_test_record(
            address=locked.webhook_url,
            data={
                "organization": locked.organization.name,
                "message": "A test from the CAISI Review Portal. If your receiver verified this signature, "
                "it is ready for real notifications.",
            },
            now=now,
            partner=locked,
        )
        _audit(actor, f"Trusted partner {locked}: test webhook {delivery.webhook_id} sent", action="webhook_test_sent")
        transaction.on_commit(lambda: services._enqueue([delivery.pk]))
    return delivery


# --- pause and resume --------------------------------------------------------------------------


def partner_pause(*, partner: TrustedPartner, actor) -> TrustedPartner:
    """Hold the partner's webhooks: new ones are still recorded, none is attempted (so none is
    dead-lettered) until it resumes. Emails go on as before."""
    _check(actor, partner)
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().get(pk=partner.pk)
        if locked.is_paused:
            raise ApplicationError(MSG_ALREADY_PAUSED)
        locked.paused_at, locked.paused_by = clock.now(), actor
        locked.save(update_fields=["paused_at", "paused_by"])
        _audit(actor, f"Trusted partner {locked}: webhooks paused")
    return locked


def partner_resume(*, partner: TrustedPartner, actor) -> int:
    """Send the partner's webhooks again; the ones that waited go out oldest first. Returns
    how many were waiting."""
    _check(actor, partner)
    with transaction.atomic():
        locked = TrustedPartner.objects.select_for_update().get(pk=partner.pk)
        if not locked.is_paused:
            raise ApplicationError(MSG_NOT_PAUSED)
        since = locked.paused_at
        locked.paused_at, locked.paused_by = None, None
        locked.save(update_fields=["paused_at", "paused_by"])
        waiting = backlog(locked).count()
        _audit(
            actor,
            f"Trusted partner {locked}: webhooks resumed (paused since {timefmt.when(since, zone=dt.UTC)}; "
            f"{waiting} waiting, sent oldest first)",
        )
        if waiting:
            transaction.on_commit(lambda: _send_backlog_later(locked.pk))
    return waiting


def backlog(partner):
    """The partner's webhooks waiting to be tried, oldest event first."""
    return Delivery.objects.filter(
        partner=partner, channel=Delivery.Channel.WEBHOOK, status=Delivery.Status.PENDING
    ).order_by(F("event__occurred_at").asc(nulls_last=True), "next_attempt_at", "pk")


def _send_backlog_later(partner_id) -> None:
    from .tasks import send_partner_backlog

    try:
        send_partner_backlog.delay(partner_id)
    except Exception:
        log.warning("Broker unavailable; partner %s's waiting webhooks go out with the sweep.", partner_id)


def partner_backlog_send(partner_id, limit: int = BACKLOG_PER_TASK) -> int:
    """Send a resumed partner's waiting webhooks one at a time, oldest event first, so its
    receiver sees them in the order they happened. Stops when the partner pauses again or
    its endpoint fails one (that one, and the rest, then follow the usual retries: the sweep).
    Returns how many were tried."""
    from . import services

    tried = 0
    while tried < limit:
        due = services._not_paused(backlog(partner_id).filter(next_attempt_at__lte=clock.now()))
        following = due.values_list("pk", flat=True).first()
        if following is None:
            return tried
        status = services.delivery_attempt(following)
        tried += 1
        if status not in (Delivery.Status.DELIVERED, "not_due"):
            return tried
    _send_backlog_later(partner_id)  # a long backlog: a fresh task carries on, still in order
    return tried


# --- the dead-letter alert ----------------------------------------------------------------------


def _alerted(delivery: Delivery) -> bool:
    """A live partner's notification: alerts and tests never alert (no loop; a test's result is
    shown where it was asked for), and an exercise's partner is never sent anything."""
    partner = delivery.partner
    return delivery.kind == Delivery.Kind.NOTIFICATION and partner is not None and not partner.is_exercise


def dead_letter_alert(delivery_id) -> int:
    """Tell the partner's contacts (its staff and its addresses) and the office's
    administrators, once, that this delivery was dead-lettered. Returns the emails written.

    Once: the row's `alerted_at` is set by a compare-and-set in the same transaction as the
    alert's own outbox rows (a unique constraint stands behind it), so two workers, a replayed
    task or a retry after a crash write one alert between them.
    """
    from . import services

    now = clock.now()
    with transaction.atomic():
        dead = Delivery.objects.select_related("event__submission", "partner__organization").get(pk=delivery_id)
        if dead.status != Delivery.Status.DEAD or not _alerted(dead):
            return 0
        won = Delivery.objects.filter(pk=dead.pk, status=Delivery.Status.DEAD, alerted_at__isnull=True).update(
            alerted_at=now
        )
        if not won:
            return 0
        alerts = _alert_deliveries(dead, now)
        Delivery.objects.bulk_create(alerts)
        ids = [a.pk for a in alerts]
        transaction.on_commit(lambda: services._enqueue(ids))
    return len(alerts)


def _alert_deliveries(dead: Delivery, now) -> list[Delivery]:
    from django.conf import settings

    partner = dead.partner
    users = get_user_model().objects.filter(is_active=True, exercise__isnull=True).exclude(email="")
    staff = list(users.filter(organization_id=partner.organization_id, groups__name=Role.TRUSTED_PARTNER))
    administrators = list(users.filter(groups__name=Role.ADMINISTRATOR))
    base = settings.PORTAL_BASE_URL.rstrip("/")
    what = dead.label
    if dead.event_id is not None and dead.event.payload.get("model_name"):
        data = dead.event.payload
        what += f": {data['model_name']} {data.get('model_version', '')}".rstrip()
    subject = f"Undeliverable: a notification to {partner} was dead-lettered"
    facts = [
        subject,
        "",
        f"What: {what}",
        f"To: {dead.get_channel_display()}, {dead.address}",
        f"Attempts: {dead.attempts}",
        f"Last error: {dead.last_error or 'none recorded'}",
        f"Notification id: {dead.webhook_id}",
        "",
    ]
    to_partner = "\n".join(
        [
            *facts,
            "What to do: check that your endpoint answers, then send it again with Redeliver on your "
            f"Integration page ({base}{reverse('partners:integration')}?status=dead): it goes out with the "
            "same id, so a receiver that already has it can drop the copy.",
            "",
            "CAISI Review Portal (simulation)",
        ]
    )
    to_office = "\n".join(
        [
            *facts,
            f"The partner's staff have been told. Redeliver from {base}{reverse('partners:deliveries')}?status=dead "
            "once the partner's endpoint answers.",
            "",
            "CAISI Review Portal (simulation)",
        ]
    )
    out, seen = [], set()

    def add(address, *, recipient=None, for_partner: bool):
        if address.lower() in seen:
            return
        seen.add(address.lower())
        out.append(
            Delivery(
                kind=Delivery.Kind.ALERT,
                alert_for=dead,
                channel=Delivery.Channel.EMAIL,
                # The partner's own alerts are listed on its page; the office's are not its business.
                partner=partner if for_partner else None,
                recipient=recipient,
                address=address,
                subject=subject,
                body=to_partner if for_partner else to_office,
                next_attempt_at=now,
            )
        )

    for user in staff:
        add(user.email, recipient=user, for_partner=True)
    for address in partner.email_list():
        add(address, for_partner=True)
    for user in administrators:
        add(user.email, recipient=user, for_partner=False)
    return out
