"""Ending a reviewer's assignment, or handing it to another reviewer with a note: on the page and
in the API, audited, told through the outbox, and never at the cost of the lead or the
two-person rule."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Clearance
from accounts.roles import Role
from caisi_portal.errors import NotPermitted, SubmissionChanged, ValidationFailed
from partners import services as partner_services
from partners.models import Delivery
from reviews import services
from reviews.models import Assignment, AssignmentHandover, Determination
from reviews.selectors import MSG_LEAD_ALONE, two_person_gap
from submissions.models import AuditEntry, State
from tests.factories import UserFactory, move, record_all_results, serious_finding, token_client

pytestmark = pytest.mark.django_db

NOTE = "Cyber results are in; the bio plan still needs its second benchmark. Ask the lab for the API key."


def of(s, user):
    return s.assignments.get(reviewer=user)


def end_url(s, assignment):
    return reverse("reviews:end_assignment", args=[s.pk, assignment.pk])


def api_url(s, assignment):
    return f"/api/v1/submissions/{s.pk}/assignments/{assignment.pk}/end/"


def second_lead(cast):
    return UserFactory(
        username="lead.two", role=Role.LEAD_REVIEWER, organization=cast.office, clearance=Clearance.SECRET
    )


class TestOnThePage:
    def test_the_page_says_what_ending_does_then_hands_over_with_the_note(self, cast, client):
        s = cast.submission(State.EVALUATION)
        outgoing = of(s, cast.low_reviewer)
        client.force_login(cast.admin)
        detail = client.get(s.get_absolute_url()).content.decode()
        assert f'href="{end_url(s, outgoing)}"' in detail
        page = client.get(end_url(s, outgoing))
        assert page.status_code == 200
        text = page.content.decode()
        assert f"takes {cast.low_reviewer} off the review: they are told, and no longer see its internal work" in text
        assert "No one: remove them from the review" in text and 'name="note"' in text
        response = client.post(end_url(s, outgoing), {"hand_to": cast.unassigned_reviewer.pk, "note": NOTE})
        assert response.status_code == 302 and response["Location"] == s.get_absolute_url()
        assert dict(s.assignments.values_list("reviewer__username", "role")) == {
            "lead": "lead",
            "reviewer": "member",
            "reviewer.idle": "member",
        }
        handover = AssignmentHandover.objects.get(submission=s)
        assert (handover.reviewer, handover.handed_to, handover.ended_by, handover.note) == (
            cast.low_reviewer,
            cast.unassigned_reviewer,
            cast.admin,
            NOTE,
        )
        assert handover.assignment == of(s, cast.unassigned_reviewer)
        entry = AuditEntry.objects.filter(submission=s).latest("pk")
        assert entry.action == "reviewer_handed_over" and entry.internal
        assert (
            entry.comment
            == f"{cast.low_reviewer} (reviewer) handed over to {cast.unassigned_reviewer}. Handover note: {NOTE}"
        )
        # The one taking over reads the note with their assignment; the one who left no longer sees the review.
        client.force_login(cast.unassigned_reviewer)
        page = client.get(s.get_absolute_url()).content.decode()
        assert f"Took over from {cast.low_reviewer}" in page and "the bio plan still needs its second benchmark" in page
        client.force_login(cast.low_reviewer)
        assert client.get(s.get_absolute_url()).status_code == 404

    def test_both_reviewers_are_told_through_the_outbox(self, cast, client):
        s = cast.submission(State.EVALUATION)
        client.force_login(cast.admin)
        client.post(end_url(s, of(s, cast.low_reviewer)), {"hand_to": cast.unassigned_reviewer.pk, "note": NOTE})
        ended = Delivery.objects.get(event__type="review.unassigned")
        assert ended.recipient == cast.low_reviewer
        taken = Delivery.objects.get(event__type="review.assigned", recipient=cast.unassigned_reviewer)
        assert taken.event.payload["handover_note"] == NOTE
        mail.outbox.clear()
        for delivery in (ended, taken):
            assert partner_services.delivery_attempt(delivery.pk) == "delivered"
        told = {m.to[0]: m for m in mail.outbox}
        left = told[cast.low_reviewer.email]
        assert "Your assignment has ended" in left.subject
        assert f"What to do: {cast.admin} ended your assignment as reviewer on this review, handing it to" in left.body
        assert NOTE not in left.body  # the note is for the one taking over
        incoming = told[cast.unassigned_reviewer.email]
        assert "You are assigned to review" in incoming.subject
        assert f"Handover note: {NOTE}" in incoming.body and f"You take over from {cast.low_reviewer}" in incoming.body

    def test_removing_a_reviewer_with_no_one_taking_over(self, cast, client):
        s = cast.submission(State.EVALUATION)
        client.force_login(cast.lead)  # a lead reviewer may, as they may assign
        response = client.post(end_url(s, of(s, cast.low_reviewer)), {"note": "Moved to another team."}, follow=True)
        assert not s.assignments.filter(reviewer=cast.low_reviewer).exists()
        assert f"{cast.low_reviewer} is no longer on this review: they are told." in response.content.decode()
        entry = AuditEntry.objects.filter(submission=s).latest("pk")
        assert (entry.action, entry.comment) == (
            "reviewer_removed",
            f"{cast.low_reviewer} (reviewer) removed. Handover note: Moved to another team.",
        )
        assert not Delivery.objects.filter(event__type="review.assigned", event__payload__has_key="handover_note")

    def test_a_note_is_required(self, cast, client):
        s = cast.submission(State.EVALUATION)
        client.force_login(cast.admin)
        response = client.post(end_url(s, of(s, cast.low_reviewer)), {"note": "  "})
        assert response.status_code == 400
        assert s.assignments.filter(reviewer=cast.low_reviewer).exists()
        with pytest.raises(ValidationFailed, match="Write a handover note"):
            services.assignment_end(assignment=of(s, cast.low_reviewer), actor=cast.admin, note="\n ")
        for hostile in ("Handed\x00over", "a" * 6000):
            assert client.post(end_url(s, of(s, cast.low_reviewer)), {"note": hostile}).status_code == 400
            api = token_client(cast.admin).post(api_url(s, of(s, cast.low_reviewer)), {"note": hostile}, format="json")
            assert api.status_code == 400
        assert s.assignments.filter(reviewer=cast.low_reviewer).exists()

    def test_the_lead_is_handed_over_never_removed_and_the_page_says_why(self, cast, client):
        s = cast.submission(State.EVALUATION)
        lead = of(s, cast.lead)
        client.force_login(cast.admin)
        page = client.get(end_url(s, lead)).content.decode()
        assert "Choose the lead reviewer who takes over" in page and "No one: remove them" not in page
        assert "the lead is handed over, never removed" in page
        refused = client.post(end_url(s, lead), {"note": NOTE})
        assert (
            refused.status_code == 400
            and "Choose the lead reviewer who takes over the lead." in refused.content.decode()
        )
        with pytest.raises(ValidationFailed, match="leads this review: hand the lead to another lead reviewer") as e:
            services.assignment_end(assignment=lead, actor=cast.admin, note=NOTE)
        assert "hand_to" in e.value.details
        with pytest.raises(ValidationFailed, match="is not a lead reviewer"):
            services.assignment_end(assignment=lead, actor=cast.admin, note=NOTE, hand_to=cast.unassigned_reviewer)
        successor = second_lead(cast)
        assert client.post(end_url(s, lead), {"hand_to": successor.pk, "note": NOTE}).status_code == 302
        assert s.assignments.get(role="lead").reviewer == successor
        # The new lead leads: they propose the determination.
        record_all_results(s, cast.reviewer)
        services.determination_propose_flag(submission=s, actor=successor, rationale="U.", partner_summary="F.")


class TestTheRulesHold:
    def test_someone_who_may_not_assign_may_not_end(self, cast, client):
        s = cast.submission(State.EVALUATION)
        client.force_login(cast.reviewer)  # on the review, but assigns no one
        assert client.get(end_url(s, of(s, cast.low_reviewer))).status_code == 403
        assert client.post(end_url(s, of(s, cast.low_reviewer)), {"note": NOTE}).status_code == 403
        with pytest.raises(NotPermitted):
            services.assignment_end(assignment=of(s, cast.low_reviewer), actor=cast.reviewer, note=NOTE)
        client.force_login(cast.developer)
        assert client.get(end_url(s, of(s, cast.low_reviewer))).status_code == 403
        assert s.assignments.count() == 3

    def test_an_assignment_of_another_submission_is_not_found(self, cast, client):
        s, other = cast.submission(State.EVALUATION), cast.submission(State.EVALUATION)
        client.force_login(cast.admin)
        assert client.get(end_url(s, of(other, cast.low_reviewer))).status_code == 404

    def test_a_determined_review_keeps_its_people(self, cast, client):
        s = cast.submission(State.CLEARED)
        client.force_login(cast.admin)
        assert client.post(end_url(s, of(s, cast.low_reviewer)), {"note": NOTE}).status_code == 403
        assert s.assignments.count() == 3

    def test_a_review_that_moved_meanwhile_is_refused_and_an_ended_assignment_ends_once(self, cast):
        s = cast.submission(State.EVALUATION)
        stale = of(s, cast.low_reviewer)
        services.assignment_end(assignment=stale, actor=cast.admin, note=NOTE)
        with pytest.raises(ValidationFailed, match="already ended"):
            services.assignment_end(assignment=stale, actor=cast.admin, note=NOTE)
        # Read while the review was open: the object in hand still says "evaluation" after it is cleared.
        member = Assignment.objects.select_related("submission__organization", "reviewer").get(
            submission=s, reviewer=cast.reviewer
        )
        record_all_results(s, cast.reviewer)
        move(s, "clear", cast.lead)
        assert member.submission.state == State.EVALUATION
        with pytest.raises(SubmissionChanged):
            services.assignment_end(assignment=member, actor=cast.admin, note=NOTE)
        assert s.assignments.filter(reviewer=cast.reviewer).exists()

    def test_the_one_taking_over_passes_the_checks_of_assigning(self, cast):
        s = cast.submission(State.EVALUATION)
        outgoing = of(s, cast.low_reviewer)
        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        with pytest.raises(ValidationFailed, match="conflict of interest with Lab Alpha") as e:
            services.assignment_end(assignment=outgoing, actor=cast.admin, note=NOTE, hand_to=cast.unassigned_reviewer)
        assert list(e.value.details) == ["hand_to"]  # the field that named them
        with pytest.raises(ValidationFailed, match="already assigned") as e:
            services.assignment_end(assignment=outgoing, actor=cast.admin, note=NOTE, hand_to=cast.reviewer)
        assert "hand_to" in e.value.details
        with pytest.raises(ValidationFailed, match="is not a reviewer"):
            services.assignment_end(assignment=outgoing, actor=cast.admin, note=NOTE, hand_to=cast.trainee)
        assert s.assignments.filter(reviewer=cast.low_reviewer).exists()
        assert not AssignmentHandover.objects.exists()

    def test_handing_over_to_someone_cleared_below_the_evidence_needs_the_gap_acknowledged(self, cast, client):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
        cui = UserFactory(
            username="reviewer.cui2", role=Role.REVIEWER, organization=cast.office, clearance=Clearance.CUI
        )
        outgoing = of(s, cast.low_reviewer)
        client.force_login(cast.admin)
        refused = client.post(end_url(s, outgoing), {"hand_to": cui.pk, "note": NOTE})
        assert refused.status_code == 400
        assert "is cleared CUI, below the SECRET this review&#x27;s evidence needs" in refused.content.decode()
        done = client.post(end_url(s, outgoing), {"hand_to": cui.pk, "note": NOTE, "acknowledge_clearance_gap": "on"})
        assert done.status_code == 302 and s.assignments.filter(reviewer=cui).exists()

    def test_a_concurrence_given_by_the_outgoing_reviewer_is_withdrawn(self, cast, client):
        """The second person of the two-person rule must still be on the review when it is issued."""
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        serious_finding(s, cast.reviewer)
        proposal = services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
        )
        services.determination_concur(determination=proposal, actor=cast.reviewer)
        client.force_login(cast.admin)
        page = client.get(end_url(s, of(s, cast.reviewer))).content.decode()
        assert f"withdraws {cast.reviewer}'s concurrence with the proposal to flag" in page
        client.post(end_url(s, of(s, cast.reviewer)), {"hand_to": cast.unassigned_reviewer.pk, "note": NOTE})
        proposal.refresh_from_db()
        assert proposal.concurred_by is None and not proposal.concurrence_holds
        entry = AuditEntry.objects.filter(submission=s, action="reviewer_handed_over").get()
        assert "concurrence with the proposal to flag is withdrawn with their assignment" in entry.comment
        # The one taking over may concur (and is asked to); until someone on the review does, no flag.
        asked = Delivery.objects.filter(event__type="review.concurrence_requested", recipient=cast.unassigned_reviewer)
        assert asked.count() == 1
        client.force_login(cast.lead)
        client.post(reverse("submissions:action", args=[s.pk, "flag"]), {"expected_state": "evaluation"})
        s.refresh_from_db()
        assert s.state == State.EVALUATION
        services.determination_concur(determination=proposal, actor=cast.unassigned_reviewer)
        assert Determination.objects.get(pk=proposal.pk).concurrence_holds

    def test_the_page_says_when_no_second_reviewer_is_left_cleared_for_the_evidence(self, cast, client):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
        assert two_person_gap(s) is None
        client.force_login(cast.admin)
        answer = client.post(end_url(s, of(s, cast.reviewer)), {"note": "Left the office."}, follow=True)
        gap = "No one on this review besides its lead is cleared SECRET, as its evidence needs"
        assert gap in answer.content.decode().replace("&#x27;", "'")
        assert gap in two_person_gap(s)
        services.assignment_end(assignment=of(s, cast.low_reviewer), actor=cast.admin, note="Left too.")
        assert two_person_gap(s) == MSG_LEAD_ALONE


class TestInTheApi:
    def test_removing_answers_with_the_handover_and_the_two_person_gap(self, cast):
        s = cast.submission(State.EVALUATION)
        api = token_client(cast.admin)
        answer = api.post(api_url(s, of(s, cast.low_reviewer)), {"note": NOTE}, format="json")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["assignment"] is None and body["two_person_gap"] is None
        assert {k: body["handover"][k] for k in ("reviewer", "role", "handed_to", "note", "ended_by")} == {
            "reviewer": "reviewer.cui",
            "role": "member",
            "handed_to": None,
            "note": NOTE,
            "ended_by": "admin",
        }

    def test_handing_the_lead_over_and_the_incoming_reads_the_note_with_their_assignment(self, cast):
        s = cast.submission(State.EVALUATION)
        successor = second_lead(cast)
        api = token_client(cast.admin)
        url = api_url(s, of(s, cast.lead))
        refused = api.post(url, {"note": NOTE}, format="json")
        assert refused.status_code == 400 and "hand_to" in refused.json()["error"]["details"]
        assert "never removed without a successor" in refused.json()["error"]["message"]
        answer = api.post(url, {"note": NOTE, "hand_to": "lead.two"}, format="json")
        assert answer.status_code == 200, answer.content
        assert answer.json()["assignment"]["reviewer"] == "lead.two" and answer.json()["assignment"]["role"] == "lead"
        listed = token_client(successor).get(f"/api/v1/submissions/{s.pk}/assignments/").json()
        mine = next(a for a in listed if a["reviewer"] == "lead.two")
        assert mine["handover"]["note"] == NOTE and mine["handover"]["reviewer"] == "lead"

    def test_refusals_are_4xx_with_reasons(self, cast):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
        UserFactory(username="reviewer.cui2", role=Role.REVIEWER, organization=cast.office, clearance=Clearance.CUI)
        api, url = token_client(cast.admin), api_url(s, of(s, cast.low_reviewer))
        gap = api.post(url, {"note": NOTE, "hand_to": "reviewer.cui2"}, format="json")
        assert gap.status_code == 400 and "acknowledge_clearance_gap" in gap.json()["error"]["details"]
        assert api.post(url, {"note": NOTE, "hand_to": "nobody"}, format="json").status_code == 400
        assert api.post(url, {"note": ""}, format="json").status_code == 400
        assert (
            api.post(f"/api/v1/submissions/{s.pk}/assignments/999999999999999/end/", {"note": NOTE}).status_code == 404
        )
        refused = token_client(cast.reviewer).post(url, {"note": NOTE}, format="json")
        assert refused.status_code == 403
        assert token_client(cast.other_developer).post(url, {"note": NOTE}, format="json").status_code == 404
        assert s.assignments.count() == 3
