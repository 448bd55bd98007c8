"""Assignment suggestions (clearance, conflicts, expertise, load), the one-click assign, assigning
on accept by the office's policy, and the conflict check on its own (page and API)."""

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Clearance
from accounts.roles import Role
from api.services import api_token_issue
from caisi_portal.errors import SubmissionChanged, ValidationFailed
from reviews import services
from reviews.models import AssignmentPolicy, ConflictOfInterest, EvaluationDomain, ReviewerExpertise, ReviewerLeave
from reviews.selectors import assignment_suggestions
from submissions.models import AuditEntry, State
from submissions.services import configuration_save
from tests.factories import UserFactory, move, serious_finding

pytestmark = pytest.mark.django_db


def reviewer(cast, username, *, last_name, clearance=Clearance.SECRET, role=Role.REVIEWER, organization=None):
    return UserFactory(
        username=username,
        first_name=username.title(),
        last_name=last_name,
        role=role,
        organization=organization or cast.office,
        clearance=clearance,
    )


def names(candidates):
    return [c.reviewer.username for c in candidates]


def excluded(suggestions):
    return {c.reviewer.username: c.excluded_because for c in suggestions.excluded}


class TestSuggestions:
    def test_a_reviewer_below_the_clearance_the_review_needs_is_left_out_with_the_reason(self, cast):
        s = cast.submission(State.EVALUATION)
        serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
        reviewer(cast, "cui2", last_name="Cui", clearance=Clearance.CUI)
        suggestions = assignment_suggestions(s)
        assert suggestions.clearance_needed == Clearance.SECRET
        assert "cui2" not in names(suggestions.candidates)
        assert excluded(suggestions)["cui2"] == ["CUI clearance, below the SECRET this review needs"]
        assert "reviewer.idle" in names(suggestions.candidates)  # SECRET: suggested

    def test_without_classified_evidence_a_cui_reviewer_is_eligible(self, cast):
        s = cast.submission(State.INTAKE)
        reviewer(cast, "cui2", last_name="Cui", clearance=Clearance.CUI)
        assert "cui2" in names(assignment_suggestions(s).candidates)

    def test_conflicted_reviewers_are_left_out_with_the_reason_in_words(self, cast):
        s = cast.submission(State.INTAKE)
        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        reviewer(cast, "insider", last_name="Insider", organization=cast.lab)
        suggestions = assignment_suggestions(s)
        assert excluded(suggestions)["reviewer.idle"] == ["declared conflict with Lab Alpha"]
        assert excluded(suggestions)["insider"] == ["works for Lab Alpha"]
        assert not {"reviewer.idle", "insider"} & set(names(suggestions.candidates))

    def test_a_less_loaded_equally_qualified_reviewer_ranks_above_a_busier_one(self, cast):
        s = cast.submission(State.INTAKE)
        busy = reviewer(cast, "aaron", last_name="Aaron")  # first by name: only the load puts him second
        reviewer(cast, "zed", last_name="Zed")
        other = cast.submission(State.INTAKE)
        services.assignment_create(submission=other, reviewer=busy, role="member", actor=cast.admin)
        ranked = names(assignment_suggestions(s).candidates)
        assert ranked.index("zed") < ranked.index("aaron")
        aaron = next(c for c in assignment_suggestions(s).candidates if c.reviewer == busy)
        assert aaron.open_reviews == 1 and "1 open review" in aaron.reasons

    def test_with_equal_load_the_later_nearest_deadline_ranks_first(self, cast):
        from submissions.models import ReviewClock

        s = cast.submission(State.INTAKE)
        soon, later = reviewer(cast, "aaron", last_name="Aaron"), reviewer(cast, "zed", last_name="Zed")
        for person, days in ((soon, 1), (later, 20)):
            other = cast.submission(State.EVALUATION)
            services.assignment_create(submission=other, reviewer=person, role="member", actor=cast.admin)
            clock = ReviewClock.objects.get(submission=other)
            ReviewClock.objects.filter(pk=clock.pk).update(deadline_at=clock.started_at + dt.timedelta(days=days))
        ranked = names(assignment_suggestions(s).candidates)
        assert ranked.index("zed") < ranked.index("aaron")

    def test_declared_expertise_in_a_planned_domain_ranks_up(self, cast):
        s = cast.submission(State.INTAKE)
        expert = reviewer(cast, "zed", last_name="Zed")
        other = cast.submission(State.INTAKE)
        services.assignment_create(submission=other, reviewer=expert, role="member", actor=cast.admin)
        ReviewerExpertise.objects.create(reviewer=expert, domain=EvaluationDomain.objects.first())
        suggestions = assignment_suggestions(s)
        top = suggestions.candidates[0]
        assert top.reviewer == expert  # above everyone idle, despite an open review
        assert f"knows {EvaluationDomain.objects.first().name} (declared)" in top.reasons

    def test_past_results_count_as_expertise(self, cast):
        cast.submission(State.CLEARED)  # cast.reviewer recorded every domain's result there
        s = cast.submission(State.INTAKE)
        top = assignment_suggestions(s).candidates
        reviewer_row = next(c for c in top if c.reviewer == cast.reviewer)
        assert len(reviewer_row.expertise) == EvaluationDomain.objects.filter(is_active=True).count()
        assert "past results" in reviewer_row.expertise_sources

    def test_the_lead_is_a_lead_reviewer_and_members_fill_the_policy(self, cast):
        s = cast.submission(State.INTAKE)
        suggestions = assignment_suggestions(s, reviewers=2)
        assert suggestions.lead.reviewer == cast.lead
        assert len(suggestions.reviewers) == 2 and cast.lead not in [c.reviewer for c in suggestions.reviewers]

    def test_people_already_on_the_review_are_not_suggested_again(self, cast):
        s = cast.submission(State.EVALUATION)
        suggestions = assignment_suggestions(s)
        assert suggestions.lead is None  # it has one
        assert not {"lead", "reviewer", "reviewer.cui"} & set(names(suggestions.candidates + suggestions.excluded))

    def test_a_constant_number_of_queries(self, cast, django_assert_max_num_queries):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        s = cast.submission(State.INTAKE)
        with CaptureQueriesContext(connection) as baseline:
            assignment_suggestions(s)
        for i in range(8):
            person = reviewer(cast, f"extra{i}", last_name=f"Extra{i}", clearance=Clearance.CUI)
            ReviewerExpertise.objects.create(reviewer=person, domain=EvaluationDomain.objects.first())
            if i % 2:
                services.conflict_declare(reviewer=person, organization=cast.lab)
            else:
                other = cast.submission(State.INTAKE)
                services.assignment_create(submission=other, reviewer=person, role="member", actor=cast.admin)
        # People with their load; the plan; the default plan; assignments; the clearance needed;
        # results, findings and declared expertise; conflicts; the policy.
        with django_assert_max_num_queries(len(baseline)):
            suggestions = assignment_suggestions(s)
        assert len(suggestions.candidates) + len(suggestions.excluded) >= 12

    def test_a_live_review_never_suggests_an_exercise_player(self, cast):
        from exercises import scenarios
        from exercises import services as exercise_services
        from tests.factories import Cast

        controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
        ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
        played = Cast(exercise=ex, mark="XR")
        live = assignment_suggestions(cast.submission(State.INTAKE))
        everyone = {c.reviewer.exercise_id for c in live.candidates + live.excluded}
        assert everyone == {None}
        s = played.submission(State.INTAKE)
        inside = assignment_suggestions(s, s.exercise_id)
        assert {c.reviewer.exercise_id for c in inside.candidates + inside.excluded} == {ex.pk}


class TestOneClickAssign:
    def post(self, client, s, **data):
        return client.post(reverse("reviews:assign_suggested", args=[s.pk]), data)

    def test_the_page_shows_the_suggestions_and_one_click_assigns_them(self, cast, client):
        s = cast.submission(State.INTAKE)
        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        client.force_login(cast.admin)
        page = client.get(s.get_absolute_url()).content.decode()
        assert "Suggested reviewers" in page and "declared conflict with Lab Alpha" in page
        suggestions = assignment_suggestions(s)
        ids = [c.reviewer.pk for c in suggestions.suggested]
        response = self.post(client, s, expected_state="intake", suggested=ids)
        assert response.status_code == 302
        assert dict(s.assignments.values_list("reviewer_id", "role")) == {
            suggestions.lead.reviewer.pk: "lead",
            **{c.reviewer.pk: "member" for c in suggestions.reviewers},
        }
        assert cast.unassigned_reviewer.pk not in ids

    def test_refused_when_the_submission_changed_meanwhile(self, cast, client):
        s = cast.submission(State.INTAKE)
        ids = [c.reviewer.pk for c in assignment_suggestions(s).suggested]
        move(s, "request_information", cast.admin)  # still open for assignment, but not what was shown
        client.force_login(cast.admin)
        response = self.post(client, s, expected_state="intake", suggested=ids)
        assert response.status_code == 302
        assert not s.assignments.exists()
        with pytest.raises(SubmissionChanged):
            services.assignment_suggestions_accept(
                submission=s, actor=cast.admin, expected_state="intake", suggested_ids=ids
            )

    def test_refused_when_the_suggestions_changed_meanwhile(self, cast):
        s = cast.submission(State.INTAKE)
        ids = [c.reviewer.pk for c in assignment_suggestions(s).suggested]
        services.conflict_declare(reviewer=assignment_suggestions(s).reviewers[0].reviewer, organization=cast.lab)
        with pytest.raises(ValidationFailed, match=services.MSG_SUGGESTIONS_CHANGED):
            services.assignment_suggestions_accept(
                submission=s, actor=cast.admin, expected_state="intake", suggested_ids=ids
            )
        assert not s.assignments.exists()

    def test_someone_who_may_not_assign_is_refused(self, cast, client):
        s = cast.submission(State.INTAKE)
        client.force_login(cast.reviewer)
        assert self.post(client, s, expected_state="intake", suggested=[cast.lead.pk]).status_code == 404
        s2 = cast.submission(State.EVALUATION)  # visible to the assigned reviewer, who may not assign
        assert self.post(client, s2, expected_state="evaluation", suggested=[]).status_code == 403


class TestAssignOnAccept:
    def test_off_by_default(self, cast):
        s = move(cast.submission(State.INTAKE), "accept", cast.admin)
        assert not s.assignments.exists()

    def test_accepting_assigns_the_top_suggestion_never_a_conflicted_person(self, cast):
        AssignmentPolicy(auto_assign_on_accept=True, reviewers_on_accept=1).save()
        s = cast.submission(State.INTAKE)
        # The most expert reviewer is conflicted: they must not be chosen.
        for domain in EvaluationDomain.objects.all():
            ReviewerExpertise.objects.create(reviewer=cast.unassigned_reviewer, domain=domain)
        services.conflict_declare(
            reviewer=cast.unassigned_reviewer, organization=cast.lab, kind=ConflictOfInterest.Kind.DECLARED
        )
        move(s, "accept", cast.admin)
        roles = dict(s.assignments.values_list("reviewer__username", "role"))
        assert roles.get("lead") == "lead"
        assert list(roles.values()).count("member") == 1
        assert "reviewer.idle" not in roles
        # The lead's assignment closes the assignment obligation, as when assigned by hand.
        assert AuditEntry.objects.filter(submission=s, action="reviewer_assigned").count() == 2

    def test_a_lead_accepting_with_the_policy_on_gets_the_suggested_lead(self, cast):
        AssignmentPolicy(auto_assign_on_accept=True, reviewers_on_accept=0).save()
        s = move(cast.submission(State.INTAKE), "accept", cast.lead)
        assert list(s.assignments.values_list("reviewer__username", "role")) == [("lead", "lead")]

    def test_the_policy_change_is_audited(self, cast):
        policy = AssignmentPolicy.current()
        policy.auto_assign_on_accept = True
        configuration_save(actor=cast.admin, obj=policy)
        entry = AuditEntry.objects.filter(action__startswith="configuration_").latest("pk")
        assert "assign on accept: True" in entry.comment
        policy.reviewers_on_accept = 3
        configuration_save(actor=cast.admin, obj=policy)
        entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
        assert "reviewers besides the lead: 1 → 3" in entry.comment


class TestConflictCheck:
    def url(self, cast, *orgs, who=None):
        query = "&".join(f"organizations={o.slug}" for o in orgs)
        who = who or cast.unassigned_reviewer.username
        return f"{reverse('reviews:conflict_check')}?reviewer={who}&{query}"

    def test_the_page_answers_with_the_reasons(self, cast, client):
        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        client.force_login(cast.admin)
        response = client.get(self.url(cast, cast.lab, cast.other_lab, cast.office))
        page = response.content.decode()
        assert response.status_code == 200
        assert "declared conflict with Lab Alpha" in page
        assert "works for Review Office" in page
        assert page.count("No conflict") == 1  # Lab Beta

    def test_a_lead_may_ask_a_reviewer_may_not(self, cast, client):
        client.force_login(cast.lead)
        assert client.get(reverse("reviews:conflict_check")).status_code == 200
        client.force_login(cast.reviewer)
        response = client.get(reverse("reviews:conflict_check"))
        assert response.status_code == 403
        assert b"Only those who assign reviewers" in response.content

    def test_another_worlds_reviewer_is_not_known(self, cast, client):
        outsider = UserFactory(username="elsewhere", role=Role.REVIEWER, is_active=False)
        client.force_login(cast.admin)
        assert client.get(self.url(cast, cast.lab, who=outsider.username)).status_code == 400

    def test_the_api_answers_with_the_reasons(self, cast):
        from rest_framework.test import APIClient

        services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.lead, name='t')[1]}")
        response = client.get(
            "/api/v1/conflict-check/",
            {"reviewer": "reviewer.idle", "organization": [cast.lab.slug, cast.other_lab.slug]},
        )
        assert response.status_code == 200, response.content
        assert response.json() == {
            "reviewer": "reviewer.idle",
            "conflicted": True,
            "organizations": [
                {
                    "organization": cast.lab.slug,
                    "name": "Lab Alpha",
                    "conflicted": True,
                    "reasons": ["declared conflict with Lab Alpha"],
                },
                {"organization": cast.other_lab.slug, "name": "Lab Beta", "conflicted": False, "reasons": []},
            ],
        }
        bad = client.get("/api/v1/conflict-check/", {"reviewer": "reviewer.idle", "organization": "nowhere"})
        assert bad.status_code == 400
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.reviewer, name='t')[1]}")
        refused = client.get("/api/v1/conflict-check/", {"reviewer": "reviewer.idle", "organization": cast.lab.slug})
        assert refused.status_code == 403


class TestDeclaredExpertise:
    def test_a_reviewer_declares_expertise_on_their_profile_and_it_is_audited(self, cast, client):
        domain = EvaluationDomain.objects.first()
        client.force_login(cast.reviewer)
        assert b'id="expertise"' in client.get(reverse("profile")).content
        response = client.post(reverse("profile"), {"action": "expertise", "domains": [domain.pk]})
        assert response.status_code == 302
        assert list(ReviewerExpertise.objects.filter(reviewer=cast.reviewer).values_list("domain", flat=True)) == [
            domain.pk
        ]
        entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
        assert entry.comment == f"Declared expertise of {cast.reviewer}: {domain.name}"
        client.post(reverse("profile"), {"action": "expertise"})
        assert not ReviewerExpertise.objects.filter(reviewer=cast.reviewer).exists()

    def test_someone_who_is_not_a_reviewer_has_no_expertise_to_declare(self, cast, client):
        client.force_login(cast.developer)
        assert b'id="expertise"' not in client.get(reverse("profile")).content
        domain = EvaluationDomain.objects.first()
        client.post(reverse("profile"), {"action": "expertise", "domains": [domain.pk]})
        assert not ReviewerExpertise.objects.exists()


def test_a_nul_byte_in_a_name_is_a_bad_request_not_a_server_error(cast, client):
    from rest_framework.test import APIClient

    client.force_login(cast.admin)
    url = reverse("reviews:conflict_check")
    assert client.get(url, {"reviewer": "a\x00b", "organizations": [cast.lab.slug]}).status_code == 400
    assert client.get(url, {"reviewer": "reviewer", "organizations": ["a\x00b"]}).status_code == 400
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.admin, name='t')[1]}")
    assert api.get("/api/v1/conflict-check/", {"reviewer": "a\x00b", "organization": "x"}).status_code == 400


class TestLeave:
    """Leave feeds the suggestions: someone away during the review window is ranked last with
    their dates and never suggested (time frozen at 1 Jul 2026: an intake's window runs to 31 Jul)."""

    def away(self, person, first, last, note=""):
        return ReviewerLeave.objects.create(
            reviewer=person, starts_on=first, ends_on=last, note=note, recorded_at=dt.datetime.now(dt.UTC)
        )

    def test_a_reviewer_on_leave_in_the_window_is_ranked_last_with_the_dates_and_not_suggested(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        expert = reviewer(cast, "aaron", last_name="Aaron")
        for domain in EvaluationDomain.objects.all():
            ReviewerExpertise.objects.create(reviewer=expert, domain=domain)
        assert assignment_suggestions(s).candidates[0].reviewer == expert  # the best fit while available
        self.away(expert, dt.date(2026, 7, 12), dt.date(2026, 7, 20))
        suggestions = assignment_suggestions(s, reviewers=4)
        assert suggestions.window == (dt.date(2026, 7, 1), dt.date(2026, 7, 31))
        last = suggestions.candidates[-1]
        assert last.reviewer == expert and last.leave == ["12–20 Jul"]
        assert last.reasons[0] == "on leave 12–20 Jul"
        assert expert not in [c.reviewer for c in suggestions.suggested]
        assert len(suggestions.reviewers) == 3  # the three others free: someone away never fills a place

    def test_leave_outside_the_window_changes_nothing(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        self.away(cast.unassigned_reviewer, dt.date(2026, 6, 1), dt.date(2026, 6, 30))  # over before it starts
        self.away(cast.unassigned_reviewer, dt.date(2026, 8, 1), dt.date(2026, 8, 9))  # after the window
        idle = next(c for c in assignment_suggestions(s).candidates if c.reviewer == cast.unassigned_reviewer)
        assert idle.leave == [] and not any("on leave" in r for r in idle.reasons)

    def test_a_running_review_reads_leave_against_its_own_deadline(self, cast, traveller):
        from submissions.models import ReviewClock

        s = cast.submission(State.EVALUATION)  # the window: today to the deadline, 30 days on
        ReviewClock.objects.filter(submission=s).update(deadline_at=dt.datetime(2026, 7, 10, 9, tzinfo=dt.UTC))
        late = reviewer(cast, "late", last_name="Late")
        early = reviewer(cast, "early", last_name="Early")
        self.away(late, dt.date(2026, 7, 12), dt.date(2026, 7, 20))  # after this deadline: free for it
        self.away(early, dt.date(2026, 7, 9), dt.date(2026, 7, 9))
        by_name = {c.reviewer.username: c for c in assignment_suggestions(s).candidates}
        assert by_name["late"].leave == [] and by_name["early"].leave == ["9 Jul"]

    def test_the_page_and_the_api_show_it(self, cast, client, traveller):
        s = cast.submission(State.INTAKE)
        self.away(cast.unassigned_reviewer, dt.date(2026, 7, 12), dt.date(2026, 7, 20))
        client.force_login(cast.admin)
        page = client.get(s.get_absolute_url()).content.decode()
        assert "on leave 12–20 Jul" in page and "Anyone on leave during the review window (1–31 Jul)" in page
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.admin, name='t')[1]}")
        answer = api.get(f"/api/v1/submissions/{s.pk}/assignments/suggestions/")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert (body["window_starts_on"], body["window_ends_on"]) == ("2026-07-01", "2026-07-31")
        idle = next(c for c in body["candidates"] if c["reviewer"] == "reviewer.idle")
        assert idle["on_leave"] == ["12–20 Jul"] and idle["suggested_as"] is None
        assert idle["reasons"][0] == "on leave 12–20 Jul" and body["candidates"][-1] == idle
        assert {c["suggested_as"] for c in body["candidates"]} >= {"lead", "member"}
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.reviewer, name='t')[1]}")
        assert api.get(f"/api/v1/submissions/{s.pk}/assignments/suggestions/").status_code == 404  # not theirs to see
        s2 = cast.submission(State.EVALUATION)  # theirs to see, not to assign
        assert api.get(f"/api/v1/submissions/{s2.pk}/assignments/suggestions/").status_code == 403

    def test_assigning_on_accept_passes_over_a_lead_on_leave(self, cast, traveller):
        AssignmentPolicy(auto_assign_on_accept=True, reviewers_on_accept=1).save()
        self.away(cast.lead, dt.date(2026, 7, 2), dt.date(2026, 7, 3))
        s = move(cast.submission(State.INTAKE), "accept", cast.admin)
        roles = dict(s.assignments.values_list("reviewer__username", "role"))
        assert "lead" not in roles and list(roles.values()) == ["member"]


class TestRecordingLeave:
    def test_a_reviewer_records_and_takes_back_leave_on_their_profile_audited(self, cast, client, traveller):
        client.force_login(cast.reviewer)
        assert b'id="leave"' in client.get(reverse("profile")).content
        data = {"action": "leave_add", "starts_on": "2026-07-12", "ends_on": "2026-07-20", "note": "Ana covers."}
        answer = client.post(reverse("profile"), data, follow=True)
        assert "Leave recorded, 12–20 Jul" in answer.content.decode()
        leave = ReviewerLeave.objects.get(reviewer=cast.reviewer)
        assert (leave.starts_on, leave.ends_on, leave.note) == (
            dt.date(2026, 7, 12),
            dt.date(2026, 7, 20),
            "Ana covers.",
        )
        entry = AuditEntry.objects.filter(action="configuration_added").latest("pk")
        assert entry.comment == f"Leave of {cast.reviewer}: 12 Jul 2026 to 20 Jul 2026"
        client.post(reverse("profile"), {"action": "leave_cancel", "leave": leave.pk})
        assert not ReviewerLeave.objects.exists()
        assert (
            AuditEntry.objects.filter(action="configuration_removed")
            .latest("pk")
            .comment.startswith(f"Leave of {cast.reviewer} taken back")
        )

    @pytest.mark.parametrize(
        "starts_on, ends_on, message",
        [
            ("2026-07-20", "2026-07-12", "The last day of leave cannot be before the first."),
            ("2026-06-01", "2026-06-30", "That leave has already ended"),
            ("2026-07-01", "2027-07-10", "Record at most a year of leave at once."),
            ("2026-07-15", "2026-07-25", "You already have leave recorded for 12–20 Jul"),
            ("not a day", "2026-07-25", "Enter a valid date."),
        ],
    )
    def test_bad_leave_is_refused_in_words(self, cast, client, traveller, starts_on, ends_on, message):
        services.reviewer_leave_record(
            reviewer=cast.reviewer, starts_on=dt.date(2026, 7, 12), ends_on=dt.date(2026, 7, 20)
        )
        client.force_login(cast.reviewer)
        answer = client.post(reverse("profile"), {"action": "leave_add", "starts_on": starts_on, "ends_on": ends_on})
        assert answer.status_code == 400
        assert message in answer.content.decode()
        assert ReviewerLeave.objects.count() == 1

    def test_someone_else_s_leave_cannot_be_taken_back_and_a_developer_has_none(self, cast, client, traveller):
        leave = services.reviewer_leave_record(
            reviewer=cast.reviewer, starts_on=dt.date(2026, 7, 12), ends_on=dt.date(2026, 7, 20)
        )
        with pytest.raises(ValidationFailed, match="no such leave"):
            services.reviewer_leave_cancel(reviewer=cast.unassigned_reviewer, leave_id=leave.pk)
        client.force_login(cast.developer)
        assert b'id="leave"' not in client.get(reverse("profile")).content
        data = {"action": "leave_add", "starts_on": "2026-07-12", "ends_on": "2026-07-20"}
        assert client.post(reverse("profile"), data).status_code == 403
        assert ReviewerLeave.objects.count() == 1
