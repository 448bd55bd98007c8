"""The controller console, the players' side, and the after-action report as pages and files."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.urls import reverse

from exercises import scenarios, services
from exercises.models import Exercise, ImprovementItem, Observation
from submissions.models import ModelSubmission
from tests.factories import reference_version

pytestmark = pytest.mark.django_db
WALL_START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_a_controller_starts_the_holdout_runs_it_and_downloads_an_aar_that_matches_play(cast, controller, client):
    with time_machine.travel(WALL_START, tick=False) as traveller:
        client.force_login(controller)
        assert b"The last holdout" in client.get(reverse("exercises:list")).content
        sheet = client.post(reverse("exercises:start"), {"scenario": "last-holdout", "speed": "1440", "run": "on"})
        assert sheet.status_code == 200 and b"shown <strong>once</strong>" in sheet.content
        exercise = Exercise.objects.get()
        assert exercise.status == Exercise.Status.RUNNING
        console = client.get(reverse("exercises:console", args=[exercise.pk])).content.decode()
        assert "Master Scenario Events List" in console and "Meridian-7 open weights in 21 days" in console

        # The players play: the Vega lead records results and clears before the deadline.
        traveller.shift(dt.timedelta(seconds=5))  # two simulated hours
        services.exercise_tick(Exercise.objects.get(pk=exercise.pk))
        vega = ModelSubmission.objects.get(exercise=exercise, model_name="Vega-Reason")
        lead = exercise.players.get(username=f"x{exercise.pk}.lead")
        client.force_login(lead)
        inbox = client.get(reverse("exercises:inbox")).content.decode()
        assert "EXERCISE" in inbox
        for domain in [item.domain for item in vega.plan_items.select_related("domain")]:
            r = client.post(
                reverse("reviews:record_result", args=[vega.pk]),
                {"version": reference_version(domain).pk, "score": "0.1"},
            )
            assert r.status_code == 302
        from submissions.views import announcement_seal

        body = {"expected_state": "evaluation", "rationale": "Below thresholds.", "partner_summary": "Cleared."}
        body["confirmed"] = announcement_seal(vega, "clear", body)
        r = client.post(reverse("submissions:action", args=[vega.pk, "clear"]), body)
        assert r.status_code == 302

        # An evaluator's observation, then the clock runs to the end at high speed.
        client.force_login(controller)
        objective = exercise.objectives.get(key="routine-review")
        r = client.post(
            reverse("exercises:observe", args=[exercise.pk]),
            {"objective": objective.pk, "text": "Vega cleared on day 0, well inside the window.", "met": "yes"},
        )
        assert r.status_code == 302
        for _ in range(400):
            traveller.shift(dt.timedelta(seconds=10))
            if services.exercise_tick(Exercise.objects.get(pk=exercise.pk)).ended:
                break
        r = client.post(
            reverse("exercises:improve", args=[exercise.pk]),
            {
                "issue": "No contact plan for holdouts.",
                "corrective_action": "Write one.",
                "owner": "Agreements lead",
                "due_on": "2027-03-01",
            },
        )
        assert r.status_code == 302

    exercise.refresh_from_db()
    assert exercise.status == Exercise.Status.ENDED
    # Days later in wall time (the run above was time-travelled): the idle session has ended.
    client.force_login(controller)
    page = client.get(reverse("exercises:report", args=[exercise.pk])).content.decode()
    assert "After-Action Report" in page and "Vega-Reason" in page and "No contact plan for holdouts." in page

    data = json.loads(client.get(reverse("exercises:report_json", args=[exercise.pk])).content)
    kinds = [row["kind"] for row in data["timeline"]]
    assert kinds.count("inject") == exercise.injects.count() == 7
    injects = [row["what"] for row in data["timeline"] if row["kind"] == "inject"]
    assert injects == [f"Inject {i.number}: {i.subject}" for i in exercise.injects.order_by("number")]
    # The players' own actions are in the timeline, at the simulated time they took them.
    clear = next(row for row in data["timeline"] if row["what"].startswith("Cleared: ") and row["kind"] == "action")
    assert clear["who"] == "Lead Reviewer" and clear["at"]["day"].startswith("day 0")
    assert {o["key"]: o["outcome"] for o in data["objectives"]}["routine-review"] == "met"
    vega_clock = next(c for c in data["review_clocks"] if c["submission"].startswith("Vega-Reason"))
    assert vega_clock["deadline_met"] is True and data["deadlines"]["met"] == 1
    assert data["improvement_plan"][0]["owner"] == "Agreements lead"

    pdf = client.get(reverse("exercises:report_pdf", args=[exercise.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert Observation.objects.count() == 1 and ImprovementItem.objects.count() == 1


def test_controls_on_the_console(cast, controller, client):
    with time_machine.travel(WALL_START, tick=False):
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        client.force_login(controller)
        url = reverse("exercises:clock", args=[exercise.pk])
        client.post(url, {"action": "start"})
        client.post(url, {"action": "speed", "speed": "60"})
        client.post(url, {"action": "jump", "to": "2026-12-05 09:00"})
        assert Exercise.objects.get().simulated_now() == dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC)
        back = client.post(url, {"action": "jump", "to": "2026-12-01 09:00"}, follow=True)
        assert "only moves forward" in back.content.decode()
        bad = client.post(url, {"action": "speed", "speed": "0"}, follow=True)
        assert "greater than or equal to 1" in bad.content.decode()
        inject = exercise.injects.get(number=5)
        client.post(reverse("exercises:fire", args=[exercise.pk, inject.pk]))
        again = client.post(reverse("exercises:fire", args=[exercise.pk, inject.pk]), follow=True)
        assert "had already been delivered" in again.content.decode()
        client.post(url, {"action": "pause"})
        assert Exercise.objects.get().status == Exercise.Status.PAUSED


def test_who_may_see_an_exercise(cast, controller, client):
    exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    console = reverse("exercises:console", args=[exercise.pk])
    for who, status in (
        (cast.admin, 200),
        (cast.developer, 404),
        (cast.lead, 404),
        (cast.partner, 404),
        (controller, 200),
    ):
        client.force_login(who)
        assert client.get(console).status_code == status, who
    player = exercise.players.first()
    client.force_login(player)
    assert client.get(console).status_code == 404  # players play; they do not see the MSEL
    assert client.get(reverse("exercises:list")).status_code == 404
    client.force_login(cast.developer)
    assert client.post(reverse("exercises:clock", args=[exercise.pk]), {"action": "start"}).status_code == 404


def test_the_console_shows_how_far_a_fast_exercise_has_run(controller, client):
    with time_machine.travel(WALL_START, tick=False) as traveller:
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        services.exercise_set_speed(exercise=exercise, actor=controller, speed=1440)
        services.exercise_start(exercise=exercise, actor=controller)
        client.force_login(controller)
        url = reverse("exercises:console", args=[exercise.pk])
        assert 'hx-get="' + url + '" hx-trigger="every 2s"' in client.get(url).content.decode()

        traveller.shift(dt.timedelta(minutes=exercise.duration_days / 2))  # half the simulated span at 1440x
        services.exercise_tick(Exercise.objects.get(pk=exercise.pk))
        part = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert part.lstrip().startswith('<div id="exercise-status"')
        assert '<progress value="50" max="100"' in part
        fired = exercise.injects.filter(fired_at__isnull=False).count()
        assert f"injects delivered {fired} of {exercise.injects.count()}" in part and fired > 0

        services.exercise_end(exercise=Exercise.objects.get(pk=exercise.pk), actor=controller)
        ended = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert '<progress value="100"' in ended and "hx-trigger" not in ended  # polling stops


def test_home_leads_controllers_to_their_exercises_and_tells_trainees_how_to_join(cast, controller, client):
    client.force_login(controller)
    empty = client.get(reverse("home")).content.decode()
    assert "Your training exercises" in empty and "You run no exercise yet." in empty
    exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    home = client.get(reverse("home")).content.decode()
    assert exercise.name in home and exercise.get_absolute_url() in home and "Start an exercise" in home

    client.force_login(cast.trainee)
    trainee_home = client.get(reverse("home")).content.decode()
    assert "sign-in sheet" in trainee_home and "Your training exercises" not in trainee_home


def test_the_console_shows_and_reads_times_in_the_controllers_own_zone(cast, controller, client):
    """The console names the controller's zone, and a jump typed there (a datetime-local field)
    is read in that zone."""
    controller.time_zone = "America/New_York"
    controller.save(update_fields=["time_zone"])
    with time_machine.travel(WALL_START, tick=False):
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        client.force_login(controller)
        page = client.get(exercise.get_absolute_url()).content.decode()
        assert 'type="datetime-local"' in page and "Jump to (simulated, EST)" in page
        assert " EST</time>" in page and " UTC</time>" not in page
        client.post(reverse("exercises:clock", args=[exercise.pk]), {"action": "jump", "to": "2026-12-05T09:00"})
        assert Exercise.objects.get().simulated_now() == dt.datetime(2026, 12, 5, 14, tzinfo=dt.UTC)


def test_ending_says_what_it_will_do_and_asks_for_confirmation(controller, client):
    """Ending cannot be undone: the console says what it will do, and an end without the
    confirmation is refused with why, the exercise still running."""
    with time_machine.travel(WALL_START, tick=False):
        exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        client.force_login(controller)
        url = reverse("exercises:clock", args=[exercise.pk])
        client.post(url, {"action": "start"})
        console = client.get(reverse("exercises:console", args=[exercise.pk])).content.decode()
        assert "cannot be undone" in console and "no longer sign" in console and "will never fire" in console
        refused = client.post(url, {"action": "end"}, follow=True).content.decode()
        assert "ending the exercise cannot be undone" in refused
        assert Exercise.objects.get().status != "ended"
        client.post(url, {"action": "end", "confirm_end": "on"})
        assert Exercise.objects.get().status == "ended"


def test_the_start_form_sent_again_finds_its_exercise_instead_of_building_a_second(controller, client):
    """A refresh of the sign-in sheet re-sends the start form: the controller is taken to the
    exercise it started, told its passwords were shown once, and no second exercise exists."""
    with time_machine.travel(WALL_START, tick=False):
        client.force_login(controller)
        form = client.get(reverse("exercises:list")).content.decode()
        token = re.search(r'name="start_token" value="([0-9a-f-]+)"', form).group(1)
        fields = {"scenario": "routine-review", "speed": "1440", "start_token": token}
        first = client.post(reverse("exercises:start"), fields)
        assert first.status_code == 200 and "password" in first.content.decode().lower()
        again = client.post(reverse("exercises:start"), fields, follow=True)
        exercise = Exercise.objects.get()
        assert again.redirect_chain[-1][0] == exercise.get_absolute_url()
        assert "was already started from this form" in again.content.decode()
        other = client.get(reverse("exercises:list")).content.decode()
        assert token not in other  # each showing of the form carries its own token
