"""Classification everywhere: a benchmark version's name, results and evidence reach only the
people cleared for it.

A SECRET benchmark version with a distinctive name is planned on a review and scored past its
critical line; the lead proposes to clear with a justification that names it. Then, as a
CUI-cleared reviewer assigned to that review and as a CUI-cleared administrator (a superuser,
so the Django admin opens too), every URL of the URL configuration that can be filled from the
objects at hand and every GET operation of the OpenAPI schema is read: neither the name, nor
the score, nor the justification appears anywhere. The submission page still says that a
result above their clearance exists, and its domain. A SECRET-cleared lead, read the same way,
does see them: the scan can fail.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role
from api.services import api_token_issue
from benchmarks.models import Benchmark, BenchmarkVersion, LevelSetting
from caisi_portal import clock
from exercises import scenarios
from exercises import services as exercise_services
from reviews import evidence
from reviews import services as review_services
from reviews.models import Determination, EvaluationPlanItem, EvaluationResult
from submissions.models import ModelSubmission, Organization, State
from submissions.transitions import DECLARED
from tests.built_once import rows_built_once, shared
from tests.factories import Cast, OrganizationFactory, UserFactory, record_all_results, reference_version

pytestmark = pytest.mark.django_db

SECRET_NAME = "Obsidian Lattice Range"
SECRET_SLUG = "obsidian-lattice"
SECRET_TASK = "obsidian_lattice_task"
SECRET_METRIC = "lattice_solve_rate"
SECRET_SCORE = "0.937"
SECRET_JUSTIFICATION = "Lattice over-reports on sandboxed targets"
# What must never reach a reader below SECRET, in any form a page, file or answer may take.
SECRETS = [SECRET_NAME, SECRET_SLUG, SECRET_TASK, SECRET_METRIC, SECRET_SCORE, SECRET_JUSTIFICATION]
ABOVE_NOTICE = "above your clearance"


class Scene:
    """A review in evaluation with a SECRET benchmark version scored past its critical line,
    and a proposal to clear it against the evidence, justified concern by concern."""

    def __init__(self):
        before = _rows_by_model()
        self.cast = cast = Cast()
        self.submission = s = cast.submission(State.EVALUATION)
        self.item = EvaluationPlanItem.objects.filter(submission=s).select_related("domain").first()
        self.domain = self.item.domain
        now = clock.now()
        self.benchmark = Benchmark.objects.create(
            domain=self.domain, slug=SECRET_SLUG, name=SECRET_NAME, created_at=now
        )
        self.version = BenchmarkVersion.objects.create(
            benchmark=self.benchmark,
            label="7",
            classification=Clearance.SECRET,
            metric=SECRET_METRIC,
            inspect_tasks=[SECRET_TASK],
            created_at=now,
        )
        LevelSetting.objects.bulk_create(
            [
                LevelSetting(version=self.version, level="elevated", threshold=Decimal("0.5")),
                LevelSetting(version=self.version, level="critical", threshold=Decimal("0.8")),
            ]
        )
        self.item.versions.add(self.version)
        record_all_results(s, cast.reviewer)
        self.result = review_services.evaluation_result_record(
            submission=s, version=self.version, actor=cast.reviewer, score=SECRET_SCORE
        )
        # A second concern the CUI readers may read: the reference benchmark past its line.
        self.open_result = review_services.evaluation_result_record(
            submission=s, version=reference_version(self.domain), actor=cast.reviewer, score="0.6"
        )
        self.concerns = evidence.concerns(s)
        self.secret_key = next(c.key for c in self.concerns if c.classification == Clearance.SECRET)
        self.open_key = next(c.key for c in self.concerns if c.classification == Clearance.UNCLASSIFIED)
        self.proposal = review_services.determination_propose_clear(
            submission=s,
            actor=cast.lead,
            rationale="Cleared: the concerns are answered one by one.",
            partner_summary="Cleared with conditions.",
            justifications={
                self.secret_key: f"{SECRET_JUSTIFICATION}.",
                self.open_key: "The reference run was contaminated; a rerun is below the line.",
            },
        )
        self.cui_admin = UserFactory(
            username="admin.cui",
            role=Role.ADMINISTRATOR,
            organization=cast.office,
            clearance=Clearance.CUI,
            is_staff=True,
            is_superuser=True,
        )
        self.secret_admin = cast.admin
        # The rows the scene made (side effects included: audit entries, events, deliveries):
        # the admin's change pages the scan reads. Rows made before it hold none of its secrets.
        after = _rows_by_model()
        self.rows = {model: sorted(after[model] - before[model]) for model in after}


def _rows_by_model() -> dict:
    return {model: set(model._default_manager.values_list("pk", flat=True)) for model in admin.site._registry}


@pytest.fixture(scope="module")
def scene_built(django_db_setup, django_db_blocker):
    """The scene, built once for the module; each test runs in a savepoint of its own."""
    with rows_built_once(django_db_blocker, Scene) as built:
        yield built


@pytest.fixture
def scene(request, scene_built):
    return shared(request, scene_built)


# --- 1. evidence clearance, closed by default ------------------------------------------------------


def _allied_reviewer(cast, *, arrangement: bool):
    from joint.models import DataSharingArrangement

    institute = OrganizationFactory(name="Allied Institute", slug="allied", kind=Organization.Kind.ALLIED_INSTITUTE)
    if arrangement:
        DataSharingArrangement.objects.create(
            institute=institute,
            reference="DSA 1",
            classification_cap=Clearance.CUI,
            starts_on=clock.now().date(),
            recorded_by=cast.admin,
            recorded_at=clock.now(),
        )
    return UserFactory(
        username="institute", role=Role.INSTITUTE_REVIEWER, organization=institute, clearance=Clearance.SECRET
    )


def test_an_allied_reviewer_without_an_arrangement_in_force_reads_nothing(scene):
    """Their SECRET clearance at home opens nothing here: below UNCLASSIFIED, so not even an
    unclassified benchmark may be recorded against or read."""
    reviewer = _allied_reviewer(scene.cast, arrangement=False)
    s = scene.submission
    assert rules.evidence_clearance(reviewer, s) == rules.NOTHING_READABLE < Clearance.UNCLASSIFIED
    assert not rules.may_record_against(reviewer, s, reference_version(scene.domain))
    assert not rules.may_record_against(reviewer, s, scene.version)
    assert not rules.scope_results(EvaluationResult.objects.filter(submission=s), reviewer).exists()


def test_an_allied_reviewer_on_a_joint_review_reads_up_to_the_arrangements_cap(scene):
    from joint import services as joint_services

    reviewer = _allied_reviewer(scene.cast, arrangement=True)
    invitation = joint_services.invitation_create(
        submission=scene.submission, institute=reviewer.organization, actor=scene.cast.admin
    )
    joint_services.invitation_respond(invitation=invitation, actor=reviewer, accept=True)
    assert rules.evidence_clearance(reviewer, scene.submission) == Clearance.CUI
    assert rules.may_record_against(reviewer, scene.submission, reference_version(scene.domain))
    assert not rules.may_record_against(reviewer, scene.submission, scene.version)


def test_office_staff_read_up_to_their_clearance_and_nobody_else_reads_anything(scene):
    s, cast = scene.submission, scene.cast
    assert rules.evidence_clearance(cast.low_reviewer, s) == Clearance.CUI
    assert rules.evidence_clearance(cast.lead, s) == Clearance.SECRET
    for outsider in (cast.developer, cast.partner, AnonymousUser()):
        assert rules.evidence_clearance(outsider, s) == rules.NOTHING_READABLE


def test_in_an_exercise_evidence_is_unclassified_at_most(scene):
    """A player's clearance is simulated and the catalog is real: as an exercise plans only
    unclassified benchmark versions (exercises.services.measurable_domains), its players read
    and record against unclassified ones only, whatever clearance they play."""
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=scene.cast.office)
    exercise = exercise_services.exercise_create(
        scenario=scenarios.by_slug("routine-review"), actor=controller
    ).exercise
    players = Cast(exercise=exercise, mark="XR")
    played = ModelSubmission(exercise=exercise, organization=players.lab)
    assert players.admin.clearance == Clearance.SECRET
    assert rules.evidence_clearance(players.admin, played) == Clearance.UNCLASSIFIED
    assert not rules.may_record_against(players.admin, played, scene.version)
    assert rules.may_record_against(players.admin, played, reference_version(scene.domain))
    # Across worlds, nothing at all.
    assert rules.evidence_clearance(players.admin, scene.submission) == rules.NOTHING_READABLE
    assert rules.evidence_clearance(scene.cast.admin, played) == rules.NOTHING_READABLE


# --- 2. justifications go no further than their evidence ----------------------------------------


def test_justifications_are_shown_to_those_cleared_for_the_concerns_evidence(scene):
    shown_low = evidence.justifications_shown(scene.proposal, scene.cast.low_reviewer)
    assert set(shown_low) == {scene.open_key}
    assert evidence.justifications_withheld(scene.proposal, shown_low) == 1
    shown_lead = evidence.justifications_shown(scene.proposal, scene.cast.lead)
    assert set(shown_lead) == {scene.open_key, scene.secret_key}
    assert evidence.justifications_shown(scene.proposal, AnonymousUser()) == {}


def test_a_justification_for_a_key_no_longer_among_the_concerns_is_withheld(scene):
    Determination.objects.filter(pk=scene.proposal.pk).update(
        justifications={**scene.proposal.justifications, "result-gone-999": "Kept from an older plan."}
    )
    scene.proposal.refresh_from_db()
    shown = evidence.justifications_shown(scene.proposal, scene.cast.lead)
    assert "result-gone-999" not in shown and evidence.justifications_withheld(scene.proposal, shown) == 1


def test_the_page_withholds_a_justification_above_the_readers_clearance(scene):
    client = Client()
    client.force_login(scene.cast.low_reviewer)
    page = client.get(scene.submission.get_absolute_url()).content.decode()
    assert "The reference run was contaminated" in page
    assert SECRET_JUSTIFICATION not in page
    assert "Justification written; its evidence is classified above your clearance." in page
    client.force_login(scene.cast.lead)
    assert SECRET_JUSTIFICATION in client.get(scene.submission.get_absolute_url()).content.decode()


def test_the_api_says_how_many_justifications_were_withheld(scene):
    url = f"/api/v1/submissions/{scene.submission.pk}/determination/"
    low = _api_client(scene.cast.low_reviewer).get(url).json()
    assert set(low["justifications"]) == {scene.open_key}
    assert low["justifications_above_your_clearance"] == 1
    lead = _api_client(scene.cast.lead).get(url).json()
    assert lead["justifications"][scene.secret_key] == f"{SECRET_JUSTIFICATION}."
    assert lead["justifications_above_your_clearance"] == 0


def test_concern_labels_name_a_classified_result_by_its_domain_only(scene):
    """The label is shared text (guard refusals, the page's list, the API's errors): for a
    classified result it names the domain, never the benchmark or the score, whoever reads it."""
    label = next(c.label for c in scene.concerns if c.key == scene.secret_key)
    assert str(scene.domain) in label
    assert all(secret not in label for secret in SECRETS)
    words = review_services.result_audit_words(scene.result)
    assert str(scene.domain) in words and all(secret not in words for secret in SECRETS)


# --- 4. the digest is keyed ----------------------------------------------------------------------


def test_the_determination_digest_is_keyed_so_a_classified_score_cannot_be_guessed(scene, settings):
    """Everyone on the review reads the digest; its payload holds the SECRET score. A plain hash
    could be matched by trying every score of three decimals; the keyed one cannot without the key."""
    payload = scene.proposal.sealed_payload()
    assert SECRET_SCORE.encode() in payload
    digest = scene.proposal.digest()
    assert digest != hashlib.sha256(payload).hexdigest()
    settings.SECRET_KEY = "another key"
    assert scene.proposal.digest() != digest


def test_concurrences_sealed_with_the_plain_digest_are_resealed_by_the_migration(scene):
    from importlib import import_module

    from django.apps import apps

    review_services.determination_concur(determination=scene.proposal, actor=scene.cast.reviewer)
    plain = hashlib.sha256(scene.proposal.sealed_payload()).hexdigest()
    Determination.objects.filter(pk=scene.proposal.pk).update(concurred_digest=plain)
    scene.proposal.refresh_from_db()
    assert not scene.proposal.concurrence_holds
    import_module("reviews.migrations.0010_keyed_determination_digest").reseal(apps, None)
    scene.proposal.refresh_from_db()
    assert scene.proposal.concurrence_holds


# --- nobody types a threshold ---------------------------------------------------------------------


def test_a_threshold_sent_with_a_result_is_refused_by_the_api_and_ignored_by_the_form(scene):
    """The outcome comes from the version's levels only: the API refuses a `threshold` (400) and
    the page's form has no such field, so one posted is never read."""
    s, reviewer = scene.submission, scene.cast.reviewer
    version = reference_version(scene.domain)
    refused = _api_client(reviewer).post(
        f"/api/v1/submissions/{s.pk}/results/",
        {"version": version.pk, "score": "0.4", "threshold": "0.1"},
        format="json",
    )
    assert refused.status_code == 400 and "threshold" in refused.json()["error"]["details"]
    assert EvaluationResult.objects.get(submission=s, version=version).score == Decimal("0.6")

    client = Client()
    client.force_login(reviewer)
    client.post(
        reverse("reviews:record_result", args=[s.pk]), {"version": version.pk, "score": "0.4", "threshold": "0.1"}
    )
    result = EvaluationResult.objects.get(submission=s, version=version)
    # 0.4 is below the version's elevated line (0.5): a typed threshold of 0.1 would have said otherwise.
    assert result.score == Decimal("0.4") and result.outcome == EvaluationResult.Outcome.BELOW_THRESHOLD
    assert result.levels_applied == {"elevated": "0.500", "critical": "0.800"}


# --- 5. the scan -----------------------------------------------------------------------------------


def _api_client(user):
    client = APIClient()
    _, key = api_token_issue(user=user, name="classified-scan")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}", prefix + str(p.pattern), p


def _values(scene) -> dict[str, list]:
    """What a URL's arguments may be filled with, from the objects of the scene."""
    s = scene.submission
    ints = {s.pk, scene.version.pk, scene.benchmark.pk, scene.result.pk, scene.item.pk, scene.proposal.pk}
    ints |= set(s.assignments.values_list("pk", flat=True)) | set(s.findings.values_list("pk", flat=True))
    ints |= set(s.artifacts.values_list("pk", flat=True))
    words = [scene.benchmark.slug, f"reference-{scene.domain.slug}"[:60], scene.domain.slug, *DECLARED]
    return {"int": sorted(ints), "word": words}


def _candidates(kwargs: list[str], values: dict, submission_pk: int):
    """Every filling of a pattern's arguments. A pattern with two arguments is about the
    submission first (its `pk`), then one of its objects."""
    choices = []
    for i, name in enumerate(kwargs):
        if name == "format":
            choices.append(["json"])
        elif name in ("name", "slug", "table") or "slug" in name:
            choices.append(values["word"])
        elif len(kwargs) > 1 and i == 0 and name == "pk":
            choices.append([submission_pk])
        else:
            choices.append(values["int"])
    return [dict(zip(kwargs, combo, strict=True)) for combo in itertools.product(*choices)]


def _page_urls(scene) -> set[str]:
    urls = set()
    values = _values(scene)
    for name, pattern, p in _walk(get_resolver().url_patterns):
        if pattern.startswith("admin/"):
            continue  # the admin: by model and object below
        kwargs = list(p.pattern.regex.groupindex)
        for filled in _candidates(kwargs, values, scene.submission.pk):
            try:
                urls.add(reverse(name, kwargs=filled))
            except NoReverseMatch:
                continue
    return urls


def _admin_urls(scene) -> set[str]:
    """The admin's index, every model's list, and the change and history pages of the scene's rows."""
    urls = {reverse("admin:index")}
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        urls.add(reverse("admin:{}_{}_changelist".format(*info)))
        for pk in scene.rows[model]:
            urls.add(reverse("admin:{}_{}_change".format(*info), args=[pk]))
            urls.add(reverse("admin:{}_{}_history".format(*info), args=[pk]))
    return urls


def _api_urls(scene) -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    values = _values(scene)
    urls = set()
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        for filled in _candidates(names, values, scene.submission.pk):
            url = path
            for name, value in filled.items():
                url = url.replace("{" + name + "}", str(value))
            urls.add(url)
    return urls


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def _scan(user, scene) -> dict[str, list[str]]:
    """Every page, admin page and API answer `user` gets, by URL: the secrets each one holds."""
    found: dict[str, list[str]] = {}
    client = Client()
    client.force_login(user)
    api = _api_client(user)
    reads = [(client, url) for url in sorted(_page_urls(scene) | _admin_urls(scene))]
    reads += [(api, url) for url in sorted(_api_urls(scene))]
    for reader, url in reads:
        body = _body(reader.get(url))
        held = [secret for secret in SECRETS if secret in body]
        if held:
            found[url] = held
    return found


def test_the_scan_reads_the_submission_its_api_and_the_admin(scene):
    """The scan is not empty-handed: it reaches the pages and operations that show results."""
    s = scene.submission
    pages, api, admin_pages = _page_urls(scene), _api_urls(scene), _admin_urls(scene)
    assert s.get_absolute_url() in pages
    assert reverse("benchmarks:detail", args=[SECRET_SLUG]) in pages
    assert f"/api/v1/submissions/{s.pk}/results/" in api and f"/api/v1/submissions/{s.pk}/determination/" in api
    assert reverse("admin:reviews_evaluationplanitem_change", args=[scene.item.pk]) in admin_pages
    assert reverse("admin:reviews_determination_change", args=[scene.proposal.pk]) in admin_pages


@pytest.mark.parametrize("who", ["reviewer", "administrator"])
def test_nothing_of_a_secret_result_reaches_someone_cleared_cui(scene, who):
    user = scene.cast.low_reviewer if who == "reviewer" else scene.cui_admin
    assert _scan(user, scene) == {}
    client = Client()
    client.force_login(user)
    page = client.get(scene.submission.get_absolute_url()).content.decode()
    assert str(scene.domain) in page and ABOVE_NOTICE in page
    results = _api_client(user).get(f"/api/v1/submissions/{scene.submission.pk}/results/").json()
    assert [r["domain"] for r in results["above_your_clearance"]] == [scene.domain.slug]


def test_a_secret_cleared_lead_sees_the_benchmark_its_score_and_the_justification(scene):
    """The positive control: the same scan, for someone cleared, finds every secret."""
    found = _scan(scene.cast.lead, scene)
    page = found[scene.submission.get_absolute_url()]
    assert {SECRET_NAME, SECRET_SCORE, SECRET_JUSTIFICATION} <= set(page)
    assert SECRET_SCORE in found[f"/api/v1/submissions/{scene.submission.pk}/results/"]
    assert SECRET_JUSTIFICATION in found[f"/api/v1/submissions/{scene.submission.pk}/determination/"]


def test_a_secret_cleared_administrator_sees_them_in_the_admin(scene):
    scene.secret_admin.is_staff = scene.secret_admin.is_superuser = True
    scene.secret_admin.save()
    client = Client()
    client.force_login(scene.secret_admin)
    item = client.get(reverse("admin:reviews_evaluationplanitem_change", args=[scene.item.pk])).content.decode()
    assert SECRET_NAME in item
    determination = client.get(reverse("admin:reviews_determination_change", args=[scene.proposal.pk]))
    assert SECRET_JUSTIFICATION in determination.content.decode()
