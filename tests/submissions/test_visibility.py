"""Confidentiality: who can know a submission exists, and what each role sees of it."""

import pytest
from django.urls import reverse

from submissions.models import ModelSubmission, State
from tests.built_once import rows_built_once, shared
from tests.factories import Cast

pytestmark = pytest.mark.django_db

ALL_STATES = [
    State.DRAFT,
    State.INTAKE,
    State.INFORMATION_REQUESTED,
    State.EVALUATION,
    State.CLEARED,
    State.FLAGGED,
    State.WITHDRAWN,
    State.RELEASED,
    State.ACCESS_REMOVED,
    State.WINDOW_ELAPSED,
]

# Who may know a Lab Alpha submission exists, per state. The lead is assigned from
# evaluation on (see Cast.submission); before that a lead sees only the intake queue.
EXPECTED = {
    "developer": set(ALL_STATES),
    "other_developer": set(),
    "holdout_developer": set(),
    "admin": set(ALL_STATES) - {State.DRAFT},
    "lead": {
        State.INTAKE,
        State.INFORMATION_REQUESTED,
        State.EVALUATION,
        State.CLEARED,
        State.FLAGGED,
        State.RELEASED,
        State.ACCESS_REMOVED,
        State.WINDOW_ELAPSED,
    },
    "reviewer": {
        State.EVALUATION,
        State.CLEARED,
        State.FLAGGED,
        State.RELEASED,
        State.ACCESS_REMOVED,
        State.WINDOW_ELAPSED,
    },
    "unassigned_reviewer": set(),
    "partner": {State.CLEARED, State.FLAGGED, State.RELEASED, State.ACCESS_REMOVED, State.WINDOW_ELAPSED},
    "trainee": set(),
}


def _one_per_state():
    cast = Cast()
    return cast, {state: cast.submission(state) for state in ALL_STATES}


@pytest.fixture(scope="module")
def one_per_state_built(django_db_setup, django_db_blocker):
    """A submission in every state, built once for the module's nine roles (each test runs in a
    savepoint of its own, and only reads)."""
    with rows_built_once(django_db_blocker, _one_per_state) as built:
        yield built


@pytest.fixture
def cast(request, one_per_state_built):
    """This module's people are the ones the built submissions belong to."""
    return shared(request, one_per_state_built)[0]


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_visibility_matrix(request, one_per_state_built, who, client):
    cast, one_per_state = shared(request, one_per_state_built)
    user = getattr(cast, who)
    visible = set(ModelSubmission.objects.visible_to(user).values_list("state", flat=True))
    assert visible == {str(s) for s in EXPECTED[who]}
    client.force_login(user)
    for state, submission in one_per_state.items():
        response = client.get(reverse("submissions:detail", args=[submission.pk]))
        # Out of scope is "not found", never "forbidden": no one learns it exists.
        assert response.status_code == (200 if state in EXPECTED[who] else 404), (who, state)


def test_anonymous_is_sent_to_login(cast, client):
    s = cast.submission(State.INTAKE)
    response = client.get(s.get_absolute_url())
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_home_lists_only_own_organizations_submissions(cast, client):
    mine = cast.submission(State.INTAKE, model_name="Alpha-Secret")
    from tests.factories import draft

    draft(cast.other_developer, model_name="Beta-Secret")
    client.force_login(cast.other_developer)
    page = client.get(reverse("home")).content.decode()
    assert "Beta-Secret" in page and "Alpha-Secret" not in page
    assert client.get(mine.get_absolute_url()).status_code == 404


def test_partner_sees_only_the_released_summary(cast, client):
    s = cast.submission(State.CLEARED, capabilities="SECRET-CAPABILITY-TEXT")
    client.force_login(cast.partner)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Cleared; no threshold exceeded." in page
    for hidden in ("SECRET-CAPABILITY-TEXT", "No threshold exceeded.", "model-card.md", "Timeline", "accept"):
        assert hidden not in page
    artifact = s.artifacts.first()
    url = reverse("submissions:artifact_download", args=[s.pk, artifact.pk])
    assert client.get(url).status_code == 404


def test_developer_never_sees_internal_timeline_or_findings(cast, client):
    from tests.factories import serious_finding

    s = cast.submission(State.EVALUATION)
    serious_finding(s, cast.reviewer)
    client.force_login(cast.developer)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Exploit generation" not in page
    assert "Reviewer assigned" not in page and "Finding recorded" not in page
    assert "Submitted for review" in page


def test_artifact_of_another_submission_is_not_found(cast, client):
    a = cast.submission(State.INTAKE)
    from tests.factories import draft

    b = draft(cast.developer)
    client.force_login(cast.developer)
    other_artifact = b.artifacts.first()
    url = reverse("submissions:artifact_download", args=[a.pk, other_artifact.pk])
    assert client.get(url).status_code == 404
    ok = reverse("submissions:artifact_download", args=[b.pk, other_artifact.pk])
    response = client.get(ok)
    assert response.status_code == 200 and b"simulated card" in b"".join(response.streaming_content)
