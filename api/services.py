"""Issuing, revoking and checking API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import NotPermitted, ValidationFailed
from caisi_portal.text import text_problems

from .models import ApiToken

TOKEN_PREFIX = "caisi_"
MAX_ACTIVE_TOKENS = 20


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_issue(*, user, name: str, read_only: bool = False) -> tuple[ApiToken, str]:
    """Make a token; return it and its key, which is never shown again."""
    if not rules.may_issue_api_token(user):
        raise NotPermitted("Exercise accounts cannot have API tokens: play the exercise on the portal's pages.")
    name = (name or "").strip()
    problems = text_problems(single_line={"name": name})
    if problems:
        raise ValidationFailed(problems["name"][0], details=problems)
    if not name:
        raise ValidationFailed("Name the token after what will use it.", details={"name": ["This field is required."]})
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationFailed(f"You already have {MAX_ACTIVE_TOKENS} active tokens: revoke one first.")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    from django.conf import settings

    now = clock.now()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:12],
        key_hash=_digest(key),
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.API_TOKEN_DAYS),
        read_only=bool(read_only),
    )
    return token, key


def api_token_revoke(*, user, token_id: int) -> None:
    ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(revoked_at=clock.now())


def api_token_authenticate(key: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=_digest(key), revoked_at__isnull=True).first()
    if token is not None:
        from django.conf import settings

        # A token made before expiry dates existed ends API_TOKEN_DAYS after it was made.
        expires = token.expires_at or token.created_at + dt.timedelta(days=settings.API_TOKEN_DAYS)
        if clock.now() >= expires:
            return None
    # A token works only while its owner may sign in and use the API (never an exercise account).
    if token is None or not rules.may_sign_in(token.user) or not rules.may_use_api(token.user):
        return None
    now = clock.now()
    # Recorded at most once a minute, so a busy script does not write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
