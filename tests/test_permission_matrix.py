"""Who may see and do what: every page and API operation x every role in both worlds.

The people: every role of the office, the labs and the partners as a live account *and* as
an exercise player of the same role, plus a live exercise controller, a live evaluator, a
live trainee and someone signed out. The objects: the same set of submissions (every state
that matters, a SECRET finding with evidence, a flag proposal, a breach, a delivery, an
agreement) built once live and once inside a training exercise, each carrying a marker
string of its world.

No outcome is typed per case. Each case says which policy rules decide it (is the object
in the person's scope? may they act on it?), and `expected()` derives the status code from
those rules and the portal's conventions: signed out is sent to sign in (401 on the API); a
URL off the exercise's play surface is "not found" to a player; an object out of scope is
"not found"; a visible one the person may not act on is "forbidden". The matrix thus checks
that every view and operation asks the same policy the rules module answers, for every
(role, world) pair; the rules themselves are pinned down by their own tests and by the
marker scan, which needs no policy at all: no answer to a player may contain a live marker,
and no answer to a live account (outside an exercise's own console) an exercise marker.

Completeness: the URL configuration is walked (the admin aside, checked by its own test) and
the OpenAPI schema's operations are listed; a URL or operation without a case fails, and so
does a URL name that nobody decided for players (`test_every_url_is_decided_for_players`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts import rules
from accounts.models import CalendarFeedToken, Clearance
from accounts.roles import Role
from accounts.services import calendar_token_issue
from accounts.two_factor import confirmed_device
from api.services import api_token_issue
from caisi_portal import clock
from dashboard.models import ExportJob
from exercises import scenarios
from exercises import services as exercise_services
from exercises.models import Exercise, Participant
from joint import services as joint_services
from joint.models import DataSharingArrangement, JointReviewInvitation
from partners import services as partner_services
from partners.models import Delivery, DemoInboxMessage, PartnerEventType, TrustedPartner, WebhookEndpoint
from reviews import services as review_services
from reviews.models import Determination, EvaluationDomain, Finding
from reviews.services import advisory_digest
from submissions import selectors, services
from submissions.guards import problems_for
from submissions.models import Agreement, ModelSubmission, Organization, SlaBreach, SlaKind, State
from tests.built_once import shared
from tests.factories import Cast, OrganizationFactory, UserFactory, record_all_results, serious_finding

pytestmark = pytest.mark.django_db

# Each holds a hyphen: a random token on a page (a CSRF token, a session id: letters and digits)
# could spell four letters by chance, and did once in CI; it can never hold a hyphen.
LIVE_MARK, EXERCISE_MARK = "LV-MK", "XR-MK"
LOGIN = "login"

# The roles of a cast; each is a live account and, in the exercise, a player of that role.
CAST_ROLES = ["developer", "other_developer", "reviewer", "unassigned_reviewer", "low_reviewer", "lead", "admin"]
CAST_ROLES += ["partner"]
# A developer of Lab Alpha who is also its integration manager (its webhook endpoints).
CAST_ROLES += ["integrator"]
# A reviewer of an allied institute (SECRET at home, its arrangement capped at CUI), whose
# institute accepted the world's evaluation: a joint review.
CAST_ROLES += ["institute"]
ANON = ("anonymous", None)
ROLES = [
    ANON,
    *[(r, "live") for r in [*CAST_ROLES, "trainee"]],
    *[(r, "exercise") for r in CAST_ROLES],
    ("controller", "live"),
    ("evaluator", "live"),
]
ROLE_IDS = [f"{r}@{w}" if w else r for r, w in ROLES]


# --- the two worlds -------------------------------------------------------------------------


@dataclass
class World:
    name: str
    cast: Cast
    mark: str
    exercise: Exercise | None = None
    subs: dict = field(default_factory=dict)


def build_world(cast: Cast, name: str, mark: str, exercise=None) -> World:
    """The same objects in one world, made through the services on that world's clock."""
    w = World(name, cast, mark, exercise)
    source = exercise.simulated_now if exercise else timezone.now
    with clock.simulated(source):
        _allied_institute(w, cast, mark, exercise)
        w.subs["draft"] = cast.submission(State.DRAFT, model_name=f"Draft {mark}")
        w.subs["intake"] = cast.submission(State.INTAKE, model_name=f"Intake {mark}")
        w.subs["info"] = cast.submission(State.INFORMATION_REQUESTED, model_name=f"Info {mark}")
        ev = cast.submission(State.EVALUATION, model_name=f"Evaluation {mark}")
        record_all_results(ev, cast.reviewer)
        w.secret_finding = review_services.finding_record(
            submission=ev,
            actor=cast.reviewer,
            domain=EvaluationDomain.objects.first(),
            severity=Finding.Severity.LOW,
            classification=Clearance.SECRET,
            title=f"SECRET-FINDING {mark}",
            description="Above CUI.",
            evidence=SimpleUploadedFile("evidence.txt", b"transcript\n", content_type="text/plain"),
        )
        w.subs["evaluation"] = ev
        # The institute joined the evaluation (it sees it, and findings up to CUI only).
        w.invitation = joint_services.invitation_create(actor=cast.admin, submission=ev, institute=w.institute_org)
        joint_services.invitation_respond(actor=cast.institute, invitation=w.invitation, accept=True)
        w.invitation.refresh_from_db()
        proposed = cast.submission(State.EVALUATION, model_name=f"Proposed {mark}")
        record_all_results(proposed, cast.reviewer)
        w.proposal = review_services.determination_propose_flag(
            submission=proposed, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
        )
        w.subs["proposed"] = proposed
        # An invitation waiting for the institute's answer.
        w.pending_invitation = joint_services.invitation_create(
            actor=cast.admin, submission=proposed, institute=w.institute_org
        )
        concurred = cast.submission(State.EVALUATION, model_name=f"Concurred {mark}")
        record_all_results(concurred, cast.reviewer)
        serious_finding(concurred, cast.reviewer)
        proposal = review_services.determination_propose_flag(
            submission=concurred, actor=cast.lead, rationale="U.", partner_summary="Flagged: see the office."
        )
        review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        w.subs["concurred"] = concurred
        w.subs["cleared"] = cast.submission(State.CLEARED, model_name=f"Cleared {mark}")
        w.subs["released"] = cast.submission(State.RELEASED, model_name=f"Released {mark}")
        # After release: a finding arrives and the lead proposes an advisory on it.
        late = serious_finding(w.subs["released"], cast.reviewer)
        w.advisory = review_services.advisory_propose(
            submission=w.subs["released"], actor=cast.lead, text="A late finding: patch.", findings=[late]
        )
        # A new version of the released model, in evaluation: its open finding was carried forward.
        version = cast.submission(
            State.EVALUATION, model_name=f"Released {mark}", model_version="2.0", supersedes=w.subs["released"]
        )
        record_all_results(version, cast.reviewer, score=0.3)
        w.subs["version"] = version
        w.carried = version.findings.get(carried_from=late)
        w.subs["removed"] = cast.submission(State.ACCESS_REMOVED, model_name=f"Removed {mark}")
        w.order = w.subs["removed"].access_orders.get()
        w.subs["open_weights"] = cast.submission(
            State.RELEASED, model_name=f"Open {mark}", release_channel="open_weights"
        )
        w.open_finding = serious_finding(w.subs["open_weights"], cast.reviewer)
        w.publication = services.weights_publication_record(
            submission=w.subs["open_weights"],
            actor=cast.developer,
            location=f"hf://lab/{mark.lower()}-open",
            sha256="c" * 64,
        )
        w.artifact = w.subs["evaluation"].artifacts.first()
        w.breach = SlaBreach.objects.create(
            submission=w.subs["intake"],
            kind=SlaKind.INTAKE_DECISION,
            due_at=w.subs["intake"].submitted_at,
            detected_at=w.subs["intake"].submitted_at,
        )
        w.trusted_partner = TrustedPartner.objects.create(
            organization=cast.partner_org,
            webhook_url=f"https://{mark.lower()}-partner.example/hook",
            emails=f"duty@{mark.lower()}-partner.example",
            event_types=[PartnerEventType.CLEARED],
            is_exercise=exercise is not None,
        )
        # Lab Alpha's own endpoint (an exercise's lab: an exercise endpoint, recorded, never sent).
        w.endpoint = WebhookEndpoint.objects.create(
            organization=cast.lab,
            url=f"https://{mark.lower()}-lab.example/hook",
            description=f"Pipeline {mark}",
            event_types=[PartnerEventType.CLEARED],
            created_at=timezone.now(),
        )
        partner_services.event_record(submission=w.subs["cleared"], type=PartnerEventType.CLEARED)
        w.delivery = Delivery.objects.filter(partner=w.trusted_partner, channel=Delivery.Channel.WEBHOOK).first()
        if exercise is None:
            # Dead-lettered, so that a permitted redelivery really queues it again (an exercise's
            # notifications are recorded, never sent: they never die).
            Delivery.objects.filter(pk=w.delivery.pk).update(status=Delivery.Status.DEAD, attempts=8)
            w.delivery.refresh_from_db()
        w.calendar_token = calendar_token_issue(user=cast.developer) if exercise is None else _raw_calendar(cast)
        w.agreement = cast.lab.agreement
    return w


def _allied_institute(w, cast, mark, exercise):
    """The world's allied institute, its arrangement (capped at CUI) and its reviewer."""
    prefix = f"x{exercise.pk}.c." if exercise else ""
    w.institute_org = OrganizationFactory(
        name=f"Allied Institute {mark}",
        slug=f"x{exercise.pk}-c-allied" if exercise else "allied",
        kind=Organization.Kind.ALLIED_INSTITUTE,
        exercise=exercise,
    )
    w.arrangement = DataSharingArrangement.objects.create(
        institute=w.institute_org,
        reference=f"DSA {mark}",
        classification_cap=Clearance.CUI,
        starts_on=clock.now().date() - dt.timedelta(days=30),
        recorded_by=cast.admin,
        recorded_at=clock.now(),
    )
    cast.institute = UserFactory(
        username=f"{prefix}institute",
        role=Role.INSTITUTE_REVIEWER,
        organization=w.institute_org,
        clearance=Clearance.SECRET,
        first_name=f"Institute {mark}",
        last_name=mark,
        exercise=exercise,
    )


def _integrator(cast):
    from django.contrib.auth.models import Group

    prefix = f"x{cast.exercise.pk}.c." if cast.exercise else ""
    person = UserFactory(
        username=f"{prefix}dev.hooks", role=Role.DEVELOPER_STAFF, organization=cast.lab, exercise=cast.exercise
    )
    person.groups.add(Group.objects.get(name=Role.INTEGRATION_MANAGER))
    return person


def _raw_calendar(cast) -> str:
    """A calendar link for a player, as if made before the rule (players cannot make one)."""
    import hashlib
    import secrets

    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.create(
        user=cast.developer, token_hash=hashlib.sha256(token.encode()).hexdigest(), created_at=timezone.now()
    )
    return token


@dataclass
class Worlds:
    live: World
    exercise: World
    people: dict
    exercise_row: Exercise
    export: ExportJob
    inject: object
    objective: object
    scenario_player: object
    unsubscribed_partner_org: Organization
    # A live allied institute with no arrangement yet (the Arrangements page records one for it).
    spare_institute: Organization | None = None
    # A live follower of the public register (email, waiting for its confirmation) and a webhook.
    follow: dict = field(default_factory=dict)
    # The benchmark catalog (the live office's): an unclassified version and a SECRET one.
    benchmarks: dict = field(default_factory=dict)
    # Two finished capacity scenarios (the live office's planning, named with the live marker).
    capacity: list = field(default_factory=list)

    def each(self):
        return (self.live, self.exercise)


def build_worlds() -> Worlds:
    live_cast = Cast(mark=LIVE_MARK)
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=live_cast.office)
    evaluator = UserFactory(username="evaluator", role=Role.TRAINEE, organization=live_cast.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    Participant.objects.create(exercise=ex, user=evaluator, role=Participant.Role.EVALUATOR)
    live = build_world(live_cast, "live", LIVE_MARK)
    exercise_cast = Cast(exercise=ex, mark=EXERCISE_MARK)
    exercise = build_world(exercise_cast, "exercise", EXERCISE_MARK, ex)
    for cast in (live_cast, exercise_cast):
        cast.integrator = _integrator(cast)
    # The live partner's secret is itself a marker: no player may ever read it.
    people = {(r, "live"): getattr(live_cast, r) for r in [*CAST_ROLES, "trainee"]}
    people |= {(r, "exercise"): getattr(exercise_cast, r) for r in CAST_ROLES}
    people |= {("controller", "live"): controller, ("evaluator", "live"): evaluator, ANON: None}
    export = ExportJob.objects.create(
        kind=ExportJob.Kind.SUBMISSIONS, requested_by=live_cast.admin, requested_at=timezone.now(), status="done"
    )
    export.file.save("submissions.csv", ContentFile(f"id,model\n1,Cleared {LIVE_MARK}\n".encode()))
    for w in (live, exercise):
        DemoInboxMessage.objects.create(
            partner=w.trusted_partner,
            webhook_id=f"msg_{w.mark}",
            event_type="submission.cleared",
            body={"model_name": f"Cleared {w.mark}"},
            signature_valid=True,
            first_received_at=timezone.now(),
        )
    return Worlds(
        live=live,
        exercise=exercise,
        people=people,
        exercise_row=ex,
        export=export,
        inject=ex.injects.get(number=1),
        objective=ex.objectives.first(),
        scenario_player=ex.players.get(username=f"x{ex.pk}.dev"),
        unsubscribed_partner_org=OrganizationFactory(name="Partner Two", slug="partner-two", kind="trusted_partner"),
        spare_institute=OrganizationFactory(name="Spare Institute", slug="spare-institute", kind="allied_institute"),
        follow=_register_followers(live_cast),
        benchmarks=_benchmark_catalog(live_cast),
        capacity=_capacity_scenarios(live_cast),
    )


CAPACITY_FORM = {
    "arrivals": "1",
    "plans": "cyber: 100",
    "work_days": "cyber: 2",
    "work_spread": "0.5",
    "intake_days": "1",
    "information_share": "20",
    "answer_days": "5",
    "needs_unclassified": "80",
    "needs_cui": "10",
    "needs_secret": "10",
    "headcount": "2",
    "reviewers_unclassified": "50",
    "reviewers_cui": "0",
    "reviewers_secret": "50",
    "leave_days": "0",
    "window_days": "30",
    "headcount_min": "1",
    "headcount_max": "2",
    "target": "5",
    "replications": "2",
    "seed": "1",
}


def _capacity_scenarios(cast) -> list:
    """Two scenarios run to the end by the worker's own service (small: two replications)."""
    from capacity import services as capacity_services
    from capacity.forms import ScenarioForm
    from capacity.models import Scenario

    made = []
    for n in (1, 2):
        form = ScenarioForm({**CAPACITY_FORM, "name": f"Capacity {n} {LIVE_MARK}"})
        assert form.is_valid(), form.errors
        scenario = Scenario.objects.create(
            name=form.cleaned_data["name"],
            inputs=form.inputs(),
            created_by=cast.admin,
            created_at=timezone.now(),
            runs_total=4,
        )
        made.append(capacity_services.scenario_run(scenario.pk))
    return made


def _benchmark_catalog(cast) -> dict:
    from benchmarks import services as benchmark_services

    made = {}
    for key, classification in (("open", Clearance.UNCLASSIFIED), ("secret", Clearance.SECRET)):
        made[key] = benchmark_services.benchmark_create(
            actor=cast.admin,
            domain=EvaluationDomain.objects.first(),
            name=f"{key.upper()}-BENCHMARK",
            slug=f"{key}-bench",
            label="1.0",
            classification=classification,
            metric="solve rate",
            direction="higher",
            levels={"elevated": "0.4"},
        )
    return made


def _register_followers(cast) -> dict:
    """The links a live follower of the register holds: its confirmation, its stop link, and a
    webhook's (its endpoint refuses connections: the challenge fails)."""
    import datetime as dt

    from partners.models import new_webhook_secret
    from register import tokens
    from register.models import Subscription

    now = timezone.now()
    email = Subscription.objects.create(
        channel="email",
        address="follower@example.org",
        organization=cast.lab,
        created_at=now,
        confirm_nonce="matrix-nonce",
        confirm_expires_at=now + dt.timedelta(days=1),
    )
    hook = Subscription.objects.create(
        channel="webhook",
        address="http://127.0.0.1:9/hook",
        organization=cast.lab,
        created_at=now,
        secret=new_webhook_secret(),
    )
    return {"confirm": tokens.confirm_token(email), "stop": tokens.stop_token(email), "hook": tokens.stop_token(hook)}


def live_markers(ws: Worlds) -> list[bytes]:
    return [LIVE_MARK.encode(), ws.live.trusted_partner.webhook_secret.encode(), ws.live.endpoint.secret.encode()]


def exercise_markers(ws: Worlds) -> list[bytes]:
    return [
        EXERCISE_MARK.encode(),
        ws.exercise.trusted_partner.webhook_secret.encode(),
        ws.exercise.endpoint.secret.encode(),
    ]


# --- deriving outcomes from the policy -------------------------------------------------------


def sees(user, obj) -> bool:
    """Is this object in the person's scope (the policy's `visible_to` / scope_* functions)?"""
    if user is None:
        return False
    scopes = {
        ModelSubmission: lambda: ModelSubmission.objects.visible_to(user),
        Finding: lambda: Finding.objects.visible_to(user),
        Agreement: lambda: Agreement.objects.visible_to(user),
        Organization: lambda: rules.scope_organizations(Organization.objects.all(), user),
        SlaBreach: lambda: rules.scope_breaches(SlaBreach.objects.all(), user),
        Delivery: lambda: rules.scope_deliveries(Delivery.objects.all(), user),
        TrustedPartner: lambda: rules.scope_trusted_partners(TrustedPartner.objects.all(), user),
        Exercise: lambda: rules.scope_exercises(Exercise.objects.all(), user),
        WebhookEndpoint: lambda: rules.scope_webhook_endpoints(WebhookEndpoint.objects.all(), user),
        JointReviewInvitation: lambda: JointReviewInvitation.objects.visible_to(user),
        DataSharingArrangement: lambda: rules.scope_arrangements(DataSharingArrangement.objects.all(), user),
    }
    return scopes[type(obj)]().filter(pk=obj.pk).exists()


def names_version(user, version) -> bool:
    """May this person know a benchmark version by name (accounts.rules' catalog scope)?"""
    from benchmarks.models import BenchmarkVersion

    if user is None:
        return False
    return rules.scope_benchmark_versions(BenchmarkVersion.objects.all(), user).filter(pk=version.pk).exists()


def decide(visible: bool, allowed: bool, ok, *, refused=403):
    """The portal's convention: out of scope is 404, in scope but not allowed is `refused`."""
    if not visible:
        return 404
    return ok if allowed else refused


def transition_permitted(name, submission, user) -> bool:
    """The transition's permission predicate (a rule in accounts.rules), as the FSM declares it."""
    fsm = services._fsm_transitions(submission).get(name)
    return fsm is not None and rules.same_world(user, submission.exercise_id) and fsm.has_perm(submission, user)


@dataclass
class Case:
    key: str  # URL name, pattern, or API operationId
    label: str
    url: Callable  # (worlds, target world) -> url
    rule: dict  # method -> (user, worlds, target) -> outcome, for a signed-in person on the surface
    data: Callable | None = None  # (worlds, target) -> body
    api: bool = False
    fmt: str = "json"
    login_required: bool = True
    per_world: bool = True  # tried on each world's object, or once
    operations: dict = field(default_factory=dict)  # method -> API operationId when not `key`

    def operation(self, method):
        return self.operations.get(method, self.key)


def url_name(url: str) -> str:
    """The name the resolver gives this URL (what the play surface is written in)."""
    return resolve(urlsplit(url).path).view_name


def expected(case: Case, method: str, user, ws: Worlds, target: World):
    """What the policy says this person gets, from the rules alone."""
    signed_in = user is not None
    if signed_in and not rules.may_reach(user, url_name(case.url(ws, target))):
        return 404  # off the exercise's play surface (the API included)
    if not signed_in and case.api:
        return 401
    if not signed_in and case.login_required:
        return LOGIN
    return case.rule[method](user, ws, target)


def always(outcome):
    return lambda user, ws, t: outcome


NOT_ALLOWED = always(405)


def page_of(get_obj, allowed=None, ok=200, refused=403):
    """A page about one object: 404 out of scope, `refused` if not allowed, else `ok`."""

    def rule(user, ws, t):
        obj = get_obj(ws, t)
        return decide(sees(user, obj), allowed(user, obj) if allowed else True, ok, refused=refused)

    return rule


def _reviewer_assignment(t):
    """The member reviewer's assignment on the world's evaluation (what Remind is pressed on)."""
    return t.subs["evaluation"].assignments.select_related("submission").get(reviewer=t.cast.reviewer)


def _low_assignment(t):
    """The low-cleared reviewer's assignment on the world's evaluation (what is ended or handed over)."""
    return t.subs["evaluation"].assignments.select_related("submission").get(reviewer=t.cast.low_reviewer)


HANDOVER = {"note": "Moved to another review: the matrix ends this assignment."}


def sub(name):
    return lambda ws, t: t.subs[name]


def when(predicate, ok=200, otherwise=404):
    return lambda user, ws, t: ok if predicate(user) else otherwise


# --- request bodies ------------------------------------------------------------------------


def transition_data(name, t):
    s = t.subs[TRANSITION_SOURCE[name]]
    data = {"expected_state": s.state, "comment": "matrix"}
    if name == "accept":
        data |= {f"check_{k}": "on" for k in ("cards_received", "access_confirmed", "release_plan_confirmed")}
        data["domains"] = [d.pk for d in EvaluationDomain.objects.all()]
    data |= {
        "request_information": {"questions": "Which safeguards ship?"},
        "answer_information_request": {"answer": "A classifier."},
        "clear": {"rationale": "Below thresholds.", "partner_summary": "Cleared."},
        "record_release": {"released_on": world_today(t)},  # not before it was filed
        "remove_access": order_fields(t),
        "reinstate_access": {"reason": "The order was withdrawn."},
    }.get(name, {})
    if name in ("clear", "flag"):
        # Past the step that shows what partners will receive: the seal of what was checked.
        from submissions.views import announcement_seal

        data["confirmed"] = announcement_seal(s, name, data)
    return data


def world_today(t) -> str:
    """Today on the world's own clock (an exercise's simulated day differs from the wall's)."""
    return (t.exercise.simulated_now() if t.exercise else timezone.now()).date().isoformat()


def order_fields(t, **more):
    return {
        "reference": "Order 2026-17",
        "issued_on": world_today(t),
        "authority": "Department of Commerce",
        "scope": "all_access",
        "scope_description": "",
        **more,
    }


def may_withdraw_publication(user, s) -> bool:
    """Withdraw a publication record of this submission: the rule, with whether an order is in force."""
    in_force = services.access_order_in_force(s) is not None
    return not rules.weights_withdrawal_refusal(user, s, order_in_force=in_force)


def may_order(user, s) -> bool:
    """Record or lift a government order: the rule (its FSM-permission form takes the submission first)."""
    return rules.may_record_access_removal(s, user)


def api_transition_data(name, t):
    data = transition_data(name, t)
    data.pop("confirmed", None)
    if name == "record_release":
        # The page's form asks for a day (released_on); the API takes the moment (released_at).
        data["released_at"] = data.pop("released_on") + "T00:00:00Z"
    if name == "accept":
        data = {
            "expected_state": data["expected_state"],
            "checklist": dict.fromkeys(("cards_received", "access_confirmed", "release_plan_confirmed"), True),
            "domains": [d.slug for d in EvaluationDomain.objects.all()],
        }
    return data


def transition_outcome(name, source, ok):
    """Out of scope 404, not permitted 403; permitted: `ok` when the transition's guards hold
    there, else 409 (the guards are the state machine's own, read from its declaration)."""

    def rule(user, ws, t):
        s = t.subs[source]
        if not sees(user, s):
            return 404
        if not transition_permitted(name, s, user):
            return 403
        return 409 if problems_for(services._fsm_transitions(s)[name])(s) else ok

    return rule


# transition -> the submission it is tried on
TRANSITION_SOURCE = {
    "submit": "draft",
    "withdraw": "intake",
    "accept": "intake",
    "request_information": "evaluation",
    "answer_information_request": "info",
    "clear": "evaluation",
    "flag": "concurred",
    "elapse": "evaluation",  # only the review clock may, never a person
    "return_unanswered": "info",  # the same
    # Administrators may, once the agreement no longer holds: here it holds (403 for everyone).
    "withdraw_for_agreement": "evaluation",
    "record_release": "cleared",
    "remove_access": "released",
    "reinstate_access": "removed",
}


def result_data(ws, t):
    from tests.factories import reference_version

    return {"version": reference_version(EvaluationDomain.objects.first()).pk, "score": "0.2"}


def plan_data(ws, t):
    from tests.factories import reference_version

    domain = EvaluationDomain.objects.first()
    return {"domain": domain.pk, "versions": [reference_version(domain).pk]}


def finding_data(ws, t):
    return {
        "domain": EvaluationDomain.objects.first().pk,
        "severity": "low",
        "classification": "0",
        "title": "Matrix finding",
        "description": "Recorded by the matrix.",
    }


def model_card(ws, t):
    return {"kind": "model_card", "file": SimpleUploadedFile("card.md", b"# Card\n", content_type="text/markdown")}


def draft_fields(ws, t):
    return {
        "model_name": "Matrix-Model",
        "model_version": "1.0",
        "release_channel": "api",
        "planned_release_date": "2027-03-01",
        "capabilities": "Reasoning.",
        "intended_use": "API customers.",
        "evaluator_access": "An endpoint.",
    }


def sections(user):
    return selectors.submission_sections(user)


def suggested_data(ws, t):
    from reviews.selectors import assignment_suggestions

    s = t.subs["intake"]
    suggestions = assignment_suggestions(s, s.exercise_id)
    return {"expected_state": s.state, "suggested": [c.reviewer.pk for c in suggestions.suggested]}


def conflict_query(t) -> str:
    return f"?reviewer={t.cast.reviewer.username}&organizations={t.cast.lab.slug}&organizations={t.cast.office.slug}"


def _resolve_outcome(user, t, ok):
    """Resolving a carried finding: the new version or the finding out of the person's scope
    (another world, another lab, the developer, below its clearance) is not found; someone
    who sees it but is not the review's lead is refused."""
    if not sees(user, t.subs["version"]) or not sees(user, t.carried):
        return 404
    return ok if rules.may_resolve_finding(user, t.carried) else 403


def _new_version_outcome(user, ws, t):
    """Filing a new version of the target world's cleared model: Lab Alpha's staff of that world
    may (201); anyone else who may file is told it is not one of their organization's (400),
    whatever world or organization they are in."""
    if not rules.may_create_submission(user):
        return 403
    return 201 if rules.is_developer_of(user, t.subs["cleared"].organization_id) else 400


def in_world_of(user, t, ok, otherwise):
    """`ok` when the person acts in the target's world (its people and organizations are theirs)."""
    return ok if rules.same_world(user, t.exercise.pk if t.exercise else rules.LIVE) else otherwise


# --- the pages ----------------------------------------------------------------------------------


def _transition_page_cases():
    out = []
    for name, source in TRANSITION_SOURCE.items():
        out.append(
            Case(
                "submissions:action",
                name,
                (lambda n: lambda ws, t: reverse("submissions:action", args=[t.subs[TRANSITION_SOURCE[n]].pk, n]))(
                    name
                ),
                {"GET": page_of(sub(source)), "POST": transition_outcome(name, source, ok=302)},
                data=(lambda n: lambda ws, t: transition_data(n, t))(name),
            )
        )
    return out


def _exercise_cases():
    ex = lambda ws: ws.exercise_row  # noqa: E731

    def console(name):
        return Case(
            f"exercises:{name}",
            "",
            lambda ws, t: reverse(f"exercises:{name}", args=[ws.exercise_row.pk]),
            {"GET": lambda user, ws, t: decide(sees(user, ex(ws)), True, 200), "POST": NOT_ALLOWED},
            per_world=False,
        )

    return [
        Case(
            "exercises:list",
            "",
            lambda ws, t: reverse("exercises:list"),
            {
                "GET": when(lambda u: rules.may_create_exercise(u) or rules.scope_exercises_exists(u)),
                "POST": NOT_ALLOWED,
            },
            per_world=False,
        ),
        Case(
            "exercises:start",
            "routine review",
            lambda ws, t: reverse("exercises:start"),
            {"GET": NOT_ALLOWED, "POST": when(rules.may_create_exercise)},
            data=lambda ws, t: {"scenario": "routine-review", "speed": "1440"},
            per_world=False,
        ),
        Case(
            "exercises:inbox",
            "",
            lambda ws, t: reverse("exercises:inbox"),
            {"GET": when(rules.may_read_exercise_inbox), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        *[console(name) for name in ("console", "report", "report_json", "report_pdf")],
        Case(
            "exercises:clock",
            "start",
            lambda ws, t: reverse("exercises:clock", args=[ws.exercise_row.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(sees(u, ex(ws)), rules.may_run_exercise(u, ex(ws)), 302),
            },
            data=lambda ws, t: {"action": "start"},
            per_world=False,
        ),
        Case(
            "exercises:fire",
            "inject 1",
            lambda ws, t: reverse("exercises:fire", args=[ws.exercise_row.pk, ws.inject.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(sees(u, ex(ws)), rules.may_run_exercise(u, ex(ws)), 302),
            },
            per_world=False,
        ),
        Case(
            "exercises:observe",
            "",
            lambda ws, t: reverse("exercises:observe", args=[ws.exercise_row.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(
                    sees(u, ex(ws)), rules.may_evaluate_exercise(u, ex(ws)), 302, refused=400
                ),
            },
            data=lambda ws, t: {"objective": ws.objective.pk, "text": "Seen.", "met": "yes"},
            per_world=False,
        ),
        Case(
            "exercises:improve",
            "",
            lambda ws, t: reverse("exercises:improve", args=[ws.exercise_row.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(sees(u, ex(ws)), rules.may_run_exercise(u, ex(ws)), 302),
            },
            data=lambda ws, t: {"issue": "I", "corrective_action": "A", "owner": "O", "due_on": "2027-01-01"},
            per_world=False,
        ),
        Case(
            "exercises:player_password",
            "a scenario player",
            lambda ws, t: reverse("exercises:player_password", args=[ws.exercise_row.pk, ws.scenario_player.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(
                    sees(u, ex(ws)), rules.may_reset_player_password(u, ex(ws), ws.scenario_player), 200
                ),
            },
            per_world=False,
        ),
    ]


def _catalog_page(user, ok=200, *, manage=False, version=None):
    """The catalog's pages: no page for those outside the office (404), a refusal for an office
    reader who may not manage it (403), "not found" for a version above their clearance."""
    if not rules.may_view_benchmark_catalog(user):
        return 404
    if manage and not rules.may_manage_benchmarks(user):
        return 403
    if version is not None and not names_version(user, version):
        return 404
    return ok


def _benchmark_cases():
    bench = lambda ws, key: ws.benchmarks[key]  # noqa: E731
    levels = {"elevated": "0.3", "critical": "0.5", "reason": "Matrix."}
    return [
        Case(
            "benchmarks:catalog",
            "",
            lambda ws, t: reverse("benchmarks:catalog"),
            {"GET": lambda u, ws, t: _catalog_page(u), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "benchmarks:detail",
            "the SECRET benchmark",
            lambda ws, t: reverse("benchmarks:detail", args=[bench(ws, "secret").benchmark.slug]),
            {
                "GET": lambda u, ws, t: _catalog_page(u, version=bench(ws, "secret")),
                "POST": NOT_ALLOWED,
            },
            per_world=False,
        ),
        Case(
            "benchmarks:new",
            "",
            lambda ws, t: reverse("benchmarks:new"),
            {
                "GET": lambda u, ws, t: _catalog_page(u, manage=True),
                "POST": lambda u, ws, t: _catalog_page(u, 302, manage=True),
            },
            data=lambda ws, t: {
                "domain": EvaluationDomain.objects.first().pk,
                "name": "Matrix Bench",
                "slug": "matrix-bench",
                "label": "1.0",
                "classification": "0",
                "metric": "m",
                "direction": "higher",
                "elevated": "0.5",
                "reason": "Adopted.",
            },
            per_world=False,
        ),
        Case(
            "benchmarks:version_new",
            "the unclassified benchmark",
            lambda ws, t: reverse("benchmarks:version_new", args=[bench(ws, "open").benchmark.slug]),
            {
                "GET": lambda u, ws, t: _catalog_page(u, manage=True),
                "POST": lambda u, ws, t: _catalog_page(u, 302, manage=True),
            },
            data=lambda ws, t: {
                "label": "2.0",
                "classification": "0",
                "metric": "m",
                "direction": "higher",
                "elevated": "0.5",
                "reason": "Recalibrated.",
            },
            per_world=False,
        ),
        *[
            Case(
                f"benchmarks:{name}",
                "the SECRET version",
                (lambda n: lambda ws, t: reverse(f"benchmarks:{n}", args=[bench(ws, "secret").pk]))(name),
                {
                    "GET": NOT_ALLOWED,
                    "POST": lambda u, ws, t: _catalog_page(u, 302, manage=True, version=bench(ws, "secret")),
                },
                data=lambda ws, t: levels,
                per_world=False,
            )
            for name in ("version_levels", "version_retire")
        ],
        Case(
            "benchmarks:version_aliases",
            "the SECRET version",
            lambda ws, t: reverse("benchmarks:version_aliases", args=[bench(ws, "secret").pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: _catalog_page(u, 302, manage=True, version=bench(ws, "secret")),
            },
            data=lambda ws, t: {"metric_aliases": "match/accuracy"},
            per_world=False,
        ),
        Case(
            "benchmarks:trends",
            "the SECRET benchmark",
            lambda ws, t: reverse("benchmarks:trends", args=[bench(ws, "secret").benchmark.slug]),
            {"GET": lambda u, ws, t: _catalog_page(u, version=bench(ws, "secret")), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        *[
            Case(
                "benchmarks:trends",
                f"highlighting the {name} submission",
                (lambda n: lambda ws, t: _trends_url(t.subs[n]))(name),
                {"GET": (lambda n: lambda u, ws, t: _catalog_page(u, 200 if compares(u, t.subs[n]) else 404))(name)},
            )
            for name in ("evaluation", "cleared")
        ],
    ]


def _trends_url(submission, prefix=""):
    """The trends of the reference benchmark its results are on, with this submission highlighted."""
    from reviews.models import EvaluationResult

    version = (
        EvaluationResult.objects.filter(submission=submission).select_related("version__benchmark").first().version
    )
    return f"{prefix}{reverse('benchmarks:trends', args=[version.benchmark.slug])}?submission={submission.pk}"


def compares(user, submission) -> bool:
    """May this person set this submission against the trends (accounts.rules)?"""
    return user is not None and sees(user, submission) and rules.may_compare_with_trends(user, submission)


def _joint_cases():
    """Joint reviews with allied institutes: the office invites, the institute answers and works
    from its queue, live administrators keep the arrangements."""
    invitation = lambda ws, t: t.invitation  # noqa: E731
    pending = lambda ws, t: t.pending_invitation  # noqa: E731
    return [
        Case(
            "joint:queue",
            "",
            lambda ws, t: reverse("joint:queue"),
            {"GET": when(rules.is_institute_reviewer), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "joint:invite",
            "evaluation",
            lambda ws, t: reverse("joint:invite", args=[t.subs["evaluation"].pk]),
            {"GET": page_of(sub("evaluation"), lambda u, s: rules.may_invite_institute(u, s))},
        ),
        Case(
            "joint:invite",
            "intake",
            lambda ws, t: reverse("joint:invite", args=[t.subs["intake"].pk]),
            {"POST": page_of(sub("intake"), lambda u, s: rules.may_invite_institute(u, s), ok=302)},
            data=lambda ws, t: {"institute": t.institute_org.slug, "note": "Please join."},
        ),
        Case(
            "joint:invitation",
            "accepted",
            lambda ws, t: reverse("joint:invitation", args=[t.invitation.pk]),
            {"GET": page_of(invitation), "POST": NOT_ALLOWED},
        ),
        Case(
            "joint:respond",
            "pending, accepted",
            lambda ws, t: reverse("joint:respond", args=[t.pending_invitation.pk]),
            {"GET": NOT_ALLOWED, "POST": page_of(pending, rules.may_respond_to_invitation, ok=302)},
            data=lambda ws, t: {"answer": "accept"},
        ),
        Case(
            "joint:withdraw",
            "accepted",
            lambda ws, t: reverse("joint:withdraw", args=[t.invitation.pk]),
            {"GET": NOT_ALLOWED, "POST": page_of(invitation, rules.may_withdraw_invitation, ok=302)},
        ),
        Case(
            "joint:arrangements",
            "",
            lambda ws, t: reverse("joint:arrangements"),
            {
                "GET": when(rules.may_manage_arrangements),
                "POST": when(rules.may_manage_arrangements, ok=302),
            },
            data=lambda ws, t: {
                "institute": ws.spare_institute.slug,
                "reference": "DSA-NEW",
                "classification_cap": "1",
                "starts_on": "2026-01-01",
            },
            per_world=False,
        ),
        Case(
            "joint:arrangement_end",
            "the world's arrangement",
            lambda ws, t: reverse("joint:arrangement_end", args=[t.arrangement.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: 302 if rules.may_manage_arrangements(u) and sees(u, t.arrangement) else 404,
            },
            data=lambda ws, t: {"reason": "Lapsed."},
        ),
    ]


def _capacity_cases():
    """The capacity planner: live administrators only, its pages closed to everyone else (404)."""
    plan = rules.may_plan_capacity
    first = lambda ws: ws.capacity[0].pk  # noqa: E731
    return [
        Case(
            "capacity:list",
            "",
            lambda ws, t: reverse("capacity:list"),
            {"GET": when(plan), "POST": when(plan, 302)},
            data=lambda ws, t: {**CAPACITY_FORM, "name": "Matrix scenario"},
            per_world=False,
        ),
        Case(
            "capacity:compare",
            "the two live scenarios",
            lambda ws, t: reverse("capacity:compare") + "?" + "&".join(f"ids={s.pk}" for s in ws.capacity),
            {"GET": when(plan), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "capacity:detail",
            "a finished live scenario",
            lambda ws, t: reverse("capacity:detail", args=[first(ws)]),
            {"GET": when(plan), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "capacity:table",
            "a finished live scenario's headcounts",
            lambda ws, t: reverse("capacity:table", args=[first(ws), "headcounts"]),
            {"GET": when(plan), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "capacity:json",
            "a finished live scenario",
            lambda ws, t: reverse("capacity:json", args=[first(ws)]),
            {"GET": when(plan), "POST": NOT_ALLOWED},
            per_world=False,
        ),
    ]


def _dashboard_cases():
    out = [
        Case(
            f"dashboard:{name}",
            "",
            (lambda n: lambda ws, t: reverse(f"dashboard:{n}"))(name),
            {"GET": when(rule), "POST": NOT_ALLOWED},
            per_world=False,
        )
        for name, rule in (
            ("index", rules.may_view_dashboard),
            ("breaches", rules.may_view_dashboard),
            ("reports", rules.may_export),
            ("export_submissions", rules.may_export),
            ("export_breaches", rules.may_export),
            ("export_determinations", rules.may_export),
        )
    ]
    out.append(
        Case(
            "dashboard:export_start",
            "",
            lambda ws, t: reverse("dashboard:export_start"),
            {"GET": NOT_ALLOWED, "POST": when(rules.may_export, 302)},
            data=lambda ws, t: {"export": "breaches"},
            per_world=False,
        )
    )
    for name in ("export", "export_download"):
        out.append(
            Case(
                f"dashboard:{name}",
                "the live administrator's own export",
                (lambda n: lambda ws, t: reverse(f"dashboard:{n}", args=[ws.export.pk]))(name),
                {
                    "GET": lambda u, ws, t: 200 if rules.may_export(u) and ws.export.requested_by_id == u.pk else 404,
                    "POST": NOT_ALLOWED,
                },
                per_world=False,
            )
        )
    out += [
        Case(
            "dashboard:breach_ack",
            "",
            lambda ws, t: reverse("dashboard:breach_ack", args=[t.breach.pk]),
            {
                "GET": NOT_ALLOWED,
                "POST": lambda u, ws, t: decide(sees(u, t.breach), rules.may_acknowledge_breach(u, t.breach), 302),
            },
            data=lambda ws, t: {"note": "Seen."},
        ),
        Case(
            "dashboard:calendar",
            "the developer's private link",
            lambda ws, t: reverse("dashboard:calendar", args=[t.calendar_token]),
            # The link is the credential, for as long as its owner may hold one.
            {
                "GET": lambda u, ws, t: 200 if rules.may_hold_calendar_link(t.cast.developer) else 404,
                "POST": NOT_ALLOWED,
            },
            login_required=False,
        ),
        Case(
            "dashboard:calendar",
            "a guessed link",
            lambda ws, t: reverse("dashboard:calendar", args=["guess" * 8]),
            {"GET": always(404), "POST": NOT_ALLOWED},
            login_required=False,
            per_world=False,
        ),
    ]
    return out


def endpoint_data(ws, t):
    return {"url": "https://93.184.216.34/new-hook", "event_types": ["submission.cleared", "submission.accepted"]}


def _integration_page_cases():
    """A lab's webhook endpoints: its integration managers' pages; for anyone else they do not exist."""
    endpoint = lambda ws, t: t.endpoint  # noqa: E731
    may = rules.may_manage_integrations
    return [
        Case(
            "partners:endpoints",
            "",
            lambda ws, t: reverse("partners:endpoints"),
            {"GET": when(may), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "partners:endpoint_create",
            "",
            lambda ws, t: reverse("partners:endpoint_create"),
            # Made: the answer is the page that shows its secret once (not a redirect).
            {"GET": when(may), "POST": when(may)},
            data=endpoint_data,
            per_world=False,
        ),
        Case(
            "partners:endpoint_detail",
            "Lab Alpha's",
            lambda ws, t: reverse("partners:endpoint_detail", args=[t.endpoint.pk]),
            {"GET": page_of(endpoint), "POST": NOT_ALLOWED},
        ),
        Case(
            "partners:endpoint_active",
            "disable",
            lambda ws, t: reverse("partners:endpoint_active", args=[t.endpoint.pk]),
            {"GET": NOT_ALLOWED, "POST": page_of(endpoint, ok=302)},
        ),
        Case(
            "partners:endpoint_test",
            "",
            lambda ws, t: reverse("partners:endpoint_test", args=[t.endpoint.pk]),
            {"GET": NOT_ALLOWED, "POST": page_of(endpoint, ok=302)},
        ),
        Case(
            "partners:endpoint_delete",
            "",
            lambda ws, t: reverse("partners:endpoint_delete", args=[t.endpoint.pk]),
            # GET is the confirmation that says what stops; POST deletes.
            {"GET": page_of(endpoint), "POST": page_of(endpoint, ok=302)},
        ),
    ]


def sees_as_partner(user, delivery) -> bool:
    """Is this delivery on the person's own Integration page (their partner's, by the rules)?"""
    if user is None:
        return False
    own = rules.partner_settings_of(user)
    deliveries = rules.scope_partner_deliveries(Delivery.objects.all(), user, own)
    return own is not None and deliveries.filter(pk=delivery.pk).exists()


def runs_integration(ok, otherwise=404):
    return when(rules.may_view_partner_integration, ok=ok, otherwise=otherwise)


def _partner_integration_cases():
    """A partner's own Integration page and its actions: its staff's, for their own partner."""
    out = [
        Case(
            "partners:integration",
            "",
            lambda ws, t: reverse("partners:integration"),
            {"GET": runs_integration(200), "POST": NOT_ALLOWED},
            per_world=False,
        ),
        Case(
            "partners:integration_rotate",
            "confirmation, then the new secret",
            lambda ws, t: reverse("partners:integration_rotate"),
            {"GET": runs_integration(200), "POST": runs_integration(200)},
            per_world=False,
        ),
        Case(
            "partners:integration_revoke",
            "confirmation, then the previous secrets stop",
            lambda ws, t: reverse("partners:integration_revoke"),
            # Revoked, or refused with the reason (none signs): a message on the way back.
            {"GET": runs_integration(200), "POST": runs_integration(302)},
            per_world=False,
        ),
        Case(
            "partners:integration_redeliver",
            "",
            lambda ws, t: reverse("partners:integration_redeliver", args=[t.delivery.pk]),
            {
                "GET": NOT_ALLOWED,
                # A refusal for its state (still being tried) is a message on the way back: 302 too.
                "POST": lambda u, ws, t: decide(
                    sees_as_partner(u, t.delivery), rules.may_redeliver(u, t.delivery), 302
                ),
            },
        ),
    ]
    for name in ("integration_test", "integration_pause", "integration_resume"):
        # Done, or refused with the reason (resume when not paused): a message on the way back.
        out.append(
            Case(
                f"partners:{name}",
                "",
                (lambda n: lambda ws, t: reverse(f"partners:{n}"))(name),
                {"GET": NOT_ALLOWED, "POST": runs_integration(302)},
                per_world=False,
            )
        )
    return out


PAGE_CASES = [
    Case("home", "", lambda ws, t: reverse("home"), {"GET": always(200), "POST": NOT_ALLOWED}, per_world=False),
    Case(
        "login",
        "wrong password",
        lambda ws, t: reverse("login"),
        {"GET": always(200), "POST": always(200)},
        data=lambda ws, t: {"username": "nobody", "password": "wrong"},
        login_required=False,
        per_world=False,
    ),
    # Signing out (POST only) always lands on the sign-in page.
    Case(
        "logout",
        "",
        lambda ws, t: reverse("logout"),
        {"GET": always(405), "POST": always(LOGIN)},
        login_required=False,
        per_world=False,
    ),
    Case(
        "submissions:list",
        "the first of the person's sections",
        lambda ws, t: reverse("submissions:list"),
        {"GET": when(lambda u: bool(sections(u))), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "submissions:list",
        "the administrators' open reviews",
        lambda ws, t: reverse("submissions:list") + "?section=open",
        {"GET": when(lambda u: "open" in sections(u)), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "submissions:create",
        "",
        lambda ws, t: reverse("submissions:create"),
        {"GET": when(rules.may_create_submission), "POST": when(rules.may_create_submission, 302)},
        data=draft_fields,
        per_world=False,
    ),
    *[
        Case(
            "submissions:detail",
            name,
            (lambda n: lambda ws, t: reverse("submissions:detail", args=[t.subs[n].pk]))(name),
            {"GET": page_of(sub(name)), "POST": NOT_ALLOWED},
        )
        for name in ("draft", "intake", "evaluation", "cleared", "released", "removed", "open_weights", "version")
    ],
    Case(
        "submissions:order_record",
        "released",
        lambda ws, t: reverse("submissions:order_record", args=[t.subs["released"].pk]),
        {"GET": page_of(sub("released"), may_order), "POST": page_of(sub("released"), may_order, ok=302)},
        data=lambda ws, t: order_fields(t, expected_state="released"),
    ),
    Case(
        "submissions:order_lift",
        "the order in force on the removed model",
        lambda ws, t: reverse("submissions:order_lift", args=[t.subs["removed"].pk, t.order.pk]),
        {"GET": page_of(sub("removed"), may_order), "POST": page_of(sub("removed"), may_order, ok=302)},
        data=lambda ws, t: {"reason": "The order was withdrawn."},
    ),
    Case(
        "submissions:publication_record",
        "open weights",
        lambda ws, t: reverse("submissions:publication_record", args=[t.subs["open_weights"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("open_weights"), rules.may_record_weights_publication, ok=302)},
        data=lambda ws, t: {"location": "https://huggingface.co/lab/open", "sha256": "a" * 64},
    ),
    Case(
        "submissions:publication_withdraw",
        "a publication record of the open-weights model",
        lambda ws, t: reverse("submissions:publication_withdraw", args=[t.subs["open_weights"].pk, t.publication.pk]),
        {
            "GET": page_of(sub("open_weights"), may_withdraw_publication),
            "POST": page_of(sub("open_weights"), may_withdraw_publication, ok=302),
        },
        data=lambda ws, t: {"reason": "The hash was of another file."},
    ),
    Case(
        "submissions:edit",
        "draft",
        lambda ws, t: reverse("submissions:edit", args=[t.subs["draft"].pk]),
        {
            "GET": page_of(sub("draft"), rules.may_edit_draft),
            "POST": page_of(sub("draft"), rules.may_edit_draft, ok=302),
        },
        data=draft_fields,
    ),
    *_transition_page_cases(),
    Case(
        "submissions:action",
        "unknown action",
        lambda ws, t: reverse("submissions:action", args=[t.subs["evaluation"].pk, "launch"]),
        {"GET": always(404), "POST": always(404)},
        data=lambda ws, t: {"expected_state": "evaluation"},
    ),
    *[
        Case(
            "submissions:artifact_upload",
            name,
            (lambda n: lambda ws, t: reverse("submissions:artifact_upload", args=[t.subs[n].pk]))(name),
            {"GET": NOT_ALLOWED, "POST": page_of(sub(name), rules.may_upload_artifact, ok=302)},
            data=model_card,
            fmt="multipart",
        )
        for name in ("draft", "evaluation")
    ],
    Case(
        "submissions:artifact_download",
        "the evaluation's model card",
        lambda ws, t: reverse("submissions:artifact_download", args=[t.subs["evaluation"].pk, t.artifact.pk]),
        {"GET": page_of(sub("evaluation"), rules.may_view_artifacts, refused=404), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:artifact_download",
        "a model card asked for under another submission",
        lambda ws, t: reverse("submissions:artifact_download", args=[t.subs["cleared"].pk, t.artifact.pk]),
        {"GET": always(404), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:publish",
        "released",
        lambda ws, t: reverse("submissions:publish", args=[t.subs["released"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("released"), rules.may_publish, ok=302)},
        data=lambda ws, t: {"published": "yes"},
    ),
    Case(
        "submissions:agreements",
        "",
        lambda ws, t: reverse("submissions:agreements"),
        {"GET": when(rules.may_view_agreements), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "submissions:agreement_change",
        "Lab Alpha's",
        lambda ws, t: reverse("submissions:agreement_change", args=[t.agreement.pk]),
        {
            "GET": page_of(lambda ws, t: t.agreement, rules.may_manage_agreements),
            "POST": page_of(lambda ws, t: t.agreement, rules.may_manage_agreements, ok=302),
        },
        data=lambda ws, t: {"review_window_days": "21"},
    ),
    Case(
        "reviews:assign",
        "evaluation",
        lambda ws, t: reverse("reviews:assign", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_assign_reviewers, ok=302)},
        data=lambda ws, t: {"reviewer": t.cast.unassigned_reviewer.pk, "role": "member"},
    ),
    Case(
        "reviews:assign_suggested",
        "intake",
        lambda ws, t: reverse("reviews:assign_suggested", args=[t.subs["intake"].pk]),
        # Whether the suggestion still stands or not, the answer is the submission page again.
        {"GET": NOT_ALLOWED, "POST": page_of(sub("intake"), rules.may_assign_reviewers, ok=302)},
        data=suggested_data,
    ),
    Case(
        "reviews:end_assignment",
        "the low-cleared reviewer's, on evaluation",
        lambda ws, t: reverse("reviews:end_assignment", args=[t.subs["evaluation"].pk, _low_assignment(t).pk]),
        {
            "GET": page_of(sub("evaluation"), rules.may_end_assignments),
            "POST": page_of(sub("evaluation"), rules.may_end_assignments, ok=302),
        },
        data=lambda ws, t: HANDOVER,
    ),
    Case(
        "reviews:conflict_check",
        "Lab Alpha",
        lambda ws, t: reverse("reviews:conflict_check") + conflict_query(t),
        # A played lead asks about their exercise's people; anyone else's name is not on the list (400).
        {
            "GET": lambda u, ws, t: 403 if not rules.may_check_conflicts(u) else in_world_of(u, t, 200, 400),
            "POST": NOT_ALLOWED,
        },
    ),
    Case(
        "reviews:record_result",
        "evaluation",
        lambda ws, t: reverse("reviews:record_result", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_record_evaluation, ok=302)},
        data=result_data,
    ),
    Case(
        "reviews:plan_versions",
        "evaluation",
        lambda ws, t: reverse("reviews:plan_versions", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_plan_evaluation, ok=302)},
        data=lambda ws, t: plan_data(ws, t),
    ),
    Case(
        "reviews:record_finding",
        "evaluation",
        lambda ws, t: reverse("reviews:record_finding", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_record_finding, ok=302)},
        data=finding_data,
    ),
    Case(
        "reviews:evidence",
        "SECRET finding",
        lambda ws, t: reverse("reviews:evidence", args=[t.subs["evaluation"].pk, t.secret_finding.pk]),
        # Below the finding's clearance, the finding does not exist.
        {"GET": page_of(lambda ws, t: t.secret_finding), "POST": NOT_ALLOWED},
    ),
    Case(
        "reviews:resolve_finding",
        "the finding carried to the new version",
        lambda ws, t: reverse("reviews:resolve_finding", args=[t.subs["version"].pk, t.carried.pk]),
        {"GET": NOT_ALLOWED, "POST": lambda u, ws, t: _resolve_outcome(u, t, ok=302)},
        data=lambda ws, t: {"reason": "Fixed in 2.0."},
    ),
    Case(
        "reviews:propose_flag",
        "evaluation",
        lambda ws, t: reverse("reviews:propose_flag", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_propose_determination, ok=302)},
        data=lambda ws, t: {"rationale": "Uplift.", "partner_summary": "Flagged."},
    ),
    Case(
        "reviews:concur",
        "proposed",
        lambda ws, t: reverse("reviews:concur", args=[t.subs["proposed"].pk]),
        {
            "GET": NOT_ALLOWED,
            "POST": lambda u, ws, t: decide(sees(u, t.subs["proposed"]), rules.may_concur(u, t.proposal), 302),
        },
        data=lambda ws, t: {"proposal_digest": t.proposal.digest()},
    ),
    Case(
        "reviews:remind",
        "evaluation",
        lambda ws, t: reverse("reviews:remind", args=[t.subs["evaluation"].pk, _reviewer_assignment(t).pk]),
        {
            "GET": NOT_ALLOWED,
            # Allowed or not by the rule alone; whether anything is overdue is the service's
            # answer, shown as a message on the submission page (302 either way).
            "POST": lambda u, ws, t: decide(
                sees(u, t.subs["evaluation"]), rules.may_remind_reviewer(u, _reviewer_assignment(t)), 302
            ),
        },
    ),
    Case(
        "reviews:propose_clear",
        "evaluation",
        lambda ws, t: reverse("reviews:propose_clear", args=[t.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("evaluation"), rules.may_propose_determination, ok=302)},
        data=lambda ws, t: {"rationale": "Justified.", "partner_summary": "Cleared with conditions."},
    ),
    Case(
        "reviews:advisory_propose",
        "open weights, released, with a late finding",
        lambda ws, t: reverse("reviews:advisory_propose", args=[t.subs["open_weights"].pk]),
        {"GET": NOT_ALLOWED, "POST": page_of(sub("open_weights"), rules.may_propose_advisory, ok=302)},
        data=lambda ws, t: {"text": "Patch it.", "findings": [t.open_finding.pk]},
    ),
    Case(
        "reviews:advisory_concur",
        "the advisory proposed on the released model",
        lambda ws, t: reverse("reviews:advisory_concur", args=[t.subs["released"].pk, t.advisory.pk]),
        {
            "GET": NOT_ALLOWED,
            "POST": lambda u, ws, t: decide(sees(u, t.subs["released"]), rules.may_concur_advisory(u, t.advisory), 302),
        },
        data=lambda ws, t: {"advisory_digest": advisory_digest(t.advisory)},
    ),
    Case(
        "partners:deliveries",
        "",
        lambda ws, t: reverse("partners:deliveries"),
        {"GET": when(rules.may_view_deliveries), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "partners:redeliver",
        "",
        lambda ws, t: reverse("partners:redeliver", args=[t.delivery.pk]),
        {
            "GET": NOT_ALLOWED,
            "POST": lambda u, ws, t: decide(sees(u, t.delivery), rules.may_redeliver(u, t.delivery), 302),
        },
    ),
    Case(
        "partners:digest",
        "",
        lambda ws, t: reverse("partners:digest"),
        {"GET": when(rules.may_set_partner_digest), "POST": when(rules.may_set_partner_digest, ok=302)},
        data=lambda ws, t: {"cadence": "daily", "digest_hour": "8", "digest_weekday": "0", "digest_time_zone": ""},
        per_world=False,
    ),
    *_partner_integration_cases(),
    Case(
        "partners:demo_inbox",
        "",
        lambda ws, t: reverse("partners:demo_inbox"),
        {"GET": when(rules.may_view_demo_inbox), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "partners:demo_receiver",
        "unsigned body",
        lambda ws, t: reverse("partners:demo_receiver", args=[t.trusted_partner.pk]),
        # The partner's endpoint: no session, signature checked; an unsigned body is refused.
        {"GET": always(405), "POST": always(400)},
        data=lambda ws, t: {"type": "forged"},
        login_required=False,
    ),
    *_dashboard_cases(),
    *_capacity_cases(),
    *_benchmark_cases(),
    *_integration_page_cases(),
    *[
        Case(
            name,
            "",
            (lambda n: lambda ws, t: reverse(n))(name),
            {"GET": always(200), "POST": NOT_ALLOWED},
            login_required=False,
            per_world=False,
        )
        for name in ("register:page", "register:json", "register:feed", "healthz", "api-schema", "api-docs")
    ],
    # Following the register: public, no sign-in (players: off the play surface, like the register).
    Case(
        "register:follow",
        "an email address",
        lambda ws, t: reverse("register:follow"),
        {"GET": always(200), "POST": always(200)},
        data=lambda ws, t: {"follow": ws.live.cast.lab.slug, "channel": "email", "email": "matrix@example.org"},
        login_required=False,
        per_world=False,
    ),
    *[
        Case(
            f"register:{name}",
            label,
            (lambda n, k: lambda ws, t: reverse(f"register:{n}", args=[ws.follow[k] if k else "guess:" + "x" * 40]))(
                name, key
            ),
            {"GET": always(200 if key else 404), "POST": always(200 if key else 404)},
            login_required=False,
            per_world=False,
        )
        for name, label, key in (
            ("confirm", "the emailed link", "confirm"),
            ("confirm", "a guessed link", None),
            ("stop", "the link in every message", "stop"),
            ("stop", "a guessed link", None),
        )
    ],
    Case(
        "register:webhook_verify",
        "an endpoint that refuses connections",
        lambda ws, t: reverse("register:webhook_verify", args=[ws.follow["hook"]]),
        {"GET": NOT_ALLOWED, "POST": always(400)},
        login_required=False,
        per_world=False,
    ),
    Case(
        "profile",
        "",
        lambda ws, t: reverse("profile"),
        {"GET": always(200), "POST": always(302)},
        data=lambda ws, t: {"action": "calendar_revoke"},
        per_world=False,
    ),
    # One's own emails waiting for a digest: every live account, its own only; players have none
    # (exercise mail is never held) and the page is off the play surface.
    Case(
        "held_notifications",
        "",
        lambda ws, t: reverse("held_notifications"),
        {"GET": when(rules.may_view_held_notifications), "POST": NOT_ALLOWED},
        per_world=False,
    ),
    Case(
        "two_factor_setup",
        "a wrong code",
        lambda ws, t: reverse("two_factor_setup"),
        {"GET": always(200), "POST": always(400)},
        data=lambda ws, t: {"token": "000000"},
        per_world=False,
    ),
    Case(
        "two_factor_verify",
        "a wrong code",
        lambda ws, t: reverse("two_factor_verify"),
        # With an authenticator app a wrong code is refused; without one, set one up first.
        {
            "GET": lambda u, ws, t: 200 if confirmed_device(u) else 302,
            "POST": lambda u, ws, t: 400 if confirmed_device(u) else 302,
        },
        data=lambda ws, t: {"token": "000000"},
        per_world=False,
    ),
    *_exercise_cases(),
    *_joint_cases(),
    Case(
        "api/^v1/",
        "unknown API path",
        lambda ws, t: "/api/v1/launch-codes/",
        {"GET": always(404), "POST": always(404)},
        login_required=False,
        per_world=False,
    ),
]


# --- the API ------------------------------------------------------------------------------------

V1 = "/api/v1"


def api_of(get_obj, allowed=None, ok=200, refused=403):
    return page_of(get_obj, allowed, ok, refused)


def live_admin(rule=None):
    """The office's own records: 403 unless a live administrator, then the rule."""

    def check(u, ws, t):
        if not rules.may_manage_partners(u):
            return 403
        return rule(u, ws, t) if rule else 200

    return check


def integration_managers(rule=None):
    """A lab's webhook endpoints: 403 unless one of its integration managers, then the rule."""

    def check(u, ws, t):
        if not rules.may_manage_integrations(u):
            return 403
        return rule(u, ws, t) if rule else 200

    return check


def office_work(source, ok=200, allowed=rules.may_see_internal_review):
    return api_of(sub(source), allowed, ok)


def _api_invite(user, t):
    """Inviting through the API: the submission out of scope is 404; someone not running the
    review 403; the review's administrators 201 (intake: open, no lead yet)."""
    s = t.subs["intake"]
    if not sees(user, s):
        return 404
    return decide(True, rules.runs_the_review(user, s), 201)


def _api_transition_cases():
    out = []
    for name, source in TRANSITION_SOURCE.items():
        out.append(
            Case(
                "submissions_transitions_create",
                name,
                (lambda n: lambda ws, t: f"{V1}/submissions/{t.subs[TRANSITION_SOURCE[n]].pk}/transitions/{n}/")(name),
                {"POST": transition_outcome(name, source, ok=200)},
                data=(lambda n: lambda ws, t: api_transition_data(n, t))(name),
            )
        )
    return out


def _edit_outcome(user, s):
    if rules.may_edit_draft(user, s):
        return 200
    # The developer who can see it is told it is no longer a draft (409); anyone else, 403.
    return 409 if rules.is_developer_of(user, s.organization_id) else 403


def partner_staff(rule=None):
    """A partner's own integration through the API: 403 unless its staff, then the rule."""

    def check(u, ws, t):
        if not rules.may_view_partner_integration(u):
            return 403
        return rule(u, ws, t) if rule else 200

    return check


def _redeliverable(delivery) -> int:
    """What a permitted redelivery answers: 200 for a delivered or dead-lettered delivery, 400
    (with the reason) for one still being tried, held or digested."""
    return 200 if delivery.status in (Delivery.Status.DEAD, Delivery.Status.DELIVERED) else 400


def _admin_redelivered(u, ws, t):
    return api_of(lambda ws, t: t.delivery, rules.may_redeliver, ok=_redeliverable(t.delivery))(u, ws, t)


def _redelivered(u, ws, t):
    """Queued again (200) when delivered or dead-lettered; otherwise refused with the reason (400)."""
    if not sees_as_partner(u, t.delivery):
        return 404
    if not rules.may_redeliver(u, t.delivery):
        return 403
    return _redeliverable(t.delivery)


def _revocable(partner) -> int:
    """What a permitted early revocation answers: 200 while a previous secret signs, else 400
    (with the reason)."""
    return 200 if partner.previous_secrets_signing(timezone.now()) else 400


def _own_revocable(u, ws, t):
    return _revocable(rules.partner_settings_of(u))


def _admin_revoked(u, ws, t):
    return api_of(lambda ws, t: t.trusted_partner, ok=_revocable(t.trusted_partner))(u, ws, t)


def _partner_api_cases():
    integration = f"{V1}/partner/"
    return [
        Case("partner_integration_retrieve", "", lambda ws, t: integration, {"GET": partner_staff()}, per_world=False),
        Case(
            "partner_integration_test",
            "",
            lambda ws, t: f"{integration}test/",
            {"POST": partner_staff(always(202))},
            per_world=False,
        ),
        Case(
            "partner_integration_pause",
            "",
            lambda ws, t: f"{integration}pause/",
            {"POST": partner_staff()},
            per_world=False,
        ),
        Case(
            "partner_integration_resume",
            "not paused",
            lambda ws, t: f"{integration}resume/",
            {"POST": partner_staff(always(400))},  # nothing to resume: told so
            per_world=False,
        ),
        Case(
            "partner_integration_rotate_secret",
            "",
            lambda ws, t: f"{integration}rotate-secret/",
            {"POST": partner_staff()},
            per_world=False,
        ),
        Case(
            "partner_integration_revoke_previous_secrets",
            "",
            lambda ws, t: f"{integration}revoke-previous-secrets/",
            {"POST": partner_staff(_own_revocable)},
            per_world=False,
        ),
        Case(
            "partner_deliveries_list",
            "",
            lambda ws, t: f"{integration}deliveries/",
            {"GET": partner_staff()},
            per_world=False,
        ),
        Case(
            "partner_deliveries_retrieve",
            "",
            lambda ws, t: f"{integration}deliveries/{t.delivery.pk}/",
            {"GET": partner_staff(lambda u, ws, t: 200 if sees_as_partner(u, t.delivery) else 404)},
        ),
        Case(
            "partner_deliveries_redeliver",
            "",
            lambda ws, t: f"{integration}deliveries/{t.delivery.pk}/redeliver/",
            {"POST": partner_staff(_redelivered)},
        ),
    ]


API_CASES = [
    Case(
        "benchmarks_list",
        "",
        lambda ws, t: f"{V1}/benchmarks/",
        {"GET": lambda u, ws, t: 200 if rules.may_view_benchmark_catalog(u) else 403},
        per_world=False,
    ),
    Case(
        "benchmarks_retrieve",
        "the SECRET benchmark",
        lambda ws, t: f"{V1}/benchmarks/{ws.benchmarks['secret'].benchmark.slug}/",
        {"GET": lambda u, ws, t: 200 if names_version(u, ws.benchmarks["secret"]) else 404},
        per_world=False,
    ),
    Case(
        "benchmarks_trends",
        "the SECRET benchmark",
        lambda ws, t: f"{V1}/benchmarks/{ws.benchmarks['secret'].benchmark.slug}/trends/",
        {"GET": lambda u, ws, t: 200 if names_version(u, ws.benchmarks["secret"]) else 404},
        per_world=False,
    ),
    *[
        Case(
            "benchmarks_trends",
            f"highlighting the {name} submission",
            (lambda n: lambda ws, t: _trends_url(t.subs[n]).replace("/benchmarks/", f"{V1}/benchmarks/", 1))(name),
            {
                "GET": (
                    lambda n: (
                        lambda u, ws, t: 200 if rules.may_view_benchmark_catalog(u) and compares(u, t.subs[n]) else 404
                    )
                )(name)
            },
        )
        for name in ("evaluation", "cleared")
    ],
    Case(
        "benchmark_versions_levels_create",
        "the SECRET version",
        lambda ws, t: f"{V1}/benchmark-versions/{ws.benchmarks['secret'].pk}/levels/",
        {
            "POST": lambda u, ws, t: (
                404
                if not names_version(u, ws.benchmarks["secret"])
                else (200 if rules.may_change_benchmark_version(u, ws.benchmarks["secret"]) else 403)
            )
        },
        data=lambda ws, t: {"elevated": "0.3", "critical": "0.5", "reason": "Matrix."},
        per_world=False,
    ),
    Case(
        "benchmark_versions_metric_aliases_create",
        "the SECRET version",
        lambda ws, t: f"{V1}/benchmark-versions/{ws.benchmarks['secret'].pk}/metric-aliases/",
        {
            "POST": lambda u, ws, t: (
                404
                if not names_version(u, ws.benchmarks["secret"])
                else (200 if rules.may_change_benchmark_version(u, ws.benchmarks["secret"]) else 403)
            )
        },
        data=lambda ws, t: {"metric_aliases": ["match/accuracy"]},
        per_world=False,
    ),
    Case(
        "conflict_check",
        "Lab Alpha",
        lambda ws, t: (
            f"{V1}/conflict-check/?reviewer={t.cast.reviewer.username}"
            f"&organization={t.cast.lab.slug}&organization={t.cast.office.slug}"
        ),
        # The caller's world's people and organizations only: another world's names are unknown (400).
        {"GET": lambda u, ws, t: 403 if not rules.may_check_conflicts(u) else in_world_of(u, t, 200, 400)},
    ),
    Case(
        "release_gate",
        "the live cleared model",
        lambda ws, t: f"{V1}/release-gate/?model=Cleared {LIVE_MARK}&version=1.0&channel=api",
        # Who may ask is the rule; what they learn is their own scope (tests/api/test_release_gate.py
        # asks across labs and worlds). Asked once: the query echoes the name the caller typed, so
        # asking about the exercise's model would put its marker in a live answer by the caller's hand.
        {"GET": lambda u, ws, t: 200 if rules.may_check_release_gate(u) else 403},
        per_world=False,
    ),
    Case("agreements_list", "", lambda ws, t: f"{V1}/agreements/", {"GET": always(200)}, per_world=False),
    Case(
        "agreements_retrieve",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/agreements/{t.agreement.pk}/",
        {"GET": api_of(lambda ws, t: t.agreement)},
    ),
    Case(
        "agreements_status_create",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/agreements/{t.agreement.pk}/status/",
        {"POST": api_of(lambda ws, t: t.agreement, rules.may_manage_agreements)},
        # Every open review of the lab continues (the choice is required for each).
        data=lambda ws, t: {
            "action": "suspend",
            "note": "Matrix.",
            "open_reviews": {str(s.pk): "continue" for s in services.agreement_open_reviews(t.agreement)},
        },
    ),
    Case(
        "agreements_window_create",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/agreements/{t.agreement.pk}/window/",
        {"POST": api_of(lambda ws, t: t.agreement, rules.may_manage_agreements)},
        data=lambda ws, t: {"review_window_days": 21},
    ),
    Case("deliveries_list", "", lambda ws, t: f"{V1}/deliveries/", {"GET": live_admin()}, per_world=False),
    Case(
        "deliveries_retrieve",
        "",
        lambda ws, t: f"{V1}/deliveries/{t.delivery.pk}/",
        {"GET": live_admin(api_of(lambda ws, t: t.delivery))},
    ),
    Case(
        "deliveries_redeliver_create",
        "",
        lambda ws, t: f"{V1}/deliveries/{t.delivery.pk}/redeliver/",
        # Queued again when delivered or dead-lettered; a pending one is refused with the reason.
        {"POST": live_admin(_admin_redelivered)},
    ),
    # Anyone's own held emails (the API is closed to players): never anyone else's.
    Case(
        "held_deliveries_list",
        "",
        lambda ws, t: f"{V1}/held-deliveries/",
        {"GET": when(rules.may_view_held_notifications, otherwise=403)},
        per_world=False,
    ),
    *_partner_api_cases(),
    Case("organizations_list", "", lambda ws, t: f"{V1}/organizations/", {"GET": always(200)}, per_world=False),
    Case(
        "organizations_retrieve",
        "Lab Alpha",
        lambda ws, t: f"{V1}/organizations/{t.cast.lab.pk}/",
        {"GET": api_of(lambda ws, t: t.cast.lab)},
    ),
    Case("sla_breaches_list", "", lambda ws, t: f"{V1}/sla-breaches/", {"GET": live_admin()}, per_world=False),
    Case(
        "capacity_scenarios_list",
        "",
        lambda ws, t: f"{V1}/capacity-scenarios/",
        {"GET": lambda u, ws, t: 200 if rules.may_plan_capacity(u) else 403},
        per_world=False,
    ),
    Case(
        "capacity_scenarios_create",
        "",
        lambda ws, t: f"{V1}/capacity-scenarios/",
        {"POST": lambda u, ws, t: 201 if rules.may_plan_capacity(u) else 403},
        data=lambda ws, t: {**CAPACITY_FORM, "name": "Matrix scenario"},
        per_world=False,
    ),
    Case(
        "capacity_scenarios_retrieve",
        "a finished live scenario",
        lambda ws, t: f"{V1}/capacity-scenarios/{ws.capacity[0].pk}/",
        {"GET": lambda u, ws, t: 200 if rules.may_plan_capacity(u) else 403},
        per_world=False,
    ),
    Case(
        "sla_policy_retrieve",
        "",
        lambda ws, t: f"{V1}/sla-policy/",
        {"GET": when(rules.may_view_sla_policy, 200, 403)},
        per_world=False,
    ),
    Case(
        "submissions_sla_obligations_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/sla-obligations/",
        {"GET": api_of(sub("evaluation"), rules.may_view_sla_obligations)},
    ),
    Case(
        "sla_breaches_retrieve",
        "",
        lambda ws, t: f"{V1}/sla-breaches/{t.breach.pk}/",
        {"GET": live_admin(api_of(lambda ws, t: t.breach))},
    ),
    Case(
        "sla_breaches_acknowledge_create",
        "",
        lambda ws, t: f"{V1}/sla-breaches/{t.breach.pk}/acknowledge/",
        {"POST": live_admin(api_of(lambda ws, t: t.breach, rules.may_acknowledge_breach))},
        data=lambda ws, t: {"note": "Seen."},
    ),
    Case(
        "submissions_list",
        "",
        lambda ws, t: f"{V1}/submissions/",
        {"GET": always(200), "POST": when(rules.may_create_submission, 201, 403)},
        data=draft_fields,
        operations={"POST": "submissions_create"},
        per_world=False,
    ),
    Case(
        "submissions_list",
        "a new version of the world's cleared model",
        lambda ws, t: f"{V1}/submissions/",
        {"POST": _new_version_outcome},
        data=lambda ws, t: (
            draft_fields(ws, t)
            | {"model_name": t.subs["cleared"].model_name, "model_version": "2.0", "supersedes": t.subs["cleared"].pk}
        ),
        operations={"POST": "submissions_create"},
    ),
    *[
        Case(
            "submissions_retrieve",
            name,
            (lambda n: lambda ws, t: f"{V1}/submissions/{t.subs[n].pk}/")(name),
            {"GET": api_of(sub(name))},
        )
        for name in ("draft", "intake", "evaluation", "cleared", "version")
    ],
    Case(
        "submissions_version_deltas_retrieve",
        "the new version",
        lambda ws, t: f"{V1}/submissions/{t.subs['version'].pk}/version-deltas/",
        {"GET": api_of(sub("version"), rules.may_see_version_deltas)},
    ),
    Case(
        "submissions_findings_resolve_create",
        "the finding carried to the new version",
        lambda ws, t: f"{V1}/submissions/{t.subs['version'].pk}/findings/{t.carried.pk}/resolve/",
        {"POST": lambda u, ws, t: _resolve_outcome(u, t, ok=200)},
        data=lambda ws, t: {"reason": "Fixed in 2.0."},
    ),
    *[
        Case(
            "submissions_partial_update",
            name,
            (lambda n: lambda ws, t: f"{V1}/submissions/{t.subs[n].pk}/")(name),
            {"PATCH": (lambda n: lambda u, ws, t: decide(sees(u, t.subs[n]), True, _edit_outcome(u, t.subs[n])))(name)},
            data=lambda ws, t: {"model_version": "1.1"},
        )
        for name in ("draft", "evaluation")
    ],
    Case(
        "submissions_artifacts_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/artifacts/",
        {
            "GET": api_of(sub("evaluation"), rules.may_view_artifacts),
            "POST": api_of(sub("evaluation"), rules.may_upload_artifact, 201),
        },
        data=model_card,
        fmt="multipart",
        operations={"POST": "submissions_artifacts_create"},
    ),
    Case(
        "submissions_artifacts_create",
        "draft",
        lambda ws, t: f"{V1}/submissions/{t.subs['draft'].pk}/artifacts/",
        {"POST": api_of(sub("draft"), rules.may_upload_artifact, 201)},
        data=model_card,
        fmt="multipart",
    ),
    Case(
        "submissions_assignments_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/assignments/",
        {"GET": office_work("evaluation"), "POST": api_of(sub("evaluation"), rules.may_assign_reviewers, 201)},
        data=lambda ws, t: {"reviewer": t.cast.unassigned_reviewer.username, "role": "member"},
        operations={"POST": "submissions_assignments_create"},
    ),
    Case(
        "submissions_assignments_end_create",
        "the low-cleared reviewer's, on evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/assignments/{_low_assignment(t).pk}/end/",
        {"POST": api_of(sub("evaluation"), rules.may_end_assignments)},
        data=lambda ws, t: HANDOVER,
    ),
    Case(
        "submissions_assignments_suggestions_retrieve",
        "intake",
        lambda ws, t: f"{V1}/submissions/{t.subs['intake'].pk}/assignments/suggestions/",
        {"GET": api_of(sub("intake"), rules.may_assign_reviewers)},
    ),
    Case(
        "submissions_clock_retrieve",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/clock/",
        {"GET": api_of(sub("evaluation"), rules.may_view_review_clock)},
    ),
    Case(
        "submissions_determination_retrieve",
        "proposed",
        lambda ws, t: f"{V1}/submissions/{t.subs['proposed'].pk}/determination/",
        # Only a proposal exists: outside the office's review there is no determination yet.
        {"GET": api_of(sub("proposed"), rules.may_see_internal_review, refused=404)},
    ),
    Case(
        "submissions_determination_concur_create",
        "proposed",
        lambda ws, t: f"{V1}/submissions/{t.subs['proposed'].pk}/determination/concur/",
        {"POST": lambda u, ws, t: decide(sees(u, t.subs["proposed"]), rules.may_concur(u, t.proposal), 200)},
        data=lambda ws, t: {"proposal_digest": t.proposal.digest()},
    ),
    Case(
        "submissions_determination_propose_clear_create",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/determination/propose-clear/",
        {"POST": api_of(sub("evaluation"), rules.may_propose_determination, 201)},
        data=lambda ws, t: {"rationale": "Justified.", "partner_summary": "Cleared with conditions."},
    ),
    Case(
        "submissions_determination_propose_flag_create",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/determination/propose-flag/",
        {"POST": api_of(sub("evaluation"), rules.may_propose_determination, 201)},
        data=lambda ws, t: {"rationale": "Uplift.", "partner_summary": "Flagged."},
    ),
    Case(
        "submissions_findings_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/findings/",
        {
            "GET": office_work("evaluation", allowed=rules.may_see_joint_work),
            "POST": api_of(sub("evaluation"), rules.may_record_finding, 201),
        },
        data=lambda ws, t: (
            finding_data(ws, t) | {"domain": EvaluationDomain.objects.first().slug, "classification": "UNCLASSIFIED"}
        ),
        operations={"POST": "submissions_findings_create"},
    ),
    Case(
        "submissions_history_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/history/",
        {"GET": api_of(sub("evaluation"))},
    ),
    Case(
        "submissions_results_retrieve",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/results/",
        {
            "GET": office_work("evaluation", allowed=rules.may_see_joint_work),
            "POST": api_of(sub("evaluation"), rules.may_record_evaluation, 201),
        },
        data=lambda ws, t: result_data(ws, t) | {"domain": EvaluationDomain.objects.first().slug},
        operations={"POST": "submissions_results_create"},
    ),
    Case(
        "submissions_plan_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/plan/",
        {
            "GET": office_work("evaluation", allowed=rules.may_see_joint_work),
            "POST": api_of(sub("evaluation"), rules.may_plan_evaluation, 200),
        },
        data=lambda ws, t: plan_data(ws, t) | {"domain": EvaluationDomain.objects.first().slug},
        operations={"POST": "submissions_plan_create"},
    ),
    Case(
        "submissions_results_inspect_create",
        "not an Inspect log",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/results/inspect/",
        # Those who may record results are told the file is not a log; the rest are refused first.
        {"POST": api_of(sub("evaluation"), rules.may_record_evaluation, 400)},
        data=lambda ws, t: {"log": SimpleUploadedFile("run.eval", b"not a log", content_type="application/zip")},
        fmt="multipart",
    ),
    Case(
        "submissions_transitions_list",
        "evaluation",
        lambda ws, t: f"{V1}/submissions/{t.subs['evaluation'].pk}/transitions/",
        {"GET": api_of(sub("evaluation"))},
    ),
    *_api_transition_cases(),
    Case(
        "submissions_access_orders_list",
        "released",
        lambda ws, t: f"{V1}/submissions/{t.subs['released'].pk}/access-orders/",
        {
            "GET": api_of(sub("released"), lambda u, s: rules.may_view_access_orders(u, s)),
            "POST": api_of(sub("released"), may_order, 201),
        },
        data=lambda ws, t: order_fields(t),
        operations={"POST": "submissions_access_orders_create"},
    ),
    Case(
        "submissions_access_orders_lift_create",
        "the order in force on the removed model",
        lambda ws, t: f"{V1}/submissions/{t.subs['removed'].pk}/access-orders/{t.order.pk}/lift/",
        {"POST": api_of(sub("removed"), may_order)},
        data=lambda ws, t: {"reason": "The order was withdrawn."},
    ),
    Case(
        "submissions_weights_publications_list",
        "open weights",
        lambda ws, t: f"{V1}/submissions/{t.subs['open_weights'].pk}/weights-publications/",
        {
            "GET": api_of(sub("open_weights")),
            "POST": api_of(sub("open_weights"), rules.may_record_weights_publication, 201),
        },
        data=lambda ws, t: {"location": "hf://lab/open-model", "sha256": "b" * 64},
        operations={"POST": "submissions_weights_publications_create"},
    ),
    Case(
        "submissions_weights_publications_withdraw_create",
        "a publication record of the open-weights model",
        lambda ws, t: f"{V1}/submissions/{t.subs['open_weights'].pk}/weights-publications/{t.publication.pk}/withdraw/",
        {"POST": api_of(sub("open_weights"), may_withdraw_publication)},
        data=lambda ws, t: {"reason": "The hash was of another file."},
    ),
    Case(
        "submissions_advisories_list",
        "open weights, released, with a late finding",
        lambda ws, t: f"{V1}/submissions/{t.subs['open_weights'].pk}/advisories/",
        {"GET": api_of(sub("open_weights")), "POST": api_of(sub("open_weights"), rules.may_propose_advisory, 201)},
        data=lambda ws, t: {"text": "Patch it.", "findings": [t.open_finding.pk]},
        operations={"POST": "submissions_advisories_create"},
    ),
    Case(
        "submissions_advisories_concur_create",
        "the advisory proposed on the released model",
        lambda ws, t: f"{V1}/submissions/{t.subs['released'].pk}/advisories/{t.advisory.pk}/concur/",
        {"POST": lambda u, ws, t: decide(sees(u, t.subs["released"]), rules.may_concur_advisory(u, t.advisory), 200)},
        data=lambda ws, t: {"advisory_digest": advisory_digest(t.advisory)},
    ),
    Case(
        "joint_invitations_list",
        "",
        lambda ws, t: f"{V1}/joint-invitations/",
        {"GET": always(200), "POST": lambda u, ws, t: _api_invite(u, t)},
        data=lambda ws, t: {"submission": t.subs["intake"].pk, "institute": t.institute_org.slug},
        operations={"POST": "joint_invitations_create"},
    ),
    Case(
        "joint_invitations_retrieve",
        "accepted",
        lambda ws, t: f"{V1}/joint-invitations/{t.invitation.pk}/",
        {"GET": api_of(lambda ws, t: t.invitation)},
    ),
    Case(
        "joint_invitations_accept_create",
        "pending",
        lambda ws, t: f"{V1}/joint-invitations/{t.pending_invitation.pk}/accept/",
        {"POST": api_of(lambda ws, t: t.pending_invitation, rules.may_respond_to_invitation)},
    ),
    Case(
        "joint_invitations_decline_create",
        "pending",
        lambda ws, t: f"{V1}/joint-invitations/{t.pending_invitation.pk}/decline/",
        {"POST": api_of(lambda ws, t: t.pending_invitation, rules.may_respond_to_invitation)},
    ),
    Case(
        "joint_invitations_withdraw_create",
        "accepted",
        lambda ws, t: f"{V1}/joint-invitations/{t.invitation.pk}/withdraw/",
        {"POST": api_of(lambda ws, t: t.invitation, rules.may_withdraw_invitation)},
    ),
    Case("trusted_partners_list", "", lambda ws, t: f"{V1}/trusted-partners/", {"GET": live_admin()}, per_world=False),
    Case(
        "trusted_partners_create",
        "",
        lambda ws, t: f"{V1}/trusted-partners/",
        {"POST": live_admin(always(201))},
        data=lambda ws, t: {
            "organization": ws.unsubscribed_partner_org.slug,
            "webhook_url": "https://93.184.216.34/hook",
            "event_types": ["submission.cleared"],
        },
        per_world=False,
    ),
    Case(
        "trusted_partners_retrieve",
        "",
        lambda ws, t: f"{V1}/trusted-partners/{t.trusted_partner.pk}/",
        {
            "GET": live_admin(api_of(lambda ws, t: t.trusted_partner)),
            "PATCH": live_admin(api_of(lambda ws, t: t.trusted_partner)),
        },
        data=lambda ws, t: {"is_active": False},
        operations={"PATCH": "trusted_partners_partial_update"},
    ),
    Case(
        "webhook_endpoints_list",
        "",
        lambda ws, t: f"{V1}/webhook-endpoints/",
        {"GET": integration_managers(), "POST": integration_managers(always(201))},
        data=endpoint_data,
        operations={"POST": "webhook_endpoints_create"},
        per_world=False,
    ),
    Case(
        "webhook_endpoints_retrieve",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/webhook-endpoints/{t.endpoint.pk}/",
        {
            "GET": integration_managers(api_of(lambda ws, t: t.endpoint)),
            "PATCH": integration_managers(api_of(lambda ws, t: t.endpoint)),
            "DELETE": integration_managers(api_of(lambda ws, t: t.endpoint, ok=204)),
        },
        data=lambda ws, t: {"is_active": False},
        operations={"PATCH": "webhook_endpoints_partial_update", "DELETE": "webhook_endpoints_destroy"},
    ),
    Case(
        "webhook_endpoints_deliveries_list",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/webhook-endpoints/{t.endpoint.pk}/deliveries/",
        {"GET": integration_managers(api_of(lambda ws, t: t.endpoint))},
    ),
    Case(
        "webhook_endpoints_test_create",
        "Lab Alpha's",
        lambda ws, t: f"{V1}/webhook-endpoints/{t.endpoint.pk}/test/",
        {"POST": integration_managers(api_of(lambda ws, t: t.endpoint, ok=202))},
    ),
    Case(
        "trusted_partners_rotate_secret_create",
        "",
        lambda ws, t: f"{V1}/trusted-partners/{t.trusted_partner.pk}/rotate-secret/",
        {"POST": live_admin(api_of(lambda ws, t: t.trusted_partner))},
    ),
    Case(
        "trusted_partners_revoke_previous_secrets_create",
        "",
        lambda ws, t: f"{V1}/trusted-partners/{t.trusted_partner.pk}/revoke-previous-secrets/",
        {"POST": live_admin(_admin_revoked)},
    ),
]
for case in API_CASES:
    case.api = True


# --- completeness -------------------------------------------------------------------------------


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield (f"{namespace}{p.name}" if p.name else prefix + str(p.pattern)), prefix + str(p.pattern)


def url_keys():
    """Every URL the portal answers, by name (or pattern when unnamed); the admin and the
    API router (checked through the schema) aside."""
    keys = set()
    for key, pattern in _walk(get_resolver().url_patterns):
        if pattern.startswith("admin/") or (pattern.startswith("api/v1/") and key != "api/^v1/"):
            continue
        keys.add(key)
    return keys


def api_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {op["operationId"]: method.upper() for ops in schema["paths"].values() for method, op in ops.items()}


def test_every_url_has_a_case():
    covered = {c.key for c in PAGE_CASES}
    assert url_keys() - covered == set(), "URLs with no case in the permission matrix"
    assert covered - url_keys() == set(), "cases for URLs that no longer exist"


def test_every_api_operation_has_a_case():
    operations = api_operations()
    covered = {(c.operation(m), m) for c in API_CASES for m in c.rule}
    assert set(operations.items()) - covered == set(), "API operations with no case in the permission matrix"
    assert covered - set(operations.items()) == set(), "cases for operations that no longer exist"


def test_every_url_is_decided_for_players():
    """The play surface names only URLs that exist, and opening one is a decision made in the
    policy: a URL added later is closed to players until someone lists it there."""
    names = {key for key, _ in _walk(get_resolver().url_patterns)}
    assert names >= rules.PLAY_SURFACE, rules.PLAY_SURFACE - names
    assert not any(name.startswith(("admin:", "api")) for name in rules.PLAY_SURFACE)


def test_every_router_url_is_in_the_schema():
    """The API's own URLs all reach the schema, so the operation check above sees them all."""
    import re

    schema_paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    templates = [re.compile("^/" + re.sub(r"\{[^}]+\}", "[^/]+", p.lstrip("/")) + "$") for p in schema_paths]
    router_patterns = [p for key, p in _walk(get_resolver().url_patterns) if p.startswith("api/v1/^")]
    assert len(router_patterns) >= 20, router_patterns
    for pattern in router_patterns:
        concrete = "/" + re.sub(r"\(\?P<\w+>[^)]+\)", "1", pattern.replace("^", "").replace("$", ""))
        assert any(t.match(concrete) for t in templates), f"{pattern} answers but is not in the schema"


# --- running the matrix -------------------------------------------------------------------------


def outcome(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return response.status_code


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def client_for(user, for_api):
    """Live accounts call the API with a token; players can make none, so they try with their
    session (the token path is checked in test_exercise_boundary)."""
    if for_api:
        client = APIClient()
        if user is not None and not rules.is_player(user):
            _, key = api_token_issue(user=user, name="matrix")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        elif user is not None:
            client.force_login(user)
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# Pages about an exercise itself, for its controllers and evaluators: exercise data is their content.
EXERCISE_CONSOLE = {
    "exercises:console",
    "exercises:report",
    "exercises:report_json",
    "exercises:report_pdf",
    "exercises:player_password",
}


def run_cases(ws: Worlds, role, cases) -> list[str]:
    import copy

    user = ws.people[role]
    wrong = []
    # One signed-in client per kind, made outside the cases' savepoints so its session (or
    # token) survives them; each case's own changes (a sign-out included) are rolled back,
    # and its cookies put back as they were.
    clients = {api: client_for(user, api) for api in (False, True)}
    cookies = {api: copy.deepcopy(c.cookies) for api, c in clients.items()}
    for case in cases:
        for target in ws.each() if case.per_world else (ws.live,):
            for method in case.rule:
                url = case.url(ws, target)
                client = clients[case.api]
                client.cookies = copy.deepcopy(cookies[case.api])
                with transaction.atomic():
                    want = expected(case, method, user, ws, target)
                    data = case.data(ws, target) if case.data else {}
                    if method == "GET":
                        response = client.get(url)
                    elif case.api:
                        response = getattr(client, method.lower())(url, data, format=case.fmt)
                    else:
                        response = getattr(client, method.lower())(url, data)
                    body = body_of(response)
                    transaction.set_rollback(True)
                where = f"{method} {case.key} [{case.label}] on {target.name} data"
                got = outcome(response)
                if got != want:
                    wrong.append(f"{where}: expected {want}, got {got} {body[:160]!r}")
                for w in ws.each():
                    if w.secret_finding.title.encode() in body and not sees(user, w.secret_finding):
                        wrong.append(f"{where}: shows the {w.name} SECRET finding")
                secret_bench = ws.benchmarks["secret"]
                if secret_bench.benchmark.name.encode() in body and not names_version(user, secret_bench):
                    wrong.append(f"{where}: names the SECRET benchmark")
                if user is not None and rules.is_player(user):
                    leaked = [m for m in live_markers(ws) if m in body]
                    if leaked:
                        wrong.append(f"{where}: a player reads live data {leaked}")
                elif url_name(url) not in EXERCISE_CONSOLE:
                    leaked = [m for m in exercise_markers(ws) if m in body]
                    if leaked:
                        wrong.append(f"{where}: a live answer shows exercise data {leaked}")
    return wrong


@pytest.fixture
def worlds(request, matrix_worlds, settings):
    """The worlds, built once for the module (tests/conftest.py); each test runs in a savepoint."""
    settings.DEMO_WEBHOOK_RECEIVER = True  # so the demo inbox's own rules are what is tested
    return shared(request, matrix_worlds)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_IDS)
def test_pages(worlds, role):
    wrong = run_cases(worlds, role, PAGE_CASES)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_IDS)
def test_api(worlds, role):
    wrong = run_cases(worlds, role, API_CASES)
    assert not wrong, "\n".join(wrong)


# --- the matrix checks itself -------------------------------------------------------------------


def test_the_worlds_hold_what_their_names_say(worlds):
    """Each world's people hold what their names say, in their own world."""
    for w in worlds.each():
        c, ev = w.cast, w.subs["evaluation"]
        assert c.low_reviewer.clearance < w.secret_finding.classification <= c.reviewer.clearance
        assert ev.assignments.filter(reviewer=c.low_reviewer).exists()
        assert not ev.assignments.filter(reviewer=c.unassigned_reviewer).exists()
        assert ev.assignments.filter(reviewer=c.lead, role="lead").exists()
        assert Determination.objects.filter(submission=w.subs["proposed"], concurred_by__isnull=True).exists()
        expected_world = w.exercise.pk if w.exercise else None
        assert all(s.exercise_id == expected_world for s in w.subs.values())
        assert all(rules.world_of(getattr(c, r)) == expected_world for r in CAST_ROLES)
    assert worlds.live.delivery is not None and worlds.exercise.delivery is not None


def test_every_role_of_the_office_is_played_in_the_exercise():
    """The exercise side of the matrix has a player of every role a scenario may give."""
    played = {r for r, w in ROLES if w == "exercise"}
    assert {"developer", "reviewer", "lead", "admin", "partner"} <= played
    assert set(scenarios.PLAYER_ROLES) == {
        Role.DEVELOPER_STAFF,
        Role.REVIEWER,
        Role.LEAD_REVIEWER,
        Role.ADMINISTRATOR,
        Role.TRUSTED_PARTNER,
    }


def test_the_marker_scan_can_fail(worlds):
    """The markers are really on the pages of their own world (so their absence elsewhere means something)."""
    admin_live, admin_exercise = worlds.people[("admin", "live")], worlds.people[("admin", "exercise")]
    client = Client()
    client.force_login(admin_live)
    assert LIVE_MARK.encode() in client.get(reverse("dashboard:index")).content
    client.force_login(admin_exercise)
    page = client.get(reverse("dashboard:index")).content
    assert EXERCISE_MARK.encode() in page and LIVE_MARK.encode() not in page


def test_the_secret_title_check_can_fail(worlds):
    """The title the matrix looks for is really shown to those cleared for it, in each world."""
    for w in worlds.each():
        client = Client()
        client.force_login(w.cast.reviewer)
        page = client.get(reverse("submissions:detail", args=[w.subs["evaluation"].pk]))
        assert w.secret_finding.title.encode() in page.content


def test_the_admin_site_is_for_live_superusers_only(worlds):
    """Every admin page refuses every role the portal gives, in both worlds (none is staff)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        urls += [reverse("admin:{}_{}_changelist".format(*info)), reverse("admin:{}_{}_add".format(*info))]
    for role in ROLES:
        user = worlds.people[role]
        client = Client()
        if user is not None:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            if user is not None and rules.is_player(user):
                assert response.status_code == 404, (role, url)  # off the play surface
            else:
                assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (role, url)


def test_a_player_made_staff_still_never_reaches_the_admin(worlds):
    """Even a player wrongly given staff and superuser rights is kept off the admin."""
    player = worlds.people[("admin", "exercise")]
    player.is_staff = player.is_superuser = True
    player.save()
    client = Client()
    client.force_login(player)
    assert client.get(reverse("admin:index")).status_code == 404
    assert client.get(reverse("admin:submissions_modelsubmission_changelist")).status_code == 404
