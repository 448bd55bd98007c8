"""Downstream builders follow the public register: by email (double opt-in) or by webhook
(a verified endpoint). What they receive is what the register shows, nothing more."""

import secrets
import uuid

from django.db import models
from django.db.models import Q


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class Subscription(models.Model):
    """One address (an email or an endpoint) following one developer, or one of its models.

    An email subscription is one row per address and target: asking again reuses it (a new
    confirmation if it is not confirmed, nothing if it is), so repeating a request creates no
    duplicate. A webhook registration is its own row until its endpoint proves control; a
    verified endpoint replaces an earlier one for the same target and URL.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The email address or the endpoint's URL.
    address = models.CharField(max_length=500)
    organization = models.ForeignKey(
        "submissions.Organization", on_delete=models.CASCADE, related_name="register_subscriptions"
    )
    # Empty: every model of the developer; otherwise one model family, as the register names it.
    model_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    # The confirmation link (email) carries this nonce, signed; confirming clears it, so the
    # link works once. Webhooks: the random value their endpoint echoed is not kept.
    confirm_nonce = models.CharField(max_length=64, blank=True)
    # Part of every stop link: replaced when an ended subscription is asked for again, so a stop
    # link from an earlier subscription (a forwarded message) cannot end the new one.
    stop_nonce = models.CharField(max_length=64, blank=True)
    confirm_expires_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # A webhook's signing secret (Standard Webhooks), shown once when it is registered.
    secret = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Asking twice for the same email and target reuses the row (and two racing asks
            # meet here).
            models.UniqueConstraint(
                fields=["channel", "address", "organization", "model_name"],
                condition=Q(channel="email"),
                name="register_one_email_subscription_per_target",
            ),
            models.UniqueConstraint(
                fields=["channel", "address", "organization", "model_name"],
                condition=Q(channel="webhook", status="active"),
                name="register_one_verified_webhook_per_target",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "model_name"], condition=Q(status="active"), name="register_sub_active"
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.address} following {self.target}"

    @property
    def target(self) -> str:
        """What is followed, as the register names it."""
        name = self.organization.name
        return f"{name}'s {self.model_name}" if self.model_name else f"every model of {name}"

    def signing_secrets(self, now) -> list[str]:
        """The secrets a webhook to this endpoint is signed with (one: no rotation here; an
        endpoint that wants a new secret registers again and removes the old registration)."""
        return [self.secret] if self.channel == self.Channel.WEBHOOK and self.secret else []


class FollowThrottle(models.Model):
    """A counter per client or per address (hashed): the follow form cannot be used to flood
    someone's inbox or an endpoint. In the database, so every web process shares it."""

    key = models.CharField(max_length=80, primary_key=True)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.key
