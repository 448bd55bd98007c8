"""A fan-out batch: parallel sends, bulk records, and one slow endpoint holds up no other."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from partners import services
from partners.models import Delivery, DeliveryAttempt, PartnerEventType, TrustedPartner
from submissions.models import State
from tests.factories import Cast, OrganizationFactory, move, record_all_results
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def partners_at(httpserver, n, *, slow=False):
    made = []
    for i in range(n):
        path = "/slow" if slow and i == n - 1 else f"/p{i}"
        org = OrganizationFactory(name=f"Fan {i}", slug=f"fan-{i}", kind="trusted_partner")
        made.append(
            TrustedPartner.objects.create(
                organization=org, webhook_url=httpserver.url_for(path), event_types=[PartnerEventType.CLEARED]
            )
        )
    return made


class ThreadedEndpoint:
    """Partners' endpoints, each request in its own thread (as real receivers answer)."""

    def __init__(self, answer):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer(self.path, self.headers)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url_for(self, path):
        return f"http://127.0.0.1:{self.server.server_port}{path}"


def test_one_slow_endpoint_holds_up_no_other_delivery(monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda ids: 0)  # the batch is run below, by hand
    release = threading.Event()
    seen = []

    def answer(path, headers):
        seen.append(headers["webhook-id"])
        if path == "/slow":
            release.wait(30)  # answers only once the test has seen the others recorded

    endpoint = ThreadedEndpoint(answer)
    partners = partners_at(endpoint, 6, slow=True)
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    ids = list(Delivery.objects.filter(channel="webhook").values_list("pk", flat=True))
    assert len(ids) == 6

    result = {}

    def run():
        try:
            result.update(services.deliveries_attempt(ids))
        finally:
            connections.close_all()

    batch = threading.Thread(target=run)
    batch.start()
    slow = Delivery.objects.get(partner=partners[-1])
    fast = Delivery.objects.filter(channel="webhook").exclude(pk=slow.pk)
    try:
        # The five fast deliveries are recorded while the slow endpoint is still answering.
        assert wait_for(lambda: fast.filter(status="delivered").count() == 5)
        assert Delivery.objects.get(pk=slow.pk).status == "pending"
    finally:
        release.set()
        batch.join(30)
        endpoint.server.shutdown()
    assert Delivery.objects.get(pk=slow.pk).status == "delivered" and len(result) == 6
    # One attempt each, one id each, recorded in bulk.
    assert DeliveryAttempt.objects.filter(delivery__in=ids, succeeded=True).count() == 6
    assert sorted(seen) == sorted(d.webhook_id for d in Delivery.objects.filter(pk__in=ids))


def test_a_batch_claims_only_what_is_due_and_signs_each_for_its_partner(httpserver, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda ids: 0)
    bodies = []
    httpserver.expect_request("/p0").respond_with_handler(lambda r: bodies.append(r) or Response(status=204))
    httpserver.expect_request("/p1").respond_with_handler(lambda r: bodies.append(r) or Response(status=204))
    partners = partners_at(httpserver, 2)
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    ids = list(Delivery.objects.filter(channel="webhook").values_list("pk", flat=True))
    assert set(services.deliveries_attempt(ids).values()) == {"delivered"}
    assert services.deliveries_attempt(ids) == {}  # nothing is due twice: a repeated task sends nothing
    by_path = {r.path: r for r in bodies}
    for i, partner in enumerate(partners):
        request = by_path[f"/p{i}"]
        Webhook(partner.webhook_secret).verify(request.get_data(as_text=True), dict(request.headers))
