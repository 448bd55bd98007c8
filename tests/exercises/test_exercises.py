"""Training exercises: scenarios, the simulated clock, injects, isolation."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from exercises import scenarios, services
from exercises.models import Exercise, Inject, Message
from submissions.models import AuditEntry, ModelSubmission, Organization, SlaBreach, State

pytestmark = pytest.mark.django_db

WALL_START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def start(slug, controller, speed=1440):
    sheet = services.exercise_create(scenario=scenarios.by_slug(slug), actor=controller, speed=speed)
    return sheet


def test_the_three_shipped_scenarios_load():
    loaded = {s.slug: s for s in scenarios.available()}
    assert set(loaded) >= {"routine-review", "last-holdout", "access-removal"}
    for s in loaded.values():
        numbers = [i["number"] for i in s.data["injects"]]
        assert numbers and len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("slug", ["routine-review", "last-holdout", "access-removal"])
def test_each_scenario_builds_its_sandbox(cast, controller, slug):
    sheet = start(slug, controller)
    exercise = sheet.exercise
    assert exercise.status == Exercise.Status.READY and exercise.injects.count() >= 3
    assert Organization.objects.filter(exercise=exercise).count() >= 3
    assert set(sheet.passwords) == {u.username for u in exercise.players.all()}
    assert all(s.is_exercise for s in ModelSubmission.objects.filter(exercise=exercise))
    # The live world did not change: no live organization, submission or user was added.
    assert not ModelSubmission.objects.filter(exercise__isnull=True, organization__exercise=exercise).exists()


BAD = {
    "syntax": ("name: [unclosed\n", 2, "(file)"),  # the parser notices at the end of the file
    "python tag": ("name: !!python/object/apply:os.system ['true']\n", 1, "name"),
    "unknown field": ("name: X\nslug: x\nbogus: 1\n", 3, "bogus"),
    "duplicate key": ("name: X\nname: Y\n", 2, "name"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_mistake_names_the_file_line_and_field(tmp_path, case):
    text, line, field = BAD[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(scenarios.ScenarioError) as caught:
        scenarios.load(path)
    assert (caught.value.path, caught.value.line, caught.value.field) == ("broken.yaml", line, field)
    assert str(caught.value).startswith(f"broken.yaml:{line}: {field}: ")


def test_a_wrong_reference_deep_in_a_valid_file_is_pinpointed_and_nothing_is_created(tmp_path, cast, controller):
    good = (scenarios.SCENARIO_DIR / "routine-review.yaml").read_text()
    broken = good.replace("objective: determine-in-time\n  - number: 5", "objective: determine-on-time\n  - number: 5")
    assert broken != good
    path = tmp_path / "routine-broken.yaml"
    path.write_text(broken)
    line = broken.splitlines().index("    objective: determine-on-time") + 1
    organizations = Organization.objects.count()
    with pytest.raises(CommandError, match=rf"routine-broken.yaml:{line}: injects\[3\].objective: 'determine-on-time'"):
        call_command("start_exercise", str(path), "--controller", controller.username)
    assert Exercise.objects.count() == 0 and Organization.objects.count() == organizations


def run_to_the_end(exercise, traveller, step=dt.timedelta(seconds=10)):
    """Move wall time in steps and tick, as beat would; return the injects fired, in order."""
    fired = []
    for _ in range(2000):
        traveller.shift(step)
        report = services.exercise_tick(Exercise.objects.get(pk=exercise.pk))
        fired += report.fired
        if report.ended:
            return fired
    raise AssertionError("the exercise never ended")


def test_a_full_run_fires_every_inject_once_in_order_and_the_untouched_review_elapses_on_day_30(cast, controller):
    with time_machine.travel(WALL_START, tick=False) as traveller:
        exercise = start("routine-review", controller).exercise
        services.exercise_start(exercise=exercise, actor=controller)
        fired = run_to_the_end(exercise, traveller)
        # A second pass over an ended exercise fires nothing again.
        assert services.exercise_tick(Exercise.objects.get(pk=exercise.pk)).fired == []

    exercise.refresh_from_db()
    assert exercise.sim_ended_at == exercise.simulated_now() == exercise.sim_end()
    assert fired == sorted(exercise.injects.values_list("number", flat=True))
    assert all(i.fired_at >= i.due_at for i in exercise.injects.all())
    assert exercise.status == Exercise.Status.ENDED
    submission = ModelSubmission.objects.get(exercise=exercise)
    assert submission.state == State.WINDOW_ELAPSED
    elapsed = AuditEntry.objects.get(submission=submission, to_state=State.WINDOW_ELAPSED)
    day = (elapsed.at - exercise.sim_start) / dt.timedelta(days=1)
    assert 30 <= day < 30.2  # the 30-day window, measured in simulated time (10 s ticks = 4 h)
    kinds = set(SlaBreach.objects.filter(submission=submission).values_list("kind", flat=True))
    assert {"intake_decision", "determination"} <= kinds
    # Each inject reached its recipients once.
    for inject in exercise.injects.all():
        assert inject.messages.count() == len(set(inject.messages.values_list("recipient", flat=True))) >= 1


def test_pause_speed_and_jump(cast, controller):
    with time_machine.travel(WALL_START, tick=False) as traveller:
        exercise = start("routine-review", controller, speed=60).exercise
        services.exercise_start(exercise=exercise, actor=controller)
        traveller.shift(dt.timedelta(minutes=1))
        assert exercise.__class__.objects.get(pk=exercise.pk).simulated_now() == exercise.sim_start + dt.timedelta(
            hours=1
        )
        services.exercise_pause(exercise=exercise, actor=controller)
        traveller.shift(dt.timedelta(hours=5))
        paused = Exercise.objects.get(pk=exercise.pk)
        assert paused.simulated_now() == exercise.sim_start + dt.timedelta(hours=1)
        services.exercise_start(exercise=paused, actor=controller)
        services.exercise_set_speed(exercise=paused, actor=controller, speed=1440)
        traveller.shift(dt.timedelta(minutes=1))
        assert Exercise.objects.get(pk=exercise.pk).simulated_now() == exercise.sim_start + dt.timedelta(
            days=1, hours=1
        )
        services.exercise_jump(exercise=paused, actor=controller, to=exercise.sim_start + dt.timedelta(days=3))
        assert Exercise.objects.get(pk=exercise.pk).simulated_now() == exercise.sim_start + dt.timedelta(days=3)
        with pytest.raises(Exception, match="only moves forward"):
            services.exercise_jump(exercise=paused, actor=controller, to=exercise.sim_start)
        with pytest.raises(Exception, match="speed must be from 1"):
            services.exercise_set_speed(exercise=paused, actor=controller, speed=0)


def test_an_inject_fired_by_hand_is_not_fired_again_by_the_clock(cast, controller):
    with time_machine.travel(WALL_START, tick=False) as traveller:
        exercise = start("routine-review", controller).exercise
        services.exercise_start(exercise=exercise, actor=controller)
        last = exercise.injects.order_by("-number").first()
        assert services.inject_fire(inject=last, sim_now=exercise.simulated_now(), actor=controller)
        assert not services.inject_fire(inject=last, sim_now=exercise.simulated_now(), actor=controller)
        fired = run_to_the_end(exercise, traveller)
    assert last.number not in fired
    assert Message.objects.filter(inject=last).count() == Inject.objects.get(pk=last.pk).messages.count()


def test_players_see_only_their_exercise_and_live_people_see_none_of_it(cast, controller, client):
    live = cast.submission(State.EVALUATION)
    sheet = start("routine-review", controller)
    exercise = sheet.exercise
    ex_submission = ModelSubmission.objects.get(exercise=exercise)
    dev = exercise.players.get(username=f"x{exercise.pk}.dev")
    admin = exercise.players.get(username=f"x{exercise.pk}.admin")

    client.force_login(admin)
    assert client.get(reverse("submissions:detail", args=[live.pk])).status_code == 404
    page = client.get(reverse("home")).content.decode()
    assert ex_submission.model_name in page and live.model_name not in page and "EXERCISE" in page
    assert client.get(reverse("submissions:detail", args=[ex_submission.pk])).status_code == 200

    client.force_login(dev)
    assert client.get(reverse("submissions:detail", args=[live.pk])).status_code == 404

    for who in (cast.admin, cast.developer, cast.lead, cast.partner):
        client.force_login(who)
        assert client.get(reverse("submissions:detail", args=[ex_submission.pk])).status_code == 404
        assert ex_submission.model_name not in client.get(reverse("home")).content.decode()


def test_a_player_cannot_act_on_live_data_even_through_the_services(cast, controller):
    from caisi_portal.errors import NotPermitted
    from submissions.services import submission_transition

    live = cast.submission(State.INTAKE)
    exercise = start("routine-review", controller).exercise
    admin = exercise.players.get(username=f"x{exercise.pk}.admin")
    with pytest.raises(NotPermitted):
        submission_transition(submission=live, name="request_information", actor=admin, data={"questions": "?"})


def test_exercise_notifications_are_recorded_never_sent(cast, controller, httpserver):
    from partners.models import Delivery, TrustedPartner
    from partners.services import delivery_attempt

    TrustedPartner.objects.create(
        organization=cast.partner_org, webhook_url=httpserver.url_for("/hook"), event_types=["submission.cleared"]
    )
    exercise = start("access-removal", controller).exercise
    deliveries = Delivery.objects.filter(event__submission__exercise=exercise)
    assert deliveries.exists()
    assert not deliveries.filter(partner__organization=cast.partner_org).exists()  # never a live partner
    for d in deliveries:
        delivery_attempt(d.pk)
    assert not httpserver.log
    assert all("Exercise: recorded" in a.error for d in deliveries for a in d.attempt_log.all())
