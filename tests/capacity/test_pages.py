"""The planner's pages: live administrators only; a scenario saved and queued, run by the worker's
service, shown with its charts' figures, downloaded, and compared; bad input refused in words."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from capacity import forms, services
from capacity.models import Scenario
from submissions.models import State
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def form_data(**changes):
    data = {
        "name": "Plan 2027",
        "arrivals": "3",
        "plans": "cyber, bio: 70\ncyber: 30",
        "work_days": "cyber: 2\nbio: 3",
        "work_spread": "0.5",
        "intake_days": "1",
        "information_share": "20",
        "answer_days": "5",
        "needs_unclassified": "70",
        "needs_cui": "20",
        "needs_secret": "10",
        "headcount": "2",
        "reviewers_unclassified": "50",
        "reviewers_cui": "25",
        "reviewers_secret": "25",
        "leave_days": "25",
        "window_days": "30",
        "headcount_min": "1",
        "headcount_max": "4",
        "target": "5",
        "replications": "5",
        "seed": "3",
    }
    return data | changes


def start(client, django_capture_on_commit_callbacks, **changes):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("capacity:list"), form_data(**changes))
    return response, queued


def test_an_administrator_saves_a_scenario_and_its_run_is_queued(cast, client, django_capture_on_commit_callbacks):
    client.force_login(cast.admin)
    response, queued = start(client, django_capture_on_commit_callbacks)
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response.url == reverse("capacity:detail", args=[scenario.pk])
    assert len(queued) == 1 and scenario.status == Scenario.Status.QUEUED
    assert scenario.inputs["headcounts"] == [1, 2, 3, 4] and scenario.runs_total == 20
    assert scenario.inputs["arrivals"] == [3.0] * 12
    page = client.get(response.url)
    assert b"Waiting for a worker" in page.content
    progress = client.get(response.url, headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in progress.content


def test_the_run_answers_with_figures_charts_and_downloads(cast, client, django_capture_on_commit_callbacks):
    client.force_login(cast.admin)
    start(client, django_capture_on_commit_callbacks)
    scenario = services.scenario_run(Scenario.objects.get().pk)
    assert scenario.status == Scenario.Status.DONE and scenario.runs_done == 20
    assert scenario.policy["intake_decision_days"] == 3
    points = scenario.results["points"]
    assert [p["headcount"] for p in points] == [1, 2, 3, 4]
    assert scenario.results["recommended"] == services.recommended_headcount(points, 5)

    page = client.get(reverse("capacity:detail", args=[scenario.pk]))
    assert page.status_code == 200
    assert b'id="recommended-headcount"' in page.content and b"chart-breach" in page.content
    assert b"<summary>Figures</summary>" in page.content  # the table under each chart
    done = client.get(reverse("capacity:detail", args=[scenario.pk]), headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"

    rows = list(
        csv.DictReader(
            io.StringIO(client.get(reverse("capacity:table", args=[scenario.pk, "headcounts"])).content.decode())
        )
    )
    assert [r["headcount"] for r in rows] == ["1", "2", "3", "4"]
    assert {"breach_determination_percent", "breach_determination_percent_high", "utilisation_percent"} <= set(rows[0])
    weeks = client.get(reverse("capacity:table", args=[scenario.pk, "weeks"])).content.decode().splitlines()
    assert weeks[0] == "week,queue,queue_low,queue_high" and len(weeks) == 53
    document = json.loads(client.get(reverse("capacity:json", args=[scenario.pk])).content)
    assert document["results"]["recommended"] == scenario.results["recommended"]
    assert document["inputs"]["replications"] == 5
    assert client.get(reverse("capacity:table", args=[scenario.pk, "nothing"])).status_code == 404


def test_a_run_repeated_gives_the_same_answer(cast, client, django_capture_on_commit_callbacks):
    """A redelivered task starts again from the same seeds; a finished scenario is left alone."""
    client.force_login(cast.admin)
    start(client, django_capture_on_commit_callbacks)
    start(client, django_capture_on_commit_callbacks)
    first, second = (services.scenario_run(s.pk) for s in Scenario.objects.order_by("pk"))
    assert first.results == second.results
    assert services.scenario_run(first.pk).finished_at == first.finished_at


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"headcount": "100000"}, forms.MSG_HEADCOUNT),
        ({"headcount": "0"}, forms.MSG_HEADCOUNT),
        ({"replications": "100000"}, forms.MSG_REPLICATIONS),
        ({"headcount_min": "1", "headcount_max": "150"}, forms.MSG_RANGE),
        ({"arrivals": "1, 2, 3"}, forms.MSG_ARRIVALS),
        ({"arrivals": "nan"}, forms.MSG_ARRIVALS),
        ({"needs_secret": "50"}, "The submissions' clearance shares must add up to 100."),
        ({"work_days": "cyber: 2"}, "Say how long the work takes for: bio."),
        ({"plans": "cyber: 60"}, forms.MSG_PLAN_SHARES.format(total="60")),
        ({"plans": "cyber, bio: 70\ncyber: 40"}, forms.MSG_PLAN_SHARES.format(total="110")),
        ({"plans": "cyber, bio: 33.3\ncyber: 66.6"}, forms.MSG_PLAN_SHARES.format(total="99.9")),
        (
            {"arrivals": "1000", "replications": "500", "headcount_min": "1", "headcount_max": "10"},
            forms.MSG_BUDGET.format(n=500 * 10 * 12000),
        ),
    ],
)
def test_bad_input_is_refused_with_its_reason(cast, client, changes, message, django_capture_on_commit_callbacks):
    client.force_login(cast.admin)
    response, queued = start(client, django_capture_on_commit_callbacks, **changes)
    assert response.status_code == 400 and not queued and not Scenario.objects.exists()
    assert message in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')


@pytest.mark.parametrize("who", ["lead", "reviewer", "developer", "partner", "trainee"])
def test_others_find_no_planner(cast, client, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse("capacity:list")).status_code == 404
    assert client.post(reverse("capacity:list"), form_data()).status_code == 404
    assert not Scenario.objects.exists()


def test_an_exercise_administrator_finds_no_planner(client):
    from accounts.roles import Role
    from exercises import scenarios
    from exercises import services as exercise_services

    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER)
    exercise = exercise_services.exercise_create(
        scenario=scenarios.by_slug("routine-review"), actor=controller
    ).exercise
    player = UserFactory(username=f"x{exercise.pk}.admin2", role=Role.ADMINISTRATOR, exercise=exercise)
    client.force_login(player)
    assert client.get(reverse("capacity:list")).status_code == 404


def test_scenarios_are_compared_side_by_side(cast, client, django_capture_on_commit_callbacks):
    client.force_login(cast.admin)
    start(client, django_capture_on_commit_callbacks, name="Two reviewers")
    start(client, django_capture_on_commit_callbacks, name="Four reviewers", headcount="4")
    one, two = (services.scenario_run(s.pk) for s in Scenario.objects.order_by("pk"))
    page = client.get(reverse("capacity:compare"), {"ids": [one.pk, two.pk]})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Two reviewers" in text and "Four reviewers" in text and "Recommended headcount" in text
    assert "chart-compare" in text
    refused = client.get(reverse("capacity:compare"), {"ids": [one.pk]})
    assert refused.status_code == 400 and "Choose from 2 to 4 finished scenarios" in refused.content.decode()
    assert client.get(reverse("capacity:compare"), {"ids": ["x", "y"]}).status_code == 400


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_pages_keep_a_constant_number_of_queries(cast, client, django_capture_on_commit_callbacks):
    """The form's history and the saved list: the same queries with more history and scenarios."""
    client.force_login(cast.admin)
    cast.submission(State.CLEARED)
    start(client, django_capture_on_commit_callbacks)
    services.scenario_run(Scenario.objects.get().pk)
    baseline = _queries(client, reverse("capacity:list"))
    detail = _queries(client, reverse("capacity:detail", args=[Scenario.objects.get().pk]))
    for state in (State.CLEARED, State.EVALUATION, State.INFORMATION_REQUESTED):
        cast.submission(state)
    for _ in range(3):
        start(client, django_capture_on_commit_callbacks)
    for s in Scenario.objects.filter(status=Scenario.Status.QUEUED):
        services.scenario_run(s.pk)
    assert _queries(client, reverse("capacity:list")) == baseline
    assert _queries(client, reverse("capacity:detail", args=[Scenario.objects.first().pk])) == detail
    ids = list(Scenario.objects.values_list("pk", flat=True))
    compare_two = _queries(client, reverse("capacity:compare") + f"?ids={ids[0]}&ids={ids[1]}")
    compare_four = _queries(client, reverse("capacity:compare") + "?" + "&".join(f"ids={i}" for i in ids))
    assert compare_two == compare_four


def test_the_history_fills_in_the_form(cast, client):
    """Last year's submissions, plans and intake times are the form's starting values."""
    for _ in range(3):
        cast.submission(State.CLEARED)
    client.force_login(cast.admin)
    page = client.get(reverse("capacity:list"))
    form = page.context["form"]
    assert form.fit["submitted"] == 3 and form.fit["plans_seen"] == 3
    assert sum(float(a) for a in form.initial["arrivals"].split(",")) == 3
    assert "Filled in from the live office's last 12 months: 3 submissions" in page.content.decode()
    # The starting values are a valid scenario as they stand.
    data = {name: form.initial[name] for name in form.fields}
    assert forms.ScenarioForm(data).is_valid(), forms.ScenarioForm(data).errors


def test_plans_counted_from_the_history_start_as_shares_of_100():
    """The history counts submissions per plan (the eight commonest); the form starts with
    their shares out of 100, rounded so that they add up to 100 exactly."""
    fit = {
        "arrivals": [1.0] * 12,
        "reviewer_clearance": {"unclassified": 1, "cui": 1, "secret": 1},
        "headcount": 3,
        "plans": [(["cyber"], 5), (["bio", "cyber"], 3), (["chem"], 1)],
        "work_days": {"cyber": 2.0, "bio": 3.0, "chem": 1.0},
        "intake_days": 1.0,
        "information_share": 10,
        "answer_days": 5.0,
        "window_days": 30,
    }
    initial = forms.initial_from(fit, name="From history")
    assert initial["plans"] == "cyber: 56\nbio, cyber: 33\nchem: 11"
    data = {**form_data(), **{k: v for k, v in initial.items() if k in forms.ScenarioForm.base_fields}}
    form = forms.ScenarioForm(data)
    assert form.is_valid(), form.errors
    assert sum(share for _, share in form.cleaned_data["plans"]) == 100
    # A rare plan keeps a share of its own rather than rounding to nothing (a share is more than 0).
    assert forms.shares_of_100([1000, 1]) == [99, 1] and forms.shares_of_100([1, 1, 1]) == [34, 33, 33]
