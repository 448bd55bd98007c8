"""A partner's previous webhook secret, mid-overlap when partners 0009 runs, keeps signing until
the end it had (the migration moves it into the list of previous secrets, and back)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import OrganizationFactory

BEFORE = [("partners", "0008_delivery_dropped")]
AFTER = [("partners", "0009_partner_previous_secrets_each_with_its_overlap")]


@pytest.fixture
def back_to_the_latest():
    """Whatever happens, the schema ends at every app's latest migration."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_previous_secret_in_its_overlap_survives_the_migration_both_ways(back_to_the_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    # Only partners goes back: the organizations' table is as it is now (the factory's model).
    TrustedPartner = executor.loader.project_state(BEFORE).apps.get_model("partners", "TrustedPartner")
    until = (timezone.now() + dt.timedelta(hours=5)).replace(microsecond=0)
    rotated = TrustedPartner.objects.create(
        organization_id=OrganizationFactory(name="Rotated", slug="rotated", kind="trusted_partner").pk,
        webhook_secret="whsec_new",
        previous_webhook_secret="whsec_old",
        previous_secret_until=until,
    )
    never = TrustedPartner.objects.create(
        organization_id=OrganizationFactory(name="Never", slug="never", kind="trusted_partner").pk,
        webhook_secret="whsec_only",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    TrustedPartner = executor.loader.project_state(AFTER).apps.get_model("partners", "TrustedPartner")
    assert TrustedPartner.objects.get(pk=rotated.pk).previous_secrets == [
        {"secret": "whsec_old", "made_at": None, "until": until.isoformat()}
    ]
    assert TrustedPartner.objects.get(pk=never.pk).previous_secrets == []

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    TrustedPartner = executor.loader.project_state(BEFORE).apps.get_model("partners", "TrustedPartner")
    back = TrustedPartner.objects.get(pk=rotated.pk)
    assert (back.previous_webhook_secret, back.previous_secret_until) == ("whsec_old", until)
    assert TrustedPartner.objects.get(pk=never.pk).previous_webhook_secret == ""
