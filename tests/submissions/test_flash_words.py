"""After an action the person is told what happened and what comes next, in their words,
never the state's code name ("the submission is now Intake")."""

import pytest
from django.urls import reverse

from submissions.models import SlaPolicy, State

pytestmark = pytest.mark.django_db


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_submitting_says_how_long_the_office_has_to_decide(cast, client):
    SlaPolicy.current()  # the default: 3 days to decide on intake
    s = cast.submission(State.DRAFT)
    client.force_login(cast.developer)
    url = reverse("submissions:action", args=[s.pk, "submit"])
    response = client.post(url, {"expected_state": "draft", "comment": ""}, follow=True)
    (message,) = flash(response)
    assert message == "Submitted for review. The office has 3 days to decide on intake."
    assert "is now" not in message


def test_a_policy_of_one_day_reads_in_the_singular(cast, client):
    policy = SlaPolicy.current()
    policy.intake_decision_days = 1
    policy.save()
    from submissions.services import transition_done_message

    s = cast.submission(State.INTAKE)
    assert transition_done_message(s, "submit") == "Submitted for review. The office has 1 day to decide on intake."


def test_requesting_information_says_the_clock_is_paused(cast, client):
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.admin)
    url = reverse("submissions:action", args=[s.pk, "request_information"])
    response = client.post(
        url, {"expected_state": "evaluation", "comment": "", "questions": "Which safeguards?"}, follow=True
    )
    assert response.status_code == 200, response.content.decode()[-2000:]
    (message,) = flash(response)
    assert message.startswith("Information requested. The review clock is paused until the developer answers")
    assert "(they have 10 days)" in message


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (State.DRAFT, "A submission that is still a draft cannot be moved by 'clear for release'."),
        (State.INTAKE, "A submission that is in intake cannot be moved by 'clear for release'."),
        (State.INFORMATION_REQUESTED, "A submission that is waiting for the developer's answer cannot be moved by"),
        (State.EVALUATION, "A submission that is under evaluation cannot be moved by 'submit for review'."),
        (State.WINDOW_ELAPSED, "A submission that is past its review window cannot be moved by 'submit for review'."),
        (
            State.ACCESS_REMOVED,
            "A submission that is under an order that removed its access cannot be moved by 'submit for review'.",
        ),
    ],
)
def test_a_refused_transition_names_the_state_in_words(cast, state, words):
    """A state is said as a person says it ("under evaluation"), never its label used as a
    description ("a submission that is evaluation")."""
    from caisi_portal.errors import TransitionRefused
    from submissions import services

    s = cast.submission(state)
    name = "submit" if state not in (State.DRAFT, State.INTAKE, State.INFORMATION_REQUESTED) else "clear"
    with pytest.raises(TransitionRefused) as refused:
        services.transition_check(s, name, cast.admin)
    assert refused.value.message.startswith(words), refused.value.message
