"""Notifications are named in people's words on every page, and the partners' inbox is
named for what it is to the person who opens it."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.messages import email_for
from partners.models import EVENT_LABELS, DemoInboxMessage, Event, PartnerEventType, TrustedPartner, event_label
from partners.services import INTERNAL_AUDIENCE, TRANSITION_EVENTS
from submissions.models import State
from tests.factories import move, record_all_results

pytestmark = pytest.mark.django_db


def test_every_event_type_the_portal_sends_has_a_label():
    types = {*PartnerEventType.values, *TRANSITION_EVENTS.values(), *INTERNAL_AUDIENCE}
    for event_type in types:
        assert event_type in EVENT_LABELS, event_type
        assert "." not in event_label(event_type) and "_" not in event_label(event_type)
    assert event_label("submission.information_requested") == "Information requested from the developer"
    assert event_label("submission.something_new") == "Something new"  # a newcomer still reads as words


def test_the_notifications_page_names_events_in_words(cast, client):
    TrustedPartner.objects.create(organization=cast.partner_org, event_types=list(PartnerEventType.values))
    s = cast.submission(State.EVALUATION)
    move(s, "request_information", cast.admin, questions="Which safeguards?")
    client.force_login(cast.admin)
    page = client.get(reverse("partners:deliveries")).content.decode()
    assert "Information requested from the developer" in page
    assert "submission.information_requested" not in page


def test_an_email_preview_reads_labels_not_codes(cast):
    TrustedPartner.objects.create(
        organization=cast.partner_org, emails="duty@p.example", event_types=[PartnerEventType.CLEARED]
    )
    s = cast.submission(State.EVALUATION, release_channel="open_weights")
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    delivery = Event.objects.get(type=PartnerEventType.CLEARED).deliveries.filter(partner__isnull=False).first()
    subject, body = email_for(delivery)
    assert "Cleared" in subject
    assert "Release channel: Open weights" in body and "State: Cleared" in body
    assert "open_weights" not in body


@pytest.fixture
def inbox(cast, settings):
    settings.DEMO_WEBHOOK_RECEIVER = True
    partner = TrustedPartner.objects.create(organization=cast.partner_org, event_types=[PartnerEventType.CLEARED])
    return DemoInboxMessage.objects.create(
        partner=partner,
        webhook_id="msg_1",
        event_type="submission.window_elapsed",
        body={"type": "submission.window_elapsed", "data": {"model_name": "Orion-Sim", "model_version": "5"}},
        signature_valid=True,
        first_received_at=timezone.now() - dt.timedelta(minutes=5),
    )


def test_a_partner_sees_messages_sent_to_them_in_words(cast, client, inbox):
    client.force_login(cast.partner)
    home = client.get(reverse("home")).content.decode()
    assert ">Messages sent to you</a>" in home and "Demo inbox" not in home
    page = client.get(reverse("partners:demo_inbox")).content.decode()
    assert "<h1>Messages sent to you</h1>" in page
    assert "Review window elapsed" in page and "submission.window_elapsed" not in page


def test_an_administrator_sees_every_partners_messages_under_that_name(cast, client, inbox):
    client.force_login(cast.admin)
    home = client.get(reverse("home")).content.decode()
    assert ">Messages partners received</a>" in home and "Demo inbox" not in home
    page = client.get(reverse("partners:demo_inbox")).content.decode()
    assert "<h1>Messages partners received</h1>" in page and str(cast.partner_org) in page


@pytest.mark.parametrize("who", ["developer", "lead", "reviewer", "trainee"])
def test_others_have_no_such_menu_entry(cast, client, inbox, who):
    client.force_login(getattr(cast, who))
    home = client.get(reverse("home")).content.decode()
    assert "Messages sent to you" not in home and "Messages partners received" not in home
    assert client.get(reverse("partners:demo_inbox")).status_code == 404
