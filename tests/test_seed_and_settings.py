import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.roles import ROLE_PERMISSIONS
from submissions.models import Agreement, AuditEntry, ModelSubmission, Organization

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
@pytest.mark.empty_catalog
def test_demo_seed_loads_once_and_is_simulated(settings):
    settings.DEBUG = True
    call_command("load_seed")
    counts = (Organization.objects.count(), ModelSubmission.objects.count(), AuditEntry.objects.count())
    call_command("load_seed")
    assert (Organization.objects.count(), ModelSubmission.objects.count(), AuditEntry.objects.count()) == counts
    statuses = sorted(Agreement.objects.values_list("status", flat=True))
    assert statuses == ["negotiating"] + ["signed"] * 5
    assert not Organization.objects.filter(is_simulated=False).exists()
    assert not ModelSubmission.objects.filter(is_simulated=False).exists()
    assert set(ModelSubmission.objects.values_list("state", flat=True)) >= {"draft", "intake", "evaluation", "cleared"}
    # An order recorded and lifted (reinstated: released again), and open weights published twice.
    from submissions.models import AccessRemovalOrder, WeightsPublication

    lifted = AccessRemovalOrder.objects.get(reference="DOC-2026-0611")
    assert lifted.lifted_at and lifted.submission.state == "released"
    assert WeightsPublication.objects.filter(submission__release_channel="open_weights").count() == 2
    # A benchmark catalog with one SECRET benchmark, and one in two versions (the newer current).
    from benchmarks.models import BenchmarkVersion

    assert BenchmarkVersion.objects.filter(classification=2).count() == 1
    assert list(BenchmarkVersion.objects.filter(benchmark__slug="ctf-ladder").values_list("label", "is_current")) == [
        ("2.0", True),
        ("1.0", False),
    ]
    # Capability trends: enough reviewed models on one benchmark version for a trend and a frontier.
    from accounts.models import User
    from benchmarks.trends import benchmark_trends

    carol = User.objects.get(username="lead.carol")
    current = BenchmarkVersion.objects.get(benchmark__slug="ctf-ladder", is_current=True)
    (trend,) = benchmark_trends(carol, "ctf-ladder", version_id=current.pk)["trends"]
    reviewed = [p for p in trend.points if p.reviewed]
    assert len({p.submission.pk for p in reviewed}) >= 6
    assert len({p.frontier for p in reviewed}) >= 3  # the frontier steps up more than once


@pytest.mark.django_db
def test_seed_refuses_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG false"):
        call_command("load_seed")


@pytest.mark.django_db
def test_every_role_permission_exists():
    from django.contrib.auth.models import Permission

    for role, perms in ROLE_PERMISSIONS.items():
        for dotted in perms:
            app, codename = dotted.split(".")
            assert Permission.objects.filter(content_type__app_label=app, codename=codename).exists(), (role, dotted)


def _settings_import(env):
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; import os; os.environ['DJANGO_SETTINGS_MODULE']='caisi_portal.settings';"
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_missing_production_secret_is_a_clear_startup_error():
    result = _settings_import({"PATH": "/usr/bin:/bin", "DEBUG": "false"})
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_debug_accepts_only_true_or_false():
    result = _settings_import({"PATH": "/usr/bin:/bin", "DEBUG": "maybe", "SECRET_KEY": "x"})
    assert result.returncode != 0 and "DEBUG must be true or false" in result.stderr
