"""The lead chooses the benchmark versions of a planned domain, on the page and through the API;
anything else sent is refused with a message, never a server error."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from submissions.models import AuditEntry, State
from tests.factories import another_reference_version, reference_version

pytestmark = pytest.mark.django_db

HUGE = str(2**70)


@pytest.fixture
def planned(cast):
    """A submission in evaluation, its first planned domain, and a second version of its benchmark."""
    s = cast.submission(State.EVALUATION)
    item = s.plan_items.select_related("domain").order_by("domain__sort_order").first()
    reference = reference_version(item.domain)
    second = another_reference_version(reference, cast.admin, label="2")
    return s, item, reference, second


def test_the_lead_plans_another_version_on_the_page(cast, client, planned):
    s, item, reference, second = planned
    client.force_login(cast.lead)
    url = reverse("reviews:plan_versions", args=[s.pk])
    answer = client.post(url, {"domain": item.domain.pk, "versions": [reference.pk, second.pk]})
    assert answer.status_code == 302
    assert set(item.versions.values_list("pk", flat=True)) == {reference.pk, second.pk}
    assert AuditEntry.objects.filter(submission=s, action="plan_changed").exists()


@pytest.mark.parametrize("versions", [[], [HUGE], ["\u00b2"], ["abc"], ["-1"], ["0"]])
def test_the_page_refuses_anything_but_listed_versions(cast, client, planned, versions):
    s, item, reference, _second = planned
    client.force_login(cast.lead)
    answer = client.post(
        reverse("reviews:plan_versions", args=[s.pk]), {"domain": item.domain.pk, "versions": versions}
    )
    assert answer.status_code == 400
    body = answer.content.decode()
    said = ("This field is required.", "Select a valid choice", "is not a valid value")
    assert any(words in body for words in said)
    assert list(item.versions.values_list("pk", flat=True)) == [reference.pk]


def test_the_api_plans_and_answers_with_the_plan(cast, planned):
    s, item, _reference, second = planned
    api = APIClient()
    api.force_authenticate(cast.lead)
    url = f"/api/v1/submissions/{s.pk}/plan/"
    answer = api.post(url, {"domain": item.domain.slug, "versions": [second.pk]}, format="json")
    assert answer.status_code == 200, answer.content
    row = next(r for r in answer.json() if r["domain"] == item.domain.slug)
    assert row["versions"] == [second.pk] and row["above_your_clearance"] == 0


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ([], "Choose one or more benchmark versions"),
        ([2**70], "versions"),
        ([0], "versions"),
        ("not a list", "versions"),
        (["\u00b2"], "versions"),
        ([10**6], "Choose among this domain's benchmark versions"),
    ],
)
def test_the_api_refuses_anything_but_listed_versions_each_once(cast, planned, versions, message):
    s, item, reference, _second = planned
    api = APIClient()
    api.force_authenticate(cast.lead)
    answer = api.post(
        f"/api/v1/submissions/{s.pk}/plan/", {"domain": item.domain.slug, "versions": versions}, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert message in answer.json()["error"]["message"]
    assert list(item.versions.values_list("pk", flat=True)) == [reference.pk]


def test_the_api_refuses_a_version_twice(cast, planned):
    s, item, _reference, second = planned
    api = APIClient()
    api.force_authenticate(cast.lead)
    answer = api.post(
        f"/api/v1/submissions/{s.pk}/plan/",
        {"domain": item.domain.slug, "versions": [second.pk, second.pk]},
        format="json",
    )
    assert answer.status_code == 400 and "each once" in answer.json()["error"]["message"]
