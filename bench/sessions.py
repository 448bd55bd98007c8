"""Signed-in sessions for benchmark clients, past the second factor like a real sign-in."""

from __future__ import annotations


def verified_session(user) -> str:
    """A session key for `user`, signed in and, where the role needs it, TOTP-verified."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts import two_factor

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.PortalBackend"  # the one in AUTHENTICATION_BACKENDS
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if two_factor.second_factor_required(user):
        session[DEVICE_ID_SESSION_KEY] = two_factor.simulated_device(user).persistent_id
    session.save()
    return session.session_key
