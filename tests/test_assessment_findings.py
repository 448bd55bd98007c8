"""The black-box assessment's findings (issue 14), each with the test that failed before its fix."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from api.services import api_token_issue
from reviews.models import EvaluationDomain
from submissions.models import State
from tests.factories import UserFactory, move

pytestmark = pytest.mark.django_db


# --- office data shown to people who may not act ------------------------------------------------

OFFICE_FORMS = ["reviews:assign", "reviews:record_result", "reviews:record_finding", "reviews:propose_flag"]


@pytest.mark.parametrize("url_name", OFFICE_FORMS)
@pytest.mark.parametrize("who", ["developer", "partner", "unassigned_reviewer"])
def test_a_refused_role_posting_an_office_form_gets_none_of_the_offices_data(cast, client, url_name, who):
    """`POST {}` used to redraw the form with every reviewer's name and the planned domains."""
    s = cast.submission(State.CLEARED if who == "partner" else State.EVALUATION)
    client.force_login(getattr(cast, who))
    response = client.post(reverse(url_name, args=[s.pk]), {})
    assert response.status_code in (403, 404)
    body = response.content.decode()
    others = {cast.reviewer, cast.low_reviewer, cast.unassigned_reviewer, cast.lead} - {getattr(cast, who)}
    for person in others:  # (the page's menu names the person signed in, and nobody else)
        assert person.get_full_name() not in body
    for domain in EvaluationDomain.objects.all():
        assert domain.name not in body


# --- intake input ------------------------------------------------------------------------------


def test_accepting_with_an_empty_plan_or_a_repeated_domain_is_a_clear_400(cast, client):
    s = cast.submission(State.INTAKE)
    _, key = api_token_issue(user=cast.admin, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    checklist = dict.fromkeys(("cards_received", "access_confirmed", "release_plan_confirmed"), True)
    url = f"/api/v1/submissions/{s.pk}/transitions/accept/"
    domain = EvaluationDomain.objects.first().slug
    repeated = api.post(url, {"checklist": checklist, "domains": [domain, domain]}, format="json")
    assert repeated.status_code == 400 and "planned once" in repeated.json()["error"]["message"]
    empty = api.post(url, {"checklist": checklist, "domains": []}, format="json")
    assert empty.status_code == 400 and "at least one evaluation domain" in empty.json()["error"]["message"]
    s.refresh_from_db()
    assert s.state == State.INTAKE
    # The page says the same, and keeps the submission in intake.
    client.force_login(cast.admin)
    form = {f"check_{k}": "on" for k in checklist} | {"expected_state": "intake"}
    page = client.post(reverse("submissions:action", args=[s.pk, "accept"]), form)
    assert page.status_code == 400 and b"at least one evaluation domain" in page.content


# --- developers see the office's decisions as the office's --------------------------------------


def test_developers_see_review_office_not_named_staff_in_history_and_timeline(cast, client):
    s = cast.submission(State.CLEARED)
    client.force_login(cast.developer)
    page = client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
    assert "Review office" in page
    for person in (cast.admin, cast.lead):
        assert person.get_full_name() not in page
    assert cast.developer.get_full_name() in page  # their own colleagues keep their names
    _, key = api_token_issue(user=cast.developer, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    actors = {e["actor"] for e in api.get(f"/api/v1/submissions/{s.pk}/history/").json()}
    assert actors <= {cast.developer.username, "Review office", None}
    assert "Review office" in actors
    # The office still sees who did what.
    client.force_login(cast.admin)
    assert cast.lead.get_full_name() in client.get(reverse("submissions:detail", args=[s.pk])).content.decode()


def test_the_developers_colleague_keeps_a_name(cast, client):
    colleague = UserFactory(username="dev2", role=Role.DEVELOPER_STAFF, organization=cast.lab)
    s = cast.submission(State.DRAFT)
    move(s, "submit", colleague)
    client.force_login(cast.developer)
    assert colleague.get_full_name() in client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
