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

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.browser]

SEED = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"


@pytest.fixture
def demo():
    report = load_seed(SEED)
    from django.utils import timezone

    act_on_due_items(timezone.now())  # the overdue intake becomes the dashboard's breach
    passwords = {username: password for username, _role, password in report.passwords}
    return passwords, {s.model_name: s for s in ModelSubmission.objects.all()}


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
