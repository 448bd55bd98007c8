"""Browser journeys: Playwright on Debian's Chromium against pytest-django's live server.

Each journey signs people in through the real pages (with their authenticator code where
the role needs one), saves screenshots of the pages that matter under var/screenshots/,
and checks every page it visits with axe-core: no violation of any impact (the issue asks for
no serious or critical one; the pages are clean of the minor ones too, and stay so).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from accounts import two_factor

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM from the test's thread
# The live server speaks plain HTTP, and its middleware reads these once, when it starts.
settings.SECURE_SSL_REDIRECT = False
settings.SECURE_HSTS_SECONDS = 0
settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
# Screenshots are for people judging the look (`make screenshots`); they assert nothing, and a
# full-page PNG of every page at two widths is most of the journeys' cost, so `make test` skips them.
KEEP_SCREENSHOTS = os.environ.get("SCREENSHOTS", "") not in ("", "0", "no")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, browser_name):
    if browser_name != "chromium":
        return browser_type_launch_args
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_FLAGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # axe-core is injected as a script; the portal's CSP (rightly) allows no inline script.
    return {**browser_context_args, "bypass_csp": True, "viewport": {"width": 1280, "height": 900}}


class Journey:
    """A person's browser session: sign in, look, check accessibility, keep screenshots."""

    def __init__(self, page, live_server, name, traveller):
        self.page, self.base, self.name, self.traveller = page, live_server.url, name, traveller
        self.signed_in: set[int] = set()
        page.set_default_timeout(10_000)
        self.shots = 0
        self.problems: list[str] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def go(self, path):
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, user, password=PASSWORD):
        page = self.page
        if user.pk in self.signed_in:
            # A code works once: coming back, the person types the next one, 30 s later.
            self.traveller.shift(dt.timedelta(seconds=31))
        self.signed_in.add(user.pk)
        page.context.clear_cookies()
        self.go("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        if "/account/two-factor/" in page.url:
            device = two_factor.confirmed_device(user)
            if device is None:  # first sign-in of an office account: set up the app
                page.wait_for_selector("#totp-key")
                device = two_factor.TOTPDevice.objects.get(user=user, confirmed=False)
            page.get_by_label("Six-digit code").fill(two_factor.current_code(device))
            page.get_by_role("button", name="Confirm" if "setup" in page.url else "Continue").click()
        return page

    def check(self, label):
        """Screenshot the page and run axe-core on it; any violation fails."""
        self.shots += 1
        slug = label.lower().replace(" ", "-").replace("/", "-")
        if KEEP_SCREENSHOTS:
            path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{slug}.png"
            self.page.screenshot(path=str(path), full_page=True)
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        for v in result["violations"]:
            targets = [n["target"] for n in v["nodes"]][:3]
            self.problems.append(f"{label}: {v['id']} ({v['impact']}): {v['help']} at {json.dumps(targets)}")

    def assert_accessible(self):
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def journey(page, live_server, request):
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as traveller:
        yield Journey(page, live_server, request.node.name.removeprefix("test_"), traveller)


@pytest.fixture(autouse=True)
def evaluation_domains(transactional_db):
    """Live-server tests flush the database between tests; put back the migration's domains."""
    from importlib import import_module

    from django.apps import apps

    import_module("reviews.migrations.0002_default_domains").create_domains(apps, None)
