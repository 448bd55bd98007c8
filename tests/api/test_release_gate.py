"""The release gate: its answer for every state, who may ask, and the `caisi-gate` client's exit
codes against a live portal (the console script as a lab's CI step runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts import rules
from api.services import api_token_issue
from reviews.models import Determination
from submissions.models import ModelSubmission, State
from tests.api.test_api import V1, assert_error, client_for
from tests.factories import Cast, draft, move

pytestmark = pytest.mark.django_db

GATE = f"{V1}/release-gate/"

# What the gate says for each state, as the issue states it: permitted (cleared, or the window
# elapsed), not yet (under review), blocked (flagged, or access removed), unknown (never submitted).
EXPECTED = {
    State.DRAFT: "unknown",
    State.WITHDRAWN: "unknown",
    State.INTAKE: "not_yet",
    State.INFORMATION_REQUESTED: "not_yet",
    State.EVALUATION: "not_yet",
    State.CLEARED: "permitted",
    State.WINDOW_ELAPSED: "permitted",
    State.RELEASED: "permitted",
    State.FLAGGED: "blocked",
    State.ACCESS_REMOVED: "blocked",
}


def ask(user, submission=None, **query):
    if submission is not None:
        query = {
            "model": submission.model_name,
            "version": submission.model_version,
            "channel": submission.release_channel,
            **query,
        }
    return client_for(user).get(GATE, query)


def test_every_state_has_an_expected_answer():
    assert set(EXPECTED) == set(State.values)


@pytest.mark.parametrize("state", list(EXPECTED))
def test_the_answer_for_each_state(cast, state):
    submission = cast.submission(state)
    assert submission.state == state
    response = ask(cast.developer, submission)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["answer"] == EXPECTED[state]
    assert body["permitted"] is (EXPECTED[state] == "permitted")
    assert body["reason"] and "voluntary" in body["advisory"]
    assert response["Cache-Control"] == "no-store"
    if state != State.DRAFT:
        assert body["submission"] == submission.pk and body["state"] == state
        assert body["link"].endswith(f"/submissions/{submission.pk}/")
    if state in (State.INTAKE, State.EVALUATION):  # the window runs from submission
        assert body["deadline_at"].startswith(submission.review_clock.deadline_at.strftime("%Y-%m-%dT%H:%M"))
    else:
        assert body["deadline_at"] is None
    if state in (State.CLEARED, State.RELEASED):
        assert body["determination"]["outcome"] == "cleared"
    if state == State.ACCESS_REMOVED:
        assert "removed by government order" in body["reason"]


def test_a_cleared_model_carries_its_release_conditions(cast):
    submission = cast.submission(State.EVALUATION)
    from tests.factories import record_all_results

    record_all_results(submission, cast.reviewer)
    move(submission, "clear", cast.lead, release_conditions="Only to vetted enterprise customers.")
    body = ask(cast.developer, submission).json()
    assert body["answer"] == "permitted"
    assert body["release_conditions"] == "Only to vetted enterprise customers."
    assert "Release conditions apply" in body["reason"]


def test_released_over_a_flag_stays_blocked(cast):
    submission = cast.submission(State.FLAGGED)
    move(submission, "record_release", cast.developer, note="Released against the flag.")
    submission.refresh_from_db()
    assert submission.state == State.RELEASED
    body = ask(cast.developer, submission).json()
    assert body["answer"] == "blocked" and "released all the same" in body["reason"]
    assert body["determination"]["outcome"] == Determination.Outcome.FLAGGED


def test_paused_for_information_gives_no_deadline_to_promise(cast):
    submission = cast.submission(State.EVALUATION)
    move(submission, "request_information", cast.lead)
    body = ask(cast.developer, submission).json()
    assert body["answer"] == "not_yet" and body["deadline_at"] is None
    assert "restarts when it is answered" in body["reason"]


def test_another_channel_is_not_this_one(cast):
    submission = cast.submission(State.CLEARED)
    body = ask(cast.developer, submission, channel="open_weights").json()
    assert body["answer"] == "unknown" and body["submission"] is None
    assert "filed for release as API only" in body["reason"]


def test_a_resubmission_after_withdrawal_is_the_one_answered(cast):
    first = cast.submission(State.WITHDRAWN, model_name="Gate-Model")
    second = draft(cast.developer, model_name="Gate-Model")
    move(second, "submit", cast.developer)
    body = ask(cast.developer, second).json()
    assert body["submission"] == second.pk and body["answer"] == "not_yet"
    assert first.pk != second.pk


def test_names_match_without_regard_to_case_and_surrounding_spaces(cast):
    submission = cast.submission(State.CLEARED, model_name="Orion-Sim")
    body = ask(cast.developer, model=" orion-sim ", version=submission.model_version, channel="api").json()
    assert body["answer"] == "permitted"


def test_another_labs_model_is_unknown_exactly_as_one_never_submitted(cast):
    submission = cast.submission(State.FLAGGED)
    theirs = ask(cast.other_developer, submission).json()
    never = ask(cast.other_developer, model="Never-Filed", version="1.0", channel="api").json()
    assert theirs["answer"] == never["answer"] == "unknown"
    assert theirs["submission"] is None and theirs["determination"] is None
    assert submission.model_name in theirs["reason"]  # only the name the caller typed


def test_office_staff_name_the_organization_when_two_labs_share_a_name(cast):
    ours = cast.submission(State.CLEARED, model_name="Shared")
    theirs = draft(cast.other_developer, model_name="Shared")
    move(theirs, "submit", cast.other_developer)
    error = assert_error(ask(cast.admin, ours), 400)
    assert "lab-alpha" in error["details"]["organization"][0]
    assert ask(cast.admin, ours, organization="lab-alpha").json()["answer"] == "permitted"
    assert ask(cast.admin, ours, organization="lab-beta").json()["answer"] == "not_yet"


@pytest.mark.parametrize(
    "who", ["developer", "other_developer", "holdout_developer", "admin", "lead", "reviewer", "partner", "trainee"]
)
def test_who_may_ask_follows_the_policy(cast, who):
    user = getattr(cast, who)
    response = ask(user, model="M", version="1", channel="api")
    assert response.status_code == (200 if rules.may_check_release_gate(user) else 403)


def test_the_policy_lets_labs_and_the_office_ask_and_nobody_else(cast):
    assert rules.may_check_release_gate(cast.developer) and rules.may_check_release_gate(cast.admin)
    assert not rules.may_check_release_gate(cast.partner)
    assert not rules.may_check_release_gate(cast.trainee)


def test_exercise_players_cannot_ask_and_never_see_their_exercise_through_it(cast):
    from django.contrib.auth.models import AnonymousUser

    from accounts.roles import Role
    from exercises import scenarios
    from exercises import services as exercise_services
    from tests.factories import UserFactory

    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    played = Cast(exercise=ex, mark="XR")
    inside = played.submission(State.CLEARED, model_name="Drill-Model")
    assert not rules.may_check_release_gate(played.developer) and not rules.may_check_release_gate(played.admin)
    # A live developer of the same name sees nothing of the exercise's model either.
    body = ask(cast.developer, inside).json()
    assert body["answer"] == "unknown" and body["submission"] is None
    assert not rules.may_check_release_gate(AnonymousUser())


def test_bad_queries_say_what_is_wrong(cast):
    client = client_for(cast.developer)
    assert "channel" in assert_error(client.get(GATE, {"model": "M", "version": "1", "channel": "usb"}), 400)["details"]
    assert "model" in assert_error(client.get(GATE, {"version": "1", "channel": "api"}), 400)["details"]
    assert_error(client.get(GATE, {"model": "M\x00", "version": "1", "channel": "api"}), 400)
    assert_error(client.get(GATE, {"model": "M" * 201, "version": "1", "channel": "api"}), 400)


def test_signed_out_is_401(client):
    assert_error(client.get(GATE, {"model": "M", "version": "1", "channel": "api"}), 401)


# --- the command-line client, as a CI step runs it --------------------------------------------

CLIENT = Path(sys.executable).with_name("caisi-gate")
EXITS = {"permitted": 0, "not_yet": 10, "blocked": 11, "unknown": 12}


@pytest.fixture
def portal(settings, request):
    """A live portal over plain HTTP (as the browser journeys' settings are): the server's
    middleware is built when it first starts, here, after the redirect to HTTPS is turned off."""
    settings.SECURE_SSL_REDIRECT = False
    return request.getfixturevalue("live_server")


def run_gate(live_server, token, *args, env=None):
    environment = {**os.environ, "CAISI_URL": live_server.url, "CAISI_TOKEN": token, **(env or {})}
    return subprocess.run(
        [str(CLIENT), *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_client_exits_by_the_answer(portal):
    live_server = portal
    cast = Cast()
    _, token = api_token_issue(user=cast.developer, name="ci", read_only=True)
    states = [State.CLEARED, State.EVALUATION, State.FLAGGED]
    made = {state: cast.submission(state) for state in states}
    for state, submission in made.items():
        result = run_gate(live_server, token, "--model", submission.model_name, "--version", "1.0", "--channel", "api")
        assert result.returncode == EXITS[EXPECTED[state]], result.stdout + result.stderr
        assert "voluntary" in result.stdout
    never = run_gate(live_server, token, "--model", "Never", "--version", "1.0", "--channel", "api")
    assert never.returncode == EXITS["unknown"] and "No review of Never 1.0" in never.stdout

    under_review = made[State.EVALUATION]
    args = ("--model", under_review.model_name, "--version", "1.0", "--channel", "api")
    assert run_gate(live_server, token, *args, "--allow", "not_yet").returncode == 0
    as_json = run_gate(live_server, token, *args, "--json")
    assert as_json.returncode == 10 and '"answer": "not_yet"' in as_json.stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_client_fails_closed_without_an_answer(portal, tmp_path):
    live_server = portal
    cast = Cast()
    args = ("--model", "M", "--version", "1", "--channel", "api")
    no_token = run_gate(live_server, "", *args)
    assert no_token.returncode == 3 and "no API token" in no_token.stderr
    revoked = run_gate(live_server, "not-a-token", *args)
    assert revoked.returncode == 3 and "401" in revoked.stderr and "unknown or has been revoked" in revoked.stderr
    _, partner_token = api_token_issue(user=cast.partner, name="ci")
    refused = run_gate(live_server, partner_token, *args)
    assert refused.returncode == 3 and "403" in refused.stderr
    nowhere = run_gate(live_server, partner_token, *args, env={"CAISI_URL": "http://127.0.0.1:9"})
    assert nowhere.returncode == 3 and "no answer from" in nowhere.stderr
    usage = run_gate(live_server, "x", "--model", "M", "--version", "1", "--channel", "floppy")
    assert usage.returncode == 2
    token_file = tmp_path / "token"
    _, token = api_token_issue(user=cast.developer, name="ci-file")
    token_file.write_text(token + "\n")
    from_file = run_gate(live_server, "", *args, "--token-file", str(token_file))
    assert from_file.returncode == 12, from_file.stderr


def test_every_answer_has_an_exit_code():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "caisi-gate"))
    import caisi_gate

    assert set(caisi_gate.EXIT) == set(EXITS) == set(EXPECTED.values())
    assert caisi_gate.EXIT == EXITS
    assert ModelSubmission  # the gate's answers are the model's states, grouped


def test_a_misspelt_transition_field_is_refused_not_dropped(cast):
    s = cast.submission(State.CLEARED)
    response = client_for(cast.developer).post(
        f"{V1}/submissions/{s.pk}/transitions/record_release/",
        {"relased_at": "2026-01-15T00:00:00Z", "expected_state": "cleared"},
        format="json",
    )
    error = assert_error(response, 400)
    assert "relased_at" in error["details"]
    s.refresh_from_db()
    assert s.state == State.CLEARED


def test_a_hold_before_release_and_an_order_in_force_block_and_lifting_permits_again(cast):
    """A government order blocks whatever the state: held before release, or access removed;
    once the office records it lifted, the state's own answer comes back."""
    from submissions import services
    from tests.factories import order_data

    s = cast.submission(State.WINDOW_ELAPSED)
    hold = services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="EO-HOLD"))
    body = ask(cast.developer, s).json()
    assert body["answer"] == "blocked" and body["state"] == State.WINDOW_ELAPSED and "EO-HOLD" in body["reason"]
    services.access_order_lift(order=hold, actor=cast.admin, reason="Lifted.")
    assert ask(cast.developer, s).json()["answer"] == "permitted"
    removed = cast.submission(State.ACCESS_REMOVED)
    body = ask(cast.developer, removed).json()
    assert body["answer"] == "blocked" and "EO-2026-17" in body["reason"]
    services.access_order_lift(order=removed.access_orders.get(), actor=cast.admin, reason="Lifted.")
    body = ask(cast.developer, removed).json()
    assert body["answer"] == "permitted" and body["state"] == State.RELEASED


def test_the_client_never_follows_a_redirect_nor_sends_its_token_in_clear(httpserver):
    httpserver.expect_request("/api/v1/release-gate/").respond_with_data(
        "", status=302, headers={"Location": "http://elsewhere.example/steal"}
    )
    args = ("--model", "M", "--version", "1", "--channel", "api")
    env = {**os.environ, "CAISI_TOKEN": "secret-token"}
    redirected = subprocess.run(
        [str(CLIENT), "--url", httpserver.url_for("/"), *args], capture_output=True, text=True, env=env, check=False
    )
    assert redirected.returncode == 3 and "not followed" in redirected.stderr
    clear = subprocess.run(
        [str(CLIENT), "--url", "http://portal.example.org", *args], capture_output=True, text=True, env=env, check=False
    )
    assert clear.returncode == 2 and "https://" in clear.stderr
    allow_flag = subprocess.run(
        [str(CLIENT), "--url", httpserver.url_for("/"), *args, "--allow", "blocked"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert allow_flag.returncode == 2


def test_the_client_fails_closed_on_an_answer_that_is_not_an_object(httpserver):
    httpserver.expect_request("/api/v1/release-gate/").respond_with_json(["permitted"])
    env = {**os.environ, "CAISI_TOKEN": "t"}
    result = subprocess.run(
        [str(CLIENT), "--url", httpserver.url_for("/"), "--model", "M", "--version", "1", "--channel", "api"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 3 and "Traceback" not in result.stderr
