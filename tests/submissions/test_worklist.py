"""Who is told it is their turn, in what order, and what the submission page says comes next."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts import rules
from caisi_portal import timefmt
from reviews import services as review_services
from reviews.models import Assignment
from submissions import worklist
from submissions.models import ReviewClock, SlaKind, SlaObligation, State
from submissions.review_clock import act_on_due_items
from tests.factories import Cast, move, record_all_results, serious_finding

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _mine(user):
    return [(step.submission.pk, step.action) for step in worklist.waiting_on(user)["items"]]


def test_each_step_is_for_exactly_the_people_the_policy_lets_take_it():
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        drafted = cast.submission(State.DRAFT)
        intake = cast.submission(State.INTAKE)
        asked = cast.submission(State.INFORMATION_REQUESTED)
        evaluating = cast.submission(State.EVALUATION)
        people = [
            cast.developer,
            cast.other_developer,
            cast.lead,
            cast.reviewer,
            cast.low_reviewer,
            cast.unassigned_reviewer,
            cast.admin,
            cast.partner,
        ]
        for person in people:
            mine = {pk for pk, _action in _mine(person)}
            # Derived from the policy's own rules, never typed per person.
            assert (drafted.pk in mine) == rules.is_developer_of(person, drafted.organization_id)
            assert (asked.pk in mine) == rules.is_developer_of(person, asked.organization_id)
            assert (intake.pk in mine) == rules.may_accept(intake, person)
            # Evaluation with results missing: every assigned reviewer's turn, nobody else's.
            assigned = evaluating.assignments.filter(reviewer=person).exists()
            assert (evaluating.pk in mine) == assigned, person


def test_the_list_is_sorted_by_deadline_with_urgency_and_owner():
    with time_machine.travel(T0, tick=False) as traveller:
        cast = Cast()
        first = cast.submission(State.INTAKE, model_name="First-In")
        traveller.shift(dt.timedelta(days=2))
        second = cast.submission(State.INTAKE, model_name="Second-In")
        traveller.shift(dt.timedelta(days=2))  # the first's intake decision is overdue, the second's near
        steps = worklist.waiting_on(cast.admin)["items"]
        intake_steps = [s for s in steps if s.submission.pk in (first.pk, second.pk)]
        assert [s.submission.pk for s in intake_steps] == [first.pk, second.pk]
        due = {o.submission_id: o.due_at for o in SlaObligation.objects.filter(kind=SlaKind.INTAKE_DECISION)}
        now = T0 + dt.timedelta(days=4)
        assert intake_steps[0].urgency_now == worklist.urgency(due[first.pk], now)
        assert intake_steps[0].owner == "A lead reviewer or an administrator"
        assert intake_steps[0].urgency_now == "overdue" and intake_steps[1].urgency_now == "urgent"


def test_urgency_bands():
    now = T0
    assert worklist.urgency(None, now) == ""
    assert worklist.urgency(now - dt.timedelta(seconds=1), now) == "overdue"
    assert worklist.urgency(now + dt.timedelta(hours=47), now) == "urgent"
    assert worklist.urgency(now + dt.timedelta(days=6), now) == "soon"
    assert worklist.urgency(now + dt.timedelta(days=8), now) == "later"
    # The row's level is the chip's own (caisi_portal.timefmt), so a row and its chip agree.
    assert timefmt.countdown(now + dt.timedelta(days=3), now) == ("in 3 days", "soon")
    assert timefmt.countdown(now - dt.timedelta(hours=5), now) == ("5 hours overdue", "overdue")


def test_the_turn_moves_from_reviewers_to_the_lead_to_the_concurring_reviewer():
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.EVALUATION)
        assert s.pk in {pk for pk, _ in _mine(cast.reviewer)}
        record_all_results(s, cast.reviewer)
        # All results in: the lead's turn only.
        assert s.pk in {pk for pk, _ in _mine(cast.lead)}
        assert s.pk not in {pk for pk, _ in _mine(cast.reviewer)}
        serious_finding(s, cast.reviewer, classification=2)
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
        )
        # The flag awaits a second reviewer cleared for the finding: not the proposer, not the
        # reviewer below the finding's classification.
        step = worklist.next_step(s)
        for person in (cast.lead, cast.reviewer, cast.low_reviewer):
            assert step.is_for(person) == rules.may_concur(person, proposal), person
        review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        step = worklist.next_step(s)
        assert step.is_for(cast.lead) and not step.is_for(cast.reviewer)
        assert step.action.startswith("Flag: issue")


def test_an_unacknowledged_breach_waits_on_the_administrator_first():
    with time_machine.travel(T0, tick=False) as traveller:
        cast = Cast()
        s = cast.submission(State.INTAKE)
        fresh = cast.submission(State.INTAKE)
        traveller.shift(dt.timedelta(days=40))
        act_on_due_items(T0 + dt.timedelta(days=40))
        items = worklist.waiting_on(cast.admin)["items"]
        assert items[0].kind == "breach"
        assert {i.submission.pk for i in items if i.kind == "breach"} >= {s.pk, fresh.pk}
        assert all(i.urgency_now == "overdue" for i in items if i.kind == "breach")


def test_the_home_page_shows_the_list_and_partners_get_none(client):
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        cast.submission(State.INTAKE, model_name="Needs-Intake")
        client.force_login(cast.lead)
        page = client.get(reverse("home")).content.decode()
        assert "Waiting on you" in page and "Needs-Intake" in page and "Decide on intake" in page
        client.force_login(cast.partner)
        assert "Waiting on you" not in client.get(reverse("home")).content.decode()


def test_the_list_costs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        for _ in range(3):
            cast.submission(State.EVALUATION)
        client.force_login(cast.reviewer)
        client.get(reverse("home"))
        with django_assert_max_num_queries(40) as few:
            client.get(reverse("home"))
        for _ in range(12):
            cast.submission(State.EVALUATION)
        with django_assert_max_num_queries(len(few)):
            client.get(reverse("home"))


def test_an_elapsed_window_is_not_filed_with_determinations(client):
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.WINDOW_ELAPSED, model_name="Ran-Out")
        assert ReviewClock.objects.get(submission=s).status == "elapsed"
        client.force_login(cast.admin)
        page = client.get(reverse("home")).content.decode()
        elapsed_at = page.index("Windows elapsed without a determination")
        assert page.index("Ran-Out", elapsed_at) < page.index("Determined, released or withdrawn")


def test_a_lead_sees_assignment_due_for_an_accepted_review_without_a_lead():
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.INTAKE)
        move(s, "accept", cast.admin)
        step = worklist.next_step(s)
        assert step.action == "Assign a lead reviewer"
        assert step.is_for(cast.lead) and step.is_for(cast.admin) and not step.is_for(cast.reviewer)
        review_services.assignment_create(submission=s, reviewer=cast.lead, role=Assignment.Role.LEAD, actor=cast.admin)
        assert worklist.next_step(s).action.startswith("Record results")


def test_the_developer_is_shown_their_own_answer_by_date_not_the_offices_deadline():
    """Asked for information while a lead is yet to be assigned: the developer's due date is the
    answer-by date, never the office's assignment target."""
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.INTAKE)
        move(s, "accept", cast.admin)  # the office now owes a lead within a few days
        move(s, "request_information", cast.admin)
        answer_by = SlaObligation.objects.get(submission=s, kind=SlaKind.DEVELOPER_ANSWER, closed_at__isnull=True)
        mine = [step for step in worklist.waiting_on(cast.developer)["items"] if step.submission.pk == s.pk]
        assert [step.due_at for step in mine] == [answer_by.due_at]
        assert worklist.next_step_shown_to(cast.developer, s).due_at == answer_by.due_at


def test_a_lead_assigned_during_intake_owes_no_assignment_after_accept():
    with time_machine.travel(T0, tick=False) as traveller:
        cast = Cast()
        s = cast.submission(State.INTAKE)
        review_services.assignment_create(submission=s, reviewer=cast.lead, role=Assignment.Role.LEAD, actor=cast.admin)
        move(s, "accept", cast.admin)
        assert not SlaObligation.objects.filter(submission=s, kind=SlaKind.REVIEWER_ASSIGNMENT).exists()
        traveller.shift(dt.timedelta(days=10))
        act_on_due_items(T0 + dt.timedelta(days=10))
        from submissions.models import SlaBreach

        assert not SlaBreach.objects.filter(submission=s, kind=SlaKind.REVIEWER_ASSIGNMENT).exists()


def test_a_lab_that_cannot_submit_is_told_why_and_is_not_given_the_turn(client):
    from tests.factories import draft

    with time_machine.travel(T0, tick=False):
        cast = Cast()
        held = draft(cast.holdout_developer, model_name="Held-Back")
        assert held.pk not in {pk for pk, _ in _mine(cast.holdout_developer)}
        step = worklist.next_step_shown_to(cast.holdout_developer, held)
        assert "not signed" in step.action and not step.is_for(cast.holdout_developer)
        client.force_login(cast.holdout_developer)
        for url in (reverse("home"), reverse("submissions:create")):
            assert "can be submitted for review until the agreement is signed" in client.get(url).content.decode()
        client.force_login(cast.developer)
        assert "until the agreement is signed" not in client.get(reverse("home")).content.decode()


def test_a_developer_is_told_what_follows_a_determination_for_a_month():
    with time_machine.travel(T0, tick=False) as traveller:
        cast = Cast()
        flagged = cast.submission(State.FLAGGED)
        [step] = [s for s in worklist.waiting_on(cast.developer)["items"] if s.submission.pk == flagged.pk]
        assert step.action.startswith("Flagged: read the determination") and step.due_at is None
        traveller.shift(dt.timedelta(days=31))
        assert flagged.pk not in {pk for pk, _ in _mine(cast.developer)}


def test_whose_turn_reads_you_and_names_the_others():
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.EVALUATION)
        step = worklist.next_step(s)
        assert step.owner_for(cast.reviewer).startswith("You or ") and str(cast.lead) in step.owner_for(cast.reviewer)
        intake = worklist.next_step(cast.submission(State.INTAKE))
        assert intake.owner_for(cast.lead) == "You, or another lead reviewer or an administrator"
        assert intake.owner_for(cast.developer) == "A lead reviewer or an administrator"


def test_a_lead_who_accepts_may_lead_at_once_and_keeps_sight_of_the_review(client):
    with time_machine.travel(T0, tick=False):
        cast = Cast()
        s = cast.submission(State.INTAKE)
        client.force_login(cast.lead)
        data = {f"check_{k}": "on" for k in ("cards_received", "access_confirmed", "release_plan_confirmed")}
        from reviews.models import EvaluationDomain

        data |= {"expected_state": "intake", "domains": [d.pk for d in EvaluationDomain.objects.all()]}
        response = client.post(reverse("submissions:action", args=[s.pk, "accept"]), {**data, "lead_myself": "on"})
        assert response.status_code == 302 and response["Location"] == s.get_absolute_url()
        assert s.assignments.get().reviewer == cast.lead and s.assignments.get().role == "lead"
        # Accepted without taking the lead, a lead who is not assigned is sent home, told why.
        other = cast.submission(State.INTAKE)
        response = client.post(reverse("submissions:action", args=[other.pk, "accept"]), data, follow=True)
        assert response.request["PATH_INFO"] == reverse("home")
        assert "has left your queues" in response.content.decode()


def test_the_agreement_page_shows_its_history_in_words(client):
    from submissions import services
    from submissions.models import Agreement

    cast = Cast()
    agreement = Agreement.objects.get(organization=cast.lab)
    services.agreement_change_status(agreement=agreement, action="suspend", actor=cast.admin, note="Terms breached.")
    client.force_login(cast.admin)
    page = client.get(reverse("submissions:agreement_change", args=[agreement.pk])).content.decode()
    assert "Signed → Suspended" in page and "Terms breached." in page and "No change recorded" not in page
