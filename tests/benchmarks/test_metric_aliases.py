"""Metric aliases: the Inspect scorer/metric pairs that give a benchmark version's score. A
standard log scored with Inspect's match() reports match/accuracy, while the catalog names the
metric as the office reads it (CTF Ladder: solve rate): the aliases connect the two."""

from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from benchmarks import services
from benchmarks.models import BenchmarkVersion
from caisi_portal.errors import NotPermitted, ValidationFailed
from reviews import inspect_logs
from submissions.models import AuditEntry, State
from tests.factories import inspect_logs_of
from tests.factories import token_client as api

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ctf_ladder_logs(tmp_path_factory):
    """Real Inspect logs of the task CTF Ladder 2.0 takes, scored with match()."""
    pytest.importorskip("inspect_ai")
    return inspect_logs_of("ctf_ladder", tmp_path_factory.mktemp("ctf-ladder"))


@pytest.fixture
def seeded(cast):
    """The demo seed's catalog, loaded by the seed's own code (its administrator: the cast's)."""
    from submissions import seeding

    spec = yaml.safe_load((ROOT / "seeds" / "demo.yaml").read_text())["benchmarks"]
    seeding._benchmarks(spec, {spec["by"]: cast.admin})
    return BenchmarkVersion.objects.get(benchmark__slug="ctf-ladder", is_current=True)


def upload(user, submission, path):
    path = Path(path)
    return api(user).post(
        f"/api/v1/submissions/{submission.pk}/results/inspect/",
        {"log": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_a_standard_inspect_log_gives_the_seeded_ctf_ladder_its_score(cast, seeded, ctf_ladder_logs, fmt):
    s = cast.submission(State.EVALUATION)
    response = upload(cast.reviewer, s, ctf_ladder_logs[fmt])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == seeded.pk and float(body["score"]) == 0.5
    assert "Score taken from match/accuracy (an alias of solve rate) for CTF Ladder 2.0." in body["summary"]


def test_the_seeded_versions_name_their_aliases(seeded):
    """Each seeded version names the Inspect scorer/metric pairs that give its metric."""
    versions = BenchmarkVersion.objects.filter(benchmark__slug__in=["ctf-ladder", "wet-lab-protocols"])
    aliases = {(v.benchmark.slug, v.label): v.metric_aliases for v in versions.select_related("benchmark")}
    assert aliases == {
        ("ctf-ladder", "1.0"): ["match/accuracy", "includes/accuracy"],
        ("ctf-ladder", "2.0"): ["match/accuracy", "includes/accuracy"],
        ("wet-lab-protocols", "1.0"): ["choice/accuracy"],
    }
    assert all(v.metric_aliases for v in BenchmarkVersion.objects.all() if not v.benchmark.slug.startswith("reference"))


def test_the_metric_by_name_comes_first_then_the_aliases_in_their_order(cast, seeded):
    metrics = {"match/accuracy": 0.5, "includes/accuracy": 0.7, "match/stderr": 0.1}
    seeded.metric_aliases = ["includes/accuracy", "match/accuracy"]
    assert inspect_logs.metric_of(metrics, seeded) == ("includes/accuracy", 0.7)
    assert inspect_logs.metric_of({**metrics, "scorer/solve rate": 0.9}, seeded) == ("scorer/solve rate", 0.9)
    # An alias naming the metric alone takes it when exactly one scorer reports it.
    seeded.metric_aliases = ["stderr"]
    assert inspect_logs.metric_of(metrics, seeded) == ("match/stderr", 0.1)
    seeded.metric_aliases = ["accuracy"]
    assert inspect_logs.metric_of(metrics, seeded) is None


def test_a_log_reporting_neither_the_metric_nor_an_alias_is_refused_naming_both(cast, seeded, ctf_ladder_logs):
    services.benchmark_version_aliases_set(actor=cast.admin, version=seeded, aliases=["includes/accuracy"])
    s = cast.submission(State.EVALUATION)
    response = upload(cast.reviewer, s, ctf_ladder_logs["eval"])
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and not s.results.exists()
    assert "no metric 'solve rate' (nor its alias includes/accuracy)" in message
    assert "It has: match/accuracy, match/stderr" in message


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        (["solve rate"], "is the version's metric already"),
        (["match/"], "scorer/metric"),
        (["/accuracy"], "scorer/metric"),
        (["match/accuracy\x00"], "one line"),
        (["a\nb"], "one line"),
        (["x" * 121], "at most 120 characters"),
        ([f"s{n}/accuracy" for n in range(services.MAX_ALIASES + 1)], f"At most {services.MAX_ALIASES}"),
        ("match/accuracy", "a list"),
    ],
)
def test_aliases_that_could_not_name_an_inspect_metric_are_refused(cast, seeded, aliases, message):
    with pytest.raises(ValidationFailed, match=message):
        services.benchmark_version_aliases_set(actor=cast.admin, version=seeded, aliases=aliases)


def test_administrators_set_aliases_on_the_page_audited_and_the_catalog_shows_them(client, cast, seeded):
    client.force_login(cast.admin)
    url = reverse("benchmarks:version_aliases", args=[seeded.pk])
    detail = reverse("benchmarks:detail", args=["ctf-ladder"])
    assert "Change its metric aliases" in client.get(detail).content.decode()
    refused = client.post(url, {"metric_aliases": "solve rate"})
    assert refused.status_code == 400 and "is the version&#x27;s metric already" in refused.content.decode()
    done = client.post(url, {"metric_aliases": "includes/accuracy\nmatch/accuracy\n\nincludes/accuracy"}, follow=True)
    assert "Metric aliases of CTF Ladder 2.0 changed." in done.content.decode()
    seeded.refresh_from_db()
    assert seeded.metric_aliases == ["includes/accuracy", "match/accuracy"]
    entry = AuditEntry.objects.filter(action="configuration_changed").latest("pk")
    assert "metric aliases changed" in entry.comment and "includes/accuracy, match/accuracy" in entry.comment
    catalog = client.get(reverse("benchmarks:catalog")).content.decode()
    assert "<code>includes/accuracy</code>" in catalog and "<code>match/accuracy</code>" in catalog
    # A reviewer reads them, and may not change them.
    client.force_login(cast.reviewer)
    page = client.get(detail).content.decode()
    assert "<code>includes/accuracy</code>" in page and "Change its metric aliases" not in page
    assert client.post(url, {"metric_aliases": ""}).status_code == 403
    with pytest.raises(NotPermitted):
        services.benchmark_version_aliases_set(actor=cast.reviewer, version=seeded, aliases=[])


def test_a_new_version_takes_its_aliases_from_the_page(client, cast, seeded):
    client.force_login(cast.admin)
    data = {
        "label": "3.0",
        "classification": "0",
        "metric": "solve rate",
        "direction": "higher",
        "elevated": "0.4",
        "reason": "Harder rungs.",
        "inspect_tasks": "ctf_ladder_v3",
        "metric_aliases": "match/accuracy",
    }
    response = client.post(reverse("benchmarks:version_new", args=["ctf-ladder"]), data, follow=True)
    assert "CTF Ladder 3.0 is now current." in response.content.decode()
    assert BenchmarkVersion.objects.get(benchmark__slug="ctf-ladder", label="3.0").metric_aliases == ["match/accuracy"]


def test_the_api_shows_the_aliases_and_administrators_set_them(cast, seeded):
    listed = api(cast.reviewer).get("/api/v1/benchmarks/ctf-ladder/").json()
    current = next(v for v in listed["versions"] if v["id"] == seeded.pk)
    assert current["metric"] == "solve rate" and current["metric_aliases"] == seeded.metric_aliases
    url = f"/api/v1/benchmark-versions/{seeded.pk}/metric-aliases/"
    done = api(cast.admin).post(url, {"metric_aliases": ["includes/accuracy"]}, format="json")
    assert done.status_code == 200 and done.json()["metric_aliases"] == ["includes/accuracy"]
    refused = api(cast.admin).post(url, {"metric_aliases": ["solve rate"]}, format="json")
    assert refused.status_code == 400 and "metric already" in refused.json()["error"]["message"]
    assert api(cast.reviewer).post(url, {"metric_aliases": []}, format="json").status_code == 403
