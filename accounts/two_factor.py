"""Time-based one-time passwords (django-otp) for the office's accounts.

Administrators, reviewers, lead reviewers, exercise controllers and evaluators (and
superusers) must confirm a TOTP device and enter a code at every sign-in; anyone else may
opt in, and once they have a confirmed device it is asked for too.
"""

from __future__ import annotations

import segno
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from caisi_portal.errors import ValidationFailed

from .roles import Role, has_role

# An allied institute's reviewers read classified findings too: the same second factor.
REQUIRED_FOR = (Role.ADMINISTRATOR, Role.REVIEWER, Role.LEAD_REVIEWER, Role.INSTITUTE_REVIEWER)
MSG_WRONG_CODE = "That code is not right, or has expired. Enter the six digits your app shows now."


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def second_factor_required(user) -> bool:
    from . import rules

    if not user.is_authenticated:
        return False
    if rules.is_player(user):
        # A player's account reaches only its exercise's simulated data.
        return confirmed_device(user) is not None
    return (
        user.is_superuser
        or has_role(user, *REQUIRED_FOR)
        # Controllers and evaluators hold players' credentials (sign-in sheets, new passwords).
        or rules.holds_exercise_credentials(user)
        or confirmed_device(user) is not None
    )


def totp_device_for_setup(*, user) -> TOTPDevice:
    """The device being set up: an unconfirmed one is reused, so reloading keeps the key."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def simulated_device(user, name: str = "Authenticator app") -> TOTPDevice:
    """A confirmed device with no person behind it: seeded demo accounts, tests, benchmarks.

    Its code is computed with current_code(); real people confirm theirs with totp_confirm().
    """
    device = confirmed_device(user) or totp_device_for_setup(user=user)
    device.confirmed, device.name = True, name
    device.save(update_fields=["confirmed", "name"])
    return device


def setup_key(device: TOTPDevice) -> str:
    """The secret as people type it into an authenticator app (base32, as in the QR code)."""
    import base64

    return base64.b32encode(device.bin_key).decode()


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG (no script, so the page's CSP allows it)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def totp_confirm(*, request, device: TOTPDevice, token: str) -> None:
    """Confirm a new device with its first code, and count this session as verified."""
    if not device.verify_token(token.strip()):
        raise ValidationFailed(MSG_WRONG_CODE, details={"token": [MSG_WRONG_CODE]})
    # One app per person: confirming a new one replaces the old.
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _verified(request, device)


def totp_verify(*, request, token: str) -> None:
    device = confirmed_device(request.user)
    if device is None or not device.verify_token(token.strip()):
        raise ValidationFailed(MSG_WRONG_CODE, details={"token": [MSG_WRONG_CODE]})
    _verified(request, device)


def _verified(request, device) -> None:
    """The session now carries more power: give it a new id, so an id seen before the code
    (on a shared machine, in a log) is worth nothing after it."""
    request.session.cycle_key()
    otp_login(request, device)


def current_code(device: TOTPDevice) -> str:
    """The code the device shows now (the demo's `totp_code` command and the tests)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
