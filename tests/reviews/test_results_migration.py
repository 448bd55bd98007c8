"""Results recorded before the catalog (reviews 0009): each keeps the threshold it was judged by."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

LAST_WITH_THRESHOLDS = ("reviews", "0008_carried_findings")


def every_app_latest_but_reviews(reviews_node):
    """Every other app at its latest migration (their historical models match the tables)."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [node for node in leaves if node[0] != "reviews"] + [reviews_node]


@pytest.fixture
def back_to_the_latest():
    """Whatever happens, the schema ends at every app's latest migration."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_old_results_become_results_of_a_legacy_version_judged_by_their_threshold(back_to_the_latest):
    before = every_app_latest_but_reviews(LAST_WITH_THRESHOLDS)
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Organization = apps.get_model("submissions", "Organization")
    ModelSubmission = apps.get_model("submissions", "ModelSubmission")
    Domain = apps.get_model("reviews", "EvaluationDomain")
    Result = apps.get_model("reviews", "EvaluationResult")
    PlanItem = apps.get_model("reviews", "EvaluationPlanItem")
    User = apps.get_model("accounts", "User")
    reviewer = User.objects.create(username="migrating-reviewer")
    lab = Organization.objects.create(name="Migration Lab", slug="migration-lab", kind="developer")
    now = timezone.now()
    submission = ModelSubmission.objects.create(
        organization=lab, model_name="Old", model_version="1", release_channel="api", state="evaluation", created_at=now
    )
    cyber, bio = Domain.objects.get(slug="cyber-offense"), Domain.objects.get(slug="chem-bio-uplift")
    for domain in (cyber, bio):
        PlanItem.objects.create(submission=submission, domain=domain)
    Result.objects.create(
        submission=submission, domain=cyber, score=Decimal("0.9"), threshold=Decimal("0.5"),
        outcome="threshold_exceeded", recorded_by=reviewer, recorded_at=now,
    )  # fmt: skip
    Result.objects.create(
        submission=submission, domain=bio, score=Decimal("0.1"), threshold=Decimal("0.4"),
        outcome="below_threshold", recorded_by=reviewer, recorded_at=now,
    )  # fmt: skip

    after = every_app_latest_but_reviews(("reviews", "0009_results_by_benchmark_version"))
    executor = MigrationExecutor(connection)
    executor.migrate(after)  # on PostgreSQL: no "pending trigger events" from the data step
    apps = executor.loader.project_state(after).apps
    Result = apps.get_model("reviews", "EvaluationResult")
    PlanItem = apps.get_model("reviews", "EvaluationPlanItem")
    by_domain = {r.domain.slug: r for r in Result.objects.select_related("domain", "version__benchmark")}
    assert (
        by_domain["cyber-offense"].levels_applied == {"elevated": "0.500"}
        and by_domain["cyber-offense"].level == "elevated"
    )
    assert (
        by_domain["chem-bio-uplift"].levels_applied == {"elevated": "0.400"}
        and by_domain["chem-bio-uplift"].level == ""
    )
    for slug, result in by_domain.items():
        version = result.version
        assert version.is_legacy and not version.is_current and version.benchmark.slug == f"legacy-{slug}"
    for item in PlanItem.objects.all():
        assert [v.pk for v in item.versions.all()] == [by_domain[item.domain.slug].version_id]
