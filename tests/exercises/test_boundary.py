"""The exercise sandbox's boundary, tried the way the assessment found it open.

A player signs in through the sign-in page (as a trainee with a printed sheet would), with
and without an API token, and walks every URL of the portal and the API against live
objects: nothing live comes back and no live row changes. Ending an exercise locks its
players out; sheet passwords expire; the people who hold players' credentials use a second
factor; simulated time never lands on a live row.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import rules
from accounts.models import CalendarFeedToken
from api.models import ApiToken
from api.services import TOKEN_PREFIX, api_token_issue
from caisi_portal.errors import NotPermitted
from exercises import services
from exercises.models import Exercise
from partners.models import Delivery, TrustedPartner
from reviews.models import Assignment, Determination, EvaluationResult, Finding
from submissions import review_clock
from submissions.models import Agreement, AuditEntry, ModelSubmission, Organization, SlaBreach
from submissions.services import audit_record
from tests import test_permission_matrix as matrix
from tests.built_once import shared

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"  # the factories' password for every cast account

LIVE_MODELS = {
    ModelSubmission: "exercise",
    AuditEntry: "submission__exercise",
    SlaBreach: "submission__exercise",
    Delivery: "event__submission__exercise",
    TrustedPartner: "organization__exercise",
    Agreement: "organization__exercise",
    Organization: "exercise",
    Assignment: "submission__exercise",
    EvaluationResult: "submission__exercise",
    Finding: "submission__exercise",
    Determination: "submission__exercise",
}


def live_snapshot() -> dict:
    """Every live row that a request could change, as plain values."""
    out = {
        name.__name__: list(name.objects.filter(**{f"{f}__isnull": True}).order_by("pk").values())
        for name, f in LIVE_MODELS.items()
    }
    live_people = ApiToken.objects.filter(user__exercise__isnull=True)
    out["ApiToken"] = list(live_people.order_by("pk").values("pk", "revoked_at", "key_hash"))
    out["CalendarFeedToken"] = list(CalendarFeedToken.objects.filter(user__exercise__isnull=True).values())
    return out


def token_made_before_the_rule(player, key: str) -> None:
    """An API token of a player, as if made before players were refused tokens."""
    ApiToken.objects.create(
        user=player,
        name="old",
        prefix=key[:12],
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        created_at=timezone.now(),
    )


def sign_in_through_the_page(user, password=PASSWORD) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302 and response["Location"] == reverse("home"), response.content[:300]
    return client


@pytest.fixture
def worlds(request, matrix_worlds, settings):
    """The permission matrix's worlds, built once for the module (tests/conftest.py)."""
    settings.DEMO_WEBHOOK_RECEIVER = True
    return shared(request, matrix_worlds)


PLAYED = [r for r, w in matrix.ROLES if w == "exercise"]


@pytest.mark.parametrize("role", PLAYED)
def test_a_player_signed_in_through_the_pages_reaches_no_live_row_and_changes_none(worlds, role):
    player = worlds.people[(role, "exercise")]
    before = live_snapshot()
    client = sign_in_through_the_page(player)
    # The pages: every URL of the portal, every method, aimed at the live world's objects.
    for case in matrix.PAGE_CASES:
        for method in case.rule:
            url = case.url(worlds, worlds.live)
            data = case.data(worlds, worlds.live) if case.data else {}
            response = client.get(url) if method == "GET" else client.post(url, data)
            body = matrix.body_of(response)
            assert not [m for m in matrix.live_markers(worlds) if m in body], (method, url)
            if case.key == "logout" and method == "POST":
                client = sign_in_through_the_page(player)
    # The API with the player's session, and with a token made before the rule (they can make none now).
    key = TOKEN_PREFIX + "legacy-" + role
    token_made_before_the_rule(player, key)
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with_session = APIClient()
    with_session.force_login(player)
    for case in matrix.API_CASES:
        for method in case.rule:
            url = case.url(worlds, worlds.live)
            for api_client, refused in ((with_token, 401), (with_session, 404)):
                data = case.data(worlds, worlds.live) if case.data else {}
                if method == "GET":
                    response = api_client.get(url)
                else:
                    response = getattr(api_client, method.lower())(url, data, format=case.fmt)
                assert response.status_code == refused, (method, url, response.content[:200])
                assert not [m for m in matrix.live_markers(worlds) if m in response.content], (method, url)
    assert live_snapshot() == before
    # Nor can a player make a token or a calendar link on their account page.
    page = client.post(reverse("profile"), {"action": "token_issue", "name": "mine"}, follow=True)
    assert b"Exercise accounts cannot have API tokens" in page.content
    page = client.post(reverse("profile"), {"action": "calendar_issue"}, follow=True)
    assert b"Exercise accounts have no calendar link" in page.content
    assert not ApiToken.objects.filter(user=player, name="mine").exists()
    assert not CalendarFeedToken.objects.filter(user=player).exists()


def test_a_played_administrator_works_on_the_exercise_clock_and_never_on_live_rows(worlds):
    """The assessment's case: a played administrator acknowledged a live breach at simulated time."""
    player = worlds.people[("admin", "exercise")]
    client = sign_in_through_the_page(player)
    live_breach, exercise_breach = worlds.live.breach, worlds.exercise.breach
    assert client.post(reverse("dashboard:breach_ack", args=[live_breach.pk]), {"note": "x"}).status_code == 404
    assert client.post(reverse("dashboard:breach_ack", args=[exercise_breach.pk]), {"note": "Seen."}).status_code == 302
    exercise_breach.refresh_from_db()
    live_breach.refresh_from_db()
    assert live_breach.acknowledged_at is None
    # The exercise's row carries the exercise's simulated time, not wall time.
    assert exercise_breach.acknowledged_at == worlds.exercise_row.simulated_now()
    # Below the pages, the services refuse too, whoever calls them.
    with pytest.raises(NotPermitted):
        review_clock.breach_acknowledge(breach=live_breach, actor=player, note="x")
    with pytest.raises(NotPermitted):
        audit_record(submission=worlds.live.subs["intake"], actor=player, action="forged")
    live_admin = worlds.people[("admin", "live")]
    with pytest.raises(NotPermitted):
        review_clock.breach_acknowledge(breach=exercise_breach, actor=live_admin, note="x")
    with pytest.raises(NotPermitted):
        audit_record(submission=worlds.exercise.subs["intake"], actor=live_admin, action="forged")


def test_the_api_offers_reviewers_of_the_callers_world_only_and_names_nobody_outside_it(worlds, client):
    live_admin = worlds.people[("admin", "live")]
    exercise_reviewer = worlds.exercise.cast.unassigned_reviewer
    _, key = api_token_issue(user=live_admin, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/submissions/{worlds.live.subs['evaluation'].pk}/assignments/"
    response = api.post(url, {"reviewer": exercise_reviewer.username, "role": "member"}, format="json")
    assert response.status_code == 400
    assert exercise_reviewer.get_full_name().encode() not in response.content
    # The page's reviewer list is the submission's world's too.
    client.force_login(live_admin)
    page = client.get(reverse("submissions:detail", args=[worlds.live.subs["evaluation"].pk])).content
    assert matrix.EXERCISE_MARK.encode() not in page
    assert set(rules.reviewer_candidates(rules.world_of(worlds.people[("admin", "exercise")]))) <= set(
        worlds.exercise_row.players.all()
    )


def test_exercise_notifications_stay_out_of_live_mail_and_the_live_outbox(worlds):
    """Exercise events address only exercise accounts and exercise partners; every email the
    outbox actually sends is live, and carries no exercise marker (the marker scan, for mail)."""
    from partners import services as partner_services

    exercise_deliveries = Delivery.objects.filter(event__submission__exercise=worlds.exercise_row)
    assert exercise_deliveries.exists()
    for d in exercise_deliveries.select_related("partner", "recipient", "endpoint"):
        assert (
            (d.partner and d.partner.is_exercise)
            or (d.recipient and d.recipient.exercise_id)
            or (d.endpoint and d.endpoint.is_exercise)
        )
    live_deliveries = Delivery.objects.filter(event__submission__exercise__isnull=True).select_related("recipient")
    assert all(d.recipient is None or d.recipient.exercise_id is None for d in live_deliveries)
    for d in Delivery.objects.filter(channel=Delivery.Channel.EMAIL):
        partner_services.delivery_attempt(d.pk)
    assert mail.outbox, "the live outbox sent its email"
    for message in mail.outbox:
        text = " ".join([message.subject, message.body, *message.recipients()])
        assert matrix.EXERCISE_MARK not in text and "exercise.invalid" not in text, message.subject


def test_the_exercise_runs_to_its_end_without_touching_live_rows(worlds):
    """Running the exercise's clock (its sweep, its injects) writes only exercise rows."""
    before = live_snapshot()
    exercise = worlds.exercise_row
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        services.exercise_start(exercise=exercise, actor=worlds.people[("controller", "live")])
        for _ in range(3):
            traveller.shift(dt.timedelta(minutes=15))
            services.exercise_tick(Exercise.objects.get(pk=exercise.pk))
    assert Exercise.objects.get(pk=exercise.pk).status == Exercise.Status.ENDED
    assert live_snapshot() == before
