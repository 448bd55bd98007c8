"""Capability trends: reviewed models' scores on a benchmark version over time, the frontier,
one submission set against them, and who may read any of it (accounts.rules)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts import rules
from accounts.models import Clearance
from benchmarks import services as benchmark_services
from benchmarks.models import BenchmarkVersion
from benchmarks.trends import NotFound, benchmark_trends, compared_with_earlier_models
from reviews import evidence
from reviews.models import ConflictOfInterest, EvaluationDomain, EvaluationResult
from submissions.models import ModelSubmission, State
from tests.factories import (
    another_reference_version,
    clear_against_evidence,
    move,
    record_all_results,
    reference_version,
)

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def domain():
    return EvaluationDomain.objects.order_by("sort_order").first()


def reviewed(cast, name, version, *, score, day, state=State.CLEARED, **extra):
    """A submission of Lab Alpha taken to `state` on `day` (days after START), every planned
    domain scored `score` (the reference benchmarks are what is planned)."""
    with time_machine.travel(START + dt.timedelta(days=day), tick=False):
        s = cast.submission(State.EVALUATION, model_name=name, model_version=version, **extra)
    with time_machine.travel(START + dt.timedelta(days=day, hours=1), tick=False):
        record_all_results(s, cast.reviewer, score=score)
        if state != State.EVALUATION:
            # Past a reference line, the clearance needs its justifications and a concurrence.
            if evidence.concerns(s):
                clear_against_evidence(s, cast.lead, cast.reviewer)
            else:
                move(s, "clear", cast.lead, partner_summary="Cleared.")
    s.refresh_from_db()
    return s


def trend_of(user, version, **kw):
    found = benchmark_trends(user, version.benchmark.slug, version_id=version.pk, **kw)
    (trend,) = found["trends"]
    return trend


@pytest.fixture
def history(cast):
    """Three reviewed models and one still in evaluation, on the reference version."""
    return [
        reviewed(cast, "Orion", "1", score="0.2", day=0),
        reviewed(cast, "Orion", "2", score="0.55", day=10),
        reviewed(cast, "Vega", "1", score="0.4", day=20),
        reviewed(cast, "Orion", "3", score="0.6", day=30, state=State.EVALUATION),
    ]


class TestRules:
    def test_office_readers_see_reviewed_results_only(self, cast, history):
        version = reference_version(domain())
        qs = EvaluationResult.objects.filter(version=version)
        for who in (cast.admin, cast.unassigned_reviewer, cast.lead):
            seen = set(rules.scope_trend_results(qs, who).values_list("submission_id", flat=True))
            assert seen == {s.pk for s in history[:3]}, who

    def test_labs_partners_and_signed_out_see_nothing(self, cast, history):
        from django.contrib.auth.models import AnonymousUser

        qs = EvaluationResult.objects.all()
        for who in (cast.developer, cast.other_developer, cast.partner, cast.trainee, AnonymousUser()):
            assert not rules.scope_trend_results(qs, who).exists()
            assert not rules.may_compare_with_trends(who, history[0])

    def test_a_conflicted_reviewer_never_sees_that_labs_scores(self, cast, history):
        ConflictOfInterest.objects.create(
            reviewer=cast.unassigned_reviewer, organization=cast.lab, kind="declared", declared_at=START
        )
        assert not rules.scope_trend_results(EvaluationResult.objects.all(), cast.unassigned_reviewer).exists()
        assert not rules.may_compare_with_trends(cast.unassigned_reviewer, history[0])
        # Administrators see every ended review within their clearance, as they see every result.
        assert rules.scope_trend_results(EvaluationResult.objects.all(), cast.admin).exists()

    def test_versions_above_clearance_are_left_out(self, cast):
        secret = benchmark_services.benchmark_create(
            actor=cast.admin,
            domain=domain(),
            name="Secret Range",
            slug="secret-range",
            label="1",
            classification=Clearance.SECRET,
            metric="solve rate",
            direction="higher",
            levels={"elevated": "0.5"},
        )
        reviewed(cast, "Orion", "1", score="0.3", day=0)
        qs = EvaluationResult.objects.filter(version=secret)
        assert qs.exists()
        assert rules.scope_trend_results(qs, cast.admin).exists()
        assert not rules.scope_trend_results(qs, cast.low_reviewer).exists()
        with pytest.raises(NotFound):
            benchmark_trends(cast.low_reviewer, "secret-range")

    def test_an_open_review_is_compared_only_by_its_own_people(self, cast, history):
        running = history[3]
        assert rules.may_compare_with_trends(cast.lead, running)
        assert rules.may_compare_with_trends(cast.admin, running)
        assert not rules.may_compare_with_trends(cast.unassigned_reviewer, running)
        assert rules.may_compare_with_trends(cast.unassigned_reviewer, history[0])


class TestFrontier:
    def test_the_frontier_steps_up_and_the_open_review_does_not_raise_it(self, cast, history):
        trend = trend_of(cast.admin, reference_version(domain()), submission_id=history[3].pk)
        assert [p.submission.pk for p in trend.points] == [s.pk for s in history]
        assert [p.frontier_before for p in trend.points] == [None, Decimal("0.2"), Decimal("0.55"), Decimal("0.55")]
        assert [p.frontier for p in trend.points] == [Decimal("0.2"), Decimal("0.55"), Decimal("0.55"), Decimal("0.55")]
        assert [p.highlighted for p in trend.points] == [False, False, False, True]
        chart = trend.chart()
        names = [s["name"] for s in chart["series"]]
        assert names[:4] == ["Reviewed models", "Frontier (best so far)", "Elevated level", "Critical level"]
        assert chart["series"][-1]["values"] == [None, None, None, 0.6]

    def test_a_lower_is_more_dangerous_version_takes_the_lowest(self, cast):
        version = reference_version(domain())
        BenchmarkVersion.objects.filter(pk=version.pk).update(direction=BenchmarkVersion.Direction.LOWER)
        reviewed(cast, "Orion", "1", score="0.7", day=0)
        reviewed(cast, "Orion", "2", score="0.9", day=5)
        reviewed(cast, "Orion", "3", score="0.3", day=9)
        trend = trend_of(cast.admin, version)
        assert [p.frontier for p in trend.points] == [Decimal("0.7"), Decimal("0.7"), Decimal("0.3")]

    def test_the_open_review_is_not_shown_without_asking_for_it(self, cast, history):
        trend = trend_of(cast.lead, reference_version(domain()))
        assert history[3].pk not in [p.submission.pk for p in trend.points]


class TestPage:
    def test_the_page_draws_each_version_with_its_figures(self, cast, history, client):
        version = reference_version(domain())
        client.force_login(cast.unassigned_reviewer)
        page = client.get(reverse("benchmarks:trends", args=[version.benchmark.slug]))
        assert page.status_code == 200
        body = page.content.decode()
        assert f'data-chart="trend-{version.pk}"' in body
        assert "Frontier at the time" in body and "none before it" in body
        start = body.index(f'<script id="trend-{version.pk}" type="application/json">')
        data = json.loads(body[body.index(">", start) + 1 : body.index("</script>", start)])
        assert len(data["labels"]) == 3
        assert "vendor/chartjs/chart.umd.min.js" in body and "cdn" not in body.lower()
        # The levels the dashed lines draw are written out too (no chart needed to learn them).
        assert "Levels in force: Elevated at 0.500, Critical at 0.800." in body

    def test_a_highlighted_submission_the_reader_may_not_compare_is_not_found(self, cast, history, client):
        version = reference_version(domain())
        url = reverse("benchmarks:trends", args=[version.benchmark.slug])
        client.force_login(cast.unassigned_reviewer)
        assert client.get(url, {"submission": history[3].pk}).status_code == 404
        assert client.get(url, {"submission": "x"}).status_code == 404
        # Non-ASCII digits pass str.isdigit() but not int(): still "not found", never a 500.
        for hostile in ("\u00b2", "\u0661", "-1", "9" * 30):
            assert client.get(url, {"submission": hostile, "version": hostile}).status_code == 404
        client.force_login(cast.lead)
        page = client.get(url, {"submission": history[3].pk, "version": version.pk})
        assert page.status_code == 200
        assert "(this submission)" in page.content.decode()

    def test_a_version_above_clearance_is_absent_and_not_found_by_name(self, cast, client):
        version = reference_version(domain())
        secret = another_reference_version(version, cast.admin, label="2-secret", classification=Clearance.SECRET)
        url = reverse("benchmarks:trends", args=[version.benchmark.slug])
        client.force_login(cast.low_reviewer)
        body = client.get(url).content.decode()
        assert "2-secret" not in body and f'id="version-{secret.pk}"' not in body
        assert client.get(url, {"version": secret.pk}).status_code == 404
        client.force_login(cast.admin)
        shown = client.get(url).content.decode()
        # No score on it yet: the version is there, saying so, without an empty chart.
        assert f'id="version-{secret.pk}"' in shown and f"trend-{secret.pk}" not in shown
        assert "No reviewed model has a score on this version that you may see." in shown

    def test_labs_find_no_such_page(self, cast, history, client):
        version = reference_version(domain())
        client.force_login(cast.developer)
        assert client.get(reverse("benchmarks:trends", args=[version.benchmark.slug])).status_code == 404

    def test_queries_do_not_grow_with_results(self, cast, client, django_assert_max_num_queries):
        """Ten results and a thousand: the same queries (session, user, the benchmark, its
        versions, their levels, the highlighted submission and what the rules ask, the results)."""
        first = reviewed(cast, "Orion", "1", score="0.2", day=0)
        version = reference_version(domain())
        url = reverse("benchmarks:trends", args=[version.benchmark.slug])
        params = {"version": version.pk, "submission": first.pk}

        def grow_to(n):
            have = EvaluationResult.objects.filter(version=version).count()
            base = EvaluationResult.objects.filter(version=version).first()
            subs = ModelSubmission.objects.bulk_create(
                [
                    ModelSubmission(
                        organization=first.organization,
                        model_name=f"Bulk {i}",
                        model_version="1",
                        release_channel=first.release_channel,
                        state=State.CLEARED,
                        created_by=first.created_by,
                        created_at=START,
                        submitted_at=START + dt.timedelta(hours=i),
                    )
                    for i in range(have, n)
                ]
            )
            EvaluationResult.objects.bulk_create(
                [
                    EvaluationResult(
                        submission=s,
                        domain=base.domain,
                        version=version,
                        score=Decimal(i % 97) / 100,
                        outcome=EvaluationResult.Outcome.BELOW_THRESHOLD,
                        recorded_by=base.recorded_by,
                        recorded_at=START,
                    )
                    for i, s in enumerate(subs)
                ]
            )

        client.force_login(cast.lead)
        grow_to(10)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ten:
            assert client.get(url, params).status_code == 200
        grow_to(1000)
        with django_assert_max_num_queries(len(ten.captured_queries)):
            page = client.get(url, params)
        assert page.status_code == 200
        assert len(page.context["trends"][0].points) == 1000


class TestComparedOnTheSubmissionPage:
    def test_change_against_the_previous_version_and_the_frontier(self, cast, history, client):
        running = history[3]
        compared = compared_with_earlier_models(running, cast.lead)
        row = next(r for r in compared["rows"] if r["result"].version == reference_version(domain()))
        assert row["previous"].submission == history[1]  # Orion 2, the latest earlier Orion
        assert row["previous_change"] == Decimal("0.05")
        assert row["frontier"] == Decimal("0.55")
        assert row["frontier_change"] == Decimal("0.05")
        assert row["new_frontier"] is True
        client.force_login(cast.lead)
        body = client.get(running.get_absolute_url()).content.decode()
        assert "Compared with earlier models" in body
        assert f"submission={running.pk}" in body

    def test_before_any_result_the_section_says_what_will_come(self, cast, client):
        fresh = cast.submission(State.EVALUATION, model_name="Fresh")
        client.force_login(cast.lead)
        body = client.get(fresh.get_absolute_url()).content.decode()
        assert "Compared with earlier models" in body and "No result you may see is recorded yet." in body

    def test_the_version_it_supersedes_is_the_previous_one(self, cast, history):
        later = reviewed(cast, "Orion", "4", score="0.1", day=40, state=State.EVALUATION, supersedes=history[0])
        compared = compared_with_earlier_models(later, cast.admin)
        row = next(r for r in compared["rows"] if r["result"].version == reference_version(domain()))
        assert row["previous"].submission == history[0]
        assert row["previous_change"] == Decimal("-0.1")
        assert row["new_frontier"] is False

    def test_hidden_from_labs_and_the_unassigned_while_the_review_runs(self, cast, history, client):
        running = history[3]
        for who in (cast.developer, cast.unassigned_reviewer, cast.partner):
            assert compared_with_earlier_models(running, who) is None
        client.force_login(cast.developer)
        assert "Compared with earlier models" not in client.get(running.get_absolute_url()).content.decode()


class TestApi:
    def test_the_trends_operation_answers_as_the_page(self, cast, history):
        from rest_framework.test import APIClient

        version = reference_version(domain())
        api = APIClient()
        api.force_authenticate(cast.lead)
        url = f"/api/v1/benchmarks/{version.benchmark.slug}/trends/"
        answer = api.get(url, {"version": version.pk, "submission": history[3].pk})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        (only,) = body["versions"]
        assert only["version"]["id"] == version.pk
        assert [p["submission"] for p in only["points"]] == [s.pk for s in history]
        assert [p["frontier_before"] for p in only["points"]] == [None, "0.200", "0.550", "0.550"]
        assert only["points"][3]["highlighted"] and not only["points"][3]["reviewed"]
        assert body["highlighted_submission"] == history[3].pk
        refused = api.get(url, {"version": "\u00b2"})
        assert refused.status_code == 404
        assert refused.json()["error"]["message"] == "No such benchmark, version or submission."
        api.force_authenticate(cast.unassigned_reviewer)
        assert api.get(url, {"submission": history[3].pk}).status_code == 404
        api.force_authenticate(cast.developer)
        assert api.get(url).status_code == 404

    def test_the_schema_describes_it(self):
        from drf_spectacular.generators import SchemaGenerator

        schema = SchemaGenerator().get_schema(request=None, public=True)
        operation = schema["paths"]["/api/v1/benchmarks/{slug}/trends/"]["get"]
        assert operation["operationId"] == "benchmarks_trends"
        assert {p["name"] for p in operation["parameters"]} >= {"slug", "version", "submission"}
