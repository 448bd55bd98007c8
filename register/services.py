"""Following the public register: subscribe (email, double opt-in; webhook, a challenge),
confirm, stop, and tell followers when the office lists or withdraws a review.

Followers only ever receive the register's own public fields (selectors.public_rows), of live
reviews, through the partners' outbox (retries, backoff, dead letters, the worker).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import ApplicationError, ValidationFailed
from caisi_portal.text import control_characters
from partners import destinations
from partners.models import Delivery, Event, new_webhook_secret

from . import messages, selectors, tokens
from .models import FollowThrottle, Subscription

CONFIRM_FOR = dt.timedelta(hours=48)
# (hits, window): follow requests per client; confirmation emails per address (all targets
# together); challenges sent per client. Beyond them the form refuses (client) or quietly
# sends nothing more (address: saying so would tell whether someone asked for it).
PER_CLIENT = (20, dt.timedelta(hours=1))
PER_ADDRESS = (3, dt.timedelta(hours=24))
CHALLENGES_PER_CLIENT = (10, dt.timedelta(hours=1))
CHALLENGE_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
CHALLENGE_SECONDS = 8.0  # the endpoint's whole answer, however it trickles
CHALLENGE_MAX_BYTES = 4096
CHALLENGE_TYPE = "register.challenge"

MSG_THROTTLED = "Too many requests from your connection: try again in an hour."
MSG_TARGET = "Choose a developer or a model from the register's lists."
MSG_EMAIL = "Enter one email address, such as name@example.org."
MSG_EMAIL_CONTROL = "An email address cannot contain line breaks or other control characters ({found})."
MSG_URL_CONTROL = "A URL cannot contain line breaks or other control characters ({found})."
MSG_URL_LONG = "Keep the URL to 500 characters at most."
MSG_GONE = "This registration was removed: register the endpoint again to follow the register."
MSG_ALREADY = "This endpoint is already verified: it receives the notices."
MSG_NO_ANSWER = "The endpoint did not answer within {seconds} seconds ({kind}): nothing was verified."
MSG_STATUS = "The endpoint answered HTTP {status}: it must answer 2xx with the challenge in its body."
MSG_NO_ECHO = (
    "The endpoint answered, but its body did not hold the challenge: answer with the challenge's value "
    '(as the whole body, or as {"challenge": "..."} in JSON).'
)
MSG_RACE = "Another registration of this endpoint was verified at the same moment: try again."


class Throttled(ApplicationError):
    status_code = 429
    code = "throttled"


# --- rate limits -------------------------------------------------------------------------------


def throttle_hit(kind: str, value: str, *, limit: int, window: dt.timedelta) -> bool:
    """Count one hit for (kind, value); True while within `limit` hits per `window`.

    One statement (an upsert), so two requests racing both count; only a hash of the value is
    kept (an address or a client's IP is nobody's business in this table).
    """
    now = timezone.now()  # wall time: about people's requests, not a simulated review
    key = f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"[:80]
    table = FollowThrottle._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (key, window_start, hits) VALUES (%s, %s, 1) '  # noqa: S608
            f'ON CONFLICT (key) DO UPDATE SET hits = CASE WHEN "{table}".window_start <= %s THEN 1 '
            f'ELSE "{table}".hits + 1 END, window_start = CASE WHEN "{table}".window_start <= %s '
            f'THEN excluded.window_start ELSE "{table}".window_start END RETURNING hits',
            [key, now, now - window, now - window],
        )
        hits = cursor.fetchone()[0]
    return hits <= limit


def _client_allowed(client: str, kind="client", limits=PER_CLIENT) -> None:
    if not throttle_hit(kind, client or "unknown", limit=limits[0], window=limits[1]):
        raise Throttled(MSG_THROTTLED)


# --- what may be followed ----------------------------------------------------------------------


def follow_target(value: str):
    """(organization, model name) for a choice of the follow form: "<developer slug>" or
    "<developer slug>/<model name>", and only what the register lists."""
    slug, _, model = (value or "").partition("/")
    for developer in selectors.followable():
        if developer["slug"] == slug and (not model or model in developer["models"]):
            return developer["organization"], model
    raise ValidationFailed(MSG_TARGET, details={"follow": [MSG_TARGET]})


def _clean_email(address: str) -> str:
    found = control_characters(address or "")
    if found:
        raise ValidationFailed(MSG_EMAIL, details={"email": [MSG_EMAIL_CONTROL.format(found=", ".join(found))]})
    address = address.strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed(MSG_EMAIL, details={"email": [MSG_EMAIL]}) from None
    return address


def _clean_url(url: str) -> str:
    found = control_characters(url or "")
    if found:
        raise ValidationFailed(MSG_URL_CONTROL.format(found=", ".join(found)), details={"url": [MSG_URL_CONTROL]})
    url = url.strip()
    if len(url) > 500:
        raise ValidationFailed(MSG_URL_LONG, details={"url": [MSG_URL_LONG]})
    reason = destinations.problem(url) if url else destinations.MSG_MALFORMED
    if reason:
        raise ValidationFailed(reason, details={"url": [reason]})
    return url


# --- email: double opt-in ----------------------------------------------------------------------


def subscription_request_email(*, address: str, follow: str, client: str) -> str:
    """Ask for notices by email. Sends a confirmation (single-use, expiring link) unless the
    address already follows this; says the same either way, so the form tells nobody whether
    an address is subscribed. Nothing but the confirmation is sent until it is confirmed.
    Returns what is followed, in words."""
    _client_allowed(client)
    address = _clean_email(address)
    organization, model_name = follow_target(follow)
    now = clock.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                subscription, _ = Subscription.objects.select_for_update().get_or_create(
                    channel=Subscription.Channel.EMAIL,
                    address=address,
                    organization=organization,
                    model_name=model_name,
                    defaults={"created_at": now},
                )
        except IntegrityError:  # two identical requests racing: the other one created it
            subscription = Subscription.objects.select_for_update().get(
                channel=Subscription.Channel.EMAIL, address=address, organization=organization, model_name=model_name
            )
        target = Subscription(organization=organization, model_name=model_name).target
        if subscription.status == Subscription.Status.ACTIVE:
            return target
        if not throttle_hit("address", address, limit=PER_ADDRESS[0], window=PER_ADDRESS[1]):
            return target
        if subscription.status == Subscription.Status.ENDED or not subscription.stop_nonce:
            # Asked for again after it ended: stop links sent for the earlier one no longer work.
            subscription.stop_nonce = secrets.token_urlsafe(16)
        subscription.status = Subscription.Status.PENDING
        # A new nonce: only the newest confirmation link works.
        subscription.confirm_nonce = secrets.token_urlsafe(24)
        subscription.confirm_expires_at = now + CONFIRM_FOR
        subscription.ended_at = None
        subscription.save(update_fields=["status", "confirm_nonce", "confirm_expires_at", "ended_at", "stop_nonce"])
        delivery = Delivery.objects.create(
            channel=Delivery.Channel.EMAIL,
            subscription=subscription,
            address=address,
            next_attempt_at=now,
            subject=f"Confirmation: follow {subscription.target}",
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return target


def subscription_confirm(*, token: str) -> tuple[str, Subscription | None]:
    """Confirm by the emailed link, once. ("confirmed" | "already" | "replaced" | "expired" |
    "invalid", the subscription)."""
    parts = tokens.confirm_parts(token)
    if parts is None:
        return "invalid", None
    pk, nonce = parts
    now = clock.now()
    confirmed = Subscription.objects.filter(
        pk=pk,
        channel=Subscription.Channel.EMAIL,
        status=Subscription.Status.PENDING,
        confirm_nonce=nonce,
        confirm_expires_at__gt=now,
    ).update(status=Subscription.Status.ACTIVE, confirmed_at=now, confirm_nonce="")
    subscription = Subscription.objects.select_related("organization").filter(pk=pk).first()
    if subscription is None:
        return "invalid", None
    if confirmed:
        return "confirmed", subscription
    if subscription.status == Subscription.Status.ACTIVE:
        return "already", subscription
    if subscription.status == Subscription.Status.PENDING and subscription.confirm_nonce == nonce:
        return "expired", subscription
    return "replaced", subscription


def subscription_for_stop(token: str) -> Subscription | None:
    """The subscription a stop link names, while the link is its current one."""
    parts = tokens.stop_parts(token)
    if parts is None:
        return None
    pk, nonce = parts
    subscription = Subscription.objects.select_related("organization").filter(pk=pk).first()
    if subscription is None or not hmac.compare_digest(subscription.stop_nonce, nonce):
        return None
    return subscription


def subscription_stop(*, subscription: Subscription) -> bool:
    """Unsubscribe (email) or remove (webhook): nothing more is sent, notices still waiting in
    the outbox included. True if it was following; stopping twice is harmless."""
    now = clock.now()
    with transaction.atomic():
        stopped = (
            Subscription.objects.filter(pk=subscription.pk)
            .exclude(status=Subscription.Status.ENDED)
            .update(status=Subscription.Status.ENDED, ended_at=now, confirm_nonce="")
        )
        Delivery.objects.filter(subscription=subscription, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.DEAD, last_error="The follower stopped the subscription."
        )
    subscription.refresh_from_db()
    return bool(stopped)


# --- webhooks: a challenge proves control --------------------------------------------------------


def subscription_request_webhook(*, url: str, follow: str, client: str) -> Subscription:
    """Register an endpoint. It receives nothing until it echoes a challenge
    (subscription_verify_webhook). Its secret is the caller's to show, once."""
    _client_allowed(client)
    url = _clean_url(url)
    organization, model_name = follow_target(follow)
    return Subscription.objects.create(
        channel=Subscription.Channel.WEBHOOK,
        address=url,
        organization=organization,
        model_name=model_name,
        created_at=clock.now(),
        secret=new_webhook_secret(),
        stop_nonce=secrets.token_urlsafe(16),
    )


def subscription_verify_webhook(*, subscription: Subscription, client: str, resolve=None) -> Subscription:
    """POST a signed random challenge to the endpoint; it is verified if its answer (2xx, within
    CHALLENGE_SECONDS) holds the challenge. A verified endpoint replaces an earlier verified
    registration of the same URL and target: it has just proved it controls the URL."""
    if subscription.status == Subscription.Status.ENDED:
        raise ValidationFailed(MSG_GONE)
    if subscription.status == Subscription.Status.ACTIVE:
        raise ValidationFailed(MSG_ALREADY)
    _client_allowed(client, "challenge", CHALLENGES_PER_CLIENT)
    challenge = secrets.token_urlsafe(32)
    sent_at = timezone.now()  # the receiver's clock checks the signature: wall time
    body = json.dumps(
        {
            "type": CHALLENGE_TYPE,
            "timestamp": sent_at.isoformat(),
            "data": {"challenge": challenge, "following": subscription.target},
        },
        separators=(",", ":"),
    )
    message_id = f"msg_{secrets.token_hex(16)}"
    headers = {
        "content-type": "application/json",
        "user-agent": "CAISI-Review-Portal-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(subscription.secret).sign(message_id, sent_at, body),
    }
    try:
        where = destinations.check(subscription.address, resolve=resolve)
    except destinations.UnsafeDestination as exc:
        raise ValidationFailed(exc.message) from None
    headers["host"] = where.host_header
    answer = _post_challenge(where, body, headers)
    if not answer[0] or not 200 <= answer[0] < 300:
        raise ValidationFailed(MSG_STATUS.format(status=answer[0]))
    if not _echoes(answer[1], challenge):
        raise ValidationFailed(MSG_NO_ECHO)
    now = clock.now()
    try:
        with transaction.atomic():
            Subscription.objects.filter(
                channel=Subscription.Channel.WEBHOOK,
                address=subscription.address,
                organization_id=subscription.organization_id,
                model_name=subscription.model_name,
                status=Subscription.Status.ACTIVE,
            ).update(status=Subscription.Status.ENDED, ended_at=now)
            Subscription.objects.filter(pk=subscription.pk, status=Subscription.Status.PENDING).update(
                status=Subscription.Status.ACTIVE, confirmed_at=now
            )
    except IntegrityError:
        raise ValidationFailed(MSG_RACE) from None
    subscription.refresh_from_db()
    if subscription.status != Subscription.Status.ACTIVE:
        raise ValidationFailed(MSG_GONE)
    return subscription


def _post_challenge(where, body: str, headers: dict) -> tuple[int, bytes]:
    """(status, the first bytes of the answer). Redirects are not followed (each hop would need
    its own check), and a trickling answer is cut at CHALLENGE_SECONDS."""
    extensions = {"sni_hostname": where.tls_name} if where.tls_name else {}
    started = time.monotonic()
    received = b""
    try:
        with httpx.Client(timeout=CHALLENGE_TIMEOUT, follow_redirects=False) as client:
            request = client.build_request(
                "POST", where.connect_url, content=body, headers=headers, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) >= CHALLENGE_MAX_BYTES or time.monotonic() - started > CHALLENGE_SECONDS:
                        break
            finally:
                response.close()
    except httpx.HTTPError as exc:
        # The kind of failure only: an internal service's words are never shown.
        raise ValidationFailed(
            MSG_NO_ANSWER.format(seconds=int(CHALLENGE_SECONDS), kind=exc.__class__.__name__)
        ) from None
    return response.status_code, received[:CHALLENGE_MAX_BYTES]


def _echoes(answer: bytes, challenge: str) -> bool:
    text = answer.decode("utf-8", errors="replace").strip()
    if text == challenge:
        return True
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("challenge") == challenge


# --- telling followers -------------------------------------------------------------------------


def followers_notify(*, submission, listed: bool) -> int:
    """In the office's publishing transaction: one notice per confirmed follower of this review's
    developer or model, carrying the register's public fields only. Written by one
    INSERT ... SELECT (no Python object per follower) and handed to a worker after commit.
    Returns how many notices were written."""
    from submissions.models import ModelSubmission

    if not rules.may_tell_followers(submission):
        return 0
    fresh = ModelSubmission.objects.select_related("organization").get(pk=submission.pk)
    followers = Subscription.objects.filter(status=Subscription.Status.ACTIVE, organization_id=fresh.organization_id)
    followers = followers.filter(Q(model_name="") | Q(model_name__iexact=fresh.model_name))
    if not followers.exists():
        return 0
    rows = selectors.public_rows([fresh])
    if not rows:  # the register does not show it (no outcome to list): neither do notices
        return 0
    row = rows[0]
    if listed:
        event_type, payload = messages.LISTED, {**row, "listed_at": row["listed_at"].isoformat()}
    else:
        event_type, payload = messages.WITHDRAWN, {k: row[k] for k in ("organization", "model", "version")}
    event = Event.objects.create(
        type=event_type, submission=fresh, occurred_at=clock.now(), payload=payload, is_exercise=False
    )
    written = _insert_deliveries(event, followers)
    if written:
        transaction.on_commit(lambda: _dispatch([str(event.pk)]))
    return written


def _insert_deliveries(event: Event, followers) -> int:
    """One pending delivery per follower's address (an address following both the developer and
    the model is told once, under its model subscription)."""
    if connection.vendor != "postgresql":  # SQLite (make run): a few followers, in Python
        chosen = {}
        for s in followers.order_by("model_name"):
            chosen[(s.channel, s.address)] = s
        created = Delivery.objects.bulk_create(
            [
                Delivery(
                    event=event, channel=s.channel, subscription=s, address=s.address, next_attempt_at=event.occurred_at
                )
                for s in chosen.values()
            ],
            ignore_conflicts=True,
        )
        return len(created)
    one_each = (
        followers.order_by("channel", "address", "-model_name")
        .distinct("channel", "address")
        .values("id", "channel", "address")
    )
    select_sql, select_params = one_each.query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (id, event_id, channel, subscription_id, address, status, attempts, '  # noqa: S608
            "next_attempt_at, last_error) "
            "SELECT gen_random_uuid(), %s, f.channel, f.id, f.address, %s, 0, %s, '' "
            f"FROM ({select_sql}) AS f ON CONFLICT DO NOTHING",
            [event.pk, Delivery.Status.PENDING, event.occurred_at, *select_params],
        )
        return cursor.rowcount


def _enqueue(ids) -> None:
    from partners import services as outbox

    outbox._enqueue(ids)


def _dispatch(event_ids) -> None:
    from partners import services as outbox

    outbox._dispatch(event_ids)
