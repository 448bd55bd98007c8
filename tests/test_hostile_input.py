"""Hostile input on the pages: no 5xx, and nothing stored runs as script in another's page."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from submissions.models import State

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# Anything a browser might send in a form field, including control characters and scripts.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            SCRIPT,
            "' OR 1=1 --",
            "\x00",
            "{{ 7*7 }}",
            "=cmd|' /C calc'!A0",
            "a" * 6000,
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            # Characters that break an email header or a file name (issue 14).
            "Name\r\nBcc: victim@example.com",
            "line\u2028separator",
            "para\u2029graph",
            "next\x85line",
            "tab\there",
            "vertical\x0btab",
        ]
    ),
)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(name=hostile_text, version=hostile_text, channel=hostile_text, date=hostile_text, text=hostile_text)
def test_filing_a_draft_never_fails_on_bad_input(cast_once, client, name, version, channel, date, text):
    cast = cast_once
    client.force_login(cast.developer)
    response = client.post(
        reverse("submissions:create"),
        {
            "model_name": name,
            "model_version": version,
            "release_channel": channel,
            "planned_release_date": date,
            "capabilities": text,
            "intended_use": text,
            "evaluator_access": text,
            "training_compute_flops": text,
        },
    )
    assert response.status_code in (200, 302, 400), response.status_code
    # Whatever was accepted, no one-line field holds a character that breaks a header.
    from caisi_portal.text import control_characters
    from submissions.models import ModelSubmission

    for name_, version_ in ModelSubmission.objects.values_list("model_name", "model_version"):
        assert not control_characters(name_) and not control_characters(version_), (name_, version_)


@FUZZ
@given(questions=hostile_text, comment=hostile_text, state=hostile_text)
def test_transition_forms_never_fail_on_bad_input(cast_once, client, questions, comment, state):
    cast = cast_once
    client.force_login(cast.admin)
    s = cast_once.intake_submission
    response = client.post(
        reverse("submissions:action", args=[s.pk, "request_information"]),
        {"questions": questions, "comment": comment, "expected_state": state},
    )
    assert response.status_code < 500
    if response.status_code == 302:
        # It worked: put the submission back for the next example.
        from tests.factories import move

        s.refresh_from_db()
        move(s, "answer_information_request", cast.developer)


@FUZZ
@given(
    score=hostile_text, threshold=hostile_text, title=hostile_text, severity=hostile_text, classification=hostile_text
)
def test_review_forms_never_fail_on_bad_input(cast_once, client, score, threshold, title, severity, classification):
    cast = cast_once
    s = cast_once.evaluation_submission
    client.force_login(cast.reviewer)
    domain = s.plan_items.first().domain_id
    # "version" takes hostile text too (threshold's old slot): a benchmark version is chosen, never typed.
    r1 = client.post(reverse("reviews:record_result", args=[s.pk]), {"version": threshold, "score": score})
    r2 = client.post(
        reverse("reviews:record_finding", args=[s.pk]),
        {
            "domain": domain,
            "severity": severity,
            "classification": classification,
            "title": title,
            "description": title,
        },
    )
    assert r1.status_code < 500 and r2.status_code < 500


@FUZZ
@given(q=hostile_text, page=hostile_text)
def test_public_register_search_never_fails(client, db, q, page):
    assert client.get(reverse("register:page"), {"q": q, "page": page}).status_code == 200


def test_stored_script_is_shown_as_text_to_every_reader(cast, client):
    """A developer's and a reviewer's words reach other people's pages escaped, never as markup."""
    from reviews import services as review_services
    from tests.factories import draft, move, record_all_results

    s = draft(cast.developer, model_name="Escaped", capabilities=SCRIPT, intended_use=SCRIPT, evaluator_access=SCRIPT)
    move(s, "submit", cast.developer)
    move(s, "accept", cast.admin)
    review_services.assignment_create(submission=s, reviewer=cast.lead, role="lead", actor=cast.admin)
    review_services.assignment_create(submission=s, reviewer=cast.reviewer, role="member", actor=cast.admin)
    move(s, "request_information", cast.lead, questions=SCRIPT)
    move(s, "answer_information_request", cast.developer, answer=SCRIPT)
    review_services.finding_record(
        submission=s,
        actor=cast.reviewer,
        domain=s.plan_items.first().domain,
        severity="low",
        classification=0,
        title=SCRIPT,
        description=SCRIPT,
        recommendation=SCRIPT,
    )
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead, rationale=SCRIPT, partner_summary=SCRIPT, release_conditions=SCRIPT)
    for reader in (cast.admin, cast.lead, cast.developer, cast.partner):
        client.force_login(reader)
        page = client.get(s.get_absolute_url()).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert" in page


@pytest.fixture
def cast_once(cast):
    """One cast for all the examples of a Hypothesis test (the database is not reset between them)."""
    cast.intake_submission = cast.submission(State.INTAKE)
    cast.evaluation_submission = cast.submission(State.EVALUATION)
    return cast


def test_nul_in_the_register_search_is_ignored(client, db):
    """Found by the fuzzer on PostgreSQL, which refuses NUL in a query: it answered 500."""
    response = client.get(reverse("register:page"), {"q": "model\x00name"})
    assert response.status_code == 200
    assert client.get(reverse("register:json"), {"q": "\x00"}).status_code == 200
