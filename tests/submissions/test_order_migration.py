"""Free-text access-removal orders become records (submissions 0012), the text their description."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("submissions", "0011_results_reminders"), ("reviews", "0005_assignmentpolicy_reviewerexpertise")]
AFTER = [("submissions", "0013_drop_access_removal_text"), ("reviews", "0006_advisories")]


@pytest.fixture
def back_to_the_latest():
    """Whatever happens, the schema ends at every app's latest migration: the tests after this
    one need the migrations that come after AFTER too."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_free_text_orders_are_migrated_into_records(back_to_the_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Organization = apps.get_model("submissions", "Organization")
    ModelSubmission = apps.get_model("submissions", "ModelSubmission")
    lab = Organization.objects.create(name="Migration Lab", slug="migration-lab", kind="developer")
    now = timezone.now()
    removed = ModelSubmission.objects.create(
        organization=lab,
        model_name="Old",
        model_version="1",
        release_channel="open_weights",
        state="access_removed",
        created_at=now,
        access_removal_order="Order 17 of the department: remove all access.",
        access_removed_at=now,
    )
    ModelSubmission.objects.create(
        organization=lab, model_name="Other", model_version="1", release_channel="api", state="released", created_at=now
    )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    order = apps.get_model("submissions", "AccessRemovalOrder").objects.get()
    assert order.submission_id == removed.pk and order.kind == "removal" and order.lifted_at is None
    assert order.scope_description == "Order 17 of the department: remove all access."
    assert order.scope == "all_access" and order.previous_state == "released" and order.open_weights
    assert order.recorded_at == now and order.issued_on == now.date()
