"""The outbox without a worker: who is told, what they are told, retries and dead letters."""

import datetime as dt
import itertools

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from accounts.models import Clearance
from partners import services
from partners.models import Delivery, DemoInboxMessage, Event, PartnerEventType, TrustedPartner
from partners.transports import webhook_body
from submissions.models import State
from tests.factories import OrganizationFactory, clear_against_evidence, move, record_all_results, serious_finding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(no_broker):
    return no_broker


def partner(name, events=None, **kw):
    org = OrganizationFactory(name=name, slug=name.lower().replace(" ", "-"), kind="trusted_partner")
    return TrustedPartner.objects.create(
        organization=org, event_types=events if events is not None else list(PartnerEventType.values), **kw
    )


def test_partners_get_only_subscribed_events_and_no_classified_content(cast):
    partner("All", webhook_url="https://all.example/hook", emails="a@all.example\nb@all.example")
    only_flags = partner("Flags", events=[PartnerEventType.FLAGGED], emails="f@flags.example")
    partner("Inactive", is_active=False, emails="x@inactive.example")
    s = cast.submission(State.EVALUATION, capabilities="SECRET-CAPABILITY")
    serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
    record_all_results(s, cast.reviewer)
    clear_against_evidence(
        s, cast.lead, cast.reviewer, rationale="INTERNAL-RATIONALE", partner_summary="Cleared for partners."
    )
    event = Event.objects.get(type=PartnerEventType.CLEARED)
    to_partners = set(event.deliveries.filter(partner__isnull=False).values_list("channel", "address"))
    assert to_partners == {
        ("webhook", "https://all.example/hook"),
        ("email", "a@all.example"),
        ("email", "b@all.example"),
    }
    assert not event.deliveries.filter(partner=only_flags).exists()
    text = str(event.payload)
    for secret in ("SECRET-CAPABILITY", "INTERNAL-RATIONALE", "Exploit generation", "reviewer", "lead"):
        assert secret not in text
    assert event.payload["summary"] == "Cleared for partners." and event.payload["outcome"] == "cleared"
    # The developer's staff are emailed too, about their own determination.
    assert set(event.deliveries.filter(recipient__isnull=False).values_list("recipient__username", flat=True)) == {
        "dev"
    }


def test_webhook_body_is_standard_and_signed(cast, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    p = partner("Hooked", webhook_url=httpserver.url_for("/hook"))
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    delivery = Delivery.objects.get(partner=p)
    assert services.delivery_attempt(delivery.pk) == "delivered"
    request, _ = httpserver.log[0]
    body = Webhook(p.webhook_secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "submission.cleared"
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.get_data(as_text=True) == webhook_body(delivery)


def test_email_delivery_uses_the_backend_once(cast):
    partner("Mailed", emails="ops@mailed.example")
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead, partner_summary="No threshold exceeded.")
    for d in Delivery.objects.all():
        services.delivery_attempt(d.pk)
        services.delivery_attempt(d.pk)  # a duplicate task finds nothing to do
    to_partner = [m for m in mail.outbox if m.to == ["ops@mailed.example"]]
    assert len(to_partner) == 1
    assert to_partner[0].subject.startswith("Cleared: ") and "No threshold exceeded." in to_partner[0].body
    assert len(mail.outbox) == Delivery.objects.count()


def test_failures_back_off_then_dead_letter_after_eight_attempts(cast, httpserver):
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    p = partner("Down", webhook_url=httpserver.url_for("/down"))
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    delivery = Delivery.objects.get(partner=p)
    start = delivery.next_attempt_at
    with time_machine.travel(start, tick=False) as traveller:
        waits = []
        for _ in range(8):
            before = Delivery.objects.get(pk=delivery.pk)
            traveller.move_to(before.next_attempt_at)
            status = services.delivery_attempt(delivery.pk)
            after = Delivery.objects.get(pk=delivery.pk)
            waits.append(after.next_attempt_at - before.next_attempt_at)
    assert status == "dead" and after.attempts == 8 and "HTTP 500" in after.last_error
    total = sum(waits[:7], dt.timedelta())
    assert dt.timedelta(hours=18) < total < dt.timedelta(hours=30)  # about a day
    assert all(a < b for a, b in itertools.pairwise(waits[:7]))  # growing
    assert after.attempt_log.count() == 8


def test_gone_is_permanent(cast, httpserver):
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    p = partner("Gone", webhook_url=httpserver.url_for("/gone"))
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    assert services.delivery_attempt(Delivery.objects.get(partner=p).pk) == "dead"


def test_administrator_redelivers_a_dead_letter_with_the_same_id(
    cast, client, no_broker, django_capture_on_commit_callbacks
):
    p = partner("Dead", webhook_url="https://dead.example/hook")
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    delivery = Delivery.objects.get(partner=p)
    Delivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=8)
    client.force_login(cast.admin)
    page = client.get(reverse("partners:deliveries") + "?status=dead").content.decode()
    assert delivery.webhook_id in page
    no_broker.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("partners:redeliver", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.webhook_id in {f"msg_{i.hex}" for i in no_broker}


@pytest.mark.parametrize("who", ["developer", "lead", "reviewer", "partner"])
def test_only_administrators_see_the_outbox(cast, client, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse("partners:deliveries")).status_code == 404


def test_exercise_events_never_reach_real_partners(cast):
    partner("Real", webhook_url="https://real.example/hook", emails="real@real.example")
    drill = partner("Drill", webhook_url="https://drill.example/hook", is_exercise=True)
    s = cast.submission(State.EVALUATION)
    type(s).objects.filter(pk=s.pk).update(is_exercise=True)
    s.refresh_from_db()
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    event = Event.objects.get(type=PartnerEventType.CLEARED)
    assert event.is_exercise
    assert set(event.deliveries.filter(partner__isnull=False).values_list("partner", flat=True)) == {drill.pk}
    # And the exercise partner's delivery is recorded, not sent.
    assert services.delivery_attempt(event.deliveries.get(partner=drill).pk) == "delivered"
    assert "recorded, not sent" in event.deliveries.get(partner=drill).attempt_log.get().error


class TestDemoReceiver:
    def post(self, client, p, body, webhook_id="msg_1", secret=None):
        import datetime

        now = datetime.datetime.now(datetime.UTC)
        sig = Webhook(secret or p.webhook_secret).sign(webhook_id, now, body)
        return client.post(
            reverse("partners:demo_receiver", args=[p.pk]),
            body,
            content_type="application/json",
            headers={
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": sig,
            },
        )

    def test_keeps_each_id_once_and_counts_retries(self, client, settings):
        settings.DEMO_WEBHOOK_RECEIVER = True
        p = partner("Inbox")
        body = '{"type":"submission.cleared","timestamp":"t","data":{}}'
        assert self.post(client, p, body).status_code == 204
        assert self.post(client, p, body).status_code == 204
        m = DemoInboxMessage.objects.get()
        assert m.signature_valid and m.times_received == 2

    def test_bad_signature_is_refused_and_not_kept(self, client, settings):
        """Anyone can reach the receiver (no session): a forged body must not land in a
        live partner's inbox (found by an outside review of the exercise boundary)."""
        settings.DEMO_WEBHOOK_RECEIVER = True
        p = partner("Inbox")
        other = partner("Other")
        r = self.post(client, p, '{"type":"x"}', secret=other.webhook_secret)
        assert r.status_code == 400 and not DemoInboxMessage.objects.exists()

    def test_off_unless_enabled(self, client, settings):
        settings.DEMO_WEBHOOK_RECEIVER = False
        p = partner("Inbox")
        assert self.post(client, p, "{}").status_code == 404


def test_submission_page_shows_the_clock_and_its_pauses(cast, client):
    with time_machine.travel(dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC), tick=False) as t:
        s = cast.submission(State.EVALUATION)
        t.shift(dt.timedelta(days=2))
        move(s, "request_information", cast.lead)
        t.shift(dt.timedelta(days=3))
        client.force_login(cast.developer)
        page = client.get(s.get_absolute_url()).content.decode()
        assert "28 days left; paused since 3 Jul 2026, 09:00 UTC" in page and "3 days · information requested" in page
        client.force_login(cast.partner)
        # Partners see no clock: the review is still in progress (in fact, they see nothing).
        assert client.get(s.get_absolute_url()).status_code == 404


def _told(event_type):
    return {
        (d.recipient.username, d.address)
        for d in Delivery.objects.filter(event__type=event_type, recipient__isnull=False).select_related("recipient")
    }


def test_the_office_is_told_when_it_is_their_turn(cast):
    """Assigned, asked to concur, answered: each person whose turn it is gets one email, in words."""
    s = cast.submission(State.EVALUATION)
    # Cast.submission assigned the lead, the reviewer and the low-cleared reviewer: each told once.
    assert {u for u, _ in _told("review.assigned")} == {"lead", "reviewer", "reviewer.cui"}
    assigned = Delivery.objects.filter(event__type="review.assigned", recipient__username="reviewer.cui").get()
    assert services.delivery_attempt(assigned.pk) == "delivered"
    message = mail.outbox[-1]
    assert message.to == [cast.low_reviewer.email] and "You are assigned to review" in message.subject
    assert "What to do: You are the reviewer: record evaluation results" in message.body

    # A flag awaits concurrence: told are exactly the assigned reviewers the policy lets concur.
    serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
    record_all_results(s, cast.reviewer)
    from accounts import rules
    from reviews import services as review_services

    proposal = review_services.determination_propose_flag(
        submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
    )
    expected = {a.reviewer.username for a in s.assignments.all() if rules.may_concur(a.reviewer, proposal)}
    assert expected == {"reviewer"}  # not the proposer, not the reviewer below the finding
    assert {u for u, _ in _told("review.concurrence_requested")} == expected


def test_the_person_who_asked_is_told_when_the_developer_answers(cast):
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.lead)
    move(s, "answer_information_request", cast.developer)
    assert {u for u, _ in _told("submission.information_answered")} == {"lead"}
    delivery = Delivery.objects.get(event__type="submission.information_answered")
    assert services.delivery_attempt(delivery.pk) == "delivered"
    assert "The developer answered" in mail.outbox[-1].subject


def test_a_large_fan_out_is_handed_to_a_worker_in_one_message(
    cast, monkeypatch, no_broker, django_capture_on_commit_callbacks
):
    """Past DISPATCH_OVER deliveries the lead's transaction queues one message with the event;
    the worker queues the batches: every delivery still waiting, none already tried."""
    dispatched = []
    monkeypatch.setattr(services, "DISPATCH_OVER", 3)
    monkeypatch.setattr(services, "_dispatch", dispatched.extend)
    for i in range(4):
        partner(f"Fan {i}", webhook_url=f"https://fan{i}.example/hook")
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        move(s, "clear", cast.lead)
    event = Event.objects.get(type=PartnerEventType.CLEARED)
    assert dispatched == [str(event.pk)] and no_broker == []
    tried = event.deliveries.filter(channel="webhook").first()
    Delivery.objects.filter(pk=tried.pk).update(attempts=1)  # a worker already has it
    assert services.notifications_dispatch(dispatched) == event.deliveries.count() - 1
    assert tried.pk not in no_broker and len(set(no_broker)) == event.deliveries.count() - 1
