"""Trusted partners and the notification outbox.

A notification is an Event row written in the same transaction as the state change
that causes it, with one Delivery row per destination. Each Delivery's id is stable: it
becomes the webhook's ``webhook-id``, so a receiver that sees it twice (a retry) can
drop the copy, and never sees two ids for one event.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import DigestCadence, Weekday
from caisi_portal.text import validate_single_line


def new_webhook_secret() -> str:
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class PartnerEventType(models.TextChoices):
    CLEARED = "submission.cleared", "Submission cleared"
    FLAGGED = "submission.flagged", "Submission flagged"
    WINDOW_ELAPSED = "submission.window_elapsed", "Review window elapsed"
    RELEASED = "submission.released", "Model released"
    ACCESS_REMOVED = "submission.access_removed", "Access removed by government order"
    ACCESS_HOLD = "submission.access_hold", "Release held by government order"
    ACCESS_REINSTATED = "submission.access_reinstated", "Government order lifted: access reinstated"
    ADVISORY = "submission.advisory", "Advisory on a released model"


class DeveloperEventType(models.TextChoices):
    """What a developer's own endpoints may subscribe to, about its own submissions."""

    INFORMATION_REQUESTED = "submission.information_requested", "Information requested from the developer"
    ACCEPTED = "submission.accepted", "Accepted for review"
    CLEARED = "submission.cleared", "Submission cleared"
    FLAGGED = "submission.flagged", "Submission flagged"
    WINDOW_ELAPSED = "submission.window_elapsed", "Review window elapsed"
    ACCESS_REMOVED = "submission.access_removed", "Access removed by government order"
    # A pipeline waiting for "cleared" must also hear that the review ended some other way, or
    # is about to, and of orders and advisories on its model.
    ACCESS_HOLD = "submission.access_hold", "Release held by government order"
    ACCESS_REINSTATED = "submission.access_reinstated", "Government order lifted: access reinstated"
    ADVISORY = "submission.advisory", "Advisory on a released model"
    PAUSE_LIMIT_WARNING = "submission.pause_limit_warning", "Information still owed: the submission will be returned"
    RETURNED = "submission.returned", "Returned: the information request went unanswered"
    WITHDRAWN_BY_OFFICE = "submission.withdrawn_by_office", "Withdrawn by the office: the agreement no longer covers it"
    AGREEMENT_CHANGED = "submission.agreement_changed", "The review agreement changed: the review continues"


# A developer's "is my endpoint set up right?" message: to that endpoint only, about nothing.
TEST_EVENT = "webhook.test"
# An office target missed (submissions.review_clock.breach_obligation): to its administrators.
SLA_BREACHED = "submission.sla_breached"


# Every event type as people read it, in one place: the notifications page, the partners'
# inbox and the emails' fallback subject all use it (never the dotted code).
EVENT_LABELS = {
    **dict(PartnerEventType.choices),
    "submission.information_requested": "Information requested from the developer",
    "submission.accepted": "Accepted for review",
    TEST_EVENT: "Test event",
    "review.deadline_warning": "Review deadline approaching",
    SLA_BREACHED: "An office target was missed (SLA breach)",
    "submission.information_answered": "The developer answered an information request",
    "review.assigned": "Assigned to a review",
    "review.unassigned": "Assignment to a review ended",
    "review.concurrence_requested": "Concurrence asked for a proposed determination",
    "review.results_reminder": "Planned results missing: reminder",
    "review.results_escalation": "Planned results still missing: escalation",
    "submission.pause_limit_warning": "Information still owed: the submission will be returned",
    "submission.returned": "Returned: the information request went unanswered",
    "submission.withdrawn_by_office": "Withdrawn by the office: the agreement no longer covers the review",
    "submission.agreement_changed": "The review agreement changed: the review continues",
}


def event_label(event_type: str) -> str:
    """'submission.window_elapsed' -> 'Review window elapsed'; an unknown type in plain words."""
    if event_type in EVENT_LABELS:
        return EVENT_LABELS[event_type]
    return event_type.rpartition(".")[2].replace("_", " ").capitalize() or "Notification"


@dataclass(frozen=True)
class PreviousSecret:
    """A webhook secret a rotation replaced: it signs until its own overlap ends."""

    secret: str
    made_at: dt.datetime | None  # None: made when the partner was set up
    until: dt.datetime

    @classmethod
    def from_json(cls, row: dict) -> PreviousSecret:
        made_at = dt.datetime.fromisoformat(row["made_at"]) if row.get("made_at") else None
        return cls(secret=row["secret"], made_at=made_at, until=dt.datetime.fromisoformat(row["until"]))

    def as_json(self) -> dict:
        return {
            "secret": self.secret,
            "made_at": self.made_at.isoformat() if self.made_at else None,
            "until": self.until.isoformat(),
        }


class TrustedPartner(models.Model):
    """How a trusted-partner organization is told about determinations."""

    organization = models.OneToOneField(
        "submissions.Organization",
        on_delete=models.CASCADE,
        related_name="partner_settings",
        limit_choices_to={"kind": "trusted_partner"},
    )
    emails = models.TextField(blank=True, help_text="One address per line.")
    webhook_url = models.URLField(blank=True, max_length=500)
    webhook_secret = models.CharField(max_length=100, default=new_webhook_secret)
    # Null: made when the partner was set up, before any rotation.
    webhook_secret_made_at = models.DateTimeField(null=True, blank=True)
    # After a rotation the secret it replaced signs beside the new one until its own overlap
    # ends, so the partner can switch its receiver without missing a message. A second rotation
    # within the overlap adds one: a receiver may already hold any of them (PreviousSecret).
    previous_secrets = models.JSONField(default=list, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Event types this partner receives.")
    is_active = models.BooleanField(default=True)
    # An exercise's simulated partner: it receives only exercise events, and the reverse.
    is_exercise = models.BooleanField(default=False)
    # The partner's emails may be gathered in a digest (webhooks are always sent at once:
    # a machine has no inbox to flood). Hours are on the clock of digest_time_zone.
    email_cadence = models.CharField(max_length=10, choices=DigestCadence.choices, default=DigestCadence.IMMEDIATE)
    digest_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    digest_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    digest_time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name; empty: UTC.")
    # The partner's staff may pause their webhooks (their receiver is down for maintenance):
    # deliveries are still recorded, and wait, unattempted, until they resume.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["organization__name"]

    def __str__(self):
        return str(self.organization)

    def signing_secrets(self, now) -> list[str]:
        """The secrets a webhook is signed with now: the current one, and each previous one
        still in its overlap (Standard Webhooks carries several signatures)."""
        return [self.webhook_secret, *(p.secret for p in self.previous_secrets_signing(now))]

    def previous_secrets_signing(self, now) -> list[PreviousSecret]:
        """The previous secrets that still sign now, the most recently replaced first."""
        kept = [PreviousSecret.from_json(row) for row in self.previous_secrets]
        return sorted((p for p in kept if now < p.until), key=lambda p: p.until, reverse=True)

    def previous_secrets_set(self, previous: list[PreviousSecret]) -> None:
        self.previous_secrets = [p.as_json() for p in previous]

    def email_list(self) -> list[str]:
        return [line.strip() for line in self.emails.splitlines() if line.strip()]

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def clean(self):
        """Checked wherever the settings are saved (the API, the Django admin)."""
        from django.core.exceptions import ValidationError

        from . import destinations

        errors = {}
        reason = destinations.problem(self.webhook_url)
        if reason:
            errors["webhook_url"] = [reason]
        if email_problems(self.emails):
            errors["emails"] = email_problems(self.emails)
        if errors:
            raise ValidationError(errors)


def email_problems(emails: str) -> list[str]:
    """Each line must be one email address (an address with a line break in it could add headers)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    problems = []
    for line in (emails or "").split("\n"):
        address = line.strip("\r ")
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address[:80]!r} is not an email address: give one address per line.")
    return problems


class Event(models.Model):
    """Something that happened that people or partners must be told about."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=60)
    submission = models.ForeignKey("submissions.ModelSubmission", on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    # What a partner may know: no classified content, no reviewer, no finding.
    payload = models.JSONField()
    is_exercise = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self):
        return f"{self.type} {self.submission}"

    @property
    def label(self) -> str:
        return event_label(self.type)


class Delivery(models.Model):
    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead-lettered"
        # Waiting for its reader's digest, due at next_attempt_at; then sent inside one.
        HELD = "held", "Held for a digest"
        DIGESTED = "digested", "Sent in a digest"
        # Held for a digest, and left out of it: its reader was deactivated (or its partner
        # removed) meanwhile, or what it asked for was done before the digest (last_error says which).
        DROPPED = "dropped", "Not sent: left out of its digest"

    class Kind(models.TextChoices):
        # An event's notification (or a digest of them): retried, and its dead letter alerts.
        NOTIFICATION = "notification", "Notification"
        # A `webhook.test` a partner asked for: tried once, its result is the answer.
        TEST = "test", "Test"
        # The email saying another delivery was dead-lettered: never itself alerts (no loop).
        ALERT = "alert", "Dead-letter alert"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty for a digest, which gathers the events of its items (Delivery.items).
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    partner = models.ForeignKey(TrustedPartner, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # A developer organization's own endpoint (partners.WebhookEndpoint); its deliveries go with it.
    endpoint = models.ForeignKey(
        "WebhookEndpoint", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    address = models.CharField(max_length=500, help_text="The URL or email address at the time of the event.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt may start. A claimed delivery gets a lease here, so a worker
    # that dies mid-send leaves it to be retried, with the same id, after the lease.
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # An item held for a digest points at the digest that carried it (set once, with DIGESTED).
    digest = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="items")
    # A digest's message, written when it is built from its items (a retry sends the same words).
    # For a developer endpoint's webhook: its JSON body, written with the event (what the
    # developer may know), or the test event's (subject: its type).
    subject = models.CharField(max_length=300, blank=True, db_default="")
    body = models.TextField(blank=True, db_default="")
    # A follower of the public register (register.Subscription): its confirmation (no event)
    # or a notice of a listing (the event).
    subscription = models.ForeignKey(
        "register.Subscription", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NOTIFICATION, db_default="notification")
    # Set once, in the transaction that dead-letters it, when its alert is written: a second
    # worker, a replayed task or a later sweep finds it set and alerts nobody again.
    alerted_at = models.DateTimeField(null=True, blank=True)
    # An alert points at the dead delivery it is about.
    alert_for = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts")

    class Meta:
        ordering = ["-next_attempt_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due"),
            # "Whose digest is due now?" reads only the held items that are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="held"), name="delivery_held_due"),
        ]
        constraints = [
            # One delivery per event and destination: a duplicate notification cannot exist.
            # A developer endpoint is a destination of its own (its URL may be anyone's too).
            models.UniqueConstraint(
                fields=["event", "channel", "address"],
                condition=Q(endpoint__isnull=True),
                name="one_delivery_per_destination",
            ),
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint"),
            # One alert per dead delivery and address, whatever races past the compare-and-set.
            models.UniqueConstraint(fields=["alert_for", "address"], name="one_alert_per_dead_letter_and_address"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.address} ({self.get_status_display()})"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"

    def signing_secrets(self, now) -> list[str]:
        """The secrets this webhook is signed with now, as its owner says (a trusted partner,
        a developer's endpoint, a register follower); none when it has no owner to sign for it."""
        owner = self.subscription if self.subscription_id else (self.partner or self.endpoint)
        return owner.signing_secrets(now) if owner is not None else []

    def webhook_address_now(self) -> str:
        """Where this webhook goes now: its owner's URL as it stands. A URL changed after the
        event (often a domain given up, or lost) takes the retries and redeliveries with it,
        rather than sending them to the old one; "" when the owner no longer has a webhook."""
        if self.endpoint is not None:
            return self.endpoint.url
        if self.partner is not None:
            return self.partner.webhook_url
        return self.address  # a register follower's endpoint never changes its URL

    @property
    def is_exercise_traffic(self) -> bool:
        """Recorded for the after-action review, never sent: an exercise's event, or anything
        for an exercise's partner or endpoint (their test events included)."""
        if self.event is not None and self.event.is_exercise:
            return True
        if self.partner is not None and self.partner.is_exercise:
            return True
        return self.endpoint is not None and self.endpoint.is_exercise

    @property
    def label(self) -> str:
        """What this delivery carries, in words (the pages' "Event" column)."""
        if self.event_id is not None:
            return self.event.label
        if self.kind == self.Kind.TEST:
            return "Test webhook"
        if self.kind == self.Kind.ALERT:
            return "Dead-letter alert"
        if self.subscription_id is not None:
            return "A register follower's confirmation"
        if self.endpoint_id is not None:
            return "Test event to a developer's endpoint"
        return "A digest"


MAX_ENDPOINTS_PER_ORGANIZATION = 10


class WebhookEndpoint(models.Model):
    """A developer organization's own HTTPS endpoint for events about its own submissions.

    Its integration managers (accounts.rules.may_manage_integrations) add and manage it. It
    belongs to its organization's world: an exercise's developer has exercise endpoints only,
    and their deliveries are recorded, never sent.
    """

    organization = models.ForeignKey(
        "submissions.Organization",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        limit_choices_to={"kind": "developer"},
    )
    url = models.URLField(max_length=500, verbose_name="URL")
    description = models.CharField(
        max_length=200, blank=True, validators=[validate_single_line], help_text="What it is for, for your colleagues."
    )
    # Shown once, when the endpoint is made; never read back.
    secret = models.CharField(max_length=100, default=new_webhook_secret)
    event_types = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    # Set from the organization when saved (an organization never changes world).
    is_exercise = models.BooleanField(default=False, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["organization", "created_at", "pk"]
        verbose_name = "webhook endpoint"
        permissions = [("manage_integrations", "Can manage its organization's webhook endpoints")]
        constraints = [
            models.UniqueConstraint(fields=["organization", "url"], name="one_endpoint_per_url"),
        ]

    def __str__(self):
        return self.url

    def save(self, *args, **kwargs):
        self.is_exercise = self.organization.exercise_id is not None
        super().save(*args, **kwargs)

    def signing_secrets(self, now) -> list[str]:
        return [self.secret]

    @property
    def event_labels(self) -> list[str]:
        return [event_label(t) for t in self.event_types]

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = self.problems(check_url=True)
        if errors:
            raise ValidationError(errors)

    def problems(self, *, check_url: bool) -> dict[str, list[str]]:
        """What is wrong with it, by field. The URL is checked (resolved) when it is set or
        changed, and again at every send: switching an endpoint off never waits on its DNS."""
        from . import destinations

        errors = {}
        if not self.url:
            errors["url"] = ["Enter the endpoint's https:// URL."]
        elif check_url:
            reason = destinations.problem(self.url)
            if reason:
                errors["url"] = [reason]
        types = self.event_types if isinstance(self.event_types, list) else None
        if not types:
            errors["event_types"] = ["Choose at least one event to receive."]
        elif len(set(types)) != len(types) or not set(types) <= set(DeveloperEventType.values):
            errors["event_types"] = ["Choose each event once, from the list."]
        return errors


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "started_at", "pk"]

    def __str__(self):
        return f"Attempt {self.number} of {self.delivery}"


class DemoInboxMessage(models.Model):
    """A webhook received by the built-in demo receiver (DEBUG only).

    It plays a trusted partner's endpoint in the local demo: it verifies the signature
    and keeps each webhook-id once, counting repeats, as a careful receiver would.
    """

    partner = models.ForeignKey(TrustedPartner, on_delete=models.CASCADE, related_name="demo_inbox")
    webhook_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=60)
    body = models.JSONField()
    signature_valid = models.BooleanField()
    first_received_at = models.DateTimeField()
    times_received = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-first_received_at"]
        constraints = [models.UniqueConstraint(fields=["partner", "webhook_id"], name="demo_inbox_one_row_per_id")]

    def __str__(self):
        return f"{self.webhook_id} for {self.partner}"

    @property
    def label(self) -> str:
        return event_label(self.event_type)
