"""Who may see and do what: every page and API operation x every role x every method.

The cases below are checked against the URL configuration and the API schema, so a new
URL or operation without a case fails `test_every_url_has_a_case` /
`test_every_api_operation_has_a_case`. Each role's test builds one world (Lab Alpha's
submissions in every state that matters, a SECRET finding, a breach, a delivery) and runs
every case inside a savepoint that is rolled back, so one request never sees another's
writes. Outcomes are exact status codes; LOGIN means "sent to the sign-in page".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import Clearance
from accounts.services import calendar_token_issue
from api.services import api_token_issue
from dashboard.models import ExportJob
from exercises import scenarios
from exercises import services as exercise_services
from partners import services as partner_services
from partners.models import Delivery, PartnerEventType, TrustedPartner
from reviews import services as review_services
from reviews.models import Determination, EvaluationDomain, Finding
from submissions.models import SlaBreach, SlaKind, State
from tests.factories import OrganizationFactory, record_all_results, serious_finding

pytestmark = pytest.mark.django_db

ANON, DEV, OTHER_DEV = "anonymous", "developer", "other_developer"
REVIEWER, UNASSIGNED, BELOW = "reviewer", "unassigned_reviewer", "low_reviewer"
# PLAYER: an exercise player (developer staff of an organization inside a training exercise).
LEAD, ADMIN, PARTNER, PLAYER = "lead", "admin", "partner", "player"
ROLES = [ANON, DEV, OTHER_DEV, REVIEWER, UNASSIGNED, BELOW, LEAD, ADMIN, PARTNER, PLAYER]
SIGNED_IN = [r for r in ROLES if r != ANON]
OFFICE = {REVIEWER, UNASSIGNED, BELOW, LEAD, ADMIN}
LOGIN = "login"

# The only people who may ever read the SECRET finding's title, on any page or endpoint.
CLEARED_FOR_SECRET = {REVIEWER, LEAD, ADMIN}

# Who can see each of the world's submissions (the rules module decides; this says what
# it must decide). BELOW is assigned but cleared only to CUI; the finding is SECRET.
ON_IT = {DEV, REVIEWER, BELOW, LEAD, ADMIN}
VISIBLE = {
    "draft": {DEV},
    "intake": {DEV, LEAD, ADMIN},
    "info": {DEV, LEAD, ADMIN},
    "evaluation": ON_IT,
    "proposed": ON_IT,
    "concurred": ON_IT,
    "cleared": ON_IT | {PARTNER},
    "released": ON_IT | {PARTNER},
}


def page(visible, allowed=(), ok=200, *, anonymous=LOGIN):
    """Outcome per role for a page: `ok` if allowed, 403 if only visible, else 404."""
    return {
        role: anonymous if role == ANON else ok if role in allowed else 403 if role in visible else 404
        for role in ROLES
    }


def api(visible, allowed=(), ok=200):
    return page(visible, allowed, ok, anonymous=401)


def everyone(outcome, *, anonymous=None):
    return {role: (anonymous if role == ANON and anonymous is not None else outcome) for role in ROLES}


def only(roles, ok=200, *, denied=404, anonymous=LOGIN):
    return {role: anonymous if role == ANON else ok if role in roles else denied for role in ROLES}


NOT_ALLOWED = everyone(405, anonymous=LOGIN)  # login_required answers before the method check


@dataclass
class Case:
    key: str  # URL name, pattern, or API operationId
    label: str
    url: Callable
    expect: dict  # method -> role -> outcome
    data: Callable | None = None  # POST/PATCH body from the world
    api: bool = False
    fmt: str = "json"
    # The API operation of each method when it is not `key` (one path, several operations).
    operations: dict = field(default_factory=dict)

    def operation(self, method):
        return self.operations.get(method, self.key)


@dataclass
class World:
    cast: object
    subs: dict = field(default_factory=dict)


def build_world(cast) -> World:
    w = World(cast)
    w.subs["draft"] = cast.submission(State.DRAFT)
    w.subs["intake"] = cast.submission(State.INTAKE)
    w.subs["info"] = cast.submission(State.INFORMATION_REQUESTED)
    ev = cast.submission(State.EVALUATION)
    record_all_results(ev, cast.reviewer)
    w.secret_finding = review_services.finding_record(
        submission=ev,
        actor=cast.reviewer,
        domain=EvaluationDomain.objects.first(),
        severity=Finding.Severity.LOW,
        classification=Clearance.SECRET,
        title="SECRET-FINDING",
        description="Above CUI.",
        evidence=SimpleUploadedFile("evidence.txt", b"transcript\n", content_type="text/plain"),
    )
    w.subs["evaluation"] = ev
    proposed = cast.submission(State.EVALUATION)
    record_all_results(proposed, cast.reviewer)
    review_services.determination_propose_flag(submission=proposed, actor=cast.lead, rationale="Uplift.")
    w.subs["proposed"] = proposed
    concurred = cast.submission(State.EVALUATION)
    record_all_results(concurred, cast.reviewer)
    serious_finding(concurred, cast.reviewer)
    proposal = review_services.determination_propose_flag(submission=concurred, actor=cast.lead, rationale="Uplift.")
    review_services.determination_concur(determination=proposal, actor=cast.reviewer)
    w.subs["concurred"] = concurred
    w.subs["cleared"] = cast.submission(State.CLEARED)
    w.subs["released"] = cast.submission(State.RELEASED)
    w.artifact = w.subs["evaluation"].artifacts.first()
    w.breach = SlaBreach.objects.create(
        submission=w.subs["intake"],
        kind=SlaKind.INTAKE_DECISION,
        due_at=w.subs["intake"].submitted_at,
        detected_at=w.subs["intake"].submitted_at,
    )
    w.trusted_partner = TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url="https://partner.example/hook",
        event_types=[PartnerEventType.CLEARED],
    )
    partner_services.event_record(submission=w.subs["cleared"], type=PartnerEventType.CLEARED)
    w.delivery = Delivery.objects.get(partner=w.trusted_partner)
    w.unsubscribed_partner_org = OrganizationFactory(name="Partner Two", slug="partner-two", kind="trusted_partner")
    w.calendar_token = calendar_token_issue(user=cast.developer)
    w.agreement = cast.lab.agreement
    # A training exercise the administrator runs; PLAYER is its developer staff player.
    w.exercise = exercise_services.exercise_create(
        scenario=scenarios.by_slug("routine-review"), actor=cast.admin
    ).exercise
    w.player = w.exercise.players.get(username=f"x{w.exercise.pk}.dev")
    w.inject = w.exercise.injects.get(number=1)
    w.objective = w.exercise.objectives.first()
    w.export = ExportJob.objects.create(
        kind=ExportJob.Kind.SUBMISSIONS, requested_by=cast.admin, requested_at=timezone.now(), status="done"
    )
    w.export.file.save("submissions.csv", ContentFile(b"id\n"))
    return w


def transition_data(name, w):
    s = w.subs[TRANSITION_SOURCE[name]]
    data = {"expected_state": s.state, "comment": "matrix"}
    if name == "accept":
        data |= {f"check_{k}": "on" for k in ("cards_received", "access_confirmed", "release_plan_confirmed")}
        data["domains"] = [d.pk for d in EvaluationDomain.objects.all()]
    data |= {
        "request_information": {"questions": "Which safeguards ship?"},
        "answer_information_request": {"answer": "A classifier."},
        "clear": {"rationale": "Below thresholds.", "partner_summary": "Cleared."},
        "record_release": {"released_on": "2026-11-23"},
        "remove_access": {"order": "Order 2026-17"},
    }.get(name, {})
    return data


# transition -> (the submission it is tried on, who may take it there)
TRANSITIONS = {
    "submit": ("draft", {DEV}),
    "withdraw": ("intake", {DEV}),
    "accept": ("intake", {LEAD, ADMIN}),
    "request_information": ("evaluation", {LEAD, ADMIN}),
    "answer_information_request": ("info", {DEV}),
    "clear": ("evaluation", {LEAD}),
    "flag": ("concurred", {LEAD}),
    "elapse": ("evaluation", set()),  # only the review clock, never a person
    "record_release": ("cleared", {DEV}),
    "remove_access": ("released", {ADMIN}),
}
TRANSITION_SOURCE = {name: source for name, (source, _) in TRANSITIONS.items()}


def api_transition_data(name, w):
    data = transition_data(name, w)
    if name == "accept":
        data = {
            "expected_state": data["expected_state"],
            "checklist": dict.fromkeys(("cards_received", "access_confirmed", "release_plan_confirmed"), True),
            "domains": [d.slug for d in EvaluationDomain.objects.all()],
        }
    return data


def result_data(w):
    return {"domain": EvaluationDomain.objects.first().pk, "score": "0.2", "threshold": "0.5"}


def finding_data(w):
    return {
        "domain": EvaluationDomain.objects.first().pk,
        "severity": "low",
        "classification": "0",
        "title": "Matrix finding",
        "description": "Recorded by the matrix.",
    }


def model_card(w):
    return {"kind": "model_card", "file": SimpleUploadedFile("card.md", b"# Card\n", content_type="text/markdown")}


def draft_fields(w):
    return {
        "model_name": "Matrix-Model",
        "model_version": "1.0",
        "release_channel": "api",
        "planned_release_date": "2027-03-01",
        "capabilities": "Reasoning.",
        "intended_use": "API customers.",
        "evaluator_access": "An endpoint.",
    }


# --- the pages ----------------------------------------------------------------------------------

PAGE_CASES = [
    Case("home", "", lambda w: reverse("home"), {"GET": page(SIGNED_IN, SIGNED_IN), "POST": NOT_ALLOWED}),
    Case(
        "login",
        "wrong password",
        lambda w: reverse("login"),
        {"GET": everyone(200), "POST": everyone(200)},
        data=lambda w: {"username": "nobody", "password": "wrong"},
    ),
    # Signing out (POST only) always lands on the sign-in page.
    Case("logout", "", lambda w: reverse("logout"), {"GET": everyone(405), "POST": everyone(LOGIN)}),
    Case(
        "submissions:list",
        "the first of the person's sections",
        lambda w: reverse("submissions:list"),
        # Everyone with a live role has a list; the exercise player has none in live data.
        {"GET": only(SIGNED_IN), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:list",
        "the administrators' open reviews, asked for by another role",
        lambda w: reverse("submissions:list") + "?section=open",
        {"GET": only({ADMIN}), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:create",
        "",
        lambda w: reverse("submissions:create"),
        # The player files in their exercise's world, as developer staff there.
        {"GET": only({DEV, OTHER_DEV, PLAYER}), "POST": only({DEV, OTHER_DEV, PLAYER}, 302)},
        data=draft_fields,
    ),
    *[
        Case(
            "submissions:detail",
            name,
            (lambda n: lambda w: reverse("submissions:detail", args=[w.subs[n].pk]))(name),
            {"GET": page(VISIBLE[name], VISIBLE[name]), "POST": NOT_ALLOWED},
        )
        for name in ("draft", "intake", "evaluation", "cleared", "released")
    ],
    Case(
        "submissions:edit",
        "draft",
        lambda w: reverse("submissions:edit", args=[w.subs["draft"].pk]),
        {"GET": page(VISIBLE["draft"], {DEV}), "POST": page(VISIBLE["draft"], {DEV}, 302)},
        data=draft_fields,
    ),
    *[
        Case(
            "submissions:action",
            name,
            (lambda n: lambda w: reverse("submissions:action", args=[w.subs[TRANSITION_SOURCE[n]].pk, n]))(name),
            {
                "GET": page(VISIBLE[source], VISIBLE[source]),
                "POST": page(VISIBLE[source], allowed, 302),
            },
            data=(lambda n: lambda w: transition_data(n, w))(name),
        )
        for name, (source, allowed) in TRANSITIONS.items()
    ],
    Case(
        "submissions:action",
        "unknown action",
        lambda w: reverse("submissions:action", args=[w.subs["evaluation"].pk, "launch"]),
        {"GET": page(set()), "POST": page(set())},
        data=lambda w: {"expected_state": "evaluation"},
    ),
    Case(
        "submissions:artifact_upload",
        "draft",
        lambda w: reverse("submissions:artifact_upload", args=[w.subs["draft"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["draft"], {DEV}, 302)},
        data=model_card,
        fmt="multipart",
    ),
    Case(
        "submissions:artifact_upload",
        "evaluation",
        lambda w: reverse("submissions:artifact_upload", args=[w.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["evaluation"])},
        data=model_card,
        fmt="multipart",
    ),
    Case(
        "submissions:artifact_download",
        "evaluation's model card",
        lambda w: reverse("submissions:artifact_download", args=[w.subs["evaluation"].pk, w.artifact.pk]),
        {"GET": page(VISIBLE["evaluation"], VISIBLE["evaluation"]), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:artifact_download",
        "model card asked for under another submission",
        lambda w: reverse("submissions:artifact_download", args=[w.subs["cleared"].pk, w.artifact.pk]),
        {"GET": page(set()), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:publish",
        "released",
        lambda w: reverse("submissions:publish", args=[w.subs["released"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["released"], {ADMIN}, 302)},
        data=lambda w: {"published": "yes"},
    ),
    Case(
        "submissions:agreements",
        "",
        lambda w: reverse("submissions:agreements"),
        # Developers see their own agreement (the player theirs, in the exercise); partners have none.
        {"GET": only(OFFICE | {DEV, OTHER_DEV, PLAYER}), "POST": NOT_ALLOWED},
    ),
    Case(
        "submissions:agreement_change",
        "Lab Alpha's",
        lambda w: reverse("submissions:agreement_change", args=[w.agreement.pk]),
        {"GET": NOT_ALLOWED, "POST": page(OFFICE | {DEV}, {ADMIN}, 302)},
        data=lambda w: {"review_window_days": "21"},
    ),
    Case(
        "reviews:assign",
        "evaluation",
        lambda w: reverse("reviews:assign", args=[w.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["evaluation"], {LEAD, ADMIN}, 302)},
        data=lambda w: {"reviewer": w.cast.unassigned_reviewer.pk, "role": "member"},
    ),
    Case(
        "reviews:record_result",
        "evaluation",
        lambda w: reverse("reviews:record_result", args=[w.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["evaluation"], {REVIEWER, BELOW, LEAD}, 302)},
        data=result_data,
    ),
    Case(
        "reviews:record_finding",
        "evaluation",
        lambda w: reverse("reviews:record_finding", args=[w.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["evaluation"], {REVIEWER, BELOW, LEAD}, 302)},
        data=finding_data,
    ),
    Case(
        "reviews:evidence",
        "SECRET finding",
        lambda w: reverse("reviews:evidence", args=[w.subs["evaluation"].pk, w.secret_finding.pk]),
        # BELOW is on the review but cleared only to CUI: the finding does not exist for them.
        {"GET": page(set(), {REVIEWER, LEAD, ADMIN}), "POST": NOT_ALLOWED},
    ),
    Case(
        "reviews:propose_flag",
        "evaluation",
        lambda w: reverse("reviews:propose_flag", args=[w.subs["evaluation"].pk]),
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["evaluation"], {LEAD}, 302)},
        data=lambda w: {"rationale": "Uplift.", "partner_summary": "Flagged."},
    ),
    Case(
        "reviews:concur",
        "proposed",
        lambda w: reverse("reviews:concur", args=[w.subs["proposed"].pk]),
        # The proposer cannot concur with themself: the second person must be another reviewer.
        {"GET": NOT_ALLOWED, "POST": page(VISIBLE["proposed"], {REVIEWER, BELOW}, 302)},
    ),
    Case(
        "partners:deliveries",
        "",
        lambda w: reverse("partners:deliveries"),
        {"GET": only({ADMIN}), "POST": NOT_ALLOWED},
    ),
    Case(
        "partners:redeliver",
        "",
        lambda w: reverse("partners:redeliver", args=[w.delivery.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
    ),
    Case(
        "partners:demo_inbox",
        "",
        lambda w: reverse("partners:demo_inbox"),
        {"GET": only({ADMIN, PARTNER}), "POST": NOT_ALLOWED},
    ),
    Case(
        "partners:demo_receiver",
        "unsigned body",
        lambda w: reverse("partners:demo_receiver", args=[w.trusted_partner.pk]),
        # The partner's endpoint: no session, signature checked; an unsigned body is refused.
        {"GET": everyone(405), "POST": everyone(400)},
        data=lambda w: {"type": "forged"},
    ),
    *[
        Case(
            f"dashboard:{name}",
            "",
            (lambda n: lambda w: reverse(f"dashboard:{n}"))(name),
            {
                "GET": only({ADMIN}),
                "POST": NOT_ALLOWED,
            },
        )
        for name in (
            "index",
            "breaches",
            "reports",
            "export_submissions",
            "export_breaches",
            "export_determinations",
        )
    ],
    Case(
        "dashboard:export_start",
        "",
        lambda w: reverse("dashboard:export_start"),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
        data=lambda w: {"export": "breaches"},
    ),
    *[
        Case(
            f"dashboard:{name}",
            "the administrator's own export",
            (lambda n: lambda w: reverse(f"dashboard:{n}", args=[w.export.pk]))(name),
            {"GET": only({ADMIN}), "POST": NOT_ALLOWED},
        )
        for name in ("export", "export_download")
    ],
    Case(
        "dashboard:breach_ack",
        "",
        lambda w: reverse("dashboard:breach_ack", args=[w.breach.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
        data=lambda w: {"note": "Seen."},
    ),
    Case(
        "dashboard:calendar",
        "the developer's private link",
        lambda w: reverse("dashboard:calendar", args=[w.calendar_token]),
        # The link is the credential: whoever holds it reads that person's deadlines.
        {"GET": everyone(200), "POST": everyone(405)},
    ),
    Case(
        "dashboard:calendar",
        "a guessed link",
        lambda w: reverse("dashboard:calendar", args=["guess" * 8]),
        {"GET": everyone(404), "POST": everyone(405)},
    ),
    Case("register:page", "", lambda w: reverse("register:page"), {"GET": everyone(200), "POST": everyone(405)}),
    Case("register:json", "", lambda w: reverse("register:json"), {"GET": everyone(200), "POST": everyone(405)}),
    Case(
        "profile",
        "",
        lambda w: reverse("profile"),
        {"GET": page(SIGNED_IN, SIGNED_IN), "POST": page(SIGNED_IN, SIGNED_IN, 302)},
        data=lambda w: {"action": "calendar_revoke"},
    ),
    Case(
        "two_factor_setup",
        "a wrong code",
        lambda w: reverse("two_factor_setup"),
        {"GET": page(SIGNED_IN, SIGNED_IN), "POST": page(SIGNED_IN, SIGNED_IN, 400)},
        data=lambda w: {"token": "000000"},
    ),
    Case(
        "two_factor_verify",
        "a wrong code",
        lambda w: reverse("two_factor_verify"),
        # Office accounts have an app (a wrong code is refused); others are sent to set one up.
        {"GET": only(OFFICE, 200, denied=302), "POST": only(OFFICE, 400, denied=302)},
        data=lambda w: {"token": "000000"},
    ),
    Case(
        "exercises:list",
        "",
        lambda w: reverse("exercises:list"),
        {"GET": only({ADMIN}), "POST": NOT_ALLOWED},
    ),
    Case(
        "exercises:start",
        "routine review",
        lambda w: reverse("exercises:start"),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN})},
        data=lambda w: {"scenario": "routine-review", "speed": "1440"},
    ),
    Case(
        "exercises:inbox",
        "",
        lambda w: reverse("exercises:inbox"),
        {"GET": only({PLAYER}), "POST": NOT_ALLOWED},
    ),
    *[
        Case(
            f"exercises:{name}",
            "",
            (lambda n: lambda w: reverse(f"exercises:{n}", args=[w.exercise.pk]))(name),
            {
                "GET": only({ADMIN}),
                "POST": NOT_ALLOWED,
            },
        )
        for name in ("console", "report", "report_json", "report_pdf")
    ],
    Case(
        "exercises:clock",
        "start",
        lambda w: reverse("exercises:clock", args=[w.exercise.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
        data=lambda w: {"action": "start"},
    ),
    Case(
        "exercises:fire",
        "inject 1",
        lambda w: reverse("exercises:fire", args=[w.exercise.pk, w.inject.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
    ),
    Case(
        "exercises:observe",
        "",
        lambda w: reverse("exercises:observe", args=[w.exercise.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
        data=lambda w: {"objective": w.objective.pk, "text": "Seen.", "met": "yes"},
    ),
    Case(
        "exercises:improve",
        "",
        lambda w: reverse("exercises:improve", args=[w.exercise.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN}, 302)},
        data=lambda w: {"issue": "I", "corrective_action": "A", "owner": "O", "due_on": "2027-01-01"},
    ),
    Case(
        "exercises:player_password",
        "the player",
        lambda w: reverse("exercises:player_password", args=[w.exercise.pk, w.player.pk]),
        {"GET": NOT_ALLOWED, "POST": only({ADMIN})},
    ),
    Case("healthz", "", lambda w: reverse("healthz"), {"GET": everyone(200), "POST": everyone(405)}),
    Case("api-schema", "", lambda w: reverse("api-schema"), {"GET": everyone(200), "POST": everyone(405)}),
    Case("api-docs", "", lambda w: reverse("api-docs"), {"GET": everyone(200), "POST": everyone(405)}),
    Case(
        "api/^v1/",
        "unknown API path",
        lambda w: "/api/v1/launch-codes/",
        {"GET": everyone(404), "POST": everyone(404)},
    ),
]


# --- the API ------------------------------------------------------------------------------------

V1 = "/api/v1"


def admin_only(ok=200):
    return {ANON: 401} | {r: ok if r == ADMIN else 403 for r in SIGNED_IN}


OFFICE_ON_IT = {REVIEWER, BELOW, LEAD, ADMIN}


def office_work(source, allowed, ok=200):
    """The office's own records of a review: the developer may see the submission, not these."""
    return api(VISIBLE[source], allowed, ok) | ({DEV: 403} if DEV in VISIBLE[source] and DEV not in allowed else {})


API_CASES = [
    Case("agreements_list", "", lambda w: f"{V1}/agreements/", {"GET": api(SIGNED_IN, SIGNED_IN)}),
    Case(
        "agreements_retrieve",
        "Lab Alpha's",
        lambda w: f"{V1}/agreements/{w.agreement.pk}/",
        {"GET": api(set(), OFFICE | {DEV})},
    ),
    Case(
        "agreements_status_create",
        "Lab Alpha's",
        lambda w: f"{V1}/agreements/{w.agreement.pk}/status/",
        {"POST": api(OFFICE | {DEV}, {ADMIN})},
        data=lambda w: {"action": "suspend", "note": "Matrix."},
    ),
    Case(
        "agreements_window_create",
        "Lab Alpha's",
        lambda w: f"{V1}/agreements/{w.agreement.pk}/window/",
        {"POST": api(OFFICE | {DEV}, {ADMIN})},
        data=lambda w: {"review_window_days": 21},
    ),
    Case("deliveries_list", "", lambda w: f"{V1}/deliveries/", {"GET": admin_only()}),
    Case("deliveries_retrieve", "", lambda w: f"{V1}/deliveries/{w.delivery.pk}/", {"GET": admin_only()}),
    Case(
        "deliveries_redeliver_create",
        "",
        lambda w: f"{V1}/deliveries/{w.delivery.pk}/redeliver/",
        {"POST": admin_only()},
    ),
    Case("organizations_list", "", lambda w: f"{V1}/organizations/", {"GET": api(SIGNED_IN, SIGNED_IN)}),
    Case(
        "organizations_retrieve",
        "Lab Alpha",
        lambda w: f"{V1}/organizations/{w.cast.lab.pk}/",
        {"GET": api(set(), OFFICE | {DEV})},
    ),
    Case("sla_breaches_list", "", lambda w: f"{V1}/sla-breaches/", {"GET": admin_only()}),
    Case("sla_breaches_retrieve", "", lambda w: f"{V1}/sla-breaches/{w.breach.pk}/", {"GET": admin_only()}),
    Case(
        "sla_breaches_acknowledge_create",
        "",
        lambda w: f"{V1}/sla-breaches/{w.breach.pk}/acknowledge/",
        {"POST": admin_only()},
        data=lambda w: {"note": "Seen."},
    ),
    Case(
        "submissions_list",
        "",
        lambda w: f"{V1}/submissions/",
        {"GET": api(SIGNED_IN, SIGNED_IN), "POST": api(SIGNED_IN, {DEV, OTHER_DEV, PLAYER}, 201)},
        data=draft_fields,
        operations={"POST": "submissions_create"},
    ),
    *[
        Case(
            "submissions_retrieve",
            name,
            (lambda n: lambda w: f"{V1}/submissions/{w.subs[n].pk}/")(name),
            {"GET": api(VISIBLE[name], VISIBLE[name])},
        )
        for name in ("draft", "intake", "evaluation", "cleared")
    ],
    Case(
        "submissions_partial_update",
        "draft",
        lambda w: f"{V1}/submissions/{w.subs['draft'].pk}/",
        {"PATCH": api(VISIBLE["draft"], {DEV})},
        data=lambda w: {"model_version": "1.1"},
    ),
    Case(
        "submissions_partial_update",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/",
        # Handed over: no longer a draft, so nobody edits it (409 for the developer who can see it).
        {"PATCH": api(VISIBLE["evaluation"]) | {DEV: 409}},
        data=lambda w: {"model_version": "1.1"},
    ),
    Case(
        "submissions_artifacts_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/artifacts/",
        # Handed over and under evaluation: artifacts are read, no longer added.
        {"GET": api(VISIBLE["evaluation"], VISIBLE["evaluation"]), "POST": api(VISIBLE["evaluation"])},
        data=model_card,
        fmt="multipart",
        operations={"POST": "submissions_artifacts_create"},
    ),
    Case(
        "submissions_artifacts_create",
        "draft",
        lambda w: f"{V1}/submissions/{w.subs['draft'].pk}/artifacts/",
        {"POST": api(VISIBLE["draft"], {DEV}, 201)},
        data=model_card,
        fmt="multipart",
    ),
    Case(
        "submissions_assignments_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/assignments/",
        {
            "GET": office_work("evaluation", OFFICE_ON_IT),
            "POST": api(VISIBLE["evaluation"], {LEAD, ADMIN}, 201),
        },
        data=lambda w: {"reviewer": w.cast.unassigned_reviewer.username, "role": "member"},
        operations={"POST": "submissions_assignments_create"},
    ),
    Case(
        "submissions_clock_retrieve",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/clock/",
        {"GET": api(VISIBLE["evaluation"], VISIBLE["evaluation"])},
    ),
    Case(
        "submissions_determination_retrieve",
        "proposed",
        lambda w: f"{V1}/submissions/{w.subs['proposed'].pk}/determination/",
        # Only a proposal exists: to the developer there is no determination yet.
        {"GET": api(set(), OFFICE_ON_IT)},
    ),
    Case(
        "submissions_determination_concur_create",
        "proposed",
        lambda w: f"{V1}/submissions/{w.subs['proposed'].pk}/determination/concur/",
        {"POST": api(VISIBLE["proposed"], {REVIEWER, BELOW})},
    ),
    Case(
        "submissions_determination_propose_flag_create",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/determination/propose-flag/",
        {"POST": api(VISIBLE["evaluation"], {LEAD}, 201)},
        data=lambda w: {"rationale": "Uplift.", "partner_summary": "Flagged."},
    ),
    Case(
        "submissions_findings_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/findings/",
        {
            "GET": office_work("evaluation", OFFICE_ON_IT),
            "POST": api(VISIBLE["evaluation"], {REVIEWER, BELOW, LEAD}, 201),
        },
        data=lambda w: (
            finding_data(w) | {"domain": EvaluationDomain.objects.first().slug, "classification": "UNCLASSIFIED"}
        ),
        operations={"POST": "submissions_findings_create"},
    ),
    Case(
        "submissions_history_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/history/",
        {"GET": api(VISIBLE["evaluation"], VISIBLE["evaluation"])},
    ),
    Case(
        "submissions_results_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/results/",
        {
            "GET": office_work("evaluation", OFFICE_ON_IT),
            "POST": api(VISIBLE["evaluation"], {REVIEWER, BELOW, LEAD}, 201),
        },
        data=lambda w: result_data(w) | {"domain": EvaluationDomain.objects.first().slug},
        operations={"POST": "submissions_results_create"},
    ),
    Case(
        "submissions_results_inspect_create",
        "not an Inspect log",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/results/inspect/",
        # Those who may record results are told the file is not a log; the rest are refused first.
        {"POST": api(VISIBLE["evaluation"], {REVIEWER, BELOW, LEAD}, 400)},
        data=lambda w: {"log": SimpleUploadedFile("run.eval", b"not a log", content_type="application/zip")},
        fmt="multipart",
    ),
    Case(
        "submissions_transitions_list",
        "evaluation",
        lambda w: f"{V1}/submissions/{w.subs['evaluation'].pk}/transitions/",
        {"GET": api(VISIBLE["evaluation"], VISIBLE["evaluation"])},
    ),
    *[
        Case(
            "submissions_transitions_create",
            name,
            (lambda n: lambda w: f"{V1}/submissions/{w.subs[TRANSITION_SOURCE[n]].pk}/transitions/{n}/")(name),
            {"POST": api(VISIBLE[source], allowed)},
            data=(lambda n: lambda w: api_transition_data(n, w))(name),
        )
        for name, (source, allowed) in TRANSITIONS.items()
    ],
    Case("trusted_partners_list", "", lambda w: f"{V1}/trusted-partners/", {"GET": admin_only()}),
    Case(
        "trusted_partners_create",
        "",
        lambda w: f"{V1}/trusted-partners/",
        {"POST": admin_only(201)},
        data=lambda w: {
            "organization": w.unsubscribed_partner_org.slug,
            "webhook_url": "https://office.example/hook",
            "event_types": ["submission.cleared"],
        },
    ),
    Case(
        "trusted_partners_retrieve",
        "",
        lambda w: f"{V1}/trusted-partners/{w.trusted_partner.pk}/",
        {"GET": admin_only(), "PATCH": admin_only()},
        data=lambda w: {"active": False},
        operations={"PATCH": "trusted_partners_partial_update"},
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
    covered = {(c.operation(m), m) for c in API_CASES for m in c.expect}
    assert set(operations.items()) - covered == set(), "API operations with no case in the permission matrix"
    assert covered - set(operations.items()) == set(), "cases for operations that no longer exist"


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


def test_the_admin_site_is_for_superusers_only(world, client):
    """Every admin page refuses every role the portal gives (none of them is staff)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        urls += [reverse("admin:{}_{}_changelist".format(*info)), reverse("admin:{}_{}_add".format(*info))]
    for role in ROLES:
        client.logout()
        if role != ANON:
            client.force_login(person(world, role))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (role, url)


# --- the matrix ---------------------------------------------------------------------------------


def outcome(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return response.status_code


def person(world, role):
    return world.player if role == PLAYER else getattr(world.cast, role)


def client_as(world, role, for_api):
    if for_api:
        client = APIClient()
        if role != ANON:
            _, key = api_token_issue(user=person(world, role), name="matrix")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client
    client = Client()
    if role != ANON:
        client.force_login(person(world, role))
    return client


def run_cases(world, role, cases):
    wrong = []
    for case in cases:
        for method, expected in case.expect.items():
            url = case.url(world)
            with transaction.atomic():
                # A fresh client each time: a case may sign out, or spend a token.
                client = client_as(world, role, case.api)
                data = case.data(world) if case.data else {}
                if method == "GET":
                    response = client.get(url)
                elif case.api:
                    response = getattr(client, method.lower())(url, data, format=case.fmt)
                else:
                    response = getattr(client, method.lower())(url, data)
                transaction.set_rollback(True)
            got = outcome(response)
            if role not in CLEARED_FOR_SECRET and not response.streaming and b"SECRET-FINDING" in response.content:
                wrong.append(f"{method} {case.key} [{case.label}]: shows the SECRET finding")
            if got != expected[role]:
                body = b"" if response.streaming else response.content[:160]
                wrong.append(f"{method} {case.key} [{case.label}]: expected {expected[role]}, got {got} {body!r}")
    return wrong


@pytest.fixture
def world(cast, settings):
    settings.DEMO_WEBHOOK_RECEIVER = True  # so the demo inbox's own rules are what is tested
    return build_world(cast)


@pytest.mark.parametrize("role", ROLES)
def test_pages(world, role):
    wrong = run_cases(world, role, PAGE_CASES)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_api(world, role):
    wrong = run_cases(world, role, API_CASES)
    assert not wrong, "\n".join(wrong)


def test_each_role_of_the_issue_is_in_the_matrix(world):
    """The roles are real: the world's people hold what their names say."""
    c = world.cast
    ev = world.subs["evaluation"]
    assert c.low_reviewer.clearance < world.secret_finding.classification <= c.reviewer.clearance
    assert ev.assignments.filter(reviewer=c.low_reviewer).exists()
    assert not ev.assignments.filter(reviewer=c.unassigned_reviewer).exists()
    assert ev.assignments.filter(reviewer=c.lead, role="lead").exists()
    assert Determination.objects.filter(submission=world.subs["proposed"], concurred_by__isnull=True).exists()


def test_the_secret_title_check_can_fail(world, client):
    """The title the matrix looks for is really shown to those cleared for it."""
    client.force_login(world.cast.reviewer)
    page = client.get(reverse("submissions:detail", args=[world.subs["evaluation"].pk]))
    assert b"SECRET-FINDING" in page.content
