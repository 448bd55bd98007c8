"""What waits for my digest: a person's own items held for their next digest, on a page linked
from where they choose their digest, and in the API; nobody else's."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import DigestCadence, NotificationPreference
from api.services import api_token_issue
from partners import services
from partners.models import Delivery
from submissions.models import State

pytestmark = pytest.mark.django_db

# Monday 12 January 2026, 09:30 UTC (04:30 in New York).
T0 = dt.datetime(2026, 1, 12, 9, 30, tzinfo=dt.UTC)
ASKED = "Concurrence asked for a proposed determination"


@pytest.fixture(autouse=True)
def _no_broker(no_broker):
    return no_broker


@pytest.fixture
def held(cast):
    """The reviewer (New York, daily at 08:00) and the lead (UTC, daily at 18:00) each have a
    concurrence request about "Atlas" held; the developer, who chose nothing, had theirs sent."""
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION, model_name="Atlas", model_version="2.1")
        cast.reviewer.time_zone = "America/New_York"
        cast.reviewer.save(update_fields=["time_zone"])
        NotificationPreference.objects.create(user=cast.reviewer, cadence=DigestCadence.DAILY, digest_hour=8)
        NotificationPreference.objects.create(user=cast.lead, cadence=DigestCadence.DAILY, digest_hour=18)
        services.event_record(
            submission=s, type="review.concurrence_requested", recipients=[cast.reviewer, cast.lead, cast.developer]
        )
    return s


def test_a_person_sees_what_waits_for_their_digest_and_when_it_goes(client, cast, held):
    client.force_login(cast.reviewer)
    profile = client.get(reverse("profile")).content.decode()
    assert f'href="{reverse("held_notifications")}"' in profile
    page = client.get(reverse("held_notifications")).content.decode()
    assert ASKED in page and "Atlas 2.1 (Lab Alpha)" in page
    assert f'href="/submissions/{held.pk}/"' in page
    # Its digest: 08:00 in New York on the 12th, the reader's own zone.
    assert "12 Jan 2026, 08:00 EST" in page
    assert "choose Immediately" in page  # what to do to get them sooner
    # Only their own: the lead's item, going out at 18:00 UTC, is not here.
    assert "12 Jan 2026, 18:00" not in page and page.count(ASKED) == 1


def test_nothing_held_says_so_and_what_would_be(client, cast, held):
    client.force_login(cast.developer)
    page = client.get(reverse("held_notifications")).content.decode()
    assert ASKED not in page
    assert "Nothing waits for a digest" in page


def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    _, key = api_token_issue(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_api_lists_ones_own_held_deliveries_only(cast, held):
    mine = Delivery.objects.get(recipient=cast.reviewer, event__type="review.concurrence_requested")
    body = api(cast.reviewer).get("/api/v1/held-deliveries/").json()
    assert body["count"] == 1
    [item] = body["results"]
    assert item == {
        "id": str(mine.pk),
        "event_type": "review.concurrence_requested",
        "label": ASKED,
        "submission": held.pk,
        "model_name": "Atlas",
        "model_version": "2.1",
        "organization": "Lab Alpha",
        "occurred_at": "2026-01-12T09:30:00Z",
        "goes_out_at": "2026-01-12T13:00:00Z",
        "address": cast.reviewer.email,
    }
    # An administrator sees the outbox elsewhere; here, like everyone, only their own (none).
    assert api(cast.admin).get("/api/v1/held-deliveries/").json()["count"] == 0
    assert api(cast.developer).get("/api/v1/held-deliveries/").json()["count"] == 0


def test_the_api_says_what_is_wrong_with_a_page_number(cast, held):
    response = api(cast.reviewer).get("/api/v1/held-deliveries/", {"page": "x"})
    assert response.status_code == 400 and response.json()["error"]["details"]["page"]
