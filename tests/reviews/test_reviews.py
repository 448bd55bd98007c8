"""Assignments with conflict-of-interest checks, results, and the clearance rule for findings."""

import pytest
from django.urls import reverse

from accounts.models import Clearance
from caisi_portal.errors import NotPermitted, ValidationFailed
from reviews import services
from reviews.models import Assignment, ConflictOfInterest, EvaluationDomain, EvaluationResult, Finding
from submissions.models import State
from tests.factories import UserFactory, record_result, serious_finding

pytestmark = pytest.mark.django_db


class TestAssignment:
    def test_reviewer_declared_conflicted_is_refused_with_the_reason(self, cast):
        s = cast.submission(State.INTAKE)
        services.conflict_declare(
            reviewer=cast.unassigned_reviewer, organization=cast.lab, kind=ConflictOfInterest.Kind.AFFILIATION
        )
        with pytest.raises(ValidationFailed, match="conflict of interest with Lab Alpha"):
            services.assignment_create(submission=s, reviewer=cast.unassigned_reviewer, role="member", actor=cast.admin)
        assert not Assignment.objects.filter(submission=s, reviewer=cast.unassigned_reviewer).exists()

    def test_reviewer_affiliated_with_the_organization_is_refused(self, cast):
        from accounts.roles import Role

        insider = UserFactory(username="insider", role=Role.REVIEWER, organization=cast.lab)
        s = cast.submission(State.INTAKE)
        with pytest.raises(ValidationFailed, match="conflict of interest"):
            services.assignment_create(submission=s, reviewer=insider, role="member", actor=cast.admin)

    def test_only_one_lead_and_no_double_assignment(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(ValidationFailed, match="already assigned"):
            services.assignment_create(submission=s, reviewer=cast.reviewer, role="member", actor=cast.admin)
        from accounts.roles import Role

        second_lead = UserFactory(username="lead2", role=Role.LEAD_REVIEWER, organization=cast.office)
        with pytest.raises(ValidationFailed, match="already has a lead"):
            services.assignment_create(submission=s, reviewer=second_lead, role="lead", actor=cast.admin)

    def test_assigning_below_the_evidence_clearance_is_refused_until_acknowledged_on_the_page(self, cast, client):
        """The page says what a clearance gap means and assigns only once the assigner acknowledges
        it; then it assigns and says it again."""
        from accounts.roles import Role

        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.lead, classification=Clearance.SECRET)
        cui = UserFactory(
            username="reviewer.cui2", role=Role.REVIEWER, organization=cast.office, clearance=Clearance.CUI
        )
        client.force_login(cast.admin)
        url = reverse("reviews:assign", args=[s.pk])
        refused = client.post(url, {"reviewer": cui.pk, "role": "member"})
        assert refused.status_code == 400
        page = refused.content.decode()
        assert "is cleared CUI, below the SECRET this review&#x27;s evidence needs" in page
        assert 'name="acknowledge_clearance_gap"' in page
        assert not Assignment.objects.filter(submission=s, reviewer=cui).exists()
        answer = client.post(
            url, {"reviewer": cui.pk, "role": "member", "acknowledge_clearance_gap": "on"}, follow=True
        )
        assert Assignment.objects.filter(submission=s, reviewer=cui).exists()
        assert "is cleared CUI, below the SECRET this review&#x27;s evidence needs" in answer.content.decode()
        cleared = UserFactory(
            username="reviewer.s2", role=Role.REVIEWER, organization=cast.office, clearance=Clearance.SECRET
        )
        answer = client.post(url, {"reviewer": cleared.pk, "role": "member"}, follow=True)
        assert Assignment.objects.filter(submission=s, reviewer=cleared).exists()
        assert "below the SECRET" not in answer.content.decode()

    def test_the_api_refuses_a_clearance_gap_in_the_pages_words_until_acknowledged(self, cast):
        """POST .../assignments/ of a CUI reviewer to a review with SECRET evidence: 400 with the
        page's message, nothing assigned; acknowledged, 201 with the gap stated in the answer."""
        from accounts.roles import Role
        from tests.factories import token_client

        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.lead, classification=Clearance.SECRET)
        alice = UserFactory(
            username="reviewer.alice", role=Role.REVIEWER, organization=cast.office, clearance=Clearance.CUI
        )
        api, url = token_client(cast.admin), f"/api/v1/submissions/{s.pk}/assignments/"
        refused = api.post(url, {"reviewer": "reviewer.alice", "role": "member"}, format="json")
        assert refused.status_code == 400, refused.content
        error = refused.json()["error"]
        gap = services.assignment_clearance_gap(submission=s, reviewer=alice)
        assert "is cleared CUI, below the SECRET this review's evidence needs" in gap
        assert gap in error["message"] and "acknowledge_clearance_gap" in error["details"]
        assert not Assignment.objects.filter(submission=s, reviewer=alice).exists()
        made = api.post(
            url, {"reviewer": "reviewer.alice", "role": "member", "acknowledge_clearance_gap": True}, format="json"
        )
        assert made.status_code == 201, made.content
        assert made.json()["clearance_gap"] == gap
        assert Assignment.objects.filter(submission=s, reviewer=alice).exists()
        listed = {a["reviewer"]: a["clearance_gap"] for a in api.get(url).json()}
        assert listed["reviewer.alice"] == gap and listed["reviewer"] is None

    def test_a_reviewer_cannot_lead(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(ValidationFailed, match="not a lead reviewer"):
            services.assignment_create(submission=s, reviewer=cast.unassigned_reviewer, role="lead", actor=cast.admin)

    def test_non_reviewers_cannot_be_assigned(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(ValidationFailed, match="not a reviewer"):
            services.assignment_create(submission=s, reviewer=cast.trainee, role="member", actor=cast.admin)

    @pytest.mark.parametrize("who", ["developer", "reviewer", "partner"])
    def test_only_admins_and_leads_assign(self, cast, who):
        s = cast.submission(State.INTAKE)
        with pytest.raises(NotPermitted):
            services.assignment_create(
                submission=s, reviewer=cast.unassigned_reviewer, role="member", actor=getattr(cast, who)
            )

    def test_conflicted_reviewer_is_refused_on_the_page(self, cast, client):
        s = cast.submission(State.INTAKE)
        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        client.force_login(cast.admin)
        response = client.post(
            reverse("reviews:assign", args=[s.pk]), {"reviewer": cast.unassigned_reviewer.pk, "role": "member"}
        )
        assert response.status_code == 400
        assert "has a conflict of interest with Lab Alpha" in response.content.decode()


class TestResults:
    def test_outcome_follows_the_versions_levels(self, cast):
        s = cast.submission(State.EVALUATION)
        cyber = EvaluationDomain.objects.get(slug="cyber-offense")
        r = record_result(submission=s, domain=cyber, actor=cast.reviewer, score=0.7)
        assert (r.outcome, r.level) == (EvaluationResult.Outcome.THRESHOLD_EXCEEDED, "elevated")
        assert r.levels_applied == {"elevated": "0.500", "critical": "0.800"}
        r = record_result(submission=s, domain=cyber, actor=cast.reviewer, score=0.8)
        assert (r.outcome, r.level) == (EvaluationResult.Outcome.THRESHOLD_EXCEEDED, "critical")
        r = record_result(submission=s, domain=cyber, actor=cast.reviewer, score=0.2)
        assert (r.outcome, r.level) == (EvaluationResult.Outcome.BELOW_THRESHOLD, "")
        assert EvaluationResult.objects.filter(submission=s).count() == 1

    def test_version_must_be_planned(self, cast):
        from benchmarks.models import Benchmark, BenchmarkVersion

        s = cast.submission(State.EVALUATION)
        extra = EvaluationDomain.objects.create(slug="persuasion", name="Persuasion")
        benchmark = Benchmark.objects.create(domain=extra, slug="persuade", name="Persuade", created_at=s.created_at)
        version = BenchmarkVersion.objects.create(benchmark=benchmark, label="1", metric="m", created_at=s.created_at)
        with pytest.raises(ValidationFailed, match="not in this submission's evaluation plan"):
            services.evaluation_result_record(submission=s, version=version, actor=cast.reviewer, score=1)

    def test_not_a_number_is_a_clear_error(self, cast):
        s = cast.submission(State.EVALUATION)
        cyber = EvaluationDomain.objects.get(slug="cyber-offense")
        with pytest.raises(ValidationFailed, match="Enter a number"):
            record_result(submission=s, domain=cyber, actor=cast.reviewer, score="NaN")

    def test_unassigned_reviewer_cannot_record(self, cast):
        s = cast.submission(State.EVALUATION)
        cyber = EvaluationDomain.objects.get(slug="cyber-offense")
        with pytest.raises(NotPermitted):
            record_result(submission=s, domain=cyber, actor=cast.unassigned_reviewer, score=1)


class TestFindingClearance:
    @pytest.fixture
    def findings(self, cast):
        s = cast.submission(State.EVALUATION)
        return s, {
            level: serious_finding(s, cast.reviewer, classification=level)
            for level in (Clearance.UNCLASSIFIED, Clearance.CUI, Clearance.SECRET)
        }

    @pytest.mark.parametrize(
        ("who", "expected"),
        [
            ("reviewer", {Clearance.UNCLASSIFIED, Clearance.CUI, Clearance.SECRET}),
            ("low_reviewer", {Clearance.UNCLASSIFIED, Clearance.CUI}),
            ("admin", {Clearance.UNCLASSIFIED, Clearance.CUI, Clearance.SECRET}),
            ("unassigned_reviewer", set()),
            ("developer", set()),
            ("partner", set()),
            ("other_developer", set()),
        ],
    )
    def test_findings_only_at_or_below_clearance(self, cast, findings, who, expected):
        s, _ = findings
        user = getattr(cast, who)
        seen = set(Finding.objects.visible_to(user).filter(submission=s).values_list("classification", flat=True))
        assert seen == expected

    def test_page_hides_findings_above_clearance(self, cast, findings, client):
        s, by_level = findings
        client.force_login(cast.low_reviewer)
        page = client.get(s.get_absolute_url()).content.decode()
        assert "[SECRET]" not in page and page.count("Exploit generation") == 2
        assert "1 finding above your clearance is not shown" in page
        secret = by_level[Clearance.SECRET]
        assert client.get(reverse("reviews:evidence", args=[s.pk, secret.pk])).status_code == 404

    def test_cannot_record_above_own_clearance(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(ValidationFailed, match="above your own clearance"):
            serious_finding(s, cast.low_reviewer, classification=Clearance.SECRET)

    def test_developer_never_sees_findings_even_unclassified(self, cast, findings, client):
        s, _ = findings
        client.force_login(cast.developer)
        assert "Exploit generation" not in client.get(s.get_absolute_url()).content.decode()
