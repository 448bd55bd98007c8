"""Webhooks for developers: a lab's own endpoints for events about its own submissions.

The same outbox as the trusted partners' (one Delivery per event and endpoint, written with
the change, sent after commit, signed, retried and dead-lettered by partners.services), with
the owner's secret (Delivery.signing_secrets) and a body of what the developer may know.
Who may manage an endpoint is accounts.rules' answer; each service here asks it again.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import ApplicationError, NotPermitted, ValidationFailed

from .models import (
    MAX_ENDPOINTS_PER_ORGANIZATION,
    TEST_EVENT,
    Delivery,
    DeveloperEventType,
    Event,
    WebhookEndpoint,
)
from .transports import webhook_json

MSG_NOT_PERMITTED = (
    "Only your organization's integration managers manage its webhooks: ask one of them, "
    "or the review office, for that permission."
)
MSG_TOO_MANY = (
    f"Your organization has {MAX_ENDPOINTS_PER_ORGANIZATION} endpoints, the most it may have: delete one first."
)
MSG_SAME_URL = "Your organization already has an endpoint at this URL: change that one instead."
MSG_TEST_OFF = "This endpoint is disabled: enable it first, then send a test event."
MSG_TEST_WAITING = "A test event to this endpoint is still on its way: see its deliveries below, then try again."
MSG_NOT_DEVELOPER = "Only a developer organization can receive webhooks about its submissions."

# Fields a manager may change after creation (the secret never: delete and add a new endpoint).
CHANGEABLE = ("url", "description", "event_types", "is_active")


def _check(actor, endpoint=None) -> None:
    if endpoint is None and not rules.may_manage_integrations(actor):
        raise NotPermitted(MSG_NOT_PERMITTED)
    if endpoint is not None and not rules.may_manage_endpoint(actor, endpoint):
        raise NotPermitted(MSG_NOT_PERMITTED)


def _record(actor, endpoint, before, action):
    from submissions.services import configuration_change_record

    configuration_change_record(actor=actor, obj=endpoint, before=before, action=action)


def _same_url() -> ValidationFailed:
    return ValidationFailed(MSG_SAME_URL, details={"url": [MSG_SAME_URL]})


def _save(endpoint: WebhookEndpoint, *, check_url: bool = True) -> None:
    """Validated, then saved; a second endpoint racing to the same URL gets the same message."""
    details = {}
    try:
        endpoint.clean_fields(exclude=["created_by", "secret"])
    except ValidationError as exc:
        details = exc.message_dict
    for field, problems in endpoint.problems(check_url=check_url).items():
        details.setdefault(field, problems)
    if details:
        raise ValidationFailed(next(iter(details.values()))[0], details=details)
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise _same_url() from None


def endpoint_create(*, actor, url: str, event_types: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint for the actor's own organization; its secret is read back only now."""
    _check(actor)
    organization = actor.organization
    if organization.kind != "developer":
        raise NotPermitted(MSG_NOT_DEVELOPER)
    with transaction.atomic():
        # One at a time per organization: the count below holds until this commits.
        type(organization).objects.select_for_update().filter(pk=organization.pk).first()
        if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise ApplicationError(MSG_TOO_MANY)
        if WebhookEndpoint.objects.filter(organization=organization, url=url).exists():
            raise _same_url()
        endpoint = WebhookEndpoint(
            organization=organization,
            url=url,
            description=description,
            event_types=list(event_types),
            created_by=actor,
            created_at=clock.now(),
        )
        _save(endpoint)
        _record(actor, endpoint, None, "configuration_added")
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, actor, **changes) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events or whether it is on (the secret stays)."""
    _check(actor, endpoint)
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ApplicationError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    from submissions.services import configuration_values

    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=endpoint.pk)
        before = configuration_values(locked)
        for field, value in changes.items():
            setattr(locked, field, list(value) if field == "event_types" else value)
        moved = "url" in changes and changes["url"] != before["url"]
        if (
            moved
            and WebhookEndpoint.objects.filter(organization_id=locked.organization_id, url=changes["url"]).exists()
        ):
            raise _same_url()
        _save(locked, check_url=moved)
        _record(actor, locked, before, "configuration_changed")
    return locked


def endpoint_set_active(*, endpoint: WebhookEndpoint, actor, active: bool) -> WebhookEndpoint:
    """On: new events are sent to it. Off: nothing is, including what was still waiting."""
    _check(actor, endpoint)
    from submissions.services import configuration_values

    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=endpoint.pk)
        if locked.is_active == active:
            return locked  # two people pressed the same button: one change
        before = configuration_values(locked)
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        _record(actor, locked, before, "configuration_changed")
    return locked


def endpoint_delete(*, endpoint: WebhookEndpoint, actor) -> None:
    """Gone, with its delivery history; what was still waiting is never sent."""
    _check(actor, endpoint)
    from submissions.services import configuration_values

    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().select_related("organization").filter(pk=endpoint.pk)
        locked = locked.first()
        if locked is None:
            return  # deleted by someone else meanwhile: the outcome they both asked for
        _record(actor, locked, configuration_values(locked), "configuration_removed")
        locked.delete()


def endpoint_test_send(*, endpoint: WebhookEndpoint, actor) -> Delivery:
    """A `webhook.test` event to this endpoint only, signed and sent like any other."""
    from .services import _enqueue

    _check(actor, endpoint)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=endpoint.pk)
        if not locked.is_active:
            raise ApplicationError(MSG_TEST_OFF)
        waiting = Delivery.objects.filter(
            endpoint=locked, event__isnull=True, subject=TEST_EVENT, status=Delivery.Status.PENDING
        )
        if waiting.exists():
            raise ApplicationError(MSG_TEST_WAITING)
        now = clock.now()
        data = {
            "organization": locked.organization.name,
            "endpoint_id": locked.pk,
            "message": "A test event from the CAISI Review Portal: your endpoint and its secret work.",
        }
        delivery = Delivery.objects.create(
            event=None,
            channel=Delivery.Channel.WEBHOOK,
            endpoint=locked,
            address=locked.url,
            next_attempt_at=now,
            # Tried once, like a partner's test: its result shows at once and alerts nobody.
            kind=Delivery.Kind.TEST,
            subject=TEST_EVENT,
            body=webhook_json(TEST_EVENT, now, data),
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


# --- events to endpoints (called by partners.services.events_record) -------------------------


def developer_payload(event: Event, questions: dict) -> dict:
    """What the submission's own developer may know: what a partner may (event.payload), and
    what the portal already shows the developer (the open information request's questions).
    Never a reviewer's name, a finding or classified content."""
    data = dict(event.payload)
    if event.type == DeveloperEventType.INFORMATION_REQUESTED and event.submission_id in questions:
        data["questions"] = questions[event.submission_id]
    return data


def _open_questions(events: list[Event]) -> dict:
    from submissions.models import InformationRequest

    asked = InformationRequest.objects.filter(
        submission_id__in=[e.submission_id for e in events], answered_at__isnull=True
    ).order_by("submission_id", "-requested_at")
    out: dict = {}
    for submission_id, text in asked.values_list("submission_id", "questions"):
        out.setdefault(submission_id, text)
    return out


def endpoint_deliveries(events: list[Event]) -> list[Delivery]:
    """One delivery per event and subscribed endpoint of the submission's own organization
    (every event of one type and one world): one query for the endpoints, however many events."""
    event_type = events[0].type
    if event_type not in DeveloperEventType.values:
        return []
    organizations = {e.submission.organization_id for e in events}
    endpoints = WebhookEndpoint.objects.filter(
        organization_id__in=organizations, is_active=True, is_exercise=events[0].is_exercise
    )
    if connection.vendor == "postgresql":
        endpoints = list(endpoints.filter(event_types__contains=[event_type]))
    else:  # SQLite (make run): no JSON containment test
        endpoints = [e for e in endpoints if event_type in (e.event_types or [])]
    if not endpoints:
        return []
    by_organization: dict = {}
    for endpoint in endpoints:
        by_organization.setdefault(endpoint.organization_id, []).append(endpoint)
    questions = _open_questions(events) if event_type == DeveloperEventType.INFORMATION_REQUESTED else {}
    out = []
    for event in events:
        for endpoint in by_organization.get(event.submission.organization_id, ()):
            out.append(
                Delivery(
                    event=event,
                    channel=Delivery.Channel.WEBHOOK,
                    endpoint=endpoint,
                    address=endpoint.url,
                    next_attempt_at=event.occurred_at,
                    body=webhook_json(event.type, event.occurred_at, developer_payload(event, questions)),
                )
            )
    return out


# --- reads -----------------------------------------------------------------------------------

RECENT_DELIVERIES = 50


def endpoints_of(user):
    return rules.scope_webhook_endpoints(WebhookEndpoint.objects.all(), user).order_by("created_at", "pk")


def endpoint_recent_deliveries(endpoint: WebhookEndpoint, limit: int = RECENT_DELIVERIES):
    """Newest first: its events' and its test events' deliveries."""
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event__submission")
        .order_by("-next_attempt_at", "-pk")[:limit]
    )
