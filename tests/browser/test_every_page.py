"""Every page each role can reach, at 1280 px and on a 390 px phone: no sideways scroll, no axe violation.

The pages are not listed by hand: each person starts at home and follows the portal's own
links, so a new page is checked as soon as something links to it. Each kind of page (its URL
name, and the action for action pages) is checked once per role, at both widths, and kept as
a screenshot under var/screenshots/ for people to judge the look.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve

from submissions.models import ModelSubmission
from submissions.review_clock import act_on_due_items
from submissions.seeding import load_seed

# The demo seed brings its own catalog: no reference benchmarks beside it.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.browser,
    pytest.mark.empty_catalog,
]

SEED = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"
ROLES = [
    "dev.google",
    "dev.meta",
    "reviewer.alice",
    "lead.carol",
    "admin.dana",
    "partner.erin",
    "controller.frank",
    "trainee.gail",
]
# Not pages of ours to judge, or not pages at all: Django's own admin, the API, files.
SKIP_PREFIXES = ("/admin/", "/api/", "/logout/", "/static/", "/healthz/")
SKIP_NAMES = {"artifact_download", "evidence", "export_download", "report_csv", "report_json", "feed"}
WIDTHS = [(1280, 900), (390, 844)]


def _kind(path: str) -> str | None:
    if "." in path.rsplit("/", 1)[-1]:
        return None  # a file (report.pdf, export.csv, calendar.ics), not a page
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.url_name in SKIP_NAMES or any(n in (match.url_name or "") for n in ("download", "export_file")):
        return None
    extra = [str(v) for v in match.kwargs.values() if isinstance(v, str) and not v.isdigit()]
    return ":".join([match.view_name, *extra])


def _links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    out = []
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "javascript:")):
            continue
        parts = urlsplit(href)
        if parts.netloc and f"{parts.scheme}://{parts.netloc}" != base:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith(SKIP_PREFIXES):
            continue
        out.append(path)
    return out


def _crawl(journey, label: str, start: str = "/", limit: int = 40, also=()) -> list[str]:
    page = journey.page
    seen_kinds: set[str] = set()
    checked = []
    queue = deque([start, *also])
    visited = set()
    while queue and len(checked) < limit:
        path = queue.popleft()
        if path in visited:
            continue
        visited.add(path)
        kind = _kind(urlsplit(path).path)
        if kind is None or kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        journey.go(path)
        if "html" not in (page.evaluate("document.contentType") or ""):
            continue
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            name = f"{label} {kind.replace(':', '-')} {width}"
            journey.check(name)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"
        page.set_viewport_size({"width": 1280, "height": 900})
        checked.append(kind)
        queue.extend(_links(page, journey.base))
    return checked


@pytest.fixture
def demo():
    from django.utils import timezone

    from accounts.models import User
    from exercises import scenarios
    from exercises import services as exercise_services

    report = load_seed(SEED)
    act_on_due_items(timezone.now())  # the overdue intake becomes a breach
    assert ModelSubmission.objects.exists()
    passwords = {username: password for username, _role, password in report.passwords}
    # A running exercise, so its console, report and players' pages are reached too.
    controller = User.objects.get(username="controller.frank")
    sheet = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller)
    exercise_services.exercise_start(exercise=sheet.exercise, actor=controller)
    passwords.update(sheet.passwords)
    return passwords


def _section_lists(user) -> list[str]:
    """Each of the person's full lists (home links to them only once they outgrow the page)."""
    from django.urls import reverse

    from submissions.selectors import submission_sections

    return [f"{reverse('submissions:list')}?section={key}" for key in submission_sections(user)]


@pytest.mark.parametrize("username", ROLES)
def test_every_page_a_role_reaches_fits_a_phone_and_passes_axe(demo, journey, username):
    from accounts.models import User

    user = User.objects.get(username=username)
    journey.sign_in(user, demo[username])
    checked = _crawl(journey, username, also=_section_lists(user))
    assert "home" in checked and len(checked) >= 2, checked
    journey.assert_accessible()


@pytest.mark.parametrize("player", ["lead", "dev", "admin"])
def test_every_page_an_exercise_player_reaches_fits_a_phone_and_passes_axe(demo, journey, player):
    from accounts.models import User

    user = User.objects.get(exercise__isnull=False, username__endswith=f".{player}")
    journey.sign_in(user, demo[user.username])
    checked = _crawl(journey, f"player {player}", also=_section_lists(user))
    assert "home" in checked, checked
    journey.assert_accessible()


def test_every_public_page_fits_a_phone_and_passes_axe(demo, journey):
    checked = _crawl(journey, "public", start="/register/")
    checked += _crawl(journey, "public", start="/login/")
    assert {"register:page", "login"} <= set(checked), checked
    journey.assert_accessible()
