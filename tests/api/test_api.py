"""The REST API: tokens, the one error shape, every endpoint by role, and a full journey."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from api.services import api_token_issue, api_token_revoke
from partners import services as partner_services
from partners.models import Delivery, PartnerEventType, TrustedPartner
from reviews.models import EvaluationDomain
from submissions.models import ModelSubmission, SlaBreach, SlaKind, State
from tests.factories import OrganizationFactory, inspect_logs_of, reference_version, serious_finding

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    _, key = api_token_issue(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def documented_answers() -> dict[str, dict]:
    """Each operation of the served schema ("POST /api/v1/...") and the answers it documents."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    methods = ("get", "put", "post", "patch", "delete")
    return {f"{m.upper()} {path}": item[m]["responses"] for path, item in paths.items() for m in methods if m in item}


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


class TestTokens:
    def test_no_credentials_is_401_in_the_error_shape(self, cast):
        assert_error(APIClient().get(f"{V1}/submissions/"), 401, "not_authenticated")

    def test_token_works_until_revoked(self, cast):
        token, key = api_token_issue(user=cast.developer, name="pipeline")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert client.get(f"{V1}/submissions/").status_code == 200
        api_token_revoke(user=cast.developer, token_id=token.pk)
        assert_error(client.get(f"{V1}/submissions/"), 401)

    def test_only_a_hash_is_stored(self, cast):
        token, key = api_token_issue(user=cast.developer, name="pipeline")
        token.refresh_from_db()
        assert key not in token.key_hash and token.prefix == key[:12]

    def test_profile_page_shows_a_new_token_once(self, cast, client):
        client.force_login(cast.developer)
        import re

        page = client.post(reverse("profile"), {"action": "token_issue", "name": "release pipeline"}).content.decode()
        key = re.search(r'id="api-key" class="wide" readonly value="(caisi_[^"]+)"', page).group(1)
        assert "shown once" in page
        page = client.get(reverse("profile")).content.decode()
        assert "release pipeline" in page and key[:12] in page and key not in page

    def test_session_works_for_the_pages_own_calls(self, cast, client):
        client.force_login(cast.developer)
        assert client.get(f"{V1}/submissions/").status_code == 200


class TestErrorShape:
    def test_400_names_the_fields(self, cast):
        error = assert_error(
            client_for(cast.developer).post(f"{V1}/submissions/", {"model_name": ""}, format="json"), 400
        )
        assert "model_name" in error["details"] and "release_channel" in error["details"]

    def test_403_for_a_role_that_may_not(self, cast):
        assert_error(client_for(cast.reviewer).post(f"{V1}/submissions/", {}, format="json"), 403, "forbidden")

    def test_404_for_another_labs_submission(self, cast):
        s = cast.submission(State.INTAKE)
        for path in ("", "history/", "transitions/", "clock/", "artifacts/"):
            assert_error(client_for(cast.other_developer).get(f"{V1}/submissions/{s.pk}/{path}"), 404, "not_found")

    def test_409_illegal_transition_carries_the_state(self, cast):
        s = cast.submission(State.DRAFT)
        error = assert_error(
            client_for(cast.developer).post(f"{V1}/submissions/{s.pk}/transitions/record_release/", {}, format="json"),
            409,
        )
        assert error["details"]["state"] == "draft"

    def test_409_stale_expected_state(self, cast):
        s = cast.submission(State.INTAKE)
        error = assert_error(
            client_for(cast.developer).post(
                f"{V1}/submissions/{s.pk}/transitions/withdraw/", {"expected_state": "evaluation"}, format="json"
            ),
            409,
            "conflict",
        )
        assert error["details"]["state"] == "intake"

    def test_409_guard_explains_itself(self, cast):
        from tests.factories import draft

        s = draft(cast.holdout_developer)
        error = assert_error(
            client_for(cast.holdout_developer).post(f"{V1}/submissions/{s.pk}/transitions/submit/", {}, format="json"),
            409,
            "transition_not_allowed",
        )
        assert "agreement is negotiating" in error["message"]

    def test_413_oversized_artifact(self, cast, settings):
        s = cast.submission()
        settings.ARTIFACT_MAX_BYTES = 10
        response = client_for(cast.developer).post(
            f"{V1}/submissions/{s.pk}/artifacts/",
            {"kind": "other", "file": SimpleUploadedFile("big.txt", b"x" * 100)},
            format="multipart",
        )
        assert_error(response, 413, "too_large")

    def test_411_for_a_body_without_its_length_whatever_the_operation(self, cast):
        """The body-size guard answers before any view, so an operation that reads no body answers
        411 too, and the schema says so on every operation a client may send a body to."""
        response = client_for(cast.admin).generic(
            "POST", f"{V1}/deliveries/1/redeliver/", b"{}", CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked"
        )
        assert_error(response, 411, "length_required")
        for label, responses in documented_answers().items():
            if label.split()[0] in ("POST", "PUT", "PATCH"):
                assert "411" in responses, label

    def test_414_from_the_server_is_in_the_schema_of_every_operation(self):
        """gunicorn refuses a request line (path and query) longer than it reads (4094 bytes) with
        414 before the portal sees it: any operation can get it (a long list of organizations for
        the conflict check, a long model name for the release gate), and the schema says so."""
        answers = documented_answers()
        missing = sorted(label for label, responses in answers.items() if "414" not in responses)
        assert missing == [], missing
        assert "text/html" in answers["GET /api/v1/release-gate/"]["414"]["content"]

    def test_400_for_a_delivery_that_cannot_be_sent_again(self, cast):
        """Redelivering a delivery that is still being tried is refused with the reason; the
        administrators' operation documents the 400, as the partner's does."""
        cast.submission(State.CLEARED)
        pending = Delivery.objects.filter(status=Delivery.Status.PENDING).first()
        assert pending is not None
        error = assert_error(client_for(cast.admin).post(f"{V1}/deliveries/{pending.pk}/redeliver/"), 400)
        assert "still" in error["message"]
        assert "400" in documented_answers()["POST /api/v1/deliveries/{id}/redeliver/"]

    def test_429_when_throttled(self, cast, settings):
        from django.core.cache import cache

        rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/min", "ip": "1000/min"}}
        settings.REST_FRAMEWORK = rest
        from rest_framework.settings import api_settings
        from rest_framework.throttling import SimpleRateThrottle

        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        cache.clear()
        client = client_for(cast.developer)
        try:
            for _ in range(3):
                assert client.get(f"{V1}/submissions/").status_code == 200
            response = client.get(f"{V1}/submissions/")
            assert_error(response, 429, "throttled")
            assert response["Retry-After"]
            # Another token has its own allowance.
            assert client_for(cast.developer).get(f"{V1}/submissions/").status_code == 200
        finally:
            settings.REST_FRAMEWORK = {**rest, "DEFAULT_THROTTLE_RATES": {"token": "600/min", "ip": "1200/min"}}
            api_settings.reload()
            SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    def test_unknown_transition_is_404(self, cast):
        s = cast.submission()
        assert_error(client_for(cast.developer).post(f"{V1}/submissions/{s.pk}/transitions/teleport/", {}), 404)


# --- every endpoint by role ---------------------------------------------------------------------

ROLES = [
    "developer",
    "other_developer",
    "reviewer",
    "unassigned_reviewer",
    "low_reviewer",
    "lead",
    "admin",
    "partner",
    "trainee",
]
OFFICE_ON_IT = {"reviewer", "low_reviewer", "lead", "admin"}


def expected_read(endpoint, who):
    """The status each role gets reading each endpoint of a Lab Alpha submission in evaluation."""
    if who not in {"developer", *OFFICE_ON_IT}:
        return 404  # cannot know the submission exists
    if endpoint in ("", "history/", "transitions/", "clock/", "artifacts/"):
        return 200
    if endpoint == "determination/":
        return 200 if who in OFFICE_ON_IT else 404  # only a proposal exists: nothing issued to show
    return 200 if who in OFFICE_ON_IT else 403  # the office's own work: assignments, results, findings


@pytest.fixture
def evaluation(cast):
    from reviews import services as review_services

    s = cast.submission(State.EVALUATION)
    review_services.determination_propose_flag(
        submission=s, actor=cast.lead, rationale="Proposed.", partner_summary="Flagged: see the office."
    )
    return s


@pytest.mark.parametrize(
    "endpoint",
    ["", "history/", "transitions/", "clock/", "artifacts/", "assignments/", "results/", "findings/", "determination/"],
)
@pytest.mark.parametrize("who", ROLES)
def test_submission_endpoints_by_role(cast, evaluation, endpoint, who):
    response = client_for(getattr(cast, who)).get(f"{V1}/submissions/{evaluation.pk}/{endpoint}")
    assert response.status_code == expected_read(endpoint, who), (who, endpoint, response.content[:200])


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("sla-breaches/", {"admin"}),
        ("trusted-partners/", {"admin"}),
        ("deliveries/", {"admin"}),
        ("submissions/", set(ROLES)),
        ("organizations/", set(ROLES)),
        ("agreements/", set(ROLES)),
    ],
)
@pytest.mark.parametrize("who", ROLES)
def test_collection_endpoints_by_role(cast, path, allowed, who):
    response = client_for(getattr(cast, who)).get(f"{V1}/{path}")
    assert response.status_code == (200 if who in allowed else 403), (who, path)


@pytest.mark.parametrize("who", ROLES)
def test_list_shows_only_what_each_role_may_see(cast, who):
    s = cast.submission(State.CLEARED)
    ids = {row["id"] for row in client_for(getattr(cast, who)).get(f"{V1}/submissions/").json()["results"]}
    visible = set(ModelSubmission.objects.visible_to(getattr(cast, who)).values_list("pk", flat=True))
    assert ids == visible
    assert (s.pk in ids) == (who in {"developer", "admin", "lead", "reviewer", "low_reviewer", "partner"})


def test_partner_reads_only_public_fields(cast):
    s = cast.submission(State.CLEARED, capabilities="SECRET-CAPABILITY")
    body = client_for(cast.partner).get(f"{V1}/submissions/{s.pk}/").json()
    assert set(body) == {"id", "organization", "model_name", "model_version", "release_channel", "state", "released_at"}
    summary = client_for(cast.partner).get(f"{V1}/submissions/{s.pk}/determination/").json()
    # The allied institutes that contributed are public (partner notices say a review was joint).
    assert set(summary) == {"outcome", "partner_summary", "release_conditions", "issued_at", "contributing_institutes"}
    assert summary["contributing_institutes"] == []


def test_findings_follow_clearance(cast, evaluation):
    from accounts.models import Clearance

    for level in Clearance:
        serious_finding(evaluation, cast.reviewer, classification=level)
    seen = {
        who: sorted(
            f["classification"]
            for f in client_for(getattr(cast, who)).get(f"{V1}/submissions/{evaluation.pk}/findings/").json()
        )
        for who in ("reviewer", "low_reviewer", "admin")
    }
    assert seen == {
        "reviewer": ["CUI", "SECRET", "UNCLASSIFIED"],
        "low_reviewer": ["CUI", "UNCLASSIFIED"],
        "admin": ["CUI", "SECRET", "UNCLASSIFIED"],
    }


def test_writes_are_refused_for_roles_that_may_not(cast, evaluation):
    base = f"{V1}/submissions/{evaluation.pk}"
    cyber = {"version": reference_version(EvaluationDomain.objects.get(slug="cyber-offense")).pk, "score": "0.1"}
    assert_error(client_for(cast.developer).post(f"{base}/results/", cyber, format="json"), 403)
    assert_error(client_for(cast.unassigned_reviewer).post(f"{base}/results/", cyber, format="json"), 404)
    assert_error(client_for(cast.partner).post(f"{base}/transitions/clear/", {"rationale": "x"}, format="json"), 404)
    assert_error(client_for(cast.reviewer).post(f"{base}/transitions/clear/", {"rationale": "x"}, format="json"), 403)
    assert_error(
        client_for(cast.developer).post(f"{base}/assignments/", {"reviewer": "reviewer.idle"}, format="json"), 403
    )
    from submissions.models import Agreement

    agreement = Agreement.objects.get(organization=cast.lab)
    assert_error(
        client_for(cast.lead).post(f"{V1}/agreements/{agreement.pk}/status/", {"action": "suspend"}, format="json"), 403
    )


def test_conflicted_assignment_refused_with_reason(cast):
    from reviews import services as review_services

    s = cast.submission(State.INTAKE)
    review_services.conflict_declare(reviewer=cast.unassigned_reviewer, organization=cast.lab)
    error = assert_error(
        client_for(cast.admin).post(
            f"{V1}/submissions/{s.pk}/assignments/", {"reviewer": "reviewer.idle"}, format="json"
        ),
        400,
    )
    assert "conflict of interest" in error["message"] and "reviewer" in error["details"]


def test_transitions_lists_what_the_caller_may_take_now(cast):
    s = cast.submission(State.INTAKE)

    def names(who):
        return {t["name"] for t in client_for(getattr(cast, who)).get(f"{V1}/submissions/{s.pk}/transitions/").json()}

    assert names("developer") == {"withdraw"}
    assert names("admin") == {"accept", "request_information"}


def test_clock_explains_itself(cast):
    s = cast.submission(State.INFORMATION_REQUESTED)
    body = client_for(cast.developer).get(f"{V1}/submissions/{s.pk}/clock/").json()
    assert body["status"] == "paused" and len(body["pauses"]) == 1 and "paused since" in body["explanation"]


def test_admin_acknowledges_breach_and_manages_partners(cast, django_capture_on_commit_callbacks, monkeypatch):
    import datetime as dt

    s = cast.submission(State.INTAKE)
    breach = SlaBreach.objects.create(
        submission=s,
        kind=SlaKind.INTAKE_DECISION,
        due_at=s.submitted_at,
        detected_at=s.submitted_at + dt.timedelta(days=3),
    )
    admin = client_for(cast.admin)
    body = admin.post(f"{V1}/sla-breaches/{breach.pk}/acknowledge/", {"note": "Backlog."}, format="json").json()
    assert body["acknowledged_by"] == "admin" and body["acknowledgement_note"] == "Backlog."
    org = OrganizationFactory(name="New Partner", slug="new-partner", kind="trusted_partner")
    created = admin.post(
        f"{V1}/trusted-partners/",
        {
            "organization": "new-partner",
            "webhook_url": "https://93.184.216.34/hook",
            "event_types": ["submission.cleared"],
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["webhook_secret"].startswith("whsec_")
    assert TrustedPartner.objects.get(organization=org).event_types == ["submission.cleared"]
    bad = admin.post(f"{V1}/trusted-partners/", {"organization": "new-partner", "event_types": ["nope"]}, format="json")
    assert_error(bad, 400)


# --- Inspect logs ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def inspect_logs(tmp_path_factory):
    """Real Inspect logs, made by Inspect itself with a solver that needs no model."""
    pytest.importorskip("inspect_ai")
    return inspect_logs_of("cyber_uplift_probe", tmp_path_factory.mktemp("inspect"))


def probe_task_on_cyber(metric="accuracy", **levels):
    """The Inspect task the logs come from names the cyber reference version (in the catalog),
    with other policy levels when given (test set-up: the catalog's services audit real changes)."""
    version = reference_version(EvaluationDomain.objects.get(slug="cyber-offense"))
    version.inspect_tasks, version.metric = ["cyber_uplift_probe"], metric
    version.save()
    for level, threshold in levels.items():
        version.levels.filter(level=level).update(threshold=threshold)
    return version


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_inspect_log_becomes_the_result_of_the_tasks_version(cast, evaluation, inspect_logs, fmt):
    from pathlib import Path

    version = probe_task_on_cyber()
    path = Path(inspect_logs[fmt])
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"log": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == "cyber-offense" and body["version"] == version.pk and float(body["score"]) == 0.5
    # 0.5 is at the reference version's elevated line: reached, whatever the uploader thinks.
    assert body["outcome"] == "threshold_exceeded" and body["level"] == "elevated"
    assert "task cyber_uplift_probe" in body["summary"] and "2 samples" in body["summary"]
    assert "match/accuracy = 0.5" in body["summary"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.json", b'{"hello": "world"}', "not a readable Inspect evaluation log"),
        ("report.pdf", b"%PDF-1.4", "must end in .eval or .json"),
        ("garbage.eval", b"PK\x03\x04 not really a zip", "not a readable Inspect evaluation log"),
    ],
)
def test_not_an_inspect_log_changes_nothing(cast, evaluation, name, content, message):
    pytest.importorskip("inspect_ai")
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"log": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert message in assert_error(response, 400)["message"]
    assert not evaluation.results.exists()


def test_truncated_inspect_log_changes_nothing(cast, evaluation, inspect_logs):
    from pathlib import Path

    data = Path(inspect_logs["eval"]).read_bytes()
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"log": SimpleUploadedFile("cut.eval", data[: len(data) // 2])},
        format="multipart",
    )
    assert_error(response, 400)
    assert not evaluation.results.exists()


def test_unknown_metric_is_named(cast, evaluation, inspect_logs):
    from pathlib import Path

    probe_task_on_cyber(metric="nope/none")
    path = Path(inspect_logs["json"])
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"log": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    message = assert_error(response, 400)["message"]
    assert "no metric 'nope/none'" in message and "It has: match/accuracy, match/stderr" in message
    assert not evaluation.results.exists()


def test_unknown_task_is_refused_naming_it(cast, evaluation, inspect_logs):
    """A log whose task no planned version takes is refused, the task named; a threshold sent
    with it is refused too (the levels are the catalog's)."""
    from pathlib import Path

    path = Path(inspect_logs["json"])
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"log": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert "takes the Inspect task 'cyber_uplift_probe'" in assert_error(response, 400)["message"]
    probe_task_on_cyber()
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/inspect/",
        {"threshold": "0.9", "log": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert "Thresholds are not typed" in str(assert_error(response, 400))
    assert not evaluation.results.exists()


# --- a script carries a submission from draft to cleared ----------------------------------------------


def test_end_to_end_by_api_alone(cast, httpserver, inspect_logs, django_capture_on_commit_callbacks, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(partner_services, "_enqueue", lambda ids: len(ids))  # delivered below, synchronously
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    org = OrganizationFactory(name="Watcher", slug="watcher", kind="trusted_partner")
    partner = TrustedPartner.objects.create(
        organization=org, webhook_url=httpserver.url_for("/hook"), event_types=[PartnerEventType.CLEARED]
    )
    dev, admin, lead, reviewer = (client_for(u) for u in (cast.developer, cast.admin, cast.lead, cast.reviewer))

    draft = dev.post(
        f"{V1}/submissions/",
        {
            "model_name": "Pipeline-Model",
            "model_version": "7",
            "release_channel": "api",
            "planned_release_date": "2027-03-01",
            "capabilities": "Coding.",
            "intended_use": "API.",
            "evaluator_access": "Endpoint.",
        },
        format="json",
    )
    assert draft.status_code == 201, draft.content
    pk = draft.json()["id"]
    base = f"{V1}/submissions/{pk}"
    assert (
        dev.patch(f"{base}/", {"intended_use": "API and chat."}, format="json").json()["intended_use"]
        == "API and chat."
    )
    upload = dev.post(
        f"{base}/artifacts/",
        {"kind": "model_card", "file": SimpleUploadedFile("card.md", b"# card")},
        format="multipart",
    )
    assert upload.status_code == 201 and len(upload.json()["sha256"]) == 64
    assert dev.post(f"{base}/transitions/submit/", {}, format="json").json()["state"] == "intake"
    accepted = admin.post(
        f"{base}/transitions/accept/",
        {
            "checklist": {"cards_received": True, "access_confirmed": True, "release_plan_confirmed": True},
            "domains": ["cyber-offense", "chem-bio-uplift"],
        },
        format="json",
    )
    assert accepted.json()["state"] == "evaluation", accepted.content
    assert admin.post(f"{base}/assignments/", {"reviewer": "lead", "role": "lead"}, format="json").status_code == 201
    assert admin.post(f"{base}/assignments/", {"reviewer": "reviewer"}, format="json").status_code == 201
    log = Path(inspect_logs["eval"])
    probe_task_on_cyber(metric="match/accuracy", elevated="0.6", critical="0.9")
    assert (
        reviewer.post(
            f"{base}/results/inspect/",
            {"log": SimpleUploadedFile(log.name, log.read_bytes())},
            format="multipart",
        ).status_code
        == 201
    )
    assert (
        reviewer.post(
            f"{base}/results/",
            {"version": reference_version(EvaluationDomain.objects.get(slug="chem-bio-uplift")).pk, "score": "0.1"},
            format="json",
        ).status_code
        == 201
    )
    with django_capture_on_commit_callbacks(execute=True):
        cleared = lead.post(
            f"{base}/transitions/clear/",
            {"rationale": "Below thresholds.", "partner_summary": "Cleared for partners."},
            format="json",
        )
    assert cleared.json()["state"] == "cleared", cleared.content
    assert [e["action"] for e in dev.get(f"{base}/history/").json()][-3:] == ["submit", "accept", "clear"]
    assert dev.get(f"{base}/determination/").json()["partner_summary"] == "Cleared for partners."

    delivery = Delivery.objects.get(partner=partner)
    assert partner_services.delivery_attempt(delivery.pk) == "delivered"
    request, _ = httpserver.log[0]
    payload = Webhook(partner.webhook_secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert payload["type"] == "submission.cleared" and payload["data"]["model_name"] == "Pipeline-Model"


def test_schema_and_docs_are_served(cast, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/submissions/{id}/transitions/{name}/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content
    assert b"cdn" not in docs.content.lower()


def test_every_domain_slug_is_accepted_for_results(cast, evaluation):
    reviewer = client_for(cast.reviewer)
    for domain in EvaluationDomain.objects.all():
        r = reviewer.post(
            f"{V1}/submissions/{evaluation.pk}/results/",
            {"version": reference_version(domain).pk, "score": 0},
            format="json",
        )
        assert r.status_code == 201


@pytest.mark.parametrize(
    ("computed", "value"), [("threshold", "0.5"), ("outcome", "below_threshold"), ("level", "critical")]
)
def test_what_is_computed_is_refused_when_typed(cast, evaluation, computed, value):
    """A result's outcome, the level it reached and the line it is judged by come from the version's
    policy levels: one sent with a score is refused, never ignored, so nobody believes theirs was used."""
    domain = EvaluationDomain.objects.order_by("sort_order").first()
    response = client_for(cast.reviewer).post(
        f"{V1}/submissions/{evaluation.pk}/results/",
        {"version": reference_version(domain).pk, "score": "0.9", computed: value},
        format="json",
    )
    error = assert_error(response, 400)
    assert list(error["details"]) == [computed]
    assert "computed from the benchmark version's policy levels" in error["details"][computed][0]
    assert not evaluation.results.exists()


def test_justifications_are_keyed_as_the_schema_documents(cast):
    """A result's concern is keyed by its domain and its benchmark version (a domain may have several
    versions planned, each result its own concern): a client that keys its justifications as the
    schema documents proposes the clearance, with nothing left to justify."""
    from drf_spectacular.generators import SchemaGenerator

    from reviews import evidence
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer, score=0.9)
    results = list(s.results.select_related("domain"))
    assert len(results) >= 2 and all(r.outcome == "threshold_exceeded" for r in results)
    schema = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    documented = schema["ProposeClearRequest"]["properties"]["justifications"]["description"]
    assert "result-<domain slug>-<benchmark version id>" in documented, documented
    keyed = {f"result-{r.domain.slug}-{r.version_id}": "Within the lab's mitigations." for r in results}
    assert set(keyed) == {c.key for c in evidence.concerns(s)}
    body = {"rationale": "Mitigated.", "partner_summary": "Cleared.", "justifications": keyed}
    response = client_for(cast.lead).post(f"{V1}/submissions/{s.pk}/determination/propose-clear/", body, format="json")
    assert response.status_code == 201, response.content


def test_two_page_numbers_are_refused_not_guessed(cast):
    client = client_for(cast.admin)
    response = client.get(f"{V1}/agreements/?page=x&page=1")
    assert response.status_code == 400 and "one page number" in response.json()["error"]["message"]
    assert client.get(f"{V1}/agreements/?page=1").status_code == 200


@pytest.mark.parametrize("page_number", ["", "1.5", "x", "٣"])
def test_a_page_that_is_not_a_whole_number_is_refused(cast, page_number):
    response = client_for(cast.admin).get(f"{V1}/agreements/?page={page_number}")
    assert response.status_code == 400 and "whole number from 1" in response.json()["error"]["message"]


@pytest.mark.parametrize("page_number", ["0", "-1", "99"])
def test_a_page_out_of_range_is_not_found(cast, page_number):
    assert client_for(cast.admin).get(f"{V1}/agreements/?page={page_number}").status_code == 404


@pytest.mark.parametrize("accept", ["1JJWbW&m{Si", "text/html", "image/png;q=1", ";;;"])
def test_an_accept_header_naming_nothing_json_still_gets_json(cast, accept):
    """The API speaks JSON only: an unusable Accept header is disregarded (RFC 9110), never a 406
    that no operation documents."""
    s = cast.submission(State.CLEARED)
    api = client_for(cast.admin)
    found = api.get(f"{V1}/submissions/{s.pk}/", HTTP_ACCEPT=accept)
    assert found.status_code == 200 and found["Content-Type"].startswith("application/json")
    missing = api.patch(f"{V1}/submissions/2000000/", {}, format="json", HTTP_ACCEPT=accept)
    assert missing.status_code == 404 and missing.json()["error"]["code"]
