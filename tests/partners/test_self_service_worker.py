"""A partner's self-service against the real parts: a Celery worker on the real Redis, a
receiver that checks signatures, PostgreSQL row locks between threads."""

import datetime as dt
import threading
import time

import pytest
from django.core import mail
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from partners import self_service
from partners import services as partner_services
from partners.models import Delivery, DeliveryAttempt, PartnerEventType, TrustedPartner
from submissions.models import State
from tests.factories import Cast, move, record_all_results
from tests.partners.test_worker_delivery import worker  # noqa: F401 - the real worker fixture
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class SigningReceiver:
    """The partner's endpoint: fails the first `failures` requests, then accepts a body only
    if its signature verifies with every secret it is told to check (each on its own)."""

    def __init__(self, secrets, failures=0):
        self.secrets, self.failures, self.seen = list(secrets), failures, []

    def __call__(self, request):
        body = request.get_data(as_text=True)
        self.seen.append(request.headers["webhook-id"])
        if self.failures:
            self.failures -= 1
            return Response("down", status=503)
        try:
            for secret in self.secrets:
                Webhook(secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response("bad signature", status=400)
        return Response(status=204)


def partner_for(cast, url):
    return TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url=url,
        emails="ops@partner.example",
        event_types=list(PartnerEventType.values),
    )


def clear(cast):
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    return s


def test_dead_letter_alerts_once_then_the_partner_rotates_and_redelivers_verified_by_both_secrets(
    httpserver,
    worker,  # noqa: F811
    monkeypatch,
):
    """Two failures dead-letter the webhook (MAX_ATTEMPTS lowered for the test): its alert
    reaches the partner's staff, its address and the office once. The partner rotates its
    secret and redelivers from its page: the same webhook-id arrives, signed so that the old
    and the new secret each verify it during the overlap."""
    monkeypatch.setattr(partner_services, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(partner_services, "BACKOFF", [dt.timedelta(milliseconds=200)] * 7)
    cast = Cast()
    partner = partner_for(cast, httpserver.url_for("/hooks/partner"))
    old_secret = partner.webhook_secret
    receiver = SigningReceiver([old_secret], failures=2)
    httpserver.expect_request("/hooks/partner", method="POST").respond_with_handler(receiver)

    clear(cast)
    delivery = Delivery.objects.get(partner=partner, channel="webhook")
    assert wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "dead")
    alerts = Delivery.objects.filter(kind="alert", alert_for=delivery)
    # A fresh query each time (a queryset once iterated keeps its rows).
    assert wait_for(lambda: sorted(alerts.all().values_list("status", flat=True)) == ["delivered"] * 3)
    alerted = sorted(m.to[0] for m in mail.outbox if m.subject.startswith("Undeliverable"))
    assert alerted == sorted([cast.partner.email, "ops@partner.example", cast.admin.email])

    page = Client()
    page.force_login(cast.partner)
    assert "Dead-lettered" in page.get(reverse("partners:integration") + "?status=dead").content.decode()
    rotated = page.post(reverse("partners:integration_rotate"))
    partner.refresh_from_db()
    assert partner.webhook_secret in rotated.content.decode()
    receiver.secrets = [old_secret, partner.webhook_secret]  # each must verify the body on its own

    page.post(reverse("partners:integration_redeliver", args=[delivery.pk]))
    assert wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "delivered")
    assert receiver.seen == [delivery.webhook_id] * 3
    assert list(
        DeliveryAttempt.objects.filter(delivery=delivery, succeeded=True).values_list("status_code", flat=True)
    ) == [204]
    # Delivered again: nobody is alerted a second time.
    assert alerts.count() == 3


def test_resumed_webhooks_reach_the_receiver_in_order_through_the_worker(httpserver, worker):  # noqa: F811
    cast = Cast()
    partner = partner_for(cast, httpserver.url_for("/hooks/ordered"))
    receiver = SigningReceiver([partner.webhook_secret])
    httpserver.expect_request("/hooks/ordered", method="POST").respond_with_handler(receiver)
    self_service.partner_pause(partner=partner, actor=cast.partner)
    first, second = clear(cast), clear(cast)
    # Each webhook was queued in one batch with the partner's email about the same event: once
    # both emails are delivered, the worker has been through the webhooks too, and left them.
    emails = Delivery.objects.filter(partner=partner, channel="email")
    assert wait_for(lambda: emails.filter(status="delivered").count() == 2)
    assert receiver.seen == []
    assert not Delivery.objects.filter(partner=partner, channel="webhook").exclude(attempts=0).exists()
    assert self_service.partner_resume(partner=partner, actor=cast.partner) == 2
    assert wait_for(lambda: len(receiver.seen) == 2)
    expected = [
        Delivery.objects.get(partner=partner, channel="webhook", event__submission=s).webhook_id
        for s in (first, second)
    ]
    assert receiver.seen == expected


def dead_one(cast):
    partner = partner_for(cast, "https://partner.example/hook")
    clear(cast)
    delivery = Delivery.objects.get(partner=partner, channel="webhook")
    Delivery.objects.filter(pk=delivery.pk).update(attempts=partner_services.MAX_ATTEMPTS)
    delivery.refresh_from_db()
    return delivery


def run_together(*calls):
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            results[i] = call()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


def test_two_workers_dead_lettering_the_same_delivery_at_once_alert_once(monkeypatch):
    """Two attempts that both believe they hold the last try (a lease lost mid-send) record
    their failures at the same moment: one dead-letters it, one alert goes out."""
    monkeypatch.setattr(partner_services, "_enqueue", lambda ids: len(list(ids)))
    delivery = dead_one(Cast())
    attempt = DeliveryAttempt(delivery=delivery, number=delivery.attempts, started_at=timezone.now(), error="HTTP 503")
    start = threading.Barrier(2)

    def record():
        start.wait()
        partner_services._dead_letter(delivery, attempt)

    run_together(record, record)
    assert Delivery.objects.get(pk=delivery.pk).status == "dead"
    assert Delivery.objects.filter(kind="alert", alert_for=delivery).count() == 3


def test_two_alerts_racing_for_one_dead_letter_write_one(monkeypatch):
    """The second caller waits on the row the first is alerting from, then finds it alerted:
    the compare-and-set, not a read of the flag, decides."""
    monkeypatch.setattr(partner_services, "_enqueue", lambda ids: len(list(ids)))
    delivery = dead_one(Cast())
    Delivery.objects.filter(pk=delivery.pk).update(status="dead")
    inside = threading.Event()
    real = self_service._alert_deliveries

    def slow(dead, now):
        inside.set()
        time.sleep(0.5)  # hold the row while the other caller arrives
        return real(dead, now)

    monkeypatch.setattr(self_service, "_alert_deliveries", slow)

    def second():
        inside.wait(10)
        return self_service.dead_letter_alert(delivery.pk)

    results = run_together(lambda: self_service.dead_letter_alert(delivery.pk), second)
    assert sorted(results) == [0, 3]
    assert Delivery.objects.filter(kind="alert", alert_for=delivery).count() == 3
