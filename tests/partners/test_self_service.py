"""A partner's own Integration: its deliveries, redelivery, a test, pause and resume, a new
secret, and the dead-letter alert sent once."""

import datetime as dt
import json

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from accounts.roles import Role
from caisi_portal import timefmt
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
    assert ours.signing_secrets(timezone.now()) == [ours.webhook_secret, old]
    [first_until] = [p.until for p in ours.previous_secrets_signing(timezone.now())]
    page = client.get(reverse("partners:integration")).content.decode()
    assert ours.webhook_secret not in page and old not in page and "still signs" in page
    entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
    assert "rotated by its own staff" in entry.comment and old not in entry.comment
    # A second rotation during the overlap says that the earlier secrets keep their own overlaps.
    confirm = client.get(reverse("partners:integration_rotate")).content.decode()
    assert "keeps its own overlap" in confirm and timefmt.iso(first_until) in confirm
    client.post(reverse("partners:integration_rotate"))
    ours.refresh_from_db()
    assert old in ours.signing_secrets(timezone.now())


def verifies(secret, message) -> bool:
    """Does a receiver holding this secret accept the message (the standardwebhooks package)?"""
    try:
        Webhook(secret).verify(*message)
    except WebhookVerificationError:
        return False
    return True


def signed_test(cast, partner, httpserver):
    """A test webhook sent now; the (body, headers) the receiver got."""
    test = self_service.partner_webhook_test(partner=partner, actor=cast.partner)
    assert services.delivery_attempt(test.pk) == "delivered"
    request, _ = httpserver.log[-1]
    return request.get_data(as_text=True), dict(request.headers)


def test_each_rotated_secret_signs_until_its_own_overlap_ends(cast, client, ours, httpserver, traveller, settings):
    """Rotate (S1), rotate again two hours later (S2): a receiver holding the original, S1 or
    S2 accepts every message. The original stops when its overlap ends, S1 when its own does,
    and the page says which secrets still sign and until when."""
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    client.force_login(cast.partner)
    start = timezone.now()
    original = ours.webhook_secret
    client.post(reverse("partners:integration_rotate"))
    s1 = TrustedPartner.objects.get(pk=ours.pk).webhook_secret
    traveller.shift(dt.timedelta(hours=2))
    client.post(reverse("partners:integration_rotate"))
    s2 = TrustedPartner.objects.get(pk=ours.pk).webhook_secret

    sent = signed_test(cast, ours, httpserver)
    assert [verifies(s, sent) for s in (original, s1, s2)] == [True, True, True]
    page = client.get(reverse("partners:integration")).content.decode()
    assert "2 previous secrets still sign" in page
    assert timefmt.iso(start + dt.timedelta(hours=24)) in page  # the original's end
    assert timefmt.iso(start + dt.timedelta(hours=26)) in page  # S1's end
    assert timefmt.iso(start) in page  # S1 is named by when it was made
    assert original not in page and s1 not in page and s2 not in page

    traveller.shift(dt.timedelta(hours=23))  # 25 hours after the first rotation
    client.force_login(cast.partner)  # the session of the day before has ended
    sent = signed_test(cast, ours, httpserver)
    assert [verifies(s, sent) for s in (original, s1, s2)] == [False, True, True]
    assert "1 previous secret still signs" in client.get(reverse("partners:integration")).content.decode()
    traveller.shift(dt.timedelta(hours=2))  # 27 hours
    client.force_login(cast.partner)
    sent = signed_test(cast, ours, httpserver)
    assert [verifies(s, sent) for s in (original, s1, s2)] == [False, False, True]
    assert "still sign" not in client.get(reverse("partners:integration")).content.decode()


def test_rotations_stop_while_too_many_previous_secrets_sign_saying_until_when(cast, ours, traveller):
    """Each signature lengthens every message: past the limit a rotation is refused, with
    when the first previous secret stops and how to go on."""
    for _ in range(services.MAX_PREVIOUS_SECRETS):
        services.partner_secret_rotate(partner=ours, actor=cast.partner)
        traveller.shift(dt.timedelta(minutes=10))
    with pytest.raises(ApplicationError, match="previous secrets still sign") as refused:
        services.partner_secret_rotate(partner=ours, actor=cast.partner)
    first_end = min(p.until for p in ours.previous_secrets_signing(timezone.now()))
    assert timefmt.when(first_end, zone=dt.UTC) in refused.value.message and "revoke" in refused.value.message
    services.partner_previous_secrets_revoke(partner=ours, actor=cast.partner)
    assert services.partner_secret_rotate(partner=ours, actor=cast.partner)


def test_revoking_the_previous_secrets_early_says_what_it_does_then_stops_them_at_once(
    cast, client, ours, httpserver, traveller
):
    """After a leak: the confirmation names the endpoint and each secret that stops, the
    action stops them now, is audited (never the secret), and a receiver holding one of them
    rejects the next message."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    client.force_login(cast.partner)
    original = ours.webhook_secret
    client.post(reverse("partners:integration_rotate"))
    s1 = TrustedPartner.objects.get(pk=ours.pk).webhook_secret
    traveller.shift(dt.timedelta(hours=1))
    client.post(reverse("partners:integration_rotate"))
    ours.refresh_from_db()
    current, previous = ours.webhook_secret, ours.previous_secrets_signing(timezone.now())
    page = client.get(reverse("partners:integration")).content.decode()
    assert reverse("partners:integration_revoke") in page

    confirm = client.get(reverse("partners:integration_revoke")).content.decode()
    assert ours.webhook_url in confirm and "2 previous secrets" in confirm and "at once" in confirm
    assert all(timefmt.iso(p.until) in confirm for p in previous)
    assert "reject" in confirm  # what happens to a receiver still using one
    assert TrustedPartner.objects.get(pk=ours.pk).signing_secrets(timezone.now()) == [current, s1, original]

    done = client.post(reverse("partners:integration_revoke"), follow=True).content.decode()
    assert "2 previous secrets revoked" in done and "Only the current secret signs" in done
    sent = signed_test(cast, ours, httpserver)
    assert [verifies(s, sent) for s in (original, s1, current)] == [False, False, True]
    entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
    assert "revoked early by its own staff" in entry.comment and entry.actor == cast.partner
    assert not any(s in entry.comment for s in (original, s1, current))

    # Nothing left to revoke: the page and the service say so, and change nothing.
    assert "No previous secret signs" in client.get(reverse("partners:integration_revoke")).content.decode()
    again = client.post(reverse("partners:integration_revoke"), follow=True).content.decode()
    assert services.MSG_NO_PREVIOUS_SECRET in again
    with pytest.raises(ApplicationError, match="No previous secret signs"):
        services.partner_previous_secrets_revoke(partner=ours, actor=cast.admin)


def test_only_the_partners_own_staff_or_the_office_revoke_its_previous_secrets(cast, theirs):
    services.partner_secret_rotate(partner=theirs, actor=cast.admin)
    with pytest.raises(NotPermitted):
        services.partner_previous_secrets_revoke(partner=theirs, actor=cast.partner)
    assert len(services.partner_previous_secrets_revoke(partner=theirs, actor=cast.admin)) == 1
    theirs.refresh_from_db()
    assert theirs.signing_secrets(timezone.now()) == [theirs.webhook_secret]


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


def moments(rows):
    return [{k: dt.datetime.fromisoformat(v) if v else v for k, v in row.items()} for row in rows]


def test_the_api_says_which_previous_secrets_sign_until_when_and_revokes_them(cast, ours, traveller):
    """A partner's staff, then the office, each see every previous secret (when it was made,
    until when it signs, never the secret) and revoke them early."""
    client = api(cast.partner)
    start = timezone.now()
    first = client.post("/api/v1/partner/rotate-secret/").json()
    traveller.shift(dt.timedelta(hours=2))
    second = client.post("/api/v1/partner/rotate-secret/").json()
    overlap = dt.timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    expected = [
        {"made_at": start, "signs_until": start + dt.timedelta(hours=2) + overlap},
        {"made_at": None, "signs_until": start + overlap},
    ]
    assert moments(second["previous_secrets"]) == expected
    integration = client.get("/api/v1/partner/").json()
    assert moments(integration["previous_secrets"]) == expected
    assert first["webhook_secret"] not in json.dumps(integration)
    # The latest end of them all: until then, some previous secret still signs.
    assert dt.datetime.fromisoformat(integration["previous_secret_valid_until"]) == expected[0]["signs_until"]

    revoked = client.post("/api/v1/partner/revoke-previous-secrets/")
    assert revoked.status_code == 200 and moments(revoked.json()["revoked"]) == expected
    assert revoked.json()["integration"]["previous_secrets"] == []
    refused = client.post("/api/v1/partner/revoke-previous-secrets/")
    assert refused.status_code == 400 and refused.json()["error"]["message"] == services.MSG_NO_PREVIOUS_SECRET

    office = api(cast.admin)
    office.post(f"/api/v1/trusted-partners/{ours.pk}/rotate-secret/")
    by_office = office.post(f"/api/v1/trusted-partners/{ours.pk}/revoke-previous-secrets/")
    assert by_office.status_code == 200 and len(by_office.json()["revoked"]) == 1
    ours.refresh_from_db()
    assert ours.signing_secrets(timezone.now()) == [ours.webhook_secret]
    assert "revoked early" in AuditEntry.objects.filter(actor=cast.admin).latest("pk").comment


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
