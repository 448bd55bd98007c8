"""The benchmark catalog: policy lines set with a reason and kept, outcomes that follow them,
and classification: a version's name and lines reach only those cleared for it."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Clearance
from api.services import api_token_issue
from benchmarks import services
from benchmarks.models import BenchmarkVersion, LevelChange
from caisi_portal.errors import NotPermitted, ValidationFailed
from reviews.models import EvaluationDomain
from submissions.models import AuditEntry
from tests.factories import UserFactory

# These tests build the catalog they read: no reference benchmarks beside it.
pytestmark = [pytest.mark.django_db, pytest.mark.empty_catalog]

HIGHER, LOWER = BenchmarkVersion.Direction.HIGHER, BenchmarkVersion.Direction.LOWER


def domain(slug="cyber-offense"):
    return EvaluationDomain.objects.get(slug=slug)


def make(actor, *, name="CTF Ladder", slug="ctf", classification=Clearance.UNCLASSIFIED, direction=HIGHER, **extra):
    fields = {
        "label": "1.0",
        "classification": classification,
        "metric": "solve rate",
        "direction": direction,
        "levels": {"elevated": "0.4", "critical": "0.6"}
        if direction == HIGHER
        else {"elevated": "0.9", "critical": "0.7"},
        "inspect_tasks": [f"{slug}_task"],
    } | extra
    return services.benchmark_create(actor=actor, domain=domain(), name=name, slug=slug, **fields)


@pytest.fixture
def catalog(cast):
    """An unclassified benchmark and a SECRET one in the same domain."""
    open_one = make(cast.admin)
    secret = make(cast.admin, name="Exploit Chain Range", slug="exploit-chain", classification=Clearance.SECRET)
    return open_one, secret


class TestLines:
    @pytest.mark.parametrize(
        "direction, score, reached",
        [
            (HIGHER, "0.399", None),
            (HIGHER, "0.4", "elevated"),  # at a line counts as reaching it
            (HIGHER, "0.59", "elevated"),
            (HIGHER, "0.6", "critical"),
            (LOWER, "0.95", None),
            (LOWER, "0.9", "elevated"),
            (LOWER, "0.5", "critical"),
        ],
    )
    def test_a_score_reaches_the_highest_line_it_passes_in_the_direction_of_danger(
        self, cast, direction, score, reached
    ):
        version = make(cast.admin, direction=direction)
        thresholds = {s.level: s.threshold for s in version.levels.all()}
        assert version.reached(Decimal(score), thresholds) == reached

    @pytest.mark.parametrize(
        "levels, direction, message",
        [
            ({}, HIGHER, "Set at least one policy level"),
            ({"elevated": "", "critical": None}, HIGHER, "Set at least one policy level"),
            ({"elevated": "abc"}, HIGHER, "must be a number"),
            ({"elevated": "NaN"}, HIGHER, "between"),
            ({"elevated": "Infinity"}, HIGHER, "between"),
            ({"elevated": "1e12"}, HIGHER, "between"),
            ({"elevated": "0.6", "critical": "0.4"}, HIGHER, "critical threshold must be above"),
            ({"elevated": "0.6", "critical": "0.6"}, HIGHER, "critical threshold must be above"),
            ({"elevated": "0.6", "critical": "0.8"}, LOWER, "critical threshold must be below"),
            ({"elevated": "0.5", "severe": "0.9"}, HIGHER, "Unknown policy level"),
        ],
    )
    def test_lines_that_cannot_decide_an_outcome_are_refused(self, levels, direction, message):
        with pytest.raises(ValidationFailed, match=message):
            services.levels_clean(levels, direction)

    def test_a_change_keeps_the_old_lines_with_who_and_why(self, cast, catalog):
        version = catalog[0]
        services.benchmark_version_levels_set(
            actor=cast.admin, version=version, levels={"elevated": "0.3", "critical": "0.5"}, reason="New baseline."
        )
        change = version.level_changes.first()
        assert change.before == {"elevated": "0.400", "critical": "0.600"}
        assert change.after == {"elevated": "0.300", "critical": "0.500"}
        assert (change.changed_by, change.reason) == (cast.admin, "New baseline.")
        assert {s.level: str(s.threshold) for s in version.levels.all()} == change.after
        entry = AuditEntry.objects.filter(submission=None).latest("pk")
        assert "CTF Ladder 1.0" in entry.comment and "New baseline." in entry.comment

    @pytest.mark.parametrize(
        "levels, reason, message",
        [
            ({"elevated": "0.4", "critical": "0.6"}, "Same.", "in force already"),
            ({"elevated": "0.3"}, "", "Say why"),
            ({"elevated": "0.3"}, "   ", "Say why"),
            ({"elevated": "0.3"}, "Because\x00", "Reason"),
            ({"elevated": "0.3"}, "x" * 501, "Reason"),
        ],
    )
    def test_a_change_without_a_reason_or_without_a_change_is_refused(self, cast, catalog, levels, reason, message):
        with pytest.raises(ValidationFailed, match=message):
            services.benchmark_version_levels_set(actor=cast.admin, version=catalog[0], levels=levels, reason=reason)
        assert catalog[0].level_changes.count() == 1

    def test_a_retired_version_keeps_its_lines(self, cast, catalog):
        services.benchmark_version_retire(actor=cast.admin, version=catalog[0], reason="Saturated.")
        catalog[0].refresh_from_db()
        assert not catalog[0].is_current and catalog[0].retired_reason == "Saturated."
        with pytest.raises(ValidationFailed, match="retired"):
            services.benchmark_version_levels_set(
                actor=cast.admin, version=catalog[0], levels={"elevated": "0.1"}, reason="Try."
            )

    def test_a_new_version_becomes_current_and_the_old_one_stays(self, cast, catalog):
        newer = services.benchmark_version_create(
            actor=cast.admin,
            benchmark=catalog[0].benchmark,
            label="2.0",
            classification=Clearance.UNCLASSIFIED,
            metric="solve rate",
            direction=HIGHER,
            levels={"elevated": "0.35"},
        )
        assert list(catalog[0].benchmark.versions.values_list("label", "is_current")) == [("2.0", True), ("1.0", False)]
        with pytest.raises(ValidationFailed, match=r"label .2\.0. is taken"):
            services.benchmark_version_create(
                actor=cast.admin,
                benchmark=newer.benchmark,
                label="2.0",
                classification=0,
                metric="m",
                direction=HIGHER,
                levels={"elevated": "1"},
            )


class TestWhoChangesTheCatalog:
    def test_only_administrators(self, cast, catalog):
        for person in (cast.lead, cast.reviewer, cast.developer, cast.partner):
            with pytest.raises(NotPermitted):
                services.benchmark_version_levels_set(
                    actor=person, version=catalog[0], levels={"elevated": "0.1"}, reason="Mine."
                )
            with pytest.raises(NotPermitted):
                make(person, name="Another", slug="another")

    def test_an_administrator_below_the_classification_can_neither_make_nor_change_it(self, cast, catalog):
        cui_admin = UserFactory(role="administrator", organization=cast.office, clearance=Clearance.CUI)
        with pytest.raises(NotPermitted, match="CUI clearance"):
            make(cui_admin, name="Another", slug="another", classification=Clearance.SECRET)
        with pytest.raises(NotPermitted, match="above your clearance"):
            services.benchmark_version_levels_set(
                actor=cui_admin, version=catalog[1], levels={"elevated": "0.1"}, reason="Mine."
            )

    def test_the_audit_chain_names_a_classified_version_by_number_only(self, cast, catalog):
        secret = catalog[1]
        services.benchmark_version_levels_set(
            actor=cast.admin, version=secret, levels={"elevated": "0.2", "critical": "0.4"}, reason="Tighter."
        )
        services.benchmark_version_retire(actor=cast.admin, version=secret, reason="Exploit Chain Range is replaced.")
        comments = " ".join(AuditEntry.objects.filter(submission=None).values_list("comment", flat=True))
        assert "Exploit Chain" not in comments
        assert f"Benchmark version #{secret.pk} (SECRET, Cyber offense): levels changed" in comments
        # Neither its levels nor the reasons (which may name it): those stay in its own history.
        for detail in ("0.200", "Tighter", "replaced"):
            assert detail not in comments
        assert secret.level_changes.filter(reason="Tighter.").exists()

    def test_an_administrator_below_a_current_version_cannot_end_its_standing(self, cast):
        secret = make(cast.admin, name="Exploit Chain Range", slug="exploit-chain", classification=Clearance.SECRET)
        cui_admin = UserFactory(role="administrator", organization=cast.office, clearance=Clearance.CUI)
        with pytest.raises(NotPermitted, match="above your clearance"):
            services.benchmark_version_create(
                actor=cui_admin,
                benchmark=secret.benchmark,
                label="2.5",
                classification=Clearance.CUI,
                metric="solve rate",
                direction=HIGHER,
                levels={"elevated": "0.3"},
            )
        secret.refresh_from_db()
        assert secret.is_current and secret.benchmark.versions.count() == 1

    def test_a_name_clash_reads_the_same_whether_or_not_the_holder_is_visible(self, cast, catalog):
        cui_admin = UserFactory(role="administrator", organization=cast.office, clearance=Clearance.CUI)
        refusals = set()
        for name, slug in (("Exploit Chain Range", "other-slug"), ("CTF Ladder", "another-slug")):
            with pytest.raises(ValidationFailed) as refused:
                make(cui_admin, name=name, slug=slug)
            refusals.add(refused.value.message)
        assert refusals == {"This name or short name is taken: choose another."}

    def test_a_task_already_producing_a_version_is_refused_without_naming_one_above_clearance(self, cast, catalog):
        cui_admin = UserFactory(role="administrator", organization=cast.office, clearance=Clearance.CUI)
        with pytest.raises(ValidationFailed) as refused:
            make(cui_admin, name="Copy", slug="copy", inspect_tasks=["exploit-chain_task"])
        assert "another benchmark version" in refused.value.message and "Exploit" not in refused.value.message
        with pytest.raises(ValidationFailed, match=r"Exploit Chain Range 1\.0"):
            make(cast.admin, name="Copy", slug="copy", inspect_tasks=["exploit-chain_task"])

    @pytest.mark.parametrize("task", ["a\x00b", "line\nbreak", "x" * 201])
    def test_hostile_task_names_are_refused(self, cast, task):
        with pytest.raises(ValidationFailed):
            make(cast.admin, inspect_tasks=[task])


class TestPages:
    def test_a_reviewer_below_the_classification_sees_that_it_exists_not_what_it_is(self, client, cast, catalog):
        client.force_login(cast.low_reviewer)
        page = client.get(reverse("benchmarks:catalog")).content.decode()
        assert "CTF Ladder" in page and "Exploit Chain" not in page and "0.250" not in page
        assert "1 benchmark version in this domain is classified above your clearance." in page
        assert client.get(reverse("benchmarks:detail", args=["exploit-chain"])).status_code == 404
        client.force_login(cast.reviewer)
        assert "Exploit Chain Range" in client.get(reverse("benchmarks:catalog")).content.decode()

    @pytest.mark.parametrize("who", ["developer", "partner", "trainee"])
    def test_labs_and_partners_find_no_catalog(self, client, cast, catalog, who):
        client.force_login(getattr(cast, who))
        assert client.get(reverse("benchmarks:catalog")).status_code == 404
        assert client.get(reverse("benchmarks:detail", args=["ctf"])).status_code == 404

    def test_an_administrator_changes_the_lines_on_the_page(self, client, cast, catalog):
        client.force_login(cast.admin)
        url = reverse("benchmarks:version_levels", args=[catalog[0].pk])
        refused = client.post(url, {"elevated": "0.7", "critical": "0.5", "reason": "Oops."})
        assert refused.status_code == 400 and "critical threshold must be above" in refused.content.decode()
        done = client.post(url, {"elevated": "0.45", "critical": "0.7", "reason": "Recalibrated."}, follow=True)
        assert "Levels of CTF Ladder 1.0 changed." in done.content.decode()
        assert "Recalibrated." in done.content.decode()
        # A reviewer sees the page but not the forms, and a post is refused.
        client.force_login(cast.reviewer)
        assert "Change its lines" not in client.get(reverse("benchmarks:detail", args=["ctf"])).content.decode()
        assert client.post(url, {"elevated": "0.1", "reason": "Mine."}).status_code == 403

    def test_a_new_benchmark_from_the_page(self, client, cast):
        client.force_login(cast.admin)
        data = {
            "domain": domain().pk,
            "name": "Patch Race",
            "slug": "patch-race",
            "label": "1.0",
            "classification": str(Clearance.CUI),
            "metric": "patched first",
            "direction": "higher",
            "elevated": "0.5",
            "reason": "Adopted.",
            "inspect_tasks": "patch_race\npatch_race\n",
        }
        response = client.post(reverse("benchmarks:new"), data, follow=True)
        assert "Patch Race 1.0 added to the catalog." in response.content.decode()
        assert BenchmarkVersion.objects.get(benchmark__slug="patch-race").inspect_tasks == ["patch_race"]
        again = client.post(reverse("benchmarks:new"), data)
        assert again.status_code == 400 and "is taken: choose another" in again.content.decode()
        reserved = client.post(reverse("benchmarks:new"), data | {"slug": "new", "name": "Other"})
        assert reserved.status_code == 400 and "taken by the catalog" in reserved.content.decode()

    def test_a_cui_administrator_is_not_offered_secret(self, client, cast):
        cui_admin = UserFactory(role="administrator", organization=cast.office, clearance=Clearance.CUI)
        client.force_login(cui_admin)
        page = client.get(reverse("benchmarks:new")).content.decode()
        assert ">CUI<" in page and ">SECRET<" not in page

    @pytest.mark.parametrize("count", [3, 30])
    def test_the_catalog_costs_the_same_queries_however_large(self, client, cast, count, django_assert_max_num_queries):
        for n in range(count):
            make(cast.admin, name=f"Bench {n}", slug=f"bench-{n}", classification=n % 3)
        client.force_login(cast.low_reviewer)
        with django_assert_max_num_queries(12):
            assert client.get(reverse("benchmarks:catalog")).status_code == 200


class TestApi:
    def api(self, user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=user, name='t')[1]}")
        return client

    def test_the_list_names_only_what_the_caller_is_cleared_for(self, cast, catalog):
        low = self.api(cast.low_reviewer).get("/api/v1/benchmarks/").json()
        assert [b["slug"] for b in low["results"]] == ["ctf"]
        assert low["results"][0]["versions"][0]["levels"] == {"elevated": "0.400", "critical": "0.600"}
        high = self.api(cast.reviewer).get("/api/v1/benchmarks/").json()
        assert {b["slug"] for b in high["results"]} == {"ctf", "exploit-chain"}
        assert self.api(cast.low_reviewer).get("/api/v1/benchmarks/exploit-chain/").status_code == 404
        assert self.api(cast.developer).get("/api/v1/benchmarks/").status_code == 403

    def test_administrators_set_lines_through_the_api(self, cast, catalog):
        url = f"/api/v1/benchmark-versions/{catalog[0].pk}/levels/"
        done = self.api(cast.admin).post(url, {"elevated": "0.5", "critical": "0.8", "reason": "API."}, format="json")
        assert done.status_code == 200 and done.json()["levels"] == {"elevated": "0.500", "critical": "0.800"}
        assert self.api(cast.reviewer).post(url, {"elevated": "0.1", "reason": "x"}, format="json").status_code == 403
        assert self.api(cast.admin).post(url, {"elevated": "0.1"}, format="json").status_code == 400
        secret = f"/api/v1/benchmark-versions/{catalog[1].pk}/levels/"
        assert self.api(cast.low_reviewer).post(secret, {"elevated": "0.1", "reason": "x"}).status_code == 404
        assert LevelChange.objects.filter(version=catalog[0]).count() == 2
