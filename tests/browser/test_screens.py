"""Every role's everyday pages on the demo seed, for people to look at and for axe-core.

The journeys prove the work flows; this tour keeps a screenshot of what each role sees
first (home), the submission page from each side, and the administrators' dashboard,
so the look can be judged from the CI artifacts and no page slips an accessibility check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

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


@pytest.fixture
def demo():
    report = load_seed(SEED)
    from django.utils import timezone

    act_on_due_items(timezone.now())  # the overdue intake becomes the dashboard's breach
    passwords = {username: password for username, _role, password in report.passwords}
    # By model name; a family with several versions (Gemini-Sim 4 Ultra and 3 Flash) by its
    # first-filed version, the one the tour's people work on.
    models = {}
    for s in ModelSubmission.objects.order_by("pk"):
        models.setdefault(s.model_name, s)
    return passwords, models


def _tour(journey, passwords, username, pages):
    from accounts.models import User

    page = journey.sign_in(User.objects.get(username=username), passwords[username])
    for label, path, heading in pages:
        if path:
            journey.go(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        journey.check(f"{username} {label}")
        # Whatever the screen, the page itself never scrolls sideways (wide tables scroll in their card).
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), label


def test_each_role_sees_its_home_the_submission_page_and_the_dashboard(demo, journey):
    passwords, by_model = demo
    gemini, grok = by_model["Gemini-Sim"], by_model["Grok-Sim"]
    _tour(
        journey,
        passwords,
        "dev.google",
        [("home", None, "Welcome, Grace"), ("submission", gemini.get_absolute_url(), "Gemini-Sim")],
    )
    _tour(
        journey,
        passwords,
        "reviewer.bob",
        [("home", None, "Welcome, Bob"), ("submission", gemini.get_absolute_url(), "Gemini-Sim")],
    )
    _tour(journey, passwords, "lead.carol", [("home", None, "Welcome, Carol")])
    _tour(
        journey,
        passwords,
        "admin.dana",
        [
            ("home", None, "Welcome, Dana"),
            ("dashboard", "/dashboard/", "Review office dashboard"),
            ("breaches", "/dashboard/breaches/", "SLA breaches"),
            ("exports", "/dashboard/reports/", "Exports"),
            ("agreements", "/submissions/agreements/", "Review agreements"),
            ("submission", gemini.get_absolute_url(), "Gemini-Sim"),
            ("notifications", "/partners/deliveries/", "Notifications"),
        ],
    )
    _tour(
        journey,
        passwords,
        "partner.erin",
        [("home", None, "Welcome, Erin"), ("submission", grok.get_absolute_url(), "Grok-Sim")],
    )
    _tour(
        journey,
        passwords,
        "controller.frank",
        [("home", None, "Welcome, Frank"), ("exercises", "/exercises/", "Training exercises")],
    )
    _tour(journey, passwords, "trainee.gail", [("home", None, "Welcome, Gail")])
    # A phone: the same pages reflow (no sideways scrolling of the page itself).
    journey.page.set_viewport_size({"width": 390, "height": 844})
    _tour(
        journey,
        passwords,
        "dev.google",
        [("phone home", None, "Welcome, Grace"), ("phone submission", gemini.get_absolute_url(), "Gemini-Sim")],
    )
    journey.page.set_viewport_size({"width": 1280, "height": 900})
    journey.page.context.clear_cookies()
    journey.go("/register/")
    journey.check("public register")
    journey.assert_accessible()


PHONE = {"width": 390, "height": 844}
# "1 Dec 2026, 14:05 UTC": the one format for a moment (caisi_portal/templatetags/portal_time.py).
ONE_FORMAT = r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (UTC|[A-Z]{2,5}|UTC[+-]\d+)$"


def _no_sideways_scroll(page, label):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), label


def test_phone(demo, journey, browser, live_server):
    """On a phone (390 px) the menu hides behind a Menu button, each table row is a card led by its
    state and review clock, filters stack label above field, nothing scrolls sideways, and
    every time on the page reads "1 Dec 2026, 14:05 UTC"."""
    import re

    from accounts.models import User

    passwords, by_model = demo
    gemini = by_model["Gemini-Sim"]
    page = journey.page
    page.set_viewport_size(PHONE)
    page = journey.sign_in(User.objects.get(username="admin.dana"), passwords["admin.dana"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome, Dana")

    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    journey.check("phone home")
    _no_sideways_scroll(page, "home")
    # Each row is a card: the state and the review clock come first, each cell names its column.
    row = page.locator("main tbody tr", has=page.locator('td[data-label="State"]')).first
    state, clock, model = (row.locator(f'td[data-label="{name}"]') for name in ("State", "Review clock", "Model"))
    assert state.bounding_box()["y"] < clock.bounding_box()["y"] < model.bounding_box()["y"]
    label = model.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"Model"'

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    journey.check("phone menu open")
    _no_sideways_scroll(page, "menu open")
    menu.click()
    expect(nav).to_be_hidden()

    for label, path, heading in [
        ("phone submission", gemini.get_absolute_url(), "Gemini-Sim"),
        ("phone breaches", "/dashboard/breaches/", "SLA breaches"),
        ("phone dashboard", "/dashboard/", "Review office dashboard"),
        ("phone agreements", "/submissions/agreements/", "Review agreements"),
        ("phone notifications", "/partners/deliveries/", "Notifications"),
        ("phone exports", "/dashboard/reports/", "Exports"),
    ]:
        journey.go(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        journey.check(label)
        _no_sideways_scroll(page, label)
        for text in page.locator("main time").all_inner_texts():
            if ":" in text:
                assert re.match(ONE_FORMAT, text), (label, text)
            else:
                assert re.match(r"^\d{1,2} [A-Z][a-z]{2} \d{4}$", text), (label, text)
        if label == "phone breaches":
            # Filters: each label sits right above its own field, never at the end of a line.
            for group in page.locator("form.filters .filter-field").all():
                field_label, field = group.locator("label").first, group.locator("input, select").first
                assert field_label.bounding_box()["y"] < field.bounding_box()["y"]
            assert page.locator('form.filters input[type="date"]').count() == 2
        if label == "phone submission":
            expect(page.locator("#pagehead .deadline .chip")).to_have_count(1)

    # Without JavaScript there is no Menu button, and the menu simply shows.
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        plain = context.new_page()
        plain.goto(live_server.url + "/register/")
        expect(plain.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
        expect(plain.get_by_role("button", name="Menu")).to_be_hidden()
        _no_sideways_scroll(plain, "register without JavaScript")
    finally:
        context.close()
    journey.assert_accessible()
