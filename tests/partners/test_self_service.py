"""A partner's own Integration: its deliveries, redelivery, a test, pause and resume, a new
secret, and the dead-letter alert sent once."""

import datetime as dt
import json

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from accounts.roles import Role
from caisi_portal.errors import ApplicationError, NotPermitted
from partners import self_service, services
from partners.models import Delivery, DeliveryAttempt, PartnerEventType, TrustedPartner
from submissions.models import AuditEntry, State
from tests.factories import OrganizationFactory, UserFactory, move, record_all_results
from tests.factories import token_client as api

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(no_broker, monkeypatch):
    monkeypatch.setattr(self_service, "_send_backlog_later", lambda pk: no_broker.append(("backlog", pk)))
    return no_broker


@pytest.fixture
def ours(cast, httpserver):
    """The cast's partner, with a webhook to a local receiver and one address."""
    return TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url=httpserver.url_for("/hook"),
        emails="duty@partner.example",
        event_types=list(PartnerEventType.values),
    )


@pytest.fixture
def theirs(db):
    org = OrganizationFactory(name="Other Partner", slug="other-partner", kind="trusted_partner")
    return TrustedPartner.objects.create(
        organization=org, webhook_url="https://other.example/hook", event_types=list(PartnerEventType.values)
    )


def cleared(cast, model_name="Model A"):
    s = cast.submission(State.EVALUATION, model_name=model_name)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    return s


def webhook_of(partner):
    return Delivery.objects.get(partner=partner, channel="webhook", kind="notification")


# --- the page ------------------------------------------------------------------------------------


def test_partner_staff_see_their_own_deliveries_only_with_the_attempt_log(cast, client, ours, theirs):
    """Status, attempts, next try, last error and each attempt; never another partner's."""
    cleared(cast)
    mine, other = webhook_of(ours), webhook_of(theirs)
    Delivery.objects.filter(pk=mine.pk).update(status="dead", attempts=8, last_error="The endpoint answered HTTP 503.")
    DeliveryAttempt.objects.create(
        delivery=mine, number=8, started_at=timezone.now(), status_code=503, error="The endpoint answered HTTP 503."
    )
    client.force_login(cast.partner)
    page = client.get(reverse("partners:integration")).content.decode()
    assert mine.webhook_id in page and other.webhook_id not in page
    assert "HTTP 503" in page and "Attempt log" in page and "Redeliver" in page
    assert "duty@partner.example" in page  # the email to its own address is listed too
    filtered = client.get(reverse("partners:integration") + "?status=delivered").content.decode()
    assert mine.webhook_id not in filtered
    # The menu leads there.
    assert reverse("partners:integration") in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("who", ["developer", "lead", "reviewer", "admin"])
def test_the_integration_page_is_for_partner_staff_only(cast, client, ours, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse("partners:integration")).status_code == 404
    assert client.post(reverse("partners:integration_pause")).status_code == 404


def test_the_page_keeps_a_constant_number_of_queries(cast, client, ours, django_assert_max_num_queries):
    """Many deliveries with attempt logs: the same few queries (session, user, partner, count,
    rows, attempts, last test), however many rows."""
    event = cleared(cast).events.first()
    rows = [
        Delivery(
            event=event,
            channel="email",
            partner=ours,
            address=f"a{i}@partner.example",
            next_attempt_at=event.occurred_at,
        )
        for i in range(60)
    ]
    Delivery.objects.bulk_create(rows)
    DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(delivery=d, number=1, started_at=timezone.now(), error="x") for d in rows]
    )
    client.force_login(cast.partner)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("partners:integration"))
    # A page of 25 rows: the 60 with an attempt log, and the cleared event's own deliveries (not
    # attempted yet, no log) wherever their equal times sort them.
    assert response.status_code == 200 and response.content.decode().count("Attempt log") >= 20
    assert client.get(reverse("partners:integration") + "?page=3").status_code == 200


# --- redelivery ----------------------------------------------------------------------------------


def test_partner_redelivers_a_dead_letter_with_the_same_id(
    cast, client, ours, no_broker, django_capture_on_commit_callbacks
):
    cleared(cast)
    mine = webhook_of(ours)
    Delivery.objects.filter(pk=mine.pk).update(status="dead", attempts=8)
    client.force_login(cast.partner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("partners:integration_redeliver", args=[mine.pk]), follow=True)
    assert f"Queued again with the same id {mine.webhook_id}" in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == "pending" and mine.attempts == 0 and mine.pk in no_broker
    entry = AuditEntry.objects.filter(action="notification_redelivered").latest("pk")
    assert entry.actor == cast.partner and mine.webhook_id in entry.comment


def test_redelivery_refuses_held_digested_and_pending_ones_with_the_reason(cast, ours):
    cleared(cast)
    mine = webhook_of(ours)
    for status, words in [
        ("held", "digest, which will carry it"),
        ("digested", "inside a digest"),
        ("pending", "still"),
    ]:
        Delivery.objects.filter(pk=mine.pk).update(status=status)
        with pytest.raises(ApplicationError) as refused:
            services.delivery_redeliver(delivery=mine, actor=cast.partner)
        assert words in refused.value.message
    assert Delivery.objects.get(pk=mine.pk).status == "pending"


def test_another_partners_delivery_is_not_found_and_the_service_refuses_it(cast, client, ours, theirs):
    cleared(cast)
    other = webhook_of(theirs)
    Delivery.objects.filter(pk=other.pk).update(status="dead")
    client.force_login(cast.partner)
    assert client.post(reverse("partners:integration_redeliver", args=[other.pk])).status_code == 404
    with pytest.raises(NotPermitted):
        services.delivery_redeliver(delivery=other, actor=cast.partner)


def test_a_redelivery_while_paused_waits_and_says_so(cast, client, ours):
    cleared(cast)
    mine = webhook_of(ours)
    Delivery.objects.filter(pk=mine.pk).update(status="delivered")
    self_service.partner_pause(partner=ours, actor=cast.partner)
    client.force_login(cast.partner)
    page = client.post(reverse("partners:integration_redeliver", args=[mine.pk]), follow=True).content.decode()
    assert "paused: it goes out when you resume" in page
    assert services.delivery_attempt(mine.pk) == "not_due"


# --- the test event ------------------------------------------------------------------------------


def test_a_test_event_is_signed_and_sent_to_the_partners_endpoint_only(cast, client, ours, theirs, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    client.force_login(cast.partner)
    client.post(reverse("partners:integration_test"))
    test = Delivery.objects.get(kind="test")
    assert test.partner == ours and test.address == ours.webhook_url
    assert services.delivery_attempt(test.pk) == "delivered"
    request, _ = httpserver.log[0]
    body = Webhook(ours.webhook_secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert body["type"] == "webhook.test" and body["data"]["organization"] == ours.organization.name
    assert request.headers["webhook-id"] == test.webhook_id
    assert not Delivery.objects.filter(kind="test", partner=theirs).exists()
    page = client.get(reverse("partners:integration")).content.decode()
    assert "Last test" in page and "HTTP 200" in page
    assert AuditEntry.objects.filter(action="webhook_test_sent", actor=cast.partner).exists()


def test_a_failed_test_is_tried_once_and_alerts_nobody(cast, ours, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("no", status=500))
    test = self_service.partner_webhook_test(partner=ours, actor=cast.partner)
    assert services.delivery_attempt(test.pk) == "dead"
    test.refresh_from_db()
    assert test.attempts == 1 and test.last_error == "The endpoint answered HTTP 500."
    assert not Delivery.objects.filter(kind="alert").exists()
    with pytest.raises(ApplicationError, match="send a new test"):
        services.delivery_redeliver(delivery=test, actor=cast.partner)


def test_a_test_is_refused_with_the_reason(cast, ours):
    self_service.partner_webhook_test(partner=ours, actor=cast.partner)
    with pytest.raises(ApplicationError, match="already on its way"):
        self_service.partner_webhook_test(partner=ours, actor=cast.partner)
    Delivery.objects.filter(kind="test").update(status="delivered")
    self_service.partner_pause(partner=ours, actor=cast.partner)
    with pytest.raises(ApplicationError, match="paused"):
        self_service.partner_webhook_test(partner=ours, actor=cast.partner)
    TrustedPartner.objects.filter(pk=ours.pk).update(webhook_url="", paused_at=None)
    with pytest.raises(ApplicationError, match="no webhook URL"):
        self_service.partner_webhook_test(partner=ours, actor=cast.partner)
    with pytest.raises(NotPermitted):
        self_service.partner_webhook_test(partner=ours, actor=cast.developer)


def test_an_exercise_partners_test_is_recorded_never_sent(cast, httpserver):
    org = OrganizationFactory(name="Sim Partner", slug="sim-partner", kind="trusted_partner")
    sim = TrustedPartner.objects.create(organization=org, webhook_url=httpserver.url_for("/sim"), is_exercise=True)
    delivery = self_service.webhook_test_record(address=sim.webhook_url, data={}, now=timezone.now(), partner=sim)
    assert services.delivery_attempt(delivery.pk) == "delivered"
    assert httpserver.log == []
    assert delivery.attempt_log.get().error == "Exercise: recorded, not sent."


# --- pause and resume ----------------------------------------------------------------------------


def test_while_paused_webhooks_are_recorded_not_attempted_nor_dead_lettered(cast, client, ours, httpserver):
    self_service.partner_pause(partner=ours, actor=cast.partner)
    cleared(cast)
    mine = webhook_of(ours)
    assert mine.status == "pending"
    # A day and more passes: nothing is tried, nothing is dead-lettered, the sweep leaves it.
    with time_machine.travel(timezone.now() + dt.timedelta(days=3), tick=False):
        assert services.delivery_attempt(mine.pk) == "not_due"
        assert mine.pk not in services.deliveries_due(timezone.now())
    mine.refresh_from_db()
    assert mine.status == "pending" and mine.attempts == 0 and httpserver.log == []
    # Emails are not paused.
    email = Delivery.objects.get(partner=ours, channel="email")
    assert email.pk in services.deliveries_due(timezone.now())
    client.force_login(cast.partner)
    page = client.get(reverse("partners:integration")).content.decode()
    assert "Paused" in page and "since" in page and cast.partner.get_full_name() in page
    assert "1 webhook is waiting" in page and "oldest first" in page and "Resume webhooks" in page
    assert "Waiting: webhooks paused" in page


def test_on_resume_the_waiting_webhooks_go_out_in_order(
    cast, ours, httpserver, no_broker, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    self_service.partner_pause(partner=ours, actor=cast.partner)
    start = timezone.now() - dt.timedelta(minutes=10)
    for i, name in enumerate(("First", "Second", "Third")):
        with time_machine.travel(start + dt.timedelta(minutes=i), tick=True):
            cleared(cast, model_name=name)
    with django_capture_on_commit_callbacks(execute=True):
        assert self_service.partner_resume(partner=ours, actor=cast.partner) == 3
    assert ("backlog", ours.pk) in no_broker
    assert self_service.partner_backlog_send(ours.pk) == 3
    sent = [json.loads(r.get_data(as_text=True))["data"]["model_name"] for r, _ in httpserver.log]
    assert sent == ["First", "Second", "Third"]
    entries = AuditEntry.objects.filter(action="configuration_changed").order_by("pk")
    assert "webhooks paused" in entries[0].comment and "3 waiting, sent oldest first" in entries[1].comment


def test_pause_and_resume_refuse_what_is_already_so(cast, ours, theirs):
    with pytest.raises(ApplicationError, match="not paused"):
        self_service.partner_resume(partner=ours, actor=cast.partner)
    self_service.partner_pause(partner=ours, actor=cast.partner)
    with pytest.raises(ApplicationError, match="already paused"):
        self_service.partner_pause(partner=ours, actor=cast.partner)
    with pytest.raises(NotPermitted):
        self_service.partner_pause(partner=theirs, actor=cast.partner)
    # The office's administrators keep their powers over a live partner.
    assert self_service.partner_resume(partner=ours, actor=cast.admin) == 0


# --- the secret ----------------------------------------------------------------------------------


def test_rotation_is_confirmed_first_then_shown_once_with_the_overlap(cast, client, ours):
    old = ours.webhook_secret
    client.force_login(cast.partner)
    confirm = client.get(reverse("partners:integration_rotate")).content.decode()
    assert "shown to you <strong>once</strong>" in confirm and "keeps signing" in confirm
    assert TrustedPartner.objects.get(pk=ours.pk).webhook_secret == old  # nothing yet
    response = client.post(reverse("partners:integration_rotate"))
    ours.refresh_from_db()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert ours.webhook_secret in response.content.decode() and ours.webhook_secret != old
    assert ours.previous_webhook_secret == old
    assert ours.signing_secrets(timezone.now()) == [ours.webhook_secret, old]
    page = client.get(reverse("partners:integration")).content.decode()
    assert ours.webhook_secret not in page and old not in page and "still signs" in page
    entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
    assert "rotated by its own staff" in entry.comment and old not in entry.comment
    # A second rotation during the overlap says what stops at once, and the receiver's secret
    # (the one before the first rotation) keeps its overlap: a double click cuts nobody off.
    assert "at once" in client.get(reverse("partners:integration_rotate")).content.decode()
    until = ours.previous_secret_until
    client.post(reverse("partners:integration_rotate"))
    ours.refresh_from_db()
    assert ours.previous_webhook_secret == old and ours.previous_secret_until == until
    assert old in ours.signing_secrets(timezone.now())


def test_only_the_partners_own_staff_or_the_office_rotate_its_secret(cast, theirs):
    with pytest.raises(NotPermitted):
        services.partner_secret_rotate(partner=theirs, actor=cast.partner)
    assert services.partner_secret_rotate(partner=theirs, actor=cast.admin)


# --- the dead-letter alert ------------------------------------------------------------------------


def failing(httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("no", status=503))


def last_attempt_due(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(attempts=services.MAX_ATTEMPTS - 1, next_attempt_at=timezone.now())


def test_a_dead_letter_alerts_the_partner_and_the_office_once(
    cast, ours, httpserver, no_broker, django_capture_on_commit_callbacks
):
    failing(httpserver)
    outsider = UserFactory(
        username="partner.two", role=Role.TRUSTED_PARTNER, organization=OrganizationFactory(slug="p2")
    )
    cleared(cast)
    mine = webhook_of(ours)
    last_attempt_due(mine)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_attempt(mine.pk) == "dead"
    alerts = Delivery.objects.filter(kind="alert", alert_for=mine)
    to = set(alerts.values_list("address", flat=True))
    assert to == {cast.partner.email, "duty@partner.example", cast.admin.email}
    assert outsider.email not in to
    assert all(a.pk in no_broker for a in alerts)
    partner_side = alerts.get(address="duty@partner.example")
    assert partner_side.partner == ours and "Redeliver" in partner_side.body and mine.webhook_id in partner_side.body
    assert alerts.get(address=cast.admin.email).partner is None  # the office's alerts are not on the partner's page
    # Replayed (a retried task), or asked again: nobody is alerted twice.
    assert self_service.dead_letter_alert(mine.pk) == 0
    assert alerts.count() == 3


def test_an_alert_that_dead_letters_alerts_nobody(cast, ours, httpserver, settings):
    failing(httpserver)
    cleared(cast)
    mine = webhook_of(ours)
    last_attempt_due(mine)
    services.delivery_attempt(mine.pk)
    alert = Delivery.objects.filter(kind="alert").first()
    settings.EMAIL_BACKEND = "tests.partners.test_self_service.BrokenMail"
    last_attempt_due(alert)
    assert services.delivery_attempt(alert.pk) == "dead"
    assert Delivery.objects.filter(kind="alert").count() == 3 and not Delivery.objects.filter(alert_for=alert).exists()


class BrokenMail:
    def __init__(self, *a, **kw):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")


def test_a_worker_dying_halfway_leaves_one_alert_after_the_retry(cast, ours, httpserver, monkeypatch):
    """The dead letter and its alert are one transaction: a crash between them commits
    neither; after the lease, the retry dead-letters it and alerts, once."""
    failing(httpserver)
    cleared(cast)
    mine = webhook_of(ours)
    last_attempt_due(mine)
    real = self_service._alert_deliveries

    def crash(*a, **kw):
        raise SystemExit("worker killed")

    monkeypatch.setattr(self_service, "_alert_deliveries", crash)
    with pytest.raises(SystemExit):
        services.delivery_attempt(mine.pk)
    mine.refresh_from_db()
    assert mine.status == "pending" and mine.alerted_at is None
    assert not Delivery.objects.filter(kind="alert").exists()
    monkeypatch.setattr(self_service, "_alert_deliveries", real)
    with time_machine.travel(timezone.now() + settings.PARTNER_DELIVERY_LEASE + dt.timedelta(seconds=1), tick=False):
        assert services.delivery_attempt(mine.pk) == "dead"
    assert Delivery.objects.filter(kind="alert", alert_for=mine).count() == 3


def test_exercise_partners_are_never_alerted_about(cast):
    org = OrganizationFactory(name="Sim Partner", slug="sim-partner", kind="trusted_partner")
    sim = TrustedPartner.objects.create(organization=org, webhook_url="https://sim.example/h", is_exercise=True)
    delivery = self_service.webhook_test_record(address=sim.webhook_url, data={}, now=timezone.now(), partner=sim)
    Delivery.objects.filter(pk=delivery.pk).update(status="dead", kind="notification")
    assert self_service.dead_letter_alert(delivery.pk) == 0


# --- the API -------------------------------------------------------------------------------------


def test_partner_staff_run_their_integration_through_the_api(cast, ours, theirs, httpserver):
    cleared(cast)
    mine, other = webhook_of(ours), webhook_of(theirs)
    Delivery.objects.filter(pk=mine.pk).update(status="dead", attempts=8)
    client = api(cast.partner)
    listed = client.get("/api/v1/partner/deliveries/?status=dead").json()
    assert [d["webhook_id"] for d in listed["results"]] == [mine.webhook_id]
    assert listed["results"][0]["attempt_log"] == [] and listed["results"][0]["event_type"] == "submission.cleared"
    assert client.get(f"/api/v1/partner/deliveries/{other.pk}/").status_code == 404
    assert client.post(f"/api/v1/partner/deliveries/{mine.pk}/redeliver/").json()["status"] == "pending"
    refused = client.post(f"/api/v1/partner/deliveries/{mine.pk}/redeliver/")
    assert refused.status_code == 400 and "still being tried" in refused.json()["error"]["message"]
    test = client.post("/api/v1/partner/test/")
    assert test.status_code == 202 and test.json()["event_type"] == "webhook.test"
    paused = client.post("/api/v1/partner/pause/").json()
    assert paused["paused"] is True and paused["paused_by"] == cast.partner.username
    assert client.post("/api/v1/partner/test/").json()["error"]["message"] == self_service.MSG_PAUSED_TEST
    assert client.post("/api/v1/partner/resume/").json()["integration"]["paused"] is False
    rotated = client.post("/api/v1/partner/rotate-secret/").json()
    ours.refresh_from_db()
    assert rotated["webhook_secret"] == ours.webhook_secret and rotated["previous_secret_valid_until"]
    assert client.get("/api/v1/partner/").json()["previous_secret_valid_until"] is not None


@pytest.mark.parametrize("who", ["admin", "developer"])
def test_the_partner_api_is_for_partner_staff_only(cast, ours, who):
    client = api(getattr(cast, who))
    assert client.get("/api/v1/partner/deliveries/").status_code == 403
    assert client.post("/api/v1/partner/pause/").status_code == 403


def test_a_changed_webhook_url_takes_the_retries_with_it(cast, ours, httpserver):
    """A URL changed after the event (a domain given up) is where retries and redeliveries go;
    a removed one stops them for good."""
    httpserver.expect_request("/new").respond_with_data("", status=204)
    cleared(cast)
    mine = webhook_of(ours)
    TrustedPartner.objects.filter(pk=ours.pk).update(webhook_url=httpserver.url_for("/new"))
    assert services.delivery_attempt(mine.pk) == "delivered"
    assert [r.path for r, _ in httpserver.log] == ["/new"]
    cleared(cast, model_name="Model B")
    later = Delivery.objects.filter(partner=ours, channel="webhook").exclude(pk=mine.pk).get()
    TrustedPartner.objects.filter(pk=ours.pk).update(webhook_url="")
    assert services.delivery_attempt(later.pk) == "dead"
    later.refresh_from_db()
    assert "webhook URL was removed" in later.last_error
