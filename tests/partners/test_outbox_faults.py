"""Faults: lost dispatch tasks and a worker that dies mid-send. The sweep delivers all."""

import datetime as dt

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from partners import services as partner_services
from partners.models import Delivery, Event, PartnerEventType, TrustedPartner
from partners.transports import WebhookTransport
from submissions.models import State
from submissions.tasks import sweep_review_clocks
from tests.factories import Cast, OrganizationFactory, move, record_all_results
from tests.partners.test_worker_delivery import wait_for, worker  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PARTNERS = 20


@pytest.fixture
def partners(httpserver):
    httpserver.expect_request("/p", method="POST").respond_with_data("ok")
    out = []
    for n in range(PARTNERS):
        org = OrganizationFactory(name=f"Partner {n}", slug=f"partner-{n}", kind="trusted_partner")
        out.append(
            TrustedPartner.objects.create(
                organization=org,
                webhook_url=httpserver.url_for("/p") + f"?partner={n}",
                event_types=[PartnerEventType.CLEARED],
            )
        )
    return out


def test_dropped_tasks_and_a_dead_worker_still_deliver_every_notification_once_per_id(
    httpserver,
    partners,
    monkeypatch,
    worker,  # noqa: F811
):
    # The after-commit dispatch is lost entirely (as if Redis dropped every message).
    monkeypatch.setattr(partner_services, "_enqueue", lambda ids: 0)
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    event = Event.objects.get(submission=s, type=PartnerEventType.CLEARED)
    deliveries = list(event.deliveries.filter(channel="webhook"))
    assert len(deliveries) == PARTNERS and not httpserver.log

    # One worker claimed a delivery, sent it, and died before recording the answer.
    doomed = deliveries[0]
    Delivery.objects.filter(pk=doomed.pk).update(attempts=1, next_attempt_at=doomed.next_attempt_at)
    WebhookTransport().send(Delivery.objects.select_related("event", "partner").get(pk=doomed.pk))
    assert len(httpserver.log) == 1

    # Its lease and the requeue grace run out; the sweep puts everything back on the queue.
    monkeypatch.undo()
    monkeypatch.setattr(partner_services, "REQUEUE_GRACE", dt.timedelta(0))
    sweep_review_clocks.delay()

    assert wait_for(lambda: not Delivery.objects.filter(event=event).exclude(status="delivered").exists())
    seen = {}
    for request, _ in httpserver.log:
        body = request.get_data(as_text=True)
        partner_no = int(request.args["partner"])
        Webhook(partners[partner_no].webhook_secret).verify(body, dict(request.headers))
        seen.setdefault(partner_no, []).append(request.headers["webhook-id"])
    assert sorted(seen) == list(range(PARTNERS))  # every partner has the event
    for partner_no, ids in seen.items():
        assert len(set(ids)) == 1, f"partner {partner_no} saw two ids for one event"
    assert sum(len(ids) for ids in seen.values()) == PARTNERS + 1  # the one retry after the crash


def test_rolled_back_transition_sends_nothing(partners, monkeypatch):
    sent = []
    monkeypatch.setattr(partner_services, "_enqueue", lambda ids: sent.extend(ids))
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    events, deliveries, queued = Event.objects.count(), Delivery.objects.count(), len(sent)  # the assignments'
    with pytest.raises(RuntimeError), transaction.atomic():
        move(s, "clear", cast.lead)
        raise RuntimeError("something later in the request failed")
    assert (Event.objects.count(), Delivery.objects.count(), len(sent)) == (events, deliveries, queued)
    assert not Event.objects.filter(type="submission.cleared").exists()
    s.refresh_from_db()
    assert s.state == State.EVALUATION


def test_broker_down_at_commit_leaves_rows_for_the_sweep(partners, monkeypatch):
    """With Redis unreachable the transition still succeeds; the outbox keeps the rows."""
    from kombu.exceptions import OperationalError

    from partners.tasks import deliver_notifications

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(deliver_notifications, "delay", broker_down)
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    s.refresh_from_db()
    assert s.state == State.CLEARED
    assert Delivery.objects.filter(status="pending", channel="webhook").count() == PARTNERS
