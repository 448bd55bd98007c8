"""Ending an exercise locks its players out; sign-in sheet passwords expire; the people who
hold players' credentials use a second factor; nothing is injected after the end.

(Beside tests/exercises/test_boundary.py, whose tests share the permission matrix's worlds,
built once for that module: these build their own exercise.)"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from api.models import ApiToken
from api.services import TOKEN_PREFIX
from caisi_portal.errors import NotPermitted
from exercises import scenarios, services
from tests.exercises.test_boundary import PASSWORD, sign_in_through_the_page, token_made_before_the_rule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _exercise_with_sheet(controller):
    sheet = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller)
    return sheet.exercise, sheet.passwords


def test_ending_an_exercise_locks_its_players_out(cast, controller):
    exercise, passwords = _exercise_with_sheet(controller)
    player = exercise.players.get(username=f"x{exercise.pk}.admin")
    client = sign_in_through_the_page(player, passwords[player.username])
    assert client.get(reverse("home")).status_code == 200
    key = TOKEN_PREFIX + "made-before-the-rule"
    token_made_before_the_rule(player, key)
    services.exercise_start(exercise=exercise, actor=controller)
    services.exercise_end(exercise=exercise, actor=controller)

    player.refresh_from_db()
    assert not player.is_active
    # The open session is signed out at its next request.
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    # Signing in again with the sheet's password says why it no longer works.
    page = Client().post(reverse("login"), {"username": player.username, "password": passwords[player.username]})
    assert page.status_code == 200 and b"This exercise has ended" in page.content
    # A wrong password is told nothing more than any wrong password.
    page = Client().post(reverse("login"), {"username": player.username, "password": "guess"})
    assert b"This exercise has ended" not in page.content
    # Its tokens are revoked, and the controller can no longer hand out a new password.
    assert ApiToken.objects.get(user=player).revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/submissions/").status_code == 401
    with pytest.raises(NotPermitted):
        services.player_password_reset(exercise=exercise, actor=controller, player=player)
    assert all(not u.is_active for u in exercise.players.all())


def test_sign_in_sheet_passwords_expire_and_a_controller_can_issue_a_new_one(cast, controller, settings):
    settings.EXERCISE_SHEET_PASSWORD_HOURS = 12
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        exercise, passwords = _exercise_with_sheet(controller)
        player = exercise.players.get(username=f"x{exercise.pk}.dev")
        client = sign_in_through_the_page(player, passwords[player.username])
        traveller.shift(dt.timedelta(hours=12, minutes=1))
        # The session ends with the paper, and the paper's password no longer signs in.
        assert client.get(reverse("home")).status_code == 302
        page = Client().post(reverse("login"), {"username": player.username, "password": passwords[player.username]})
        assert b"This sign-in sheet password has expired" in page.content
        fresh = services.player_password_reset(exercise=exercise, actor=controller, player=player)
        sign_in_through_the_page(player, fresh)


@pytest.mark.real_second_factor
def test_controllers_and_evaluators_sign_in_with_a_second_factor(cast, controller):
    from exercises.models import Participant

    evaluator = UserFactory(username="evaluator", role=Role.TRAINEE, organization=cast.office)
    exercise, _ = _exercise_with_sheet(controller)
    Participant.objects.create(exercise=exercise, user=evaluator, role=Participant.Role.EVALUATOR)
    for person in (controller, evaluator):
        client = Client()
        client.post(reverse("login"), {"username": person.username, "password": PASSWORD})
        response = client.get(reverse("exercises:console", args=[exercise.pk]))
        assert response.status_code == 302 and "/account/two-factor/setup/" in response["Location"], person
        # Nor can a password reset go through before the code.
        player = exercise.players.first()
        reset = client.post(reverse("exercises:player_password", args=[exercise.pk, player.pk]))
        assert reset.status_code == 302 and "/account/two-factor/" in reset["Location"]


def test_no_inject_is_delivered_after_the_exercise_has_ended(cast, controller, client):
    """The after-action report's timeline closes with the exercise (found by an outside review)."""
    exercise, _ = _exercise_with_sheet(controller)
    services.exercise_start(exercise=exercise, actor=controller)
    services.exercise_end(exercise=exercise, actor=controller)
    inject = exercise.injects.filter(fired_at__isnull=True).first()
    client.force_login(controller)
    page = client.post(reverse("exercises:fire", args=[exercise.pk, inject.pk]), follow=True)
    assert b"The exercise has ended" in page.content
    inject.refresh_from_db()
    assert inject.fired_at is None and not inject.messages.exists()
