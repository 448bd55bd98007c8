"""Each transition: allowed, refused by its guard, refused for a role that may not."""

import pytest

from caisi_portal.errors import NotPermitted, TransitionRefused, ValidationFailed
from reviews import services as review_services
from reviews.models import Determination
from submissions.models import Agreement, AuditEntry, InformationRequest, State
from tests.factories import draft, move, record_all_results, serious_finding

pytestmark = pytest.mark.django_db


def audit_actions(submission):
    return list(AuditEntry.objects.filter(submission=submission).values_list("action", "from_state", "to_state"))


class TestSubmit:
    def test_developer_submits_a_complete_draft(self, cast):
        s = cast.submission()
        move(s, "submit", cast.developer)
        s.refresh_from_db()
        assert s.state == State.INTAKE
        assert s.submitted_by == cast.developer and s.submitted_at is not None
        assert ("submit", "draft", "intake") in audit_actions(s)

    def test_refused_without_a_signed_agreement_naming_its_status(self, cast):
        s = draft(cast.holdout_developer)
        with pytest.raises(TransitionRefused, match="agreement is negotiating"):
            move(s, "submit", cast.holdout_developer)
        s.refresh_from_db()
        assert s.state == State.DRAFT

    def test_refused_while_the_agreement_is_suspended(self, cast):
        agreement = Agreement.objects.get(organization=cast.lab)
        agreement.suspend()
        agreement.save()
        s = cast.submission()
        with pytest.raises(TransitionRefused, match="agreement is suspended"):
            move(s, "submit", cast.developer)

    def test_refused_when_required_fields_are_missing(self, cast):
        s = cast.submission(capabilities="", evaluator_access="")
        with pytest.raises(TransitionRefused) as exc:
            move(s, "submit", cast.developer)
        assert "the description of capabilities" in exc.value.message
        assert "how evaluators get access" in exc.value.message

    def test_refused_without_a_model_or_system_card(self, cast):
        from submissions import services

        s = services.submission_create_draft(
            actor=cast.developer,
            model_name="No-card",
            model_version="1",
            release_channel="api",
            planned_release_date="2027-01-01",
            capabilities="x",
            intended_use="y",
            evaluator_access="z",
        )
        with pytest.raises(TransitionRefused, match="model card or system card"):
            move(s, "submit", cast.developer)

    @pytest.mark.parametrize("who", ["other_developer", "admin", "lead", "reviewer", "partner", "trainee"])
    def test_refused_for_anyone_but_the_labs_staff(self, cast, who):
        s = cast.submission()
        with pytest.raises(NotPermitted):
            move(s, "submit", getattr(cast, who))


class TestAccept:
    @pytest.mark.parametrize("who", ["admin", "lead"])
    def test_admin_or_lead_accepts_and_the_plan_is_set(self, cast, who):
        s = cast.submission(State.INTAKE)
        move(s, "accept", getattr(cast, who))
        s.refresh_from_db()
        assert s.state == State.EVALUATION
        assert s.plan_items.count() == 4
        assert all(s.intake_checklist.values())

    def test_refused_with_an_incomplete_checklist(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(ValidationFailed, match="intake checklist"):
            move(s, "accept", cast.admin, checklist={"cards_received": True})
        s.refresh_from_db()
        assert s.state == State.INTAKE

    def test_refused_by_guard_when_the_card_is_missing(self, cast):
        s = cast.submission(State.INTAKE)
        s.artifacts.all().delete()
        with pytest.raises(TransitionRefused, match="model card"):
            move(s, "accept", cast.admin)

    def test_conflicted_lead_may_not_accept(self, cast):
        review_services.conflict_declare(reviewer=cast.lead, organization=cast.lab)
        s = cast.submission(State.INTAKE)
        with pytest.raises(NotPermitted):
            move(s, "accept", cast.lead)

    @pytest.mark.parametrize("who", ["developer", "reviewer", "partner", "trainee"])
    def test_refused_for_other_roles(self, cast, who):
        s = cast.submission(State.INTAKE)
        with pytest.raises(NotPermitted):
            move(s, "accept", getattr(cast, who))


class TestInformationRequest:
    @pytest.mark.parametrize("origin", [State.INTAKE, State.EVALUATION])
    def test_request_then_answer_returns_to_where_it_came_from(self, cast, origin):
        s = cast.submission(origin)
        asker = cast.lead if origin == State.EVALUATION else cast.admin
        move(s, "request_information", asker, questions="Describe the jailbreak mitigations.")
        assert s.state == State.INFORMATION_REQUESTED
        request = InformationRequest.objects.get(submission=s)
        assert request.questions == "Describe the jailbreak mitigations."
        move(s, "answer_information_request", cast.developer, answer="A classifier and refusal training.")
        s.refresh_from_db()
        assert s.state == origin
        request.refresh_from_db()
        assert request.answered_by == cast.developer and request.answer.startswith("A classifier")

    def test_request_needs_questions(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(ValidationFailed, match="questions"):
            move(s, "request_information", cast.admin, questions="  ")

    def test_answer_needs_text(self, cast):
        s = cast.submission(State.INFORMATION_REQUESTED)
        with pytest.raises(ValidationFailed, match="answer"):
            move(s, "answer_information_request", cast.developer, answer="")

    def test_not_from_draft(self, cast):
        s = cast.submission()
        with pytest.raises(TransitionRefused, match="draft cannot"):
            move(s, "request_information", cast.admin)

    @pytest.mark.parametrize("who", ["developer", "reviewer", "partner", "unassigned_reviewer"])
    def test_only_admin_or_lead_may_ask(self, cast, who):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(NotPermitted):
            move(s, "request_information", getattr(cast, who))

    @pytest.mark.parametrize("who", ["other_developer", "admin", "lead"])
    def test_only_the_labs_staff_may_answer(self, cast, who):
        s = cast.submission(State.INFORMATION_REQUESTED)
        with pytest.raises(NotPermitted):
            move(s, "answer_information_request", getattr(cast, who))


class TestClear:
    def test_lead_clears_when_every_domain_has_a_result(self, cast):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        move(s, "clear", cast.lead, rationale="Nothing above threshold.", release_conditions="Keep classifiers on.")
        s.refresh_from_db()
        assert s.state == State.CLEARED
        d = Determination.objects.get(submission=s)
        assert d.outcome == "cleared" and d.issued_at and d.decided_by == cast.lead

    def test_refused_while_a_planned_domain_has_no_result(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(TransitionRefused, match=r"still to record in Cyber offense \(1\)"):
            move(s, "clear", cast.lead)

    def test_needs_a_rationale(self, cast):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        with pytest.raises(ValidationFailed, match="rationale"):
            move(s, "clear", cast.lead, rationale="")

    @pytest.mark.parametrize("who", ["admin", "reviewer", "developer", "unassigned_reviewer"])
    def test_only_the_assigned_lead(self, cast, who):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        with pytest.raises(NotPermitted):
            move(s, "clear", getattr(cast, who))


class TestFlag:
    def test_two_person_rule(self, cast):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer)
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
        )
        with pytest.raises(TransitionRefused, match="second reviewer must concur"):
            move(s, "flag", cast.lead)
        review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        move(s, "flag", cast.lead)
        s.refresh_from_db()
        assert s.state == State.FLAGGED
        proposal.refresh_from_db()
        assert proposal.issued_at and proposal.concurred_by == cast.reviewer

    def test_refused_without_a_high_or_critical_finding(self, cast):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer, severity="moderate")
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Hmm.", partner_summary="Flagged: see the office."
        )
        review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        with pytest.raises(TransitionRefused, match="high or critical"):
            move(s, "flag", cast.lead)

    def test_proposer_cannot_concur_with_themself(self, cast):
        s = cast.submission(State.EVALUATION)
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
        )
        with pytest.raises(NotPermitted):
            review_services.determination_concur(determination=proposal, actor=cast.lead)

    def test_unassigned_reviewer_cannot_concur(self, cast):
        s = cast.submission(State.EVALUATION)
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
        )
        with pytest.raises(NotPermitted):
            review_services.determination_concur(determination=proposal, actor=cast.unassigned_reviewer)

    @pytest.mark.parametrize("who", ["admin", "reviewer", "developer"])
    def test_only_the_assigned_lead_issues(self, cast, who):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer)
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
        )
        review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        with pytest.raises(NotPermitted):
            move(s, "flag", getattr(cast, who))


class TestWithdraw:
    @pytest.mark.parametrize("state", [State.DRAFT, State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION])
    def test_developer_withdraws_before_a_determination(self, cast, state):
        s = cast.submission(state)
        move(s, "withdraw", cast.developer)
        assert s.state == State.WITHDRAWN

    @pytest.mark.parametrize("state", [State.CLEARED, State.FLAGGED])
    def test_not_after_a_determination(self, cast, state):
        s = cast.submission(state)
        with pytest.raises(TransitionRefused):
            move(s, "withdraw", cast.developer)

    @pytest.mark.parametrize("who", ["other_developer", "admin", "lead"])
    def test_only_the_labs_staff(self, cast, who):
        s = cast.submission(State.INTAKE)
        with pytest.raises(NotPermitted):
            move(s, "withdraw", getattr(cast, who))


class TestRelease:
    def test_release_after_clearance(self, cast):
        s = cast.submission(State.CLEARED)
        move(s, "record_release", cast.developer, note="GA")
        assert s.state == State.RELEASED and not s.released_after_flag

    def test_a_flagged_model_can_be_released_on_the_record(self, cast):
        s = cast.submission(State.FLAGGED)
        move(s, "record_release", cast.developer)
        assert s.state == State.RELEASED and s.released_after_flag

    def test_release_date_cannot_be_in_the_future(self, cast):
        import datetime as dt

        s = cast.submission(State.CLEARED)
        with pytest.raises(ValidationFailed, match="once it has happened"):
            move(s, "record_release", cast.developer, released_at=dt.date(2999, 1, 1))

    def test_not_before_a_determination(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(TransitionRefused):
            move(s, "record_release", cast.developer)

    @pytest.mark.parametrize("who", ["other_developer", "admin", "partner"])
    def test_only_the_labs_staff(self, cast, who):
        s = cast.submission(State.CLEARED)
        with pytest.raises(NotPermitted):
            move(s, "record_release", getattr(cast, who))


class TestAccessRemoval:
    def test_admin_records_the_order(self, cast):
        s = cast.submission(State.RELEASED)
        move(s, "remove_access", cast.admin, reference="Order 17")
        order = s.access_orders.get()
        assert s.state == State.ACCESS_REMOVED and order.reference == "Order 17" and order.in_force
        assert order.previous_state == State.RELEASED and order.recorded_by == cast.admin

    def test_open_weights_page_says_weights_cannot_be_recalled(self, cast, client):
        s = cast.submission(State.RELEASED, release_channel="open_weights")
        move(s, "remove_access", cast.admin)
        client.force_login(cast.admin)
        assert b"published weights cannot be recalled" in client.get(s.get_absolute_url()).content

    def test_needs_the_order(self, cast):
        s = cast.submission(State.RELEASED)
        with pytest.raises(ValidationFailed, match="order"):
            move(s, "remove_access", cast.admin, reference="")

    def test_not_during_the_review(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(TransitionRefused):
            move(s, "remove_access", cast.admin)

    @pytest.mark.parametrize("who", ["developer", "lead", "partner"])
    def test_only_administrators(self, cast, who):
        s = cast.submission(State.RELEASED)
        with pytest.raises(NotPermitted):
            move(s, "remove_access", getattr(cast, who))


def test_every_transition_writes_one_audit_entry(cast):
    s = cast.submission(State.ACCESS_REMOVED)
    transitions = [a for a in audit_actions(s) if a[2]]
    assert [t[0] for t in transitions] == [
        "draft_created",
        "submit",
        "accept",
        "clear",
        "record_release",
        "remove_access",
    ]


def test_state_cannot_be_assigned_directly(cast):
    s = cast.submission()
    with pytest.raises(AttributeError):
        s.state = State.CLEARED
