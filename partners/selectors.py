"""What people read about their own notifications."""

from __future__ import annotations

from accounts import rules

from .models import Delivery


def held_for(user):
    """The person's own emails held for their next digest, the soonest to go out first (then in
    the order they happened), each with its event and submission."""
    return rules.scope_held_deliveries(Delivery.objects.select_related("event__submission"), user).order_by(
        "next_attempt_at", "event__occurred_at", "pk"
    )
