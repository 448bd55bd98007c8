"""Sign-in lockout, the Content-Security-Policy, and `check --deploy` in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from submissions.models import State

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_repeated_wrong_passwords_lock_the_account_out(cast, client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "dev", "password": "wrong"})
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.content
    # Even the right password is refused while locked out.
    response = client.post(reverse("login"), {"username": "dev", "password": "correct-horse-battery"})
    assert response.status_code == 429
    # Another account from the same address is not locked.
    response = client.post(reverse("login"), {"username": "admin", "password": "correct-horse-battery"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_right_password_signs_in(cast, client):
    response = client.post(reverse("login"), {"username": "dev", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("home")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/dashboard/", "/register/", "/api/docs/"])
def test_every_page_carries_a_strict_content_security_policy(cast, client, path):
    cast.submission(State.CLEARED)
    client.force_login(cast.admin)
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # Only the API docs allow inline styles (Swagger UI); no page allows inline scripts.
    assert ("unsafe-inline" in policy) == (path == "/api/docs/")
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_check_deploy_passes_with_production_settings():
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SECRET_KEY": "p" * 20 + "-production-like-secret-with-enough-length-and-variety-0123456789",
        "ALLOWED_HOSTS": "portal.example.gov",
        "DATABASE_URL": "sqlite:////tmp/caisi-check-deploy.sqlite3",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
