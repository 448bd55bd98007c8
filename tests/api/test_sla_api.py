"""The SLA in the API: a submission's obligations and the office's policy values."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts import rules
from submissions import review_clock
from submissions.models import SlaPolicy, State
from tests.api.test_api import V1, assert_error, client_for
from tests.factories import move

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def obligations(user, submission):
    return client_for(user).get(f"{V1}/submissions/{submission.pk}/sla-obligations/")


def test_obligations_say_what_was_owed_by_when_and_whether_it_was_met(cast, traveller):
    late = cast.submission(State.INTAKE)
    traveller.move_to(START + 4 * DAY)  # the intake target is 3 days
    review_clock.sweep()
    move(late, "accept", cast.admin)
    body = obligations(cast.developer, late).json()
    kinds = [(o["kind"], o["status"]) for o in body]
    assert kinds == [("intake_decision", "breached"), ("reviewer_assignment", "open")]
    first = body[0]
    assert first["kind_label"] == "Intake decision"
    assert first["due_at"].startswith("2026-07-04T09:00")
    assert first["closed_at"].startswith("2026-07-05T09:00") and first["breached_at"].startswith("2026-07-05T09:00")

    on_time = cast.submission(State.EVALUATION)  # accepted and assigned at once
    assert [(o["kind"], o["status"]) for o in obligations(cast.lead, on_time).json()] == [
        ("intake_decision", "met"),
        ("reviewer_assignment", "met"),
    ]


@pytest.mark.parametrize(
    "who, status",
    [
        ("developer", 200),
        ("lead", 200),
        ("reviewer", 200),
        ("admin", 200),
        ("partner", 404),  # an evaluation is not announced: partners do not know it exists
        ("other_developer", 404),
        ("unassigned_reviewer", 404),
    ],
)
def test_obligations_are_hidden_from_those_who_may_not_see_the_submission(cast, who, status):
    s = cast.submission(State.EVALUATION)
    response = obligations(getattr(cast, who), s)
    if status == 200:
        assert response.status_code == 200 and response.json()
    else:
        assert_error(response, status)


def test_a_partner_who_sees_a_determination_still_does_not_see_the_obligations(cast):
    s = cast.submission(State.CLEARED)
    assert rules.scope_submissions(type(s).objects.filter(pk=s.pk), cast.partner).exists()
    assert_error(obligations(cast.partner, s), 403)


def test_policy_values_for_office_staff(cast):
    policy = SlaPolicy.current()
    policy.reminder_days, policy.escalate_lead_days = 9, 4
    policy.save()
    body = client_for(cast.reviewer).get(f"{V1}/sla-policy/").json()
    assert body == {
        "intake_decision_days": 3,
        "reviewer_assignment_days": 2,
        "developer_answer_days": 10,
        "warning_days": [7, 2],
        "reminder_days": 9,
        "escalate_lead_days": 4,
        "escalate_admin_days": 1,
        "information_pause_cap_days": 30,
        "pause_cap_warning_days": 5,
    }


@pytest.mark.parametrize("who", ["developer", "partner", "trainee"])
def test_policy_values_are_the_offices_own(cast, who):
    assert_error(client_for(getattr(cast, who)).get(f"{V1}/sla-policy/"), 403)


def test_schema_documents_both(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/submissions/{id}/sla-obligations/" in schema
    assert "/api/v1/sla-policy/" in schema and "escalate_admin_days" in schema
