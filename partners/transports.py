"""How a delivery reaches its destination. One class per channel, chosen by registry."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from . import destinations

WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class TransportError(Exception):
    """A failed attempt. Permanent errors are not retried (e.g. no URL configured)."""

    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int


MSG_ENDPOINT_OFF = "The endpoint was disabled: not sent."


def webhook_json(type: str, occurred_at, data: dict) -> str:
    """A webhook's body: the event's type, when it happened, and what the receiver may know."""
    return json.dumps(
        {"type": type, "timestamp": occurred_at.isoformat(), "data": data}, separators=(",", ":"), sort_keys=True
    )


def webhook_body(delivery) -> str:
    if delivery.event_id is None or (delivery.endpoint_id is not None and delivery.body):
        # Its own body, written when it was made (a test, or a developer endpoint's event:
        # partners.integrations), so a retry or a redelivery sends the same bytes.
        return delivery.body
    event = delivery.event
    return webhook_json(event.type, event.occurred_at, event.payload)


class WebhookTransport:
    """Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature (HMAC-SHA256)."""

    def send(self, delivery, client: httpx.Client | None = None, resolve=None) -> Outcome:
        """One signed POST; over `client`'s pooled connections when given (a batch's sends)."""
        if delivery.endpoint is not None and not delivery.endpoint.is_active:
            raise TransportError(MSG_ENDPOINT_OFF, permanent=True)
        # The signature's timestamp is the receiver's wall time, never a simulated clock:
        # receivers reject timestamps more than five minutes off their own clock.
        sent_at = timezone.now()
        signing = [secret for secret in delivery.signing_secrets(sent_at) if secret]
        if not signing:
            raise TransportError("No webhook secret configured.", permanent=True)
        body = webhook_body(delivery)
        signature = " ".join(Webhook(secret).sign(delivery.webhook_id, sent_at, body) for secret in signing)
        headers = {
            "content-type": "application/json",
            "user-agent": "CAISI-Review-Portal-Webhooks/1",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        }
        address = delivery.webhook_address_now()
        if not address:
            raise TransportError("The webhook URL was removed: not sent.", permanent=True)
        try:
            # Checked again now, against the address it resolves to; the POST goes to that address.
            where = destinations.check(address, resolve=resolve)
        except destinations.UnsafeDestination as exc:
            raise TransportError(exc.message, permanent=not exc.transient) from None
        headers["host"] = where.host_header
        extensions = {"sni_hostname": where.tls_name} if where.tls_name else {}
        started = time.monotonic()
        try:
            if client is None:
                with httpx.Client(timeout=WEBHOOK_TIMEOUT) as own:
                    response = _post(own, where, body, headers, extensions)
            else:
                response = _post(client, where, body, headers, extensions)
        except httpx.HTTPError as exc:
            # The kind of failure only: an internal service's words are never kept or shown.
            raise TransportError(f"No answer from the endpoint ({exc.__class__.__name__}).") from exc
        latency = int((time.monotonic() - started) * 1000)
        if 200 <= response.status_code < 300:
            return Outcome(response.status_code, latency)
        # 410 Gone is the receiver saying "stop"; everything else may recover. The reply's
        # body is never stored: the status code and a fixed message say what happened.
        raise TransportError(
            f"The endpoint answered HTTP {response.status_code}.",
            permanent=response.status_code == 410,
            status_code=response.status_code,
        )


def _post(client, where, body, headers, extensions):
    request = client.build_request("POST", where.connect_url, content=body, headers=headers, extensions=extensions)
    return client.send(request)


class EmailTransport:
    def send(self, delivery, client=None, resolve=None) -> Outcome:
        from .messages import email_for

        headers = {"X-CAISI-Notification-Id": delivery.webhook_id}
        if delivery.subscription_id:
            # A follower of the public register: its own words, with an unsubscribe link and
            # the List-Unsubscribe headers.
            from register.messages import email_for as follower_email_for

            subject, body, extra = follower_email_for(delivery)
            headers |= extra
        else:
            subject, body = email_for(delivery)
        started = time.monotonic()
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.address],
            headers=headers,
        )
        try:
            message.send(fail_silently=False)
        except Exception as exc:
            raise TransportError(f"{exc.__class__.__name__}: {exc}") from exc
        return Outcome(None, int((time.monotonic() - started) * 1000))


TRANSPORTS = {"webhook": WebhookTransport(), "email": EmailTransport()}
