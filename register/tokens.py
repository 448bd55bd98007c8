"""The links a follower is sent: signed with the portal's secret key, so they cannot be
guessed, and never stored anywhere as they are (the database holds a random nonce at most)."""

from django.core import signing

_CONFIRM = signing.Signer(salt="register.follow.confirm")
_STOP = signing.Signer(salt="register.follow.stop")


def confirm_token(subscription) -> str:
    """Names the subscription and its current nonce: confirming clears the nonce, so the link
    works once; its expiry is on the row (confirm_expires_at)."""
    return _CONFIRM.sign(f"{subscription.pk.hex}.{subscription.confirm_nonce}")


def confirm_parts(token: str) -> tuple[str, str] | None:
    """(subscription id hex, nonce), or None for a link that was not made here."""
    try:
        value = _CONFIRM.unsign(token)
    except signing.BadSignature:
        return None
    pk, _, nonce = value.partition(".")
    return (pk, nonce) if pk and nonce else None


def stop_token(subscription) -> str:
    """The link to stop a subscription (unsubscribe, or remove a webhook): in every message,
    valid until the subscription ends and is asked for again (its stop nonce then changes)."""
    nonce = subscription.stop_nonce
    return _STOP.sign(f"{subscription.pk.hex}.{nonce}" if nonce else subscription.pk.hex)


def stop_parts(token: str) -> tuple[str, str] | None:
    """(subscription id hex, stop nonce: "" in links made before nonces), or None for a link
    that was not made here."""
    try:
        value = _STOP.unsign(token)
    except signing.BadSignature:
        return None
    pk, _, nonce = value.partition(".")
    return (pk, nonce) if pk else None
