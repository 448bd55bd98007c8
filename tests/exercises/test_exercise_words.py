"""Exercise pages speak people's words: the speed in plain time, the scenario by its title,
and an after-action report that counts a missed deadline as missed."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.urls import reverse

from exercises import scenarios, services
from exercises.models import Exercise

pytestmark = pytest.mark.django_db
WALL_START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def words(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_start_page_names_scenarios_and_speeds_in_words(controller, client):
    client.force_login(controller)
    page = words(client.get(reverse("exercises:list")))
    assert "seeds/scenarios" not in page and "10080" not in page and "1440" not in page
    assert "Routine 30-day review of an API model (32 simulated days)" in page
    assert "1 simulated day passes in 1 real minute" in page
    assert "1 simulated week passes in 1 real minute" in page
    # The choice still starts the exercise at that speed.
    client.post(reverse("exercises:start"), {"scenario": "routine-review", "speed": "10080"})
    assert Exercise.objects.get().speed == 10080


def test_the_console_states_the_speed_in_words_never_zero(controller, client):
    exercise = services.exercise_create(
        scenario=scenarios.by_slug("routine-review"), actor=controller, speed=10080
    ).exercise
    client.force_login(controller)
    page = words(client.get(reverse("exercises:console", args=[exercise.pk])))
    assert "1 simulated week passes in 1 real minute" in page
    assert "0 real minutes" not in page and "10080x" not in page
    # Injects addressed to a role name the role, as people say it.
    assert "→ Lead reviewer" in page and "lead_reviewer" not in page
    listing = words(client.get(reverse("exercises:list")))
    assert "Routine 30-day review of an API model" in listing and "routine-review" not in listing


def test_the_console_says_what_a_clock_action_did(controller, client):
    with time_machine.travel(WALL_START, tick=False):
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        client.force_login(controller)
        url = reverse("exercises:clock", args=[exercise.pk])
        started = words(client.post(url, {"action": "start"}, follow=True))
        assert "The simulated clock is running: 1 simulated day passes in 1 real minute." in started
        faster = words(client.post(url, {"action": "speed", "speed": "2880"}, follow=True))
        assert "Speed changed: 1 simulated day passes in 30 real seconds." in faster
        jumped = words(client.post(url, {"action": "jump", "to": "2026-12-05 09:00"}, follow=True))
        assert "Simulated time moved forward to day 4, 00:00." in jumped
        assert "Done:" not in started + faster + jumped


def test_the_report_counts_an_elapsed_window_as_a_missed_deadline(controller, client):
    """Nobody acts: the intake decision and the 30-day window both pass."""
    with time_machine.travel(WALL_START, tick=False) as traveller:
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        services.exercise_start(exercise=exercise, actor=controller)
        for _ in range(2000):
            traveller.shift(dt.timedelta(seconds=30))
            if services.exercise_tick(Exercise.objects.get(pk=exercise.pk)).ended:
                break
    client.force_login(controller)
    data = json.loads(client.get(reverse("exercises:report_json", args=[exercise.pk])).content)
    assert data["deadlines"]["met"] == 0 and data["deadlines"]["missed"] == 1
    (clock,) = data["review_clocks"]
    assert clock["deadline_met"] is False and clock["deadline_outcome"] == "missed"
    outcomes = {o["key"]: o for o in data["objectives"]}
    # Known from the review clocks, with no evaluator's observation: not "not evaluated".
    assert outcomes["determine-in-time"]["outcome"] == "not met"
    assert "1 deadline missed" in outcomes["determine-in-time"]["evidence"]
    assert outcomes["intake-on-time"]["outcome"] == "not met"
    assert outcomes["information-handled"]["outcome"] == "not evaluated"  # nothing in the data says
    assert data["exercise"]["speed_words"] == "1 simulated day passes in 1 real minute"

    page = words(client.get(reverse("exercises:report", args=[exercise.pk])))
    assert "1 determination deadline due: 0 met, 1 missed." in page
    assert "Deadlines met: 0; missed: 0" not in page
    assert "Review window elapsed: Orion-Ex 4.0 (Intake → Review window elapsed)" in page
    assert "->" not in page and "window_elapsed" not in page and " elapse:" not in page
    assert "Scenario: Routine 30-day review of an API model" in page.replace("scenario:", "Scenario:")
    assert not SNAKE.findall(page), SNAKE.findall(page)
    pdf = client.get(reverse("exercises:report_pdf", args=[exercise.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
