"""Factories for the portal's tests. Users get roles through real groups."""

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Clearance, User
from accounts.roles import Role
from caisi_portal import clock
from reviews import services as review_services
from reviews.models import Assignment, EvaluationDomain, Finding
from submissions import services
from submissions.models import Agreement, Artifact, Organization, State


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")
    kind = Organization.Kind.DEVELOPER


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    clearance = Clearance.UNCLASSIFIED

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "correct-horse-battery")
        self.save()


def signed_agreement(org, window=30):
    agreement, _ = Agreement.objects.get_or_create(organization=org)
    if agreement.status != Agreement.Status.SIGNED:
        agreement.sign()
    agreement.review_window_days = window
    agreement.save()
    return agreement


def developer_org(name, *, status="signed", exercise=None, slug=None):
    org = OrganizationFactory(name=name, slug=slug or name.lower().replace(" ", "-"), exercise=exercise)
    agreement, _ = Agreement.objects.get_or_create(organization=org)
    if status == "signed":
        signed_agreement(org)
    elif status == "negotiating":
        agreement.open_negotiation()
        agreement.save()
    elif status == "suspended":
        agreement.sign()
        agreement.suspend()
        agreement.save()
    return org


def model_card(name="model-card.md", body=b"# Model card\nA simulated card.\n"):
    return SimpleUploadedFile(name, body, content_type="text/markdown")


DRAFT_DEFAULTS = {
    "release_channel": "api",
    "capabilities": "Reasoning and code.",
    "intended_use": "API customers.",
    "evaluator_access": "A dedicated endpoint.",
}


_model_numbers = itertools.count(1)


def draft(developer, **overrides):
    fields = {
        "model_name": overrides.pop("model_name", f"Model-{next(_model_numbers)}"),
        "model_version": "1.0",
        "planned_release_date": clock.now().date() + dt.timedelta(days=60),
        **DRAFT_DEFAULTS,
        **overrides,
    }
    submission = services.submission_create_draft(actor=developer, **fields)
    services.artifact_upload(
        submission=submission, actor=developer, kind=Artifact.Kind.MODEL_CARD, uploaded=model_card()
    )
    return submission


def move(submission, name, actor, **data):
    if name == "accept":
        data.setdefault("checklist", dict.fromkeys(services.INTAKE_CHECKLIST, True))
    if name == "request_information":
        data.setdefault("questions", "What safeguards ship with the model?")
    if name == "answer_information_request":
        data.setdefault("answer", "Refusal training and a classifier.")
    if name == "clear":
        data.setdefault("rationale", "No threshold exceeded.")
        data.setdefault("partner_summary", "Cleared; no threshold exceeded.")
    if name == "remove_access":
        for key, value in order_data().items():
            data.setdefault(key, value)
    if name == "reinstate_access":
        data.setdefault("reason", "The order was withdrawn by its issuer.")
    return services.submission_transition(submission=submission, name=name, actor=actor, data=data)


def order_data(**overrides) -> dict:
    """A government order's fields, as the office records them."""
    return {
        "reference": "EO-2026-17",
        "issued_on": clock.now().date(),
        "authority": "Department of Commerce",
        "scope": "all_access",
        "scope_description": "Remove access to the model on every channel.",
        **overrides,
    }


# The reference catalog every database test starts with (tests/conftest.py): per default
# domain, one unclassified benchmark whose current version is judged elevated from 0.5 and
# critical from 0.8 (a higher score is more dangerous).
REFERENCE_LEVELS = {"elevated": Decimal("0.5"), "critical": Decimal("0.8")}


def ensure_reference_catalog():
    from benchmarks.models import Benchmark, BenchmarkVersion, LevelSetting

    if Benchmark.objects.filter(slug__startswith="reference-").exists():
        return
    if not EvaluationDomain.objects.exists():
        from importlib import import_module

        from django.apps import apps

        import_module("reviews.migrations.0002_default_domains").create_domains(apps, None)
    now = clock.now()
    for domain in EvaluationDomain.objects.all():
        benchmark = Benchmark.objects.create(
            domain=domain, slug=f"reference-{domain.slug}"[:60], name=f"Reference {domain.name}", created_at=now
        )
        version = BenchmarkVersion.objects.create(
            benchmark=benchmark, label="1", metric="accuracy", inspect_tasks=[f"ref_{domain.slug}"], created_at=now
        )
        LevelSetting.objects.bulk_create(
            [LevelSetting(version=version, level=level, threshold=value) for level, value in REFERENCE_LEVELS.items()]
        )


def reference_version(domain):
    from benchmarks.models import BenchmarkVersion

    return BenchmarkVersion.objects.get(benchmark__slug=f"reference-{domain.slug}"[:60])


def another_reference_version(reference, admin, *, label, classification=0):
    """A further version of a reference benchmark (accuracy, higher is more dangerous, elevated at 0.5)."""
    from benchmarks import services as benchmark_services

    return benchmark_services.benchmark_version_create(
        actor=admin,
        benchmark=reference.benchmark,
        label=label,
        classification=classification,
        metric="accuracy",
        direction="higher",
        levels={"elevated": "0.5"},
    )


def record_result(*, submission, actor, domain, score, inconclusive=False, summary=""):
    """The score for a planned domain's reference benchmark version."""
    return review_services.evaluation_result_record(
        submission=submission,
        version=reference_version(domain),
        actor=actor,
        score=score,
        inconclusive=inconclusive,
        summary=summary,
    )


def record_all_results(submission, reviewer, score=0.1):
    """A score for every planned benchmark version (below every reference level by default)."""
    from reviews.models import EvaluationPlanItem

    planned = EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission)
    for version_id in planned.values_list("benchmarkversion_id", flat=True):
        review_services.evaluation_result_record(submission=submission, version=version_id, actor=reviewer, score=score)


def clear_against_evidence(submission, lead, concurring, **texts):
    """Clear a submission whose evidence speaks against it: the lead proposes the clearance
    with a justification for each concern, a second reviewer concurs, the lead clears."""
    from reviews import evidence

    justifications = {c.key: f"Justified: {c.label}." for c in evidence.concerns(submission)}
    proposal = review_services.determination_propose_clear(
        submission=submission,
        actor=lead,
        rationale=texts.get("rationale", "Cleared despite the concerns, for the reasons given."),
        partner_summary=texts.get("partner_summary", "Cleared with conditions."),
        justifications=justifications,
    )
    review_services.determination_concur(determination=proposal, actor=concurring)
    services.submission_transition(submission=submission, name="clear", actor=lead, data={})
    submission.refresh_from_db()  # the proposal, cached on it unissued, is now issued
    return submission


def serious_finding(submission, reviewer, *, classification=Clearance.UNCLASSIFIED, severity=Finding.Severity.HIGH):
    return review_services.finding_record(
        submission=submission,
        actor=reviewer,
        domain=EvaluationDomain.objects.first(),
        severity=severity,
        classification=classification,
        title="Exploit generation",
        description="Produces working exploits for known CVEs.",
    )


class Cast:
    """The people of one test: a lab with its staff, the office, a partner, outsiders.

    With `exercise`, the same cast inside that training exercise: its organizations and
    accounts belong to the exercise (usernames and slugs prefixed "x<id>."), so a test can
    hold the live world and an exercise side by side. `mark` is added to every display name
    (organizations, people) so a test can look for it in what pages return.
    """

    def __init__(self, *, exercise=None, mark=""):
        self.exercise = exercise
        # "c" keeps the cast apart from a scenario's own players (x<id>.dev and so on).
        slug = (lambda s: f"x{exercise.pk}-c-{s}") if exercise else (lambda s: s)
        login = (lambda u: f"x{exercise.pk}.c.{u}") if exercise else (lambda u: u)
        name = (lambda n: f"{n} {mark}".strip()) if mark else (lambda n: n)
        worlds = {"exercise": exercise}

        def person(username, role, **extra):
            names = {"first_name": name(username.split(".")[0].title()), "last_name": mark or "Person"} if mark else {}
            return UserFactory(username=login(username), role=role, **names, **worlds, **extra)

        self.office = OrganizationFactory(
            name=name("Review Office"), slug=slug("office"), kind=Organization.Kind.REVIEW_OFFICE, **worlds
        )
        self.lab = developer_org(name("Lab Alpha"), slug=slug("lab-alpha"), **worlds)
        self.other_lab = developer_org(name("Lab Beta"), slug=slug("lab-beta"), **worlds)
        self.holdout = developer_org(name("Lab Holdout"), slug=slug("lab-holdout"), status="negotiating", **worlds)
        self.partner_org = OrganizationFactory(
            name=name("Partner"), slug=slug("partner"), kind=Organization.Kind.TRUSTED_PARTNER, **worlds
        )
        self.developer = person("dev", Role.DEVELOPER_STAFF, organization=self.lab)
        self.other_developer = person("dev.beta", Role.DEVELOPER_STAFF, organization=self.other_lab)
        self.holdout_developer = person("dev.holdout", Role.DEVELOPER_STAFF, organization=self.holdout)
        self.lead = person("lead", Role.LEAD_REVIEWER, organization=self.office, clearance=Clearance.SECRET)
        self.reviewer = person("reviewer", Role.REVIEWER, organization=self.office, clearance=Clearance.SECRET)
        self.low_reviewer = person("reviewer.cui", Role.REVIEWER, organization=self.office, clearance=Clearance.CUI)
        self.unassigned_reviewer = person(
            "reviewer.idle", Role.REVIEWER, organization=self.office, clearance=Clearance.SECRET
        )
        self.admin = person("admin", Role.ADMINISTRATOR, organization=self.office, clearance=Clearance.SECRET)
        self.partner = person("partner", Role.TRUSTED_PARTNER, organization=self.partner_org)
        self.trainee = person("trainee", Role.TRAINEE, organization=self.office)

    def submission(self, state=State.DRAFT, **overrides):
        """A submission of Lab Alpha carried to `state` through the services."""
        s = draft(self.developer, **overrides)
        if state == State.DRAFT:
            return s
        if state == State.WITHDRAWN:
            return move(s, "withdraw", self.developer)
        move(s, "submit", self.developer)
        if state == State.INTAKE:
            return s
        if state == State.INFORMATION_REQUESTED:
            return move(s, "request_information", self.admin)
        move(s, "accept", self.admin)
        review_services.assignment_create(submission=s, reviewer=self.lead, role=Assignment.Role.LEAD, actor=self.admin)
        review_services.assignment_create(
            submission=s, reviewer=self.reviewer, role=Assignment.Role.MEMBER, actor=self.admin
        )
        review_services.assignment_create(
            submission=s, reviewer=self.low_reviewer, role=Assignment.Role.MEMBER, actor=self.admin
        )
        if state == State.EVALUATION:
            return s
        if state == State.WINDOW_ELAPSED:
            from submissions import review_clock
            from submissions.models import ReviewClock

            ReviewClock.objects.filter(submission=s).update(deadline_at=clock.now())
            assert review_clock.expire_clock(s.review_clock.pk)
            s.refresh_from_db()
            return s
        record_all_results(s, self.reviewer)
        if state in (State.FLAGGED,):
            serious_finding(s, self.reviewer)
            proposal = review_services.determination_propose_flag(
                submission=s, actor=self.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
            )
            review_services.determination_concur(determination=proposal, actor=self.reviewer)
            return move(s, "flag", self.lead)
        move(s, "clear", self.lead, partner_summary="Cleared; no threshold exceeded.")
        if state == State.CLEARED:
            return s
        move(s, "record_release", self.developer)
        if state == State.RELEASED:
            return s
        return move(s, "remove_access", self.admin)


def token_client(user, name: str = "tests"):
    """An API client carrying a fresh token of `user`, as a lab's or the office's script would."""
    from rest_framework.test import APIClient

    from api.services import api_token_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=user, name=name)[1]}")
    return client


def inspect_logs_of(task_name: str, folder) -> dict[str, str]:
    """Real Inspect logs of a task scored with Inspect's own match() (so they report
    match/accuracy and match/stderr), made by Inspect itself with a solver that needs no model:
    one sample of two right, in each log format. {format: path}."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput
    from inspect_ai.scorer import match
    from inspect_ai.solver import solver

    @solver
    def canned():
        async def solve(state, generate):
            state.output = ModelOutput.from_content(model="mockllm/model", content="4")
            return state

        return solve

    task = Task(
        name=task_name,
        dataset=[Sample(input="2+2?", target="4"), Sample(input="3+3?", target="6")],
        solver=canned(),
        scorer=match(),
    )
    out = {}
    for fmt in ("eval", "json"):
        [log] = inspect_eval(task, model="mockllm/model", log_dir=str(folder / fmt), display="none", log_format=fmt)
        out[fmt] = log.location
    return out
