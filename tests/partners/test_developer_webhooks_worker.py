"""A lab's own endpoint on a real Celery worker and Redis: signed events and test events,
verified by a receiver with the endpoint's secret; a failure retried with the same id."""

import datetime as dt

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from partners import integrations
from partners import services as partner_services
from partners.models import TEST_EVENT, Delivery, new_webhook_secret
from submissions.models import State
from tests.factories import Cast, move
from tests.partners.test_developer_webhooks import integrator
from tests.partners.test_worker_delivery import wait_for, worker  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_labs_endpoint_gets_signed_events_and_a_test_event(httpserver, worker):  # noqa: F811
    httpserver.expect_request("/lab-hook", method="POST").respond_with_data("ok")
    cast = Cast()
    manager = integrator(cast)
    endpoint = integrations.endpoint_create(
        actor=manager, url=httpserver.url_for("/lab-hook"), event_types=["submission.accepted"]
    )
    s = cast.submission(State.INTAKE)
    move(s, "accept", cast.admin)  # sent after commit, by the worker

    assert wait_for(lambda: len(httpserver.log) >= 1)
    request, _ = httpserver.log[0]
    message = Webhook(endpoint.secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert message["type"] == "submission.accepted" and message["data"]["submission_id"] == s.pk
    delivery = Delivery.objects.get(endpoint=endpoint, event__isnull=False)
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "delivered")

    test = integrations.endpoint_test_send(endpoint=endpoint, actor=manager)
    assert wait_for(lambda: len(httpserver.log) >= 2)
    request, _ = httpserver.log[1]
    message = Webhook(endpoint.secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert message["type"] == TEST_EVENT and request.headers["webhook-id"] == test.webhook_id
    assert wait_for(lambda: Delivery.objects.get(pk=test.pk).status == "delivered")
    # Another secret does not verify it: the signature is the endpoint's own.
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(request.get_data(as_text=True), dict(request.headers))


def test_a_failing_endpoint_is_retried_with_the_same_id(httpserver, worker, monkeypatch):  # noqa: F811
    monkeypatch.setattr(partner_services, "BACKOFF", [dt.timedelta(milliseconds=200)] * 7)
    for status in (503, 200):
        httpserver.expect_ordered_request("/flaky", method="POST").respond_with_response(Response("x", status=status))
    cast = Cast()
    manager = integrator(cast)
    endpoint = integrations.endpoint_create(
        actor=manager, url=httpserver.url_for("/flaky"), event_types=["submission.accepted"]
    )
    move(cast.submission(State.INTAKE), "accept", cast.admin)

    assert wait_for(lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered").exists())
    ids = [req.headers["webhook-id"] for req, _ in httpserver.log]
    assert len(ids) == 2 and len(set(ids)) == 1
    for req, _ in httpserver.log:
        Webhook(endpoint.secret).verify(req.get_data(as_text=True), dict(req.headers))
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert list(delivery.attempt_log.values_list("status_code", "succeeded")) == [(503, False), (200, True)]
