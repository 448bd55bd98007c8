"""The black-box assessment's findings (issue 14), each with the test that failed before its fix."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from api.services import api_token_issue
from reviews.models import EvaluationDomain
from submissions.models import State
from tests.factories import UserFactory, move, record_result

pytestmark = pytest.mark.django_db


# --- office data shown to people who may not act ------------------------------------------------

OFFICE_FORMS = ["reviews:assign", "reviews:record_result", "reviews:record_finding", "reviews:propose_flag"]


@pytest.mark.parametrize("url_name", OFFICE_FORMS)
@pytest.mark.parametrize("who", ["developer", "partner", "unassigned_reviewer"])
def test_a_refused_role_posting_an_office_form_gets_none_of_the_offices_data(cast, client, url_name, who):
    """`POST {}` used to redraw the form with every reviewer's name and the planned domains."""
    s = cast.submission(State.CLEARED if who == "partner" else State.EVALUATION)
    client.force_login(getattr(cast, who))
    response = client.post(reverse(url_name, args=[s.pk]), {})
    assert response.status_code in (403, 404)
    body = response.content.decode()
    others = {cast.reviewer, cast.low_reviewer, cast.unassigned_reviewer, cast.lead} - {getattr(cast, who)}
    for person in others:  # (the page's menu names the person signed in, and nobody else)
        assert person.get_full_name() not in body
    for domain in EvaluationDomain.objects.all():
        assert domain.name not in body


# --- intake input ------------------------------------------------------------------------------


def test_accepting_with_an_empty_plan_or_a_repeated_domain_is_a_clear_400(cast, client):
    s = cast.submission(State.INTAKE)
    _, key = api_token_issue(user=cast.admin, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    checklist = dict.fromkeys(("cards_received", "access_confirmed", "release_plan_confirmed"), True)
    url = f"/api/v1/submissions/{s.pk}/transitions/accept/"
    domain = EvaluationDomain.objects.first().slug
    repeated = api.post(url, {"checklist": checklist, "domains": [domain, domain]}, format="json")
    assert repeated.status_code == 400 and "planned once" in repeated.json()["error"]["message"]
    empty = api.post(url, {"checklist": checklist, "domains": []}, format="json")
    assert empty.status_code == 400 and "at least one evaluation domain" in empty.json()["error"]["message"]
    s.refresh_from_db()
    assert s.state == State.INTAKE
    # The page says the same, and keeps the submission in intake.
    client.force_login(cast.admin)
    form = {f"check_{k}": "on" for k in checklist} | {"expected_state": "intake"}
    page = client.post(reverse("submissions:action", args=[s.pk, "accept"]), form)
    assert page.status_code == 400 and b"at least one evaluation domain" in page.content


# --- developers see the office's decisions as the office's --------------------------------------


def test_developers_see_review_office_not_named_staff_in_history_and_timeline(cast, client):
    s = cast.submission(State.CLEARED)
    client.force_login(cast.developer)
    page = client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
    assert "Review office" in page
    for person in (cast.admin, cast.lead):
        assert person.get_full_name() not in page
    assert cast.developer.get_full_name() in page  # their own colleagues keep their names
    _, key = api_token_issue(user=cast.developer, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    actors = {e["actor"] for e in api.get(f"/api/v1/submissions/{s.pk}/history/").json()}
    assert actors <= {cast.developer.username, "Review office", None}
    assert "Review office" in actors
    # The office still sees who did what.
    client.force_login(cast.admin)
    assert cast.lead.get_full_name() in client.get(reverse("submissions:detail", args=[s.pk])).content.decode()


def test_the_developers_colleague_keeps_a_name(cast, client):
    colleague = UserFactory(username="dev2", role=Role.DEVELOPER_STAFF, organization=cast.lab)
    s = cast.submission(State.DRAFT)
    move(s, "submit", colleague)
    client.force_login(cast.developer)
    assert colleague.get_full_name() in client.get(reverse("submissions:detail", args=[s.pk])).content.decode()


# --- SSRF with the answer echoed back -------------------------------------------------------------

INTERNAL = [
    "http://127.0.0.1:6379/",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    # IPv6 forms that lead to an IPv4 address: IPv4-compatible, NAT64, 6to4, Teredo.
    "https://[::7f00:1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b:1::a00:5]/hook",
    "https://[2002:a00:5::1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",
]


@pytest.fixture
def no_private_destinations(settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []


def admin_api(cast):
    _, key = api_token_issue(user=cast.admin, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.mark.parametrize("url", INTERNAL)
def test_a_webhook_url_to_an_internal_address_is_refused_when_saved(cast, no_private_destinations, url):
    response = admin_api(cast).post(
        "/api/v1/trusted-partners/",
        {"organization": cast.partner_org.slug, "webhook_url": url, "event_types": ["submission.cleared"]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "webhook_url" in response.json()["error"]["details"]


def test_the_demo_receivers_allowance_covers_its_path_and_nothing_else_on_the_portal(settings):
    """The local demo may send to its own receiver, never to the portal's other pages."""
    from partners import destinations

    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1:8000/partners/demo-inbox/"]
    local = lambda host, port, **k: [(2, 1, 6, "", ("127.0.0.1", port))]  # noqa: E731
    destinations.check("http://127.0.0.1:8000/partners/demo-inbox/3/receive/", resolve=local)
    for elsewhere in (
        "http://127.0.0.1:8000/admin/",
        "http://127.0.0.1:8000/api/v1/submissions/",
        "http://127.0.0.1:8000/partners/demo-inbox/../../admin/",
        "http://127.0.0.1:8001/partners/demo-inbox/3/receive/",
        "http://127.0.0.1:8000/partners/demo-inboxes/",
    ):
        with pytest.raises(destinations.UnsafeDestination):
            destinations.check(elsewhere, resolve=local)


def test_plain_http_is_refused_outside_debug_and_a_public_https_endpoint_is_kept(cast, no_private_destinations):
    from partners import destinations

    def public(host, port, type=None):
        return [(2, 1, 6, "", ("93.184.216.34", port))]

    with pytest.raises(destinations.UnsafeDestination) as refused:
        destinations.check("http://partner.example/h", resolve=public)
    assert "https://" in refused.value.message
    where = destinations.check("https://partner.example/hooks/caisi", resolve=public)
    assert where.connect_url == "https://93.184.216.34:443/hooks/caisi"
    assert where.host_header == "partner.example" and where.tls_name == "partner.example"


def test_a_name_that_resolves_to_an_internal_address_is_refused_at_send_and_its_reply_never_stored(
    cast, httpserver, settings, monkeypatch
):
    """Saved while it pointed outside, the name now resolves inside (DNS rebinding): the send
    checks the address again and refuses, and no reply body is ever kept."""
    import socket

    from partners import services as partner_services
    from partners.models import Delivery, PartnerEventType, TrustedPartner

    httpserver.expect_request("/hook").respond_with_data("SECRET-INTERNAL-PAGE", status=500)
    partner = TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url=f"http://rebind.example:{httpserver.port}/hook",
        event_types=[PartnerEventType.CLEARED],
    )
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1", *a, **k) if host == "rebind.example" else real(host, *a, **k),
    )
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    settings.DEBUG = True  # plain http to the test receiver; the address check is what is tried
    s = cast.submission(State.CLEARED)
    delivery = Delivery.objects.get(event__submission=s, partner=partner)
    assert partner_services.delivery_attempt(delivery.pk) == Delivery.Status.DEAD
    delivery.refresh_from_db()
    assert "private, loopback or link-local" in delivery.last_error
    assert not httpserver.log  # nothing was sent inside
    # Allowed (as the local demo is), the receiver's 500 is recorded as a status code only.
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["rebind.example"]
    from django.utils import timezone

    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    partner_services.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    attempts = " ".join(a.error for a in delivery.attempt_log.all())
    assert "HTTP 500" in delivery.last_error and "SECRET-INTERNAL-PAGE" not in delivery.last_error + attempts
    assert delivery.attempt_log.filter(status_code=500).exists()


# --- control characters that break headers ----------------------------------------------------------

HEADER_BREAKERS = ["\r", "\n", "\r\nBcc: victim@example.com", "\x00", "\u2028", "\u2029", "\x85", "\x0b", "\t"]
ONE_LINE_FIELDS = ["model_name", "model_version"]


@pytest.mark.parametrize("char", HEADER_BREAKERS)
@pytest.mark.parametrize("field", ONE_LINE_FIELDS)
def test_one_line_fields_refuse_header_breaking_characters_on_pages_and_api(cast, client, char, field):
    good = {
        "model_name": "Fuzz",
        "model_version": "1.0",
        "release_channel": "api",
        "planned_release_date": "2027-03-01",
        "capabilities": "Reasoning.",
        "intended_use": "API customers.",
        "evaluator_access": "An endpoint.",
    }
    bad = good | {field: f"Fu{char}zz"}
    client.force_login(cast.developer)
    page = client.post(reverse("submissions:create"), bad)
    assert (
        page.status_code in (200, 400) and b"control characters" in page.content
    ) or b"Null characters" in page.content
    _, key = api_token_issue(user=cast.developer, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.post("/api/v1/submissions/", bad, format="json")
    assert response.status_code == 400, response.content
    from submissions.models import ModelSubmission

    assert not ModelSubmission.objects.filter(model_name__contains="Fu").exclude(model_name="Fuzz").exists()


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\u2028", "\x1b"])
def test_multi_line_text_refuses_control_characters_but_keeps_line_breaks(cast, client, char):
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.admin)
    url = reverse("submissions:action", args=[s.pk, "request_information"])
    refused = client.post(url, {"questions": f"Which{char}safeguards?", "expected_state": "evaluation"})
    assert refused.status_code == 400
    fine = client.post(
        url, {"questions": "Which safeguards?\r\nAnd which\tclassifiers?", "expected_state": "evaluation"}
    )
    assert fine.status_code == 302


@pytest.mark.parametrize("char", ["\r\n", "\x00", "\u2028"])
def test_review_text_refuses_control_characters(cast, char):
    from caisi_portal.errors import ValidationFailed
    from reviews import services as review_services

    s = cast.submission(State.EVALUATION)
    with pytest.raises(ValidationFailed):
        review_services.finding_record(
            submission=s,
            actor=cast.reviewer,
            domain=EvaluationDomain.objects.first(),
            severity="low",
            classification=0,
            title=f"Title{char}Bcc: x",
            description="Fine.",
        )
    with pytest.raises(ValidationFailed):
        api_token_issue(user=cast.developer, name=f"na{char}me")


def test_a_name_stored_before_the_fix_no_longer_silences_email(cast, mailoutbox=None):
    """A model name with CR/LF made every email about it fail (BadHeaderError) and dead-letter."""
    from django.core import mail

    from partners import services as partner_services
    from partners.models import Delivery
    from submissions.models import ModelSubmission

    s = cast.submission(State.EVALUATION)
    ModelSubmission.objects.filter(pk=s.pk).update(model_name="Evil\r\nBcc: victim@example.com")
    s.refresh_from_db()
    from tests.factories import move

    move(s, "request_information", cast.admin)
    deliveries = Delivery.objects.filter(event__submission=s, channel="email")
    assert deliveries.exists()
    for d in deliveries:
        assert partner_services.delivery_attempt(d.pk) == Delivery.Status.DELIVERED
    assert all("\n" not in m.subject and "\r" not in m.subject for m in mail.outbox)
    assert all("victim@example.com" not in m.recipients() for m in mail.outbox)


# --- oversized bodies ------------------------------------------------------------------------------


class Exploding:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


@pytest.mark.parametrize("path", ["/submissions/1/artifacts/", "/api/v1/submissions/1/artifacts/", "/login/"])
def test_an_oversized_body_is_refused_before_it_is_read(cast, client, path):
    client.force_login(cast.developer)
    response = client.generic(
        "POST", path, b"", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10 * 1024**3)
    )
    assert response.status_code == 413
    chunked = client.generic("POST", path, b"", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    assert chunked.status_code == 411


def test_the_guard_answers_without_reading(rf, settings):
    from caisi_portal.web import RefuseOversizedBodies

    request = rf.post("/api/v1/submissions/1/artifacts/", data=b"", content_type="application/octet-stream")
    request.META["CONTENT_LENGTH"] = str(10 * 1024**3)
    request.META["wsgi.input"] = Exploding()
    request._stream = Exploding()
    response = RefuseOversizedBodies(lambda r: pytest.fail("the view was reached"))(request)
    assert response.status_code == 413 and b"too_large" in response.content


# --- lockouts behind the proxy ----------------------------------------------------------------------


def _fail_sign_in(client, username, forwarded_for):
    return client.post(
        reverse("login"),
        {"username": username, "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",  # the TLS proxy: every request comes from it
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_the_proxy_an_attacker_cannot_lock_out_someone_else(cast, client, settings):
    """Lockout was keyed on the proxy's address: anyone could lock a named administrator out."""
    from django.test import Client

    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(5):
        _fail_sign_in(client, cast.admin.username, "198.51.100.7")
    locked = _fail_sign_in(client, cast.admin.username, "198.51.100.7")
    assert locked.status_code in (403, 429) or b"locked" in locked.content.lower()
    # The administrator, from their own address behind the same proxy, still signs in.
    own = Client().post(
        reverse("login"),
        {"username": cast.admin.username, "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.20",
    )
    assert own.status_code == 302
    # A client cannot pick its own address: entries left of the proxy's are not believed.
    spoofed = _fail_sign_in(client, cast.admin.username, "203.0.113.20, 198.51.100.7")
    assert spoofed.status_code in (403, 429) or b"locked" in spoofed.content.lower()


def test_client_address_reads_the_proxy_count(rf, settings):
    from caisi_portal.web import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer entries than proxies: the header is not to be believed
    assert client_ip(request) == "10.0.0.2"


# --- sessions and tokens ------------------------------------------------------------------------------


@pytest.mark.real_second_factor
def test_the_session_id_changes_when_the_second_factor_is_entered(cast, client):
    from accounts import two_factor

    device = two_factor.simulated_device(cast.admin)
    client.post(reverse("login"), {"username": cast.admin.username, "password": "correct-horse-battery"})
    before = client.session.session_key
    response = client.post(reverse("two_factor_verify"), {"token": two_factor.current_code(device)})
    assert response.status_code == 302
    assert client.session.session_key != before


def test_an_idle_session_ends_and_says_why(cast, client, settings):
    import datetime as dt

    import time_machine

    settings.SESSION_IDLE_HOURS = 8
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), tick=False) as traveller:
        client.force_login(cast.lead)
        assert client.get(reverse("home")).status_code == 200
        traveller.shift(dt.timedelta(hours=7, minutes=59))
        assert client.get(reverse("home")).status_code == 200  # still active: the clock restarts
        traveller.shift(dt.timedelta(hours=8, minutes=1))
        gone = client.get(reverse("home"), follow=True)
        assert gone.redirect_chain[-1][0].startswith(reverse("login"))
        assert b"without activity" in gone.content


def test_api_tokens_expire_and_read_only_tokens_only_read(cast, settings):
    import datetime as dt

    import time_machine

    settings.API_TOKEN_DAYS = 90
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), tick=False) as traveller:
        _, key = api_token_issue(user=cast.developer, name="reader", read_only=True)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert api.get("/api/v1/submissions/").status_code == 200
        refused = api.post("/api/v1/submissions/", {"model_name": "X"}, format="json")
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
        traveller.shift(dt.timedelta(days=90))
        assert api.get("/api/v1/submissions/").status_code == 401


def test_a_partner_secret_is_shown_once_and_rotates_with_an_overlap(cast, httpserver, settings):
    import datetime as dt

    import time_machine
    from standardwebhooks.webhooks import Webhook

    from partners import services as partner_services
    from partners.models import Delivery, TrustedPartner

    api = admin_api(cast)
    made = api.post(
        "/api/v1/trusted-partners/",
        {
            "organization": cast.partner_org.slug,
            "webhook_url": httpserver.url_for("/hook"),
            "event_types": ["submission.cleared"],
        },
        format="json",
    )
    assert made.status_code == 201 and made.json()["webhook_secret"].startswith("whsec_")
    first = made.json()["webhook_secret"]
    pk = made.json()["id"]
    assert "webhook_secret" not in api.get(f"/api/v1/trusted-partners/{pk}/").json()
    assert all("webhook_secret" not in p for p in api.get("/api/v1/trusted-partners/").json()["results"])
    assert (
        "webhook_secret" not in api.patch(f"/api/v1/trusted-partners/{pk}/", {"is_active": True}, format="json").json()
    )

    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    rotated = api.post(f"/api/v1/trusted-partners/{pk}/rotate-secret/")
    assert rotated.status_code == 200
    second = rotated.json()["webhook_secret"]
    assert second != first and rotated.json()["previous_secret_valid_until"]

    httpserver.expect_request("/hook").respond_with_data("ok")
    s = cast.submission(State.CLEARED)
    delivery = Delivery.objects.get(event__submission=s, partner_id=pk, channel="webhook")
    partner_services.delivery_attempt(delivery.pk)
    request, _ = httpserver.log[-1]
    body, headers = request.get_data(as_text=True), dict(request.headers)
    Webhook(first).verify(body, headers)  # the partner's receiver, not yet switched, still verifies
    Webhook(second).verify(body, headers)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        assert TrustedPartner.objects.get(pk=pk).signing_secrets(dt.datetime.now(dt.UTC)) == [second]


# --- decisions people can trust --------------------------------------------------------------------


def _flag_proposal(cast, s, **texts):
    from reviews import services as review_services

    return review_services.determination_propose_flag(
        submission=s,
        actor=cast.lead,
        rationale=texts.get("rationale", "Uplift."),
        partner_summary=texts.get("partner_summary", "Flagged."),
    )


def test_a_reviewer_below_a_findings_clearance_cannot_concur_and_is_told_why(cast, client):
    """A CUI reviewer could concur with a flag whose only serious finding is SECRET and hidden from them."""
    from accounts.models import Clearance
    from caisi_portal.errors import NotPermitted
    from reviews import services as review_services
    from tests.factories import record_all_results, serious_finding

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
    proposal = _flag_proposal(cast, s)
    with pytest.raises(NotPermitted, match="classified SECRET, above your clearance"):
        review_services.determination_concur(determination=proposal, actor=cast.low_reviewer)
    client.force_login(cast.low_reviewer)
    page = client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
    assert "You cannot concur" in page and "above your clearance" in page and "Concur: flag" not in page
    refused = client.post(reverse("reviews:concur", args=[s.pk]), {"proposal_digest": proposal.digest()})
    assert refused.status_code == 403
    # A reviewer cleared for all of it may.
    review_services.determination_concur(determination=proposal, actor=cast.reviewer, seen_digest=proposal.digest())


def test_a_concurrence_binds_to_the_text_it_answers(cast):
    from caisi_portal.errors import TransitionRefused, ValidationFailed
    from reviews import services as review_services
    from tests.factories import record_all_results, serious_finding

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    serious_finding(s, cast.reviewer)
    proposal = _flag_proposal(cast, s, partner_summary="Flagged: first version.")
    read = proposal.digest()
    # The lead changes the proposal after the reviewer opened the page: that concurrence is refused.
    _flag_proposal(cast, s, partner_summary="Flagged: second version.")
    with pytest.raises(ValidationFailed, match="changed after you opened the page"):
        review_services.determination_concur(determination=proposal, actor=cast.reviewer, seen_digest=read)
    proposal.refresh_from_db()
    review_services.determination_concur(determination=proposal, actor=cast.reviewer, seen_digest=proposal.digest())
    # Changed again after the concurrence: the concurrence no longer counts, and the flag waits.
    _flag_proposal(cast, s, partner_summary="Flagged: third version.")
    proposal.refresh_from_db()
    assert proposal.concurred_by is None and not proposal.concurrence_holds
    with pytest.raises(TransitionRefused, match="must concur"):
        move(s, "flag", cast.lead)


@pytest.mark.parametrize("concern", ["threshold", "inconclusive", "high_finding"])
def test_one_lead_cannot_clear_against_the_evidence(cast, client, concern):
    from caisi_portal.errors import TransitionRefused
    from reviews import services as review_services
    from tests.factories import clear_against_evidence, record_all_results, serious_finding

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    domain = s.plan_items.first().domain
    if concern == "threshold":
        record_result(submission=s, domain=domain, actor=cast.reviewer, score=1)
    elif concern == "inconclusive":
        record_result(submission=s, domain=domain, actor=cast.reviewer, score=0, inconclusive=True)
    else:
        serious_finding(s, cast.reviewer)
    with pytest.raises(TransitionRefused, match="second reviewer's concurrence"):
        move(s, "clear", cast.lead)
    # The page says so before anyone tries.
    client.force_login(cast.lead)
    page = client.get(reverse("submissions:action", args=[s.pk, "clear"])).content.decode()
    assert "This cannot be done now" in page and "propose the clearance first" in page
    # A justification missing for one concern is refused, naming it.
    from caisi_portal.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="Justify clearing despite"):
        review_services.determination_propose_clear(
            submission=s, actor=cast.lead, rationale="R.", partner_summary="S.", justifications={}
        )
    clear_against_evidence(s, cast.lead, cast.reviewer)
    assert s.state == State.CLEARED and s.determination.concurred_by == cast.reviewer
    assert s.determination.justifications


def test_what_partners_receive_is_never_empty_and_is_shown_before_it_is_sent(cast, client):
    from django.core import mail

    from caisi_portal.errors import ValidationFailed
    from partners import services as partner_services
    from partners.models import Delivery, PartnerEventType, TrustedPartner
    from tests.factories import record_all_results

    TrustedPartner.objects.create(
        organization=cast.partner_org, emails="duty@partner.example", event_types=[PartnerEventType.CLEARED]
    )
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    with pytest.raises(ValidationFailed, match="must never be empty"):
        move(s, "clear", cast.lead, partner_summary="  ")
    with pytest.raises(ValidationFailed, match="must never be empty"):
        _flag_proposal(cast, s, partner_summary="")
    client.force_login(cast.lead)
    url = reverse("submissions:action", args=[s.pk, "clear"])
    body = {"expected_state": "evaluation", "rationale": "Below.", "partner_summary": "Cleared: all below threshold."}
    check = client.post(url, body).content.decode()
    assert "Check what will be sent" in check and "Partner" in check and "duty@partner.example" in check
    s.refresh_from_db()
    assert s.state == State.EVALUATION  # nothing issued yet
    # A confirmation of other text than was checked is not taken: the check is shown again.
    other = client.post(url, body | {"partner_summary": "Something else.", "confirmed": "made-up"})
    assert other.status_code == 200 and b"Check what will be sent" in other.content
    s.refresh_from_db()
    assert s.state == State.EVALUATION
    seal = check.split('name="confirmed" value="', 1)[1].split('"', 1)[0]
    changed = client.post(url, body | {"partner_summary": "Changed after the check.", "confirmed": seal})
    assert changed.status_code == 200 and b"changed after it was checked" in changed.content
    assert client.post(url, body | {"confirmed": seal}).status_code == 302
    delivery = Delivery.objects.get(event__submission=s, address="duty@partner.example")
    partner_services.delivery_attempt(delivery.pk)
    sent = mail.outbox[-1].body
    shown = check.split('<pre class="preview">', 1)[1].split("</pre>", 1)[0]
    from html import unescape

    # The same message, line for line, but for the notification's own id (known once it exists).
    strip = lambda text: [line for line in text.splitlines() if not line.startswith(("Notification id", "Determined"))]  # noqa: E731
    assert strip(unescape(shown)) == strip(sent)


# --- the Django admin cannot rewrite the record -------------------------------------------------------


@pytest.fixture
def root(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-root-only")


RECORDS = [
    ("submissions", "modelsubmission"),
    ("submissions", "artifact"),
    ("submissions", "auditentry"),
    ("submissions", "slabreach"),
    ("reviews", "determination"),
    ("reviews", "assignment"),
    ("reviews", "evaluationresult"),
    ("reviews", "finding"),
    ("partners", "delivery"),
    ("partners", "event"),
]


@pytest.mark.parametrize(("app", "model"), RECORDS)
def test_the_admin_shows_records_and_changes_none(cast, client, root, app, model):
    from django.apps import apps
    from django.contrib import admin as django_admin

    from partners.models import PartnerEventType, TrustedPartner
    from tests.factories import clear_against_evidence, record_all_results, serious_finding

    TrustedPartner.objects.create(
        organization=cast.partner_org, emails="a@p.example", event_types=[PartnerEventType.CLEARED]
    )
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    serious_finding(s, cast.reviewer)
    clear_against_evidence(s, cast.lead, cast.reviewer)
    from submissions.models import SlaBreach, SlaKind

    SlaBreach.objects.create(
        submission=s, kind=SlaKind.INTAKE_DECISION, due_at=s.submitted_at, detected_at=s.submitted_at
    )
    Model = apps.get_model(app, model)
    obj = Model.objects.first()
    assert obj is not None
    model_admin = django_admin.site._registry[Model]
    client.force_login(root)
    request = client.get("/").wsgi_request
    request.user = root
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200
    change_url = reverse(f"admin:{app}_{model}_change", args=[obj.pk])
    assert client.post(change_url, {}).status_code == 403
    delete_url = reverse(f"admin:{app}_{model}_delete", args=[obj.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Model.objects.filter(pk=obj.pk).exists()


def test_configuration_changed_in_the_admin_lands_in_the_audit_chain(cast, client, root):
    from submissions.audit_chain import verify_all
    from submissions.models import AuditEntry, SlaPolicy

    policy = SlaPolicy.objects.first() or SlaPolicy.objects.create()
    client.force_login(root)
    url = reverse("admin:submissions_slapolicy_change", args=[policy.pk])
    form = client.get(url).context["adminform"].form
    data = {name: (form.initial.get(name) if form.initial.get(name) is not None else "") for name in form.fields}
    data["intake_decision_days"] = policy.intake_decision_days + 2
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    entry = AuditEntry.objects.filter(submission__isnull=True).latest("pk")
    assert entry.actor == root and entry.action == "configuration_changed"
    assert f"{policy.intake_decision_days} → {policy.intake_decision_days + 2}" in entry.comment
    assert verify_all()[1] is None


def test_agreement_and_partner_changes_go_into_the_chain_without_secrets(cast):
    from partners import services as partner_services
    from partners.models import TrustedPartner
    from submissions import services as submission_services
    from submissions.audit_chain import verify_all
    from submissions.models import Agreement, AuditEntry

    agreement = Agreement.objects.get(organization=cast.lab)
    submission_services.agreement_set_window(agreement=agreement, actor=cast.admin, days=21)
    submission_services.agreement_change_status(
        agreement=agreement, action="suspend", actor=cast.admin, note="Breach of terms."
    )
    partner = TrustedPartner.objects.create(organization=cast.partner_org)
    old_secret = partner.webhook_secret
    new_secret = partner_services.partner_secret_rotate(partner=partner, actor=cast.admin)
    trail = list(AuditEntry.objects.filter(submission__isnull=True).values_list("comment", flat=True))
    assert any("review window: 30 → 21 days" in c for c in trail)
    assert any("status: signed → suspended (Breach of terms.)" in c for c in trail)
    assert any("webhook secret rotated" in c for c in trail)
    assert not any(old_secret in c or new_secret in c for c in trail)
    assert verify_all()[1] is None


@pytest.mark.empty_catalog
def test_the_demo_administrator_is_not_a_superuser(db):
    from pathlib import Path

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from submissions.seeding import load_seed

    load_seed(Path(settings.BASE_DIR) / "seeds" / "demo.yaml")
    dana = get_user_model().objects.get(username="admin.dana")
    assert not dana.is_superuser and not dana.is_staff


# --- the audit chain cannot be silently cut short or rewritten ------------------------------------


def test_deleting_the_newest_entries_is_caught_by_the_published_checkpoint(cast):
    from django.db import connection

    from submissions.audit_chain import checkpoint_take, verify, verify_all
    from submissions.models import AuditEntry

    cast.submission(State.CLEARED)
    checkpoint_take()
    newest = AuditEntry.objects.order_by("-pk")[:3]
    ids = [e.pk for e in newest]
    with connection.cursor() as cursor:  # behind the ORM's back, as an intruder with database access would
        cursor.execute(f"DELETE FROM {AuditEntry._meta.db_table} WHERE id IN ({','.join(map(str, ids))})")
    # The chain alone still verifies (its tail is simply gone) ...
    assert verify()[1] is None
    # ... but it no longer matches what was published.
    problem = verify_all()[1]
    assert problem and "entries were deleted" in problem


def test_rehashing_the_whole_trail_is_caught_and_administrators_are_told_once(cast, settings):
    from django.core import mail
    from django.db import connection

    from submissions import audit_chain
    from submissions.models import AuditEntry

    s = cast.submission(State.CLEARED)
    audit_chain.checkpoint_take()
    # An intruder rewrites a comment and recomputes every hash so the chain verifies again.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET comment = 'nothing to see' WHERE submission_id = %s",
            [s.pk],
        )
    last_chain, last_global = {}, audit_chain.GENESIS
    for entry in AuditEntry.objects.order_by("pk"):
        content = audit_chain.content_of(entry)
        chain = audit_chain._sha(last_chain.get(entry.submission_id, audit_chain.GENESIS), content)
        last_global = audit_chain._sha(last_global, content, chain)
        last_chain[entry.submission_id] = chain
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AuditEntry._meta.db_table} SET chain_hash = %s, global_hash = %s WHERE id = %s",
                [chain, last_global, entry.pk],
            )
    assert audit_chain.verify()[1] is None  # the chain is consistent with itself
    problem = audit_chain.integrity_check_and_alert()
    assert problem and "re-hashed" in problem
    assert len(mail.outbox) == 1 and cast.admin.email in mail.outbox[0].to
    audit_chain.integrity_check_and_alert()
    assert len(mail.outbox) == 1  # told once


def test_the_register_publishes_the_checkpoints(cast, client):
    from submissions.audit_chain import checkpoint_take

    cast.submission(State.CLEARED)
    cp = checkpoint_take()
    assert cp.head in client.get(reverse("register:page")).content.decode()
    feed = client.get(reverse("register:json")).json()
    assert feed["audit_checkpoints"][0]["head"] == cp.head and feed["audit_checkpoints"][0]["entries"] == cp.entries


# --- found by the outside review of these fixes ---------------------------------------------------


def test_revising_a_result_does_not_make_its_concern_disappear(cast):
    """A lead re-recorded the result that reached a level with a lower score, then cleared alone
    (a threshold can no longer be typed: the score is all a reviewer may change)."""
    from caisi_portal.errors import TransitionRefused
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    domain = s.plan_items.first().domain
    record_result(submission=s, domain=domain, actor=cast.reviewer, score=0.7)
    record_result(submission=s, domain=domain, actor=cast.lead, score=0.2)
    with pytest.raises(TransitionRefused, match="before it was revised"):
        move(s, "clear", cast.lead)


def test_a_concurrence_stops_counting_when_the_evidence_changes(cast):
    from accounts.models import Clearance
    from caisi_portal.errors import TransitionRefused
    from reviews import services as review_services
    from tests.factories import record_all_results, serious_finding

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    serious_finding(s, cast.reviewer)
    proposal = _flag_proposal(cast, s)
    review_services.determination_concur(
        determination=proposal, actor=cast.low_reviewer, seen_digest=proposal.digest()
    )  # a CUI reviewer, while every finding was within their clearance
    serious_finding(s, cast.reviewer, classification=Clearance.SECRET)  # then a SECRET one arrives
    proposal.refresh_from_db()
    assert not proposal.concurrence_holds
    with pytest.raises(TransitionRefused, match="must concur"):
        move(s, "flag", cast.lead)


def test_the_api_takes_no_concurrence_without_the_digest_read(cast):
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    _flag_proposal(cast, s)
    _, key = api_token_issue(user=cast.reviewer, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/submissions/{s.pk}/determination/concur/"
    assert api.post(url, {}, format="json").status_code == 400
    digest = api.get(f"/api/v1/submissions/{s.pk}/determination/").json()["digest"]
    assert api.post(url, {"proposal_digest": digest}, format="json").status_code == 200


def test_moving_partner_settings_onto_another_partner_is_a_400_that_shows_no_secret(cast):
    from partners.models import TrustedPartner
    from tests.factories import OrganizationFactory

    other = OrganizationFactory(name="Other Partner", slug="other-partner", kind="trusted_partner")
    first = TrustedPartner.objects.create(organization=cast.partner_org)
    second = TrustedPartner.objects.create(organization=other)
    response = admin_api(cast).patch(
        f"/api/v1/trusted-partners/{second.pk}/", {"organization": cast.partner_org.slug}, format="json"
    )
    assert response.status_code == 400
    assert (
        first.webhook_secret.encode() not in response.content and second.webhook_secret.encode() not in response.content
    )


@pytest.mark.parametrize("text", ["\u200b", " \u200b ", "\u2060"])
def test_an_invisible_summary_is_an_empty_summary(cast, text):
    from caisi_portal.errors import ValidationFailed
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    with pytest.raises(ValidationFailed, match="must never be empty"):
        move(s, "clear", cast.lead, partner_summary=text)


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2066"])
def test_names_refuse_invisible_and_direction_characters(cast, client, char):
    client.force_login(cast.developer)
    page = client.post(
        reverse("submissions:create"),
        {
            "model_name": f"Safe{char}Model",
            "model_version": "1.0",
            "release_channel": "api",
            "planned_release_date": "2027-03-01",
            "capabilities": "x",
            "intended_use": "x",
            "evaluator_access": "x",
        },
    )
    assert page.status_code == 400 and b"control characters" in page.content


def test_a_token_made_before_expiry_dates_still_expires(cast, settings):
    import datetime as dt

    import time_machine

    from api.models import ApiToken

    settings.API_TOKEN_DAYS = 90
    with time_machine.travel(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), tick=False) as traveller:
        token, key = api_token_issue(user=cast.developer, name="old")
        ApiToken.objects.filter(pk=token.pk).update(expires_at=None)  # as the migration left it
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert api.get("/api/v1/submissions/").status_code == 200
        traveller.shift(dt.timedelta(days=91))
        assert api.get("/api/v1/submissions/").status_code == 401


def test_roles_and_passwords_changed_in_the_admin_are_recorded(cast, client, root):
    from django.contrib import admin as django_admin
    from django.contrib.auth.models import Group

    from caisi_portal.admin_base import AuditedConfigAdmin
    from submissions.models import AuditEntry

    client.force_login(root)
    url = reverse("admin:accounts_user_change", args=[cast.reviewer.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, _field in form.fields.items():
        value = form.initial.get(name)
        if name == "groups":
            data[name] = [g.pk for g in Group.objects.filter(name__in=["reviewer", "administrator"])]
        elif hasattr(value, "all"):
            data[name] = [v.pk for v in value.all()]
        elif isinstance(value, list):
            data[name] = value
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name in ("last_login", "date_joined"):
        data.pop(name, None)
        stamp = getattr(cast.reviewer, name)
        if stamp:
            data[f"{name}_0"], data[f"{name}_1"] = stamp.strftime("%Y-%m-%d"), stamp.strftime("%H:%M:%S")
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    trail = list(AuditEntry.objects.filter(submission__isnull=True).values_list("comment", flat=True))
    assert any("groups: added administrator" in c for c in trail), trail
    assert not any("last login" in c.lower() or "date joined" in c.lower() for c in trail), trail
    password_url = reverse("admin:auth_user_password_change", args=[cast.reviewer.pk])
    client.post(
        password_url,
        {"password1": "A-new-long-password-9", "password2": "A-new-long-password-9", "usable_password": "true"},
    )
    assert AuditEntry.objects.filter(comment__contains="password set by an administrator").exists()
    # Every admin the site offers is a record or audited: groups, beat schedules, devices included.
    assert isinstance(django_admin.site._registry[Group], AuditedConfigAdmin)


def test_evidence_changing_between_the_check_and_the_transition_is_a_409_not_a_500(cast, monkeypatch):
    from caisi_portal.errors import TransitionRefused
    from submissions import services as submission_services
    from tests.factories import record_all_results, serious_finding

    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    serious_finding(s, cast.reviewer)
    # As if the finding landed after the check passed (the two requests raced).
    monkeypatch.setattr(submission_services, "transition_check", lambda *args: None)
    with pytest.raises(TransitionRefused) as refused:
        move(s, "clear", cast.lead)
    assert refused.value.status_code == 409 and "propose the clearance first" in refused.value.message
