"""The planner in the API: the same form's refusals, the same rule, the scenario as JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

from capacity import forms, services
from capacity.models import Scenario
from tests.capacity.test_pages import form_data
from tests.factories import token_client as api

pytestmark = pytest.mark.django_db


def test_an_administrator_queues_a_scenario_and_reads_its_answer(cast, django_capture_on_commit_callbacks):
    client = api(cast.admin)
    body = form_data(arrivals=[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4], headcount=2, replications=3)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post("/api/v1/capacity-scenarios/", body, format="json")
    assert response.status_code == 201, response.json()
    assert len(queued) == 1 and response.json()["status"] == "queued"
    assert response.json()["recommended_headcount"] is None
    scenario = services.scenario_run(response.json()["id"])
    got = client.get(f"/api/v1/capacity-scenarios/{scenario.pk}/").json()
    assert got["status"] == "done" and got["percent"] == 100
    assert got["recommended_headcount"] == scenario.results["recommended"]
    assert got["inputs"]["arrivals"][-1] == 4.0
    assert [s["id"] for s in client.get("/api/v1/capacity-scenarios/").json()["results"]] == [scenario.pk]


def test_bad_input_gets_the_pages_words(cast, django_capture_on_commit_callbacks):
    client = api(cast.admin)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post("/api/v1/capacity-scenarios/", form_data(replications=100000), format="json")
    assert response.status_code == 400 and not queued and not Scenario.objects.exists()
    error = response.json()["error"]
    assert error["message"] == f"replications: {forms.MSG_REPLICATIONS}"
    assert error["details"]["replications"] == [forms.MSG_REPLICATIONS]
    huge = client.post("/api/v1/capacity-scenarios/", form_data(headcount=10**9), format="json")
    assert huge.status_code == 400 and huge.json()["error"]["message"] == f"headcount: {forms.MSG_HEADCOUNT}"


def test_plan_shares_that_do_not_add_up_are_refused_as_on_the_page(cast, client, django_capture_on_commit_callbacks):
    """The README's promise: 400 naming the total, never a scenario silently rescaled; the
    page's form refuses the same plans in the same words."""
    refusal = forms.MSG_PLAN_SHARES.format(total="60")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api(cast.admin).post("/api/v1/capacity-scenarios/", form_data(plans="cyber: 60"), format="json")
    assert response.status_code == 400 and not queued and not Scenario.objects.exists()
    assert response.json()["error"]["message"] == f"plans: {refusal}"
    assert response.json()["error"]["details"]["plans"] == [refusal]
    client.force_login(cast.admin)
    page = client.post(reverse("capacity:list"), form_data(plans="cyber: 60"))
    assert page.status_code == 400 and page.context["form"].errors["plans"] == [refusal]


@pytest.mark.parametrize("who", ["lead", "reviewer", "developer", "partner"])
def test_others_are_refused(cast, who):
    client = api(getattr(cast, who))
    assert client.get("/api/v1/capacity-scenarios/").status_code == 403
    assert client.post("/api/v1/capacity-scenarios/", form_data(), format="json").status_code == 403
    assert not Scenario.objects.exists()
