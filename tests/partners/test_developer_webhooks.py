"""Webhooks for developers: a lab's integration managers subscribe their own endpoints to
their own submissions' events, through the same outbox as the partners'."""

import json

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import rules
from accounts.roles import Role
from api.services import api_token_issue
from caisi_portal.errors import ApplicationError, NotPermitted
from partners import integrations
from partners import services as partner_services
from partners.models import (
    MAX_ENDPOINTS_PER_ORGANIZATION,
    TEST_EVENT,
    Delivery,
    DeveloperEventType,
    Event,
    TrustedPartner,
    WebhookEndpoint,
)
from partners.transports import MSG_ENDPOINT_OFF, webhook_body
from submissions.models import State
from tests.factories import Cast, UserFactory, move, record_all_results

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.216.34/hooks/caisi"  # a literal public address: no DNS needed


def integrator(cast, lab=None, username="dev.hooks"):
    """Developer staff of the lab who also holds the integration manager's role."""
    person = UserFactory(
        username=(f"x{cast.exercise.pk}.c.{username}" if cast.exercise else username),
        role=Role.DEVELOPER_STAFF,
        organization=lab or cast.lab,
        exercise=cast.exercise,
    )
    person.groups.add(Group.objects.get(name=Role.INTEGRATION_MANAGER))
    return person


@pytest.fixture
def manager(cast):
    return integrator(cast)


def endpoint_for(manager, url=PUBLIC, types=None):
    return integrations.endpoint_create(
        actor=manager, url=url, event_types=types or list(DeveloperEventType.values), description="CI"
    )


# --- who may ---------------------------------------------------------------------------------


def test_only_the_labs_own_integration_managers_may(cast, manager):
    endpoint = endpoint_for(manager)
    other_manager = integrator(cast, lab=cast.other_lab, username="dev.beta.hooks")
    assert rules.may_manage_integrations(manager) and rules.may_manage_endpoint(manager, endpoint)
    # Another lab's manager, a developer without the permission, partners and the office: no.
    assert rules.may_manage_integrations(other_manager) and not rules.may_manage_endpoint(other_manager, endpoint)
    for someone in (cast.developer, cast.partner, cast.admin, cast.lead, cast.reviewer, cast.trainee):
        assert not rules.may_manage_integrations(someone), someone
        assert not rules.may_manage_endpoint(someone, endpoint)
        with pytest.raises(NotPermitted):
            integrations.endpoint_delete(endpoint=endpoint, actor=someone)
    with pytest.raises(NotPermitted):
        integrations.endpoint_set_active(endpoint=endpoint, actor=other_manager, active=False)
    assert not rules.scope_webhook_endpoints(WebhookEndpoint.objects.all(), other_manager).exists()


def test_an_exercise_player_never_manages_endpoints(db):
    from exercises import scenarios
    from exercises import services as exercise_services

    live = Cast(mark="L")
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=live.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    played = Cast(exercise=ex, mark="X")
    player = integrator(played)
    assert not rules.may_manage_integrations(player)
    with pytest.raises(NotPermitted):
        endpoint_for(player)


@pytest.mark.parametrize("who", ["developer", "other_developer", "partner", "admin", "lead"])
def test_the_pages_do_not_exist_for_anyone_else(cast, manager, client, who):
    endpoint = endpoint_for(manager)
    client.force_login(getattr(cast, who))
    assert ">Webhooks</a>" not in client.get(reverse("home")).content.decode()
    for url in (
        reverse("partners:endpoints"),
        reverse("partners:endpoint_create"),
        reverse("partners:endpoint_detail", args=[endpoint.pk]),
        reverse("partners:endpoint_delete", args=[endpoint.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("partners:endpoint_test", args=[endpoint.pk])).status_code == 404


def test_another_labs_manager_finds_no_such_endpoint(cast, manager, client):
    endpoint = endpoint_for(manager)
    client.force_login(integrator(cast, lab=cast.other_lab, username="dev.beta.hooks"))
    assert client.get(reverse("partners:endpoint_detail", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("partners:endpoint_delete", args=[endpoint.pk])).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- the pages -------------------------------------------------------------------------------


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(cast, manager, client):
    client.force_login(manager)
    assert ">Webhooks</a>" in client.get(reverse("home")).content.decode()
    response = client.post(
        reverse("partners:endpoint_create"),
        {"url": PUBLIC, "description": "Release pipeline", "event_types": ["submission.cleared", "submission.flagged"]},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    page = response.content.decode()
    assert endpoint.secret in page and endpoint.secret.startswith("whsec_")
    assert "standardwebhooks" in page and "webhook-signature" in page
    assert endpoint.organization == cast.lab and endpoint.created_by == manager and not endpoint.is_exercise
    # Never again: not on its page, not in the list, not in the API.
    detail = client.get(reverse("partners:endpoint_detail", args=[endpoint.pk])).content.decode()
    listing = client.get(reverse("partners:endpoints")).content.decode()
    assert endpoint.secret not in detail and endpoint.secret not in listing
    assert "Release pipeline" in listing and "Submission cleared" in listing


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://10.0.0.5/hook",  # private
        "https://127.0.0.1:6379/",  # the portal's own Redis
        "https://[::1]/hook",
        "https://0.0.0.0/hook",
        "javascript:alert(1)",
        "https://93.184.216.34/\x00hook",
        "https://93.184.216.34/" + "a" * 600,
        "ftp://93.184.216.34/hook",
    ],
)
def test_hostile_urls_are_refused(manager, client, settings, url):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []  # as in production
    client.force_login(manager)
    response = client.post(reverse("partners:endpoint_create"), {"url": url, "event_types": ["submission.cleared"]})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=manager, name='t')[1]}")
    answer = api.post("/api/v1/webhook-endpoints/", {"url": url, "event_types": ["submission.cleared"]}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["message"]
    assert not WebhookEndpoint.objects.exists()


def test_the_url_is_checked_again_at_send(cast, manager, settings):
    """A host that resolved to a public address when saved and to a private one later is
    refused at send: the delivery is dead-lettered, nothing is posted."""
    from django.utils import timezone

    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    # Saved when its name pointed elsewhere (written directly: the check at save would refuse it now).
    endpoint = WebhookEndpoint.objects.create(
        organization=cast.lab,
        url="https://127.0.0.1/hook",
        event_types=["submission.accepted"],
        created_at=timezone.now(),
    )
    s = cast.submission(State.INTAKE)
    move(s, "accept", cast.admin)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert partner_services.delivery_attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert "private" in delivery.last_error


def test_bad_events_and_duplicates_are_refused(manager):
    with pytest.raises(ApplicationError):
        endpoint_for(manager, types=["submission.released"])  # a partner's event, not a developer's
    with pytest.raises(ApplicationError):
        integrations.endpoint_create(actor=manager, url=PUBLIC, event_types=[])
    with pytest.raises(ApplicationError):
        integrations.endpoint_create(actor=manager, url=PUBLIC, event_types=["submission.cleared"] * 2)
    endpoint_for(manager)
    with pytest.raises(ApplicationError) as same:
        endpoint_for(manager)
    assert same.value.message == integrations.MSG_SAME_URL
    with pytest.raises(ApplicationError):
        integrations.endpoint_create(
            actor=manager, url=PUBLIC + "/2", event_types=["submission.cleared"], description="two\nlines"
        )


def test_an_organization_has_at_most_so_many_endpoints(manager):
    for n in range(MAX_ENDPOINTS_PER_ORGANIZATION):
        endpoint_for(manager, url=f"{PUBLIC}/{n}")
    with pytest.raises(ApplicationError) as full:
        endpoint_for(manager, url=f"{PUBLIC}/more")
    assert full.value.message == integrations.MSG_TOO_MANY


def test_delete_says_what_stops_then_deletes(cast, manager, client):
    endpoint = endpoint_for(manager, types=["submission.accepted"])
    move(cast.submission(State.INTAKE), "accept", cast.admin)
    client.force_login(manager)
    page = client.get(reverse("partners:endpoint_delete", args=[endpoint.pk])).content.decode()
    assert "stops every event to it" in page and "drops 1 message still waiting" in page
    assert "cannot be undone" in page and "disable it" in page
    response = client.post(reverse("partners:endpoint_delete", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("partners:endpoints")
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.filter(endpoint__isnull=False).exists()
    # A second press (another tab) finds nothing: not found, not an error page.
    assert client.post(reverse("partners:endpoint_delete", args=[endpoint.pk])).status_code == 404


def test_a_disabled_endpoint_is_sent_nothing(cast, manager, client):
    endpoint = endpoint_for(manager, types=["submission.accepted"])
    move(cast.submission(State.INTAKE), "accept", cast.admin)
    waiting = Delivery.objects.get(endpoint=endpoint)
    client.force_login(manager)
    client.post(reverse("partners:endpoint_active", args=[endpoint.pk]))  # no "active": off
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    # What was waiting is not sent; new events are not recorded for it; no test event either.
    assert partner_services.delivery_attempt(waiting.pk) == "dead"
    waiting.refresh_from_db()
    assert waiting.last_error == MSG_ENDPOINT_OFF
    move(cast.submission(State.INTAKE), "accept", cast.admin)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    with pytest.raises(ApplicationError) as off:
        integrations.endpoint_test_send(endpoint=endpoint, actor=manager)
    assert off.value.message == integrations.MSG_TEST_OFF
    client.post(reverse("partners:endpoint_active", args=[endpoint.pk]), {"active": "on"})
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_a_test_event_goes_to_that_endpoint_only_once_at_a_time(cast, manager, client):
    endpoint = endpoint_for(manager)
    other = endpoint_for(manager, url=PUBLIC + "/other")
    client.force_login(manager)
    response = client.post(reverse("partners:endpoint_test", args=[endpoint.pk]), follow=True)
    assert "Test event queued" in response.content.decode()
    delivery = Delivery.objects.get()
    assert delivery.endpoint == endpoint and delivery.event is None and delivery.address == endpoint.url
    body = json.loads(webhook_body(delivery))
    assert body["type"] == TEST_EVENT and body["data"]["organization"] == cast.lab.name
    assert not Delivery.objects.filter(endpoint=other).exists()
    # A second press while the first is on its way is refused, in words.
    again = client.post(reverse("partners:endpoint_test", args=[endpoint.pk]), follow=True).content.decode()
    assert "still on its way" in again and Delivery.objects.count() == 1
    detail = client.get(reverse("partners:endpoint_detail", args=[endpoint.pk])).content.decode()
    assert "Test event" in detail and delivery.webhook_id in detail


# --- events to endpoints -------------------------------------------------------------------


def test_each_event_makes_exactly_one_delivery_per_subscribed_endpoint(cast, manager):
    cleared_only = endpoint_for(manager, types=["submission.cleared"])
    everything = endpoint_for(manager, url=PUBLIC + "/all")
    endpoint_for(manager, url=PUBLIC + "/flags", types=["submission.flagged"])
    off = endpoint_for(manager, url=PUBLIC + "/off")
    integrations.endpoint_set_active(endpoint=off, actor=manager, active=False)
    other_lab = endpoint_for(integrator(cast, lab=cast.other_lab, username="dev.beta.hooks"), url=PUBLIC + "/beta")
    s = cast.submission(State.CLEARED)
    cleared = Event.objects.get(submission=s, type="submission.cleared")
    told = Delivery.objects.filter(event=cleared, endpoint__isnull=False)
    assert sorted(told.values_list("endpoint_id", flat=True)) == sorted([cleared_only.pk, everything.pk])
    accepted = Event.objects.get(submission=s, type="submission.accepted")
    assert list(Delivery.objects.filter(event=accepted).values_list("endpoint_id", flat=True)) == [everything.pk]
    assert not Delivery.objects.filter(endpoint__in=[off, other_lab]).exists()
    # The database refuses a second delivery of one event to one endpoint.
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            event=cleared,
            channel="webhook",
            endpoint=everything,
            address=everything.url,
            next_attempt_at=cleared.occurred_at,
        )


def test_an_endpoint_at_a_partners_url_is_still_told(cast, manager):
    """The partners' rule (one delivery per event and address) does not stop a lab's own
    endpoint that happens to share an address: each is its own destination."""
    TrustedPartner.objects.create(organization=cast.partner_org, webhook_url=PUBLIC, event_types=["submission.cleared"])
    endpoint = endpoint_for(manager, types=["submission.cleared"])
    s = cast.submission(State.CLEARED)
    event = Event.objects.get(submission=s, type="submission.cleared")
    assert event.deliveries.filter(partner__isnull=False, address=PUBLIC).count() == 1
    assert event.deliveries.filter(endpoint=endpoint, address=PUBLIC).count() == 1


def test_accepted_is_an_event_no_person_is_emailed_about(cast, manager):
    assert partner_services.TRANSITION_EVENTS["accept"] == "submission.accepted"
    endpoint = endpoint_for(manager, types=["submission.accepted"])
    s = cast.submission(State.INTAKE)
    move(s, "accept", cast.admin)
    event = Event.objects.get(submission=s, type="submission.accepted")
    assert list(event.deliveries.values_list("endpoint_id", "channel")) == [(endpoint.pk, "webhook")]


def test_what_the_developer_is_told(cast, manager):
    """At least what a partner may know, for its own submission, and the questions the portal
    already shows it; never a reviewer's name, a finding or the office's rationale."""
    endpoint = endpoint_for(manager)
    s = cast.submission(State.EVALUATION)
    move(s, "request_information", cast.lead, questions="Which safeguards ship with it?")
    asked = Delivery.objects.get(endpoint=endpoint, event__type="submission.information_requested")
    data = json.loads(webhook_body(asked))
    assert data["type"] == "submission.information_requested"
    assert data["data"]["questions"] == "Which safeguards ship with it?"
    assert data["data"]["submission_id"] == s.pk and data["data"]["path"] == s.get_absolute_url()
    move(s, "answer_information_request", cast.developer)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead, rationale="INTERNAL-RATIONALE", partner_summary="Cleared; no threshold exceeded.")
    cleared = Delivery.objects.get(endpoint=endpoint, event__type="submission.cleared")
    body = webhook_body(cleared)
    partner_view = cleared.event.payload
    assert json.loads(body)["data"] == partner_view  # exactly what a partner may know
    for secret in ("INTERNAL-RATIONALE", cast.lead.username, cast.reviewer.username, cast.lead.last_name):
        assert secret not in body and secret not in webhook_body(asked)


def test_exercise_events_stay_on_the_machine(db, httpserver):
    """An exercise's lab has exercise endpoints only; their deliveries are recorded, never
    sent, and a live endpoint never hears of an exercise."""
    from django.utils import timezone

    from exercises import scenarios
    from exercises import services as exercise_services

    live = Cast(mark="L")
    live_endpoint = endpoint_for(integrator(live), types=["submission.accepted"])
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=live.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    played = Cast(exercise=ex, mark="X")
    exercise_endpoint = WebhookEndpoint.objects.create(
        organization=played.lab,
        url=httpserver.url_for("/exercise-hook"),
        event_types=["submission.accepted"],
        created_at=timezone.now(),
    )
    assert exercise_endpoint.is_exercise
    s = played.submission(State.INTAKE)
    move(s, "accept", played.admin)
    delivery = Delivery.objects.get(endpoint=exercise_endpoint)
    assert not Delivery.objects.filter(endpoint=live_endpoint).exists()
    assert partner_services.delivery_attempt(delivery.pk) == "delivered"
    assert delivery.attempt_log.get().error == "Exercise: recorded, not sent."
    # A test event for it is recorded too, never posted.
    test = Delivery.objects.create(
        channel="webhook", endpoint=exercise_endpoint, address=exercise_endpoint.url, next_attempt_at=timezone.now()
    )
    partner_services.delivery_attempt(test.pk)
    assert httpserver.log == []


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(manager):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=manager, name='ci')[1]}")
    return client


def test_the_api_manages_endpoints(cast, manager, api):
    made = api.post("/api/v1/webhook-endpoints/", {"url": PUBLIC, "event_types": ["submission.cleared"]}, format="json")
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    pk = made.json()["id"]
    shown = api.get(f"/api/v1/webhook-endpoints/{pk}/").json()
    assert "secret" not in shown and shown["organization"] == cast.lab.slug
    assert api.get("/api/v1/webhook-endpoints/").json()["count"] == 1
    changed = api.patch(f"/api/v1/webhook-endpoints/{pk}/", {"event_types": ["submission.accepted"]}, format="json")
    assert changed.status_code == 200 and changed.json()["event_types"] == ["submission.accepted"]
    twice = api.patch(f"/api/v1/webhook-endpoints/{pk}/", {"event_types": ["submission.accepted"] * 2}, format="json")
    assert twice.status_code == 400
    assert api.patch(f"/api/v1/webhook-endpoints/{pk}/", {"event_types": []}, format="json").status_code == 400
    assert api.post(f"/api/v1/webhook-endpoints/{pk}/test/").status_code == 202
    deliveries = api.get(f"/api/v1/webhook-endpoints/{pk}/deliveries/").json()
    assert [d["event_type"] for d in deliveries] == [TEST_EVENT] and deliveries[0]["status"] == "pending"
    assert api.delete(f"/api/v1/webhook-endpoints/{pk}/").status_code == 204
    assert api.get(f"/api/v1/webhook-endpoints/{pk}/").status_code == 404


def test_the_api_refuses_a_developer_without_the_permission(cast, manager):
    endpoint = endpoint_for(manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=cast.developer, name='t')[1]}")
    refused = client.get("/api/v1/webhook-endpoints/")
    assert refused.status_code == 403 and "integration managers" in refused.json()["error"]["message"]
    assert client.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}/").status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- query budgets --------------------------------------------------------------------------


def test_the_pages_do_not_grow_with_endpoints_and_deliveries(cast, manager, client, django_assert_max_num_queries):
    from tests.test_query_budgets import queries_for

    endpoint = endpoint_for(manager)
    cast.submission(State.CLEARED)
    client.force_login(manager)
    list_baseline = queries_for(client, reverse("partners:endpoints"))
    detail_url = reverse("partners:endpoint_detail", args=[endpoint.pk])
    detail_baseline = queries_for(client, detail_url)
    for n in range(5):
        endpoint_for(manager, url=f"{PUBLIC}/{n}")
    for _ in range(4):
        cast.submission(State.CLEARED)
    assert Delivery.objects.filter(endpoint=endpoint).count() >= 10
    with django_assert_max_num_queries(list_baseline):
        client.get(reverse("partners:endpoints"))
    with django_assert_max_num_queries(detail_baseline):
        client.get(detail_url)
