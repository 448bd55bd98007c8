"""Two-factor sign-in: required for the office, optional for others, enforced on every page."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from api.services import api_token_issue

pytestmark = [pytest.mark.django_db, pytest.mark.real_second_factor]

PASSWORD = "correct-horse-battery"


def sign_in(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return response


def test_reviewer_sets_up_an_app_before_seeing_anything(cast, client):
    sign_in(client, cast.reviewer)
    page = client.get(reverse("home"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("two_factor_setup"))
    setup = client.get(page["Location"])
    assert setup.status_code == 200 and b"<svg" in setup.content and b"Six-digit code" in setup.content

    wrong = client.post(reverse("two_factor_setup"), {"token": "000000"})
    assert wrong.status_code == 400 and b"That code is not right" in wrong.content
    assert client.get(reverse("home")).status_code == 302

    device = TOTPDevice.objects.get(user=cast.reviewer)
    # A wrong code holds the next try back a moment (django-otp throttling): guessing is slow.
    refused = client.post(reverse("two_factor_setup"), {"token": two_factor.current_code(device)})
    assert refused.status_code == 400
    with time_machine.travel(dt.timedelta(seconds=5)):
        done = client.post(reverse("two_factor_setup"), {"token": two_factor.current_code(device), "next": "/account/"})
    assert done.status_code == 302 and done["Location"] == "/account/"
    assert client.get(reverse("home")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_a_confirmed_app_is_asked_for_at_every_sign_in_and_a_code_works_once(cast, client):
    device = two_factor.totp_device_for_setup(user=cast.admin)
    device.confirmed = True
    device.save()
    with time_machine.travel("2026-11-23 12:00:00Z", tick=False):
        code = two_factor.current_code(device)
        sign_in(client, cast.admin)
        gate = client.get(reverse("dashboard:index"))
        assert gate["Location"].startswith(reverse("two_factor_verify"))
        assert client.post(reverse("two_factor_verify"), {"token": "12345"}).status_code == 400  # five digits
        assert client.post(reverse("two_factor_verify"), {"token": code, "next": "/dashboard/"})["Location"] == (
            "/dashboard/"
        )
        assert client.get(reverse("dashboard:index")).status_code == 200

        # Someone who saw that code over the shoulder cannot use it again.
        client.post(reverse("logout"))
        sign_in(client, cast.admin)
        replay = client.post(reverse("two_factor_verify"), {"token": code})
        assert replay.status_code == 400
        assert client.get(reverse("dashboard:index")).status_code == 302


def test_the_api_refuses_an_unverified_session_but_takes_a_token(cast, client):
    sign_in(client, cast.admin)
    refused = client.get("/api/v1/sla-breaches/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "second_factor_required"
    _, key = api_token_issue(user=cast.admin, name="pipeline")
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/sla-breaches/").status_code == 200


@pytest.mark.parametrize("who", ["admin", "lead", "reviewer", "low_reviewer", "unassigned_reviewer"])
def test_every_office_role_needs_it(cast, client, who):
    sign_in(client, getattr(cast, who))
    assert client.get(reverse("home"))["Location"].startswith(reverse("two_factor_setup"))


@pytest.mark.parametrize("who", ["developer", "partner", "trainee"])
def test_optional_for_others_until_they_opt_in(cast, client, who):
    user = getattr(cast, who)
    sign_in(client, user)
    assert client.get(reverse("home")).status_code == 200
    assert b"Optional for your role" in client.get(reverse("profile")).content
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=user)
    assert client.post(reverse("two_factor_setup"), {"token": two_factor.current_code(device)}).status_code == 302
    client.post(reverse("logout"))
    sign_in(client, user)
    assert client.get(reverse("home"))["Location"].startswith(reverse("two_factor_verify"))


def test_public_pages_and_the_sign_out_stay_reachable(cast, client):
    sign_in(client, cast.reviewer)
    assert client.get(reverse("register:page")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302


def test_the_django_admin_is_behind_it_too(cast, client):
    cast.admin.is_staff = cast.admin.is_superuser = True
    cast.admin.save()
    sign_in(client, cast.admin)
    assert client.get("/admin/")["Location"].startswith(reverse("two_factor_setup"))


def test_an_unconfirmed_app_can_be_replaced_only_after_the_old_code(cast, client):
    device = two_factor.totp_device_for_setup(user=cast.lead)
    device.confirmed = True
    device.save()
    sign_in(client, cast.lead)
    # Without the current app's code nobody can swap in their own app.
    assert client.get(reverse("two_factor_setup"))["Location"] == reverse("two_factor_verify")


def test_demo_code_command_only_in_the_demo(cast, settings, capsys):
    cast.admin.is_simulated = True
    cast.admin.save()
    device = two_factor.totp_device_for_setup(user=cast.admin)
    device.confirmed = True
    device.save()
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Only for the local demo"):
        call_command("totp_code", "admin")
    settings.DEBUG = True
    call_command("totp_code", "admin")
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and device.verify_token(code)
    with pytest.raises(CommandError, match="No seeded demo account"):
        call_command("totp_code", "developer")
