"""Joint reviews with allied institutes: invited under a data-sharing arrangement whose cap, with
each reviewer's own clearance, bounds what the institute's staff see; marked results and
findings; a determination and notices that name the institutes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role
from api.services import api_token_issue
from caisi_portal import clock
from caisi_portal.errors import NotPermitted, TransitionRefused, ValidationFailed
from joint import services as joint
from joint.models import DataSharingArrangement, JointReviewInvitation
from partners.messages import email_for
from partners.models import Delivery, Event, PartnerEventType, TrustedPartner
from partners.services import announcement_preview
from reviews import services as review_services
from reviews.models import ConflictOfInterest, Determination, EvaluationDomain, EvaluationResult, Finding
from submissions.models import ModelSubmission, Organization, State
from tests.factories import (
    Cast,
    OrganizationFactory,
    UserFactory,
    move,
    record_all_results,
    record_result,
    reference_version,
)

pytestmark = pytest.mark.django_db

SECRET_TITLE = "SECRET office finding"
CUI_TITLE = "CUI office finding"


def institute_of(cast: Cast, *, cap=Clearance.CUI, exercise=None, slug="allied-aisi"):
    institute = OrganizationFactory(
        name=f"Allied AI Security Institute {slug}",
        slug=slug,
        kind=Organization.Kind.ALLIED_INSTITUTE,
        public_name="Allied AI Security Institute (UK)",
        exercise=exercise,
    )
    admin = cast.admin
    if exercise is None:
        joint.arrangement_record(
            actor=admin,
            institute=institute,
            reference="DSA-1",
            classification_cap=cap,
            starts_on=clock.now().date() - dt.timedelta(days=30),
        )
    else:  # exercise arrangements are made by the exercise's own setup, not on the live page
        DataSharingArrangement.objects.create(
            institute=institute,
            reference="DSA-X",
            classification_cap=cap,
            starts_on=clock.now().date() - dt.timedelta(days=30),
            recorded_by=admin,
            recorded_at=clock.now(),
        )
    return institute


@pytest.fixture
def setup(cast):
    """A live evaluation with a SECRET and a CUI office finding; an allied institute capped at CUI
    whose reviewer is personally cleared SECRET; a second, un-invited evaluation."""
    institute = institute_of(cast)
    harriet = UserFactory(
        username="institute.harriet", role=Role.INSTITUTE_REVIEWER, organization=institute, clearance=Clearance.SECRET
    )
    s = cast.submission(State.EVALUATION, model_name="Joint-Model")
    domain = EvaluationDomain.objects.first()
    for title, level in ((SECRET_TITLE, Clearance.SECRET), (CUI_TITLE, Clearance.CUI)):
        review_services.finding_record(
            submission=s,
            actor=cast.reviewer,
            domain=domain,
            severity=Finding.Severity.LOW,
            classification=level,
            title=title,
            description="Office work.",
            evidence=SimpleUploadedFile("e.txt", b"x\n", content_type="text/plain"),
        )
    other = cast.submission(State.EVALUATION, model_name="Uninvited-Model")
    return cast, institute, harriet, s, other


def joined(setup):
    cast, institute, harriet, s, _ = setup
    invitation = joint.invitation_create(actor=cast.lead, submission=s, institute=institute, note="Cyber suite.")
    joint.invitation_respond(actor=harriet, invitation=invitation, accept=True)
    invitation.refresh_from_db()
    return invitation


def client_of(user):
    c = Client()
    c.force_login(user)
    return c


def api_of(user):
    c = APIClient()
    _, key = api_token_issue(user=user, name="t")
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return c


class TestInvitations:
    def test_the_lead_and_administrators_invite_others_may_not(self, setup):
        cast, institute, harriet, s, _ = setup
        for who in (cast.reviewer, cast.developer, cast.partner, harriet):
            with pytest.raises(NotPermitted):
                joint.invitation_create(actor=who, submission=s, institute=institute)
        invitation = joint.invitation_create(actor=cast.admin, submission=s, institute=institute)
        assert invitation.status == "pending" and invitation.arrangement.classification_cap == Clearance.CUI
        with pytest.raises(ValidationFailed, match="already invited"):
            joint.invitation_create(actor=cast.lead, submission=s, institute=institute)

    def test_refused_without_an_arrangement_in_force(self, setup):
        cast, institute, _harriet, s, _ = setup
        bare = OrganizationFactory(name="Bare Institute", slug="bare", kind=Organization.Kind.ALLIED_INSTITUTE)
        with pytest.raises(ValidationFailed, match="no data-sharing arrangement in force"):
            joint.invitation_create(actor=cast.lead, submission=s, institute=bare)
        arrangement = DataSharingArrangement.objects.get(institute=institute)
        joint.arrangement_end(actor=cast.admin, arrangement=arrangement, reason="Lapsed.")
        with pytest.raises(ValidationFailed, match="no data-sharing arrangement in force"):
            joint.invitation_create(actor=cast.lead, submission=s, institute=institute)

    def test_refused_for_an_organization_that_is_not_an_institute(self, setup):
        cast, _, _, s, _ = setup
        with pytest.raises(ValidationFailed, match="not an allied institute"):
            joint.invitation_create(actor=cast.lead, submission=s, institute=cast.partner_org)

    def test_refused_across_worlds(self, setup):
        """An exercise's institute is never invited to a live review (nor a live one to an exercise's)."""
        from exercises import scenarios
        from exercises import services as exercise_services

        cast, _, _, s, _ = setup
        controller = UserFactory(username="ctl", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
        ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        played = institute_of(Cast(exercise=ex, mark="X"), exercise=ex, slug="x-allied")
        with pytest.raises(ValidationFailed, match="its own world only"):
            joint.invitation_create(actor=cast.lead, submission=s, institute=played)

    def test_refused_once_the_review_is_closed(self, setup):
        cast, institute, _, _, _ = setup
        cleared = cast.submission(State.CLEARED)
        with pytest.raises(TransitionRefused, match="while the review is open"):
            joint.invitation_create(actor=cast.admin, submission=cleared, institute=institute)

    def test_only_the_invited_institute_answers_and_once(self, setup):
        cast, institute, harriet, s, _ = setup
        invitation = joint.invitation_create(actor=cast.lead, submission=s, institute=institute)
        other_institute = institute_of(cast, slug="other-aisi")
        stranger = UserFactory(username="stranger", role=Role.INSTITUTE_REVIEWER, organization=other_institute)
        for who in (cast.lead, cast.reviewer, stranger):
            with pytest.raises(NotPermitted):
                joint.invitation_respond(actor=who, invitation=invitation, accept=True)
        joint.invitation_respond(actor=harriet, invitation=invitation, accept=False)
        with pytest.raises(ValidationFailed, match="already been answered"):
            joint.invitation_respond(actor=harriet, invitation=invitation, accept=True)
        # Declined: the office may invite again.
        joint.invitation_create(actor=cast.lead, submission=s, institute=institute)

    def test_changes_are_audited(self, setup):
        from submissions.models import AuditEntry

        cast, _institute, _harriet, s, _ = setup
        invitation = joined(setup)
        joint.invitation_withdraw(actor=cast.admin, invitation=invitation)
        actions = list(AuditEntry.objects.filter(submission=s).values_list("action", flat=True))
        assert {"institute_invited", "institute_accepted", "institute_invitation_withdrawn"} <= set(actions)
        assert AuditEntry.objects.filter(submission=None, action="arrangement_recorded").exists()


class TestWhatTheInstituteSees:
    def test_nothing_before_accepting_then_only_the_joint_review(self, setup):
        cast, institute, harriet, s, other = setup
        joint.invitation_create(actor=cast.lead, submission=s, institute=institute)
        assert not ModelSubmission.objects.visible_to(harriet).exists()
        assert client_of(harriet).get(reverse("submissions:detail", args=[s.pk])).status_code == 404
        joint.invitation_respond(actor=harriet, invitation=JointReviewInvitation.objects.get(submission=s), accept=True)
        harriet = type(harriet).objects.get(pk=harriet.pk)  # a fresh request's user
        assert list(ModelSubmission.objects.visible_to(harriet)) == [s]
        c = client_of(harriet)
        assert c.get(reverse("submissions:detail", args=[s.pk])).status_code == 200
        assert c.get(reverse("submissions:detail", args=[other.pk])).status_code == 404
        assert api_of(harriet).get(f"/api/v1/submissions/{other.pk}/").status_code == 404
        assert api_of(harriet).get(f"/api/v1/submissions/{other.pk}/findings/").status_code == 404

    def test_findings_above_the_cap_stay_hidden_even_from_someone_cleared_higher(self, setup):
        _cast, _, harriet, s, _ = setup
        joined(setup)
        assert harriet.clearance == Clearance.SECRET
        titles = set(Finding.objects.visible_to(harriet).values_list("title", flat=True))
        assert titles == {CUI_TITLE}
        page = client_of(harriet).get(reverse("submissions:detail", args=[s.pk]))
        assert CUI_TITLE.encode() in page.content and SECRET_TITLE.encode() not in page.content
        listed = api_of(harriet).get(f"/api/v1/submissions/{s.pk}/findings/").json()
        assert [f["title"] for f in listed] == [CUI_TITLE]
        secret = Finding.objects.get(title=SECRET_TITLE)
        evidence = client_of(harriet).get(reverse("reviews:evidence", args=[s.pk, secret.pk]))
        assert evidence.status_code == 404
        cui = Finding.objects.get(title=CUI_TITLE)
        assert client_of(harriet).get(reverse("reviews:evidence", args=[s.pk, cui.pk])).status_code == 200

    def test_their_own_clearance_binds_when_it_is_the_stricter(self, setup):
        _cast, institute, _, s, _ = setup
        joined(setup)
        low = UserFactory(username="low", role=Role.INSTITUTE_REVIEWER, organization=institute)
        assert not Finding.objects.visible_to(low).exists()  # UNCLASSIFIED person, CUI cap
        assert list(ModelSubmission.objects.visible_to(low)) == [s]

    def test_an_ended_arrangement_removes_access(self, setup):
        cast, institute, harriet, s, _ = setup
        joined(setup)
        assert client_of(harriet).get(reverse("submissions:detail", args=[s.pk])).status_code == 200
        joint.arrangement_end(
            actor=cast.admin, arrangement=DataSharingArrangement.objects.get(institute=institute), reason="Ended."
        )
        assert client_of(harriet).get(reverse("submissions:detail", args=[s.pk])).status_code == 404
        assert not Finding.objects.visible_to(harriet).exists()
        assert api_of(harriet).get(f"/api/v1/submissions/{s.pk}/results/").status_code == 404

    def test_ending_an_arrangement_withdraws_its_invitations_so_the_institute_can_be_invited_again(self, setup):
        cast, institute, harriet, s, _ = setup
        accepted = joined(setup)
        other = cast.submission(State.EVALUATION, model_name="Waiting-Review")
        waiting = joint.invitation_create(actor=cast.admin, submission=other, institute=institute)
        old = DataSharingArrangement.objects.get(institute=institute)
        joint.arrangement_end(actor=cast.admin, arrangement=old, reason="Ended.")
        for invitation in (accepted, waiting):
            invitation.refresh_from_db()
            assert invitation.status == JointReviewInvitation.Status.WITHDRAWN
        assert s.audit_entries.filter(action="institute_invitation_withdrawn", comment__contains="ended").exists()
        with pytest.raises(ValidationFailed):  # nothing waits for an answer under an ended arrangement
            joint.invitation_respond(actor=harriet, invitation=waiting, accept=True)
        renewed = joint.arrangement_record(
            actor=cast.admin,
            institute=institute,
            reference="DSA-2",
            classification_cap=old.classification_cap,
            starts_on=clock.now().date(),
        )
        again = joint.invitation_create(actor=cast.lead, submission=s, institute=institute)
        assert again.arrangement == renewed and again.status == JointReviewInvitation.Status.PENDING

    def test_an_invitation_is_accepted_only_under_its_own_arrangement(self, setup):
        cast, institute, harriet, s, _ = setup
        invitation = joint.invitation_create(actor=cast.lead, submission=s, institute=institute)
        # Its arrangement lapses by date while a new one is recorded: accepting under the old one
        # would read "accepted" and give nothing.
        DataSharingArrangement.objects.filter(pk=invitation.arrangement_id).update(
            status=DataSharingArrangement.Status.ENDED
        )
        joint.arrangement_record(
            actor=cast.admin,
            institute=institute,
            reference="DSA-3",
            classification_cap=invitation.arrangement.classification_cap,
            starts_on=clock.now().date(),
        )
        with pytest.raises(ValidationFailed, match="invite your institute again"):
            joint.invitation_respond(actor=harriet, invitation=invitation, accept=True)

    def test_an_arrangement_past_its_end_day_removes_access(self, setup, time_machine):
        _cast, institute, harriet, _s, _ = setup
        joined(setup)
        DataSharingArrangement.objects.filter(institute=institute).update(ends_on=clock.now().date())
        assert ModelSubmission.objects.visible_to(harriet).exists()
        time_machine.move_to(clock.now() + dt.timedelta(days=2))
        harriet = type(harriet).objects.get(pk=harriet.pk)
        assert not ModelSubmission.objects.visible_to(harriet).exists()

    def test_a_withdrawn_invitation_removes_access_and_keeps_the_marks(self, setup):
        cast, institute, harriet, s, _ = setup
        invitation = joined(setup)
        domain = s.plan_items.first().domain
        record_result(submission=s, domain=domain, actor=harriet, score=0.1)
        joint.invitation_withdraw(actor=cast.lead, invitation=invitation)
        harriet = type(harriet).objects.get(pk=harriet.pk)
        assert client_of(harriet).get(reverse("submissions:detail", args=[s.pk])).status_code == 404
        assert EvaluationResult.objects.get(submission=s, domain=domain).institute == institute

    def test_the_same_conflict_rules_hold(self, setup):
        cast, institute, harriet, s, _ = setup
        invitation = joint.invitation_create(actor=cast.lead, submission=s, institute=institute)
        review_services.conflict_declare(reviewer=harriet, organization=cast.lab)
        harriet = type(harriet).objects.get(pk=harriet.pk)
        with pytest.raises(NotPermitted):
            joint.invitation_respond(actor=harriet, invitation=invitation, accept=True)
        colleague = UserFactory(username="colleague", role=Role.INSTITUTE_REVIEWER, organization=institute)
        joint.invitation_respond(actor=colleague, invitation=invitation, accept=True)
        assert ModelSubmission.objects.visible_to(colleague).exists()
        assert not ModelSubmission.objects.visible_to(harriet).exists()
        assert client_of(harriet).get(reverse("joint:invitation", args=[invitation.pk])).status_code == 404
        # The conflict check answers for institute reviewers too, with the reason.
        reasons = rules.conflict_reasons([harriet], [cast.lab])
        assert reasons[(harriet.pk, cast.lab.pk)] == ["declared conflict with Lab Alpha"]
        assert ConflictOfInterest.objects.filter(reviewer=harriet).exists()
        assert rules.conflict_check_candidates().filter(pk=harriet.pk).exists()
        assert not rules.reviewer_candidates().filter(pk=harriet.pk).exists()

    def test_never_the_office_pages(self, setup):
        cast, _, harriet, s, _ = setup
        joined(setup)
        c = client_of(harriet)
        assert c.get(reverse("dashboard:index")).status_code in (403, 404)
        assert c.get(reverse("submissions:agreements")).status_code in (403, 404)
        assert c.get(reverse("joint:arrangements")).status_code == 404
        assert c.get(reverse("reviews:conflict_check")).status_code == 403
        assert not rules.scope_organizations(Organization.objects.all(), harriet).exclude(pk=harriet.organization_id)
        page = c.get(reverse("submissions:detail", args=[s.pk])).content.decode()
        assert cast.reviewer.get_full_name() not in page  # the office's people are not named to them
        assert "Reviewers" not in page and "Propose to flag" not in page
        # The timeline shows the public steps only.
        from submissions.models import AuditEntry

        shown = AuditEntry.objects.for_viewer(harriet).filter(submission=s)
        assert shown.exists() and not shown.filter(internal=True).exists()

    def test_an_office_role_given_by_mistake_does_not_count(self, setup):
        from django.contrib.auth.models import Group

        _cast, _, harriet, _s, _other = setup
        harriet.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
        harriet = type(harriet).objects.get(pk=harriet.pk)
        assert not rules.is_administrator(harriet) and not rules.is_office_staff(harriet)
        assert not ModelSubmission.objects.visible_to(harriet).exists()


class TestWhatTheInstituteRecords:
    def test_results_and_findings_are_marked_with_their_institute(self, setup):
        cast, institute, harriet, s, _ = setup
        joined(setup)
        domain = s.plan_items.first().domain
        result = record_result(submission=s, domain=domain, actor=harriet, score=0.2)
        finding = review_services.finding_record(
            submission=s,
            actor=harriet,
            domain=domain,
            severity="moderate",
            classification=Clearance.CUI,
            title="Institute finding",
            description="Found by the institute.",
        )
        assert result.institute == institute and finding.institute == institute
        office = record_result(submission=s, domain=s.plan_items.last().domain, actor=cast.reviewer, score=0.2)
        assert office.institute is None
        page = client_of(cast.lead).get(reverse("submissions:detail", args=[s.pk])).content.decode()
        assert institute.name in page
        api = api_of(cast.lead)
        results = {
            r["domain"]: r["institute"] for r in api.get(f"/api/v1/submissions/{s.pk}/results/").json()["results"]
        }
        assert results[domain.slug] == institute.name and None in results.values()
        findings = {f["title"]: f["institute"] for f in api.get(f"/api/v1/submissions/{s.pk}/findings/").json()}
        assert findings["Institute finding"] == institute.name and findings[CUI_TITLE] is None

    def test_not_above_the_cap_even_when_cleared_higher(self, setup):
        _cast, _, harriet, s, _ = setup
        joined(setup)
        with pytest.raises(ValidationFailed, match="data-sharing arrangement"):
            review_services.finding_record(
                submission=s,
                actor=harriet,
                domain=EvaluationDomain.objects.first(),
                severity="low",
                classification=Clearance.SECRET,
                title="Too high",
                description="Above the cap.",
            )

    def test_through_the_page_and_the_api(self, setup):
        _cast, institute, harriet, s, _ = setup
        joined(setup)
        domain = s.plan_items.first().domain
        page = client_of(harriet).post(
            reverse("reviews:record_result", args=[s.pk]), {"version": reference_version(domain).pk, "score": "0.3"}
        )
        assert page.status_code == 302
        assert EvaluationResult.objects.get(submission=s, domain=domain).institute == institute
        made = api_of(harriet).post(
            f"/api/v1/submissions/{s.pk}/findings/",
            {
                "domain": domain.slug,
                "severity": "low",
                "classification": "CUI",
                "title": "Via the API",
                "description": "Recorded through the API.",
            },
            format="json",
        )
        assert made.status_code == 201, made.content
        assert made.json()["institute"] == institute.name

    def test_they_never_determine_or_concur(self, setup):
        cast, _, harriet, s, _ = setup
        joined(setup)
        record_all_results(s, cast.reviewer)
        with pytest.raises(NotPermitted):
            review_services.determination_propose_flag(submission=s, actor=harriet, rationale="x", partner_summary="y")
        proposal = review_services.determination_propose_flag(
            submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
        )
        assert not rules.may_concur(harriet, proposal)
        with pytest.raises(NotPermitted):
            review_services.determination_concur(determination=proposal, actor=harriet)
        response = api_of(harriet).post(f"/api/v1/submissions/{s.pk}/transitions/clear/", {}, format="json")
        assert response.status_code == 403
        assert api_of(harriet).get(f"/api/v1/submissions/{s.pk}/assignments/").status_code == 403


class TestTheRecordAndTheNotices:
    def test_the_determination_lists_the_contributing_institutes_and_notices_say_joint(self, setup, settings):
        cast, institute, harriet, s, _ = setup
        joined(setup)
        TrustedPartner.objects.create(
            organization=cast.partner_org,
            webhook_url="https://partner.example/hook",
            emails="duty@partner.example",
            event_types=[PartnerEventType.CLEARED],
        )
        domain = s.plan_items.first().domain
        record_all_results(s, cast.reviewer)
        record_result(submission=s, domain=domain, actor=harriet, score=0.1)
        preview = announcement_preview(s, outcome="cleared", partner_summary="Cleared.")
        import json

        webhook = preview["webhook"] if isinstance(preview["webhook"], dict) else json.loads(preview["webhook"])
        assert webhook["data"]["joint_institutes"] == ["Allied AI Security Institute (UK)"]
        move(s, "clear", cast.lead)
        determination = Determination.objects.get(submission=s)
        assert list(determination.contributing_institutes.all()) == [institute]
        event = Event.objects.get(submission=s, type=PartnerEventType.CLEARED)
        assert event.payload["joint_review"] is True
        # Public names only: never the institute's internal name, never a person.
        assert event.payload["joint_institutes"] == ["Allied AI Security Institute (UK)"]
        assert harriet.username not in str(event.payload) and institute.name not in str(event.payload)
        delivery = Delivery.objects.filter(event=event, channel=Delivery.Channel.EMAIL, partner__isnull=False).first()
        _subject, body = email_for(delivery)
        assert "joint review with allied institutes: Allied AI Security Institute (UK)" in body
        for who in (cast.developer, cast.partner, harriet, cast.admin):
            page = client_of(who).get(reverse("submissions:detail", args=[s.pk]))
            assert b"A joint review" in page.content and b"Allied AI Security Institute (UK)" in page.content, who
        summary = api_of(cast.developer).get(f"/api/v1/submissions/{s.pk}/determination/").json()
        assert summary["contributing_institutes"] == ["Allied AI Security Institute (UK)"]

    def test_a_review_without_an_institute_says_nothing_of_one(self, cast):
        s = cast.submission(State.CLEARED)
        event = Event.objects.get(submission=s, type=PartnerEventType.CLEARED)
        assert "joint_review" not in event.payload
        assert not Determination.objects.get(submission=s).contributing_institutes.exists()


class TestPagesAndApi:
    def test_invite_accept_and_queue_through_the_pages(self, setup):
        cast, institute, harriet, s, _ = setup
        lead = client_of(cast.lead)
        assert lead.get(reverse("joint:invite", args=[s.pk])).status_code == 200
        response = lead.post(reverse("joint:invite", args=[s.pk]), {"institute": institute.slug, "note": "Please."})
        assert response.status_code == 302
        invitation = JointReviewInvitation.objects.get(submission=s)
        inst = client_of(harriet)
        queue = inst.get(reverse("joint:queue"))
        assert queue.status_code == 200 and b"Joint-Model" in queue.content
        page = inst.get(reverse("joint:invitation", args=[invitation.pk]))
        assert b"Accept for your institute" in page.content
        assert inst.post(reverse("joint:respond", args=[invitation.pk]), {"answer": "accept"}).status_code == 302
        invitation.refresh_from_db()
        assert invitation.status == "accepted" and invitation.responded_by == harriet
        assert b"Joint-Model" in inst.get(reverse("home")).content
        # The office sees the invitation on the submission page.
        assert b"Joint review with allied institutes" in lead.get(reverse("submissions:detail", args=[s.pk])).content

    def test_refusals_on_the_pages(self, setup):
        cast, _institute, harriet, s, _other = setup
        bare = OrganizationFactory(name="Bare Institute", slug="bare", kind=Organization.Kind.ALLIED_INSTITUTE)
        refused = client_of(cast.admin).post(reverse("joint:invite", args=[s.pk]), {"institute": bare.slug})
        assert refused.status_code == 400 and b"no data-sharing arrangement in force" in refused.content
        assert client_of(cast.reviewer).get(reverse("joint:invite", args=[s.pk])).status_code == 403
        assert client_of(cast.developer).get(reverse("joint:invite", args=[s.pk])).status_code == 403
        assert client_of(harriet).get(reverse("joint:invite", args=[s.pk])).status_code == 404
        assert client_of(cast.lead).get(reverse("joint:queue")).status_code == 404

    def test_the_api(self, setup):
        cast, institute, harriet, s, _other = setup
        made = api_of(cast.lead).post(
            "/api/v1/joint-invitations/", {"submission": s.pk, "institute": institute.slug}, format="json"
        )
        assert made.status_code == 201, made.content
        pk = made.json()["id"]
        assert made.json()["classification_cap"] == "CUI"
        assert api_of(cast.developer).post(
            "/api/v1/joint-invitations/", {"submission": s.pk, "institute": institute.slug}, format="json"
        ).status_code in (403, 404)
        assert api_of(cast.reviewer).post(f"/api/v1/joint-invitations/{pk}/accept/").status_code == 403
        assert [i["id"] for i in api_of(harriet).get("/api/v1/joint-invitations/").json()["results"]] == [pk]
        assert api_of(harriet).post(f"/api/v1/joint-invitations/{pk}/accept/").json()["status"] == "accepted"
        assert api_of(harriet).get(f"/api/v1/submissions/{s.pk}/").status_code == 200
        assert api_of(cast.lead).post(f"/api/v1/joint-invitations/{pk}/withdraw/").json()["status"] == "withdrawn"
        assert api_of(harriet).get(f"/api/v1/submissions/{s.pk}/").status_code == 404
        bare = OrganizationFactory(name="Bare Institute", slug="bare", kind=Organization.Kind.ALLIED_INSTITUTE)
        refused = api_of(cast.admin).post(
            "/api/v1/joint-invitations/", {"submission": s.pk, "institute": bare.slug}, format="json"
        )
        assert refused.status_code == 400 and "no data-sharing arrangement" in refused.json()["error"]["message"]

    def test_arrangements_page(self, setup):
        cast, institute, _, _, _ = setup
        c = client_of(cast.admin)
        assert c.get(reverse("joint:arrangements")).status_code == 200
        arrangement = DataSharingArrangement.objects.get(institute=institute)
        assert c.post(reverse("joint:arrangement_end", args=[arrangement.pk]), {"reason": "Lapsed."}).status_code == 302
        arrangement.refresh_from_db()
        assert arrangement.status == "ended" and arrangement.end_reason == "Lapsed."
        response = c.post(
            reverse("joint:arrangements"),
            {"institute": institute.slug, "reference": "DSA-2", "classification_cap": "2", "starts_on": "2026-01-01"},
        )
        assert response.status_code == 302
        assert DataSharingArrangement.objects.get(institute=institute, status="active").classification_cap == 2
        assert client_of(cast.lead).get(reverse("joint:arrangements")).status_code == 404

    def test_the_queue_costs_the_same_however_many_reviews(self, setup, django_assert_max_num_queries):
        cast, institute, harriet, _s, _ = setup
        joined(setup)
        for n in range(4):
            extra = cast.submission(State.EVALUATION, model_name=f"Extra-{n}")
            invitation = joint.invitation_create(actor=cast.admin, submission=extra, institute=institute)
            if n % 2:
                joint.invitation_respond(actor=harriet, invitation=invitation, accept=True)
        c = client_of(harriet)
        c.get(reverse("joint:queue"))  # warm the session
        with django_assert_max_num_queries(16):
            assert c.get(reverse("joint:queue")).status_code == 200


class TestWorlds:
    def test_an_exercise_institute_sees_only_its_exercise(self, setup):
        from exercises import scenarios
        from exercises import services as exercise_services

        cast, _institute, harriet, s, _ = setup
        joined(setup)
        controller = UserFactory(username="ctl", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
        ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        xcast = Cast(exercise=ex, mark="X")
        with clock.simulated(ex.simulated_now):
            played = institute_of(xcast, exercise=ex, slug="x-allied")
            player = UserFactory(
                username=f"x{ex.pk}.inst", role=Role.INSTITUTE_REVIEWER, organization=played, exercise=ex
            )
            xs = xcast.submission(State.EVALUATION, model_name="Exercise-Model")
            invitation = joint.invitation_create(actor=xcast.admin, submission=xs, institute=played)
            joint.invitation_respond(actor=player, invitation=invitation, accept=True)
            assert list(ModelSubmission.objects.visible_to(player)) == [xs]
        # Live and exercise never meet: neither institute reviewer sees the other world's review.
        harriet = type(harriet).objects.get(pk=harriet.pk)
        assert list(ModelSubmission.objects.visible_to(harriet)) == [s]
        assert not JointReviewInvitation.objects.visible_to(harriet).filter(pk=invitation.pk).exists()
        with pytest.raises(NotPermitted):
            joint.invitation_respond(
                actor=player, invitation=JointReviewInvitation.objects.get(submission=s), accept=False
            )


@pytest.mark.empty_catalog
def test_the_demo_seed_holds_a_joint_review(settings):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("load_seed")
    s = ModelSubmission.objects.get(model_name="Orion-Sim", model_version="4.5")
    assert s.state == State.CLEARED
    institute = Organization.objects.get(slug="allied-aisi-uk")
    assert list(s.determination.contributing_institutes.all()) == [institute]
    assert EvaluationResult.objects.filter(submission=s, institute=institute).count() == 2
    harriet = type(s.determination.decided_by).objects.get(username="institute.harriet")
    # Cleared SECRET at home, capped at CUI here: the office's SECRET finding stays hidden.
    assert harriet.clearance == Clearance.SECRET
    titles = set(Finding.objects.visible_to(harriet).filter(submission=s).values_list("title", flat=True))
    assert titles == {"Reconnaissance scripts with the safeguards off"}
    event = Event.objects.get(submission=s, type=PartnerEventType.CLEARED)
    assert event.payload["joint_institutes"] == ["Allied AI Security Institute (UK)"]
