"""The public register explains an empty search: an unsigned developer's models are not
submitted here, and a model not listed is not thereby unreviewed. It reveals nothing that
is not published."""

import pytest
from django.urls import reverse

from submissions.models import State
from tests.factories import developer_org

pytestmark = pytest.mark.django_db


def test_a_search_for_an_unsigned_developer_says_it_has_no_agreement(client):
    developer_org("Meta-Sim Labs", status="negotiating")
    page = client.get(reverse("register:page"), {"q": "Meta-Sim"}).content.decode()
    assert "No published review matches" in page
    assert (
        "Meta-Sim Labs has not signed a review agreement with the office (negotiating): "
        "its models are not submitted for review here." in page
    )
    assert "Not published is not the same as not reviewed" in page


def test_a_signed_developer_with_nothing_published_may_still_be_under_review(cast, client):
    s = cast.submission(State.EVALUATION, model_name="Secret-Model")
    org = s.organization.name
    page = client.get(reverse("register:page"), {"q": org}).content.decode()
    assert f"{org} has signed a review agreement with the office" in page
    assert "may be under review, or its review may not have been published" in page
    # Nothing unpublished leaks: neither the model nor its state.
    assert "Secret-Model" not in page and "Evaluation" not in page
    by_model = client.get(reverse("register:page"), {"q": "Secret-Model"}).content.decode()
    assert "Secret-Model</td>" not in by_model and "has signed a review agreement" not in by_model
    assert "Not published is not the same as not reviewed" in by_model


def test_an_exercise_developer_is_never_named(cast, client):
    """Exercise organizations are training data: a search never names them."""
    from accounts.roles import Role
    from exercises import scenarios, services
    from tests.factories import UserFactory

    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
    services.exercise_create(scenario=scenarios.by_slug("last-holdout"), actor=controller)
    page = client.get(reverse("register:page"), {"q": "Meridian"}).content.decode()
    assert "Meridian AI" not in page
    assert "has not signed" not in page
