"""A real Celery worker on the real Redis: expiry, signed webhooks, retries with one id."""

import datetime as dt

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from caisi_portal.celery import app as celery_app
from partners import services as partner_services
from partners.models import Delivery, PartnerEventType, TrustedPartner
from submissions import review_clock
from submissions.models import ReviewClock, State
from submissions.tasks import sweep_review_clocks
from tests.factories import Cast, OrganizationFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def worker():
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    connections.close_all()


def make_partner(httpserver, path="/hooks/caisi", **kw):
    org = OrganizationFactory(name=f"Partner {path}", slug=f"partner{path.replace('/', '-')}", kind="trusted_partner")
    return TrustedPartner.objects.create(
        organization=org, webhook_url=httpserver.url_for(path), event_types=list(PartnerEventType.values), **kw
    )


def deadline_now(submission):
    """A short window: the clock's deadline is now (the agreement minimum is a day)."""
    ReviewClock.objects.filter(submission=submission).update(deadline_at=timezone.now())


def test_worker_expires_the_clock_and_partner_gets_a_signed_webhook(httpserver, worker):
    httpserver.expect_request("/hooks/caisi", method="POST").respond_with_data("ok")
    partner = make_partner(httpserver)
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    deadline_now(s)

    sweep_review_clocks.delay()

    assert wait_for(lambda: len(httpserver.log) >= 1)
    s.refresh_from_db()
    assert s.state == State.WINDOW_ELAPSED
    request, _ = httpserver.log[0]
    body = request.get_data(as_text=True)
    payload = Webhook(partner.webhook_secret).verify(body, dict(request.headers))
    assert payload["type"] == "submission.window_elapsed"
    assert payload["data"]["model_name"] == s.model_name and payload["data"]["outcome"] == "window_elapsed"
    assert request.headers["webhook-id"] == Delivery.objects.get(partner=partner).webhook_id
    assert wait_for(lambda: Delivery.objects.get(partner=partner).status == "delivered")


def test_exact_time_task_expires_without_waiting_for_the_sweep(worker):
    cast = Cast()
    s = cast.submission(State.INTAKE)
    soon = timezone.now() + dt.timedelta(seconds=1)
    ReviewClock.objects.filter(submission=s).update(deadline_at=soon)
    from django.db import transaction

    with transaction.atomic():
        assert review_clock.queue_expiry_task(ReviewClock.objects.get(submission=s).pk, soon, timezone.now())
    assert wait_for(lambda: s.__class__.objects.get(pk=s.pk).state == State.WINDOW_ELAPSED)
    # Queued once: a second attempt to queue for the same deadline is refused.
    assert not review_clock.queue_expiry_task(ReviewClock.objects.get(submission=s).pk, soon, timezone.now())


def test_receiver_failing_twice_sees_the_same_id_three_times_and_no_more(httpserver, worker, monkeypatch):
    monkeypatch.setattr(partner_services, "BACKOFF", [dt.timedelta(milliseconds=200)] * 7)
    for status in (500, 503, 200):
        httpserver.expect_ordered_request("/hooks/flaky", method="POST").respond_with_response(
            Response("x", status=status)
        )
    partner = make_partner(httpserver, "/hooks/flaky")
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    deadline_now(s)
    sweep_review_clocks.delay()

    assert wait_for(lambda: Delivery.objects.filter(partner=partner, status="delivered").exists())
    # Further sweeps find nothing to send again, and a stray task finds nothing due.
    assert review_clock.sweep().notifications_requeued == 0
    delivery = Delivery.objects.get(partner=partner)
    assert partner_services.delivery_attempt(delivery.pk) == "not_due"
    ids = [req.headers["webhook-id"] for req, _ in httpserver.log]
    assert len(ids) == 3 and len(set(ids)) == 1
    attempts = list(delivery.attempt_log.values_list("status_code", "succeeded"))
    assert attempts == [(500, False), (503, False), (200, True)]
