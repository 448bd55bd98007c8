"""Each person sees what to do next: the panel on the submission page, and "Waiting on you".

For each role and state, the expected panel is derived from the portal's own rules (the
worklist's next step, the state machine's guards), never typed per case; the journey checks
that the page in a real Chromium shows it: enabled or disabled, with the missing items.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from submissions import services, worklist
from submissions.models import State
from tests.factories import draft, record_all_results, record_result, serious_finding

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.browser]


def _expect_panel(journey, user, submission, label):
    """The page shows this person's turn (or whose it is) and each action's task list as the rules say."""
    page = journey.go(submission.get_absolute_url())
    panel = page.locator("section.next-step")
    step = worklist.next_step_shown_to(user, submission)
    if step is not None:
        expect(panel.locator(".next-action")).to_contain_text(step.action)
        expect(panel.locator("h2")).to_have_text("Your turn" if step.is_for(user) else "Next step")
        if not step.is_for(user):
            expect(panel.locator(".next-action")).to_contain_text(f"waiting on {step.owner}")
    for checklist in services.action_checklists(submission, user):
        if not checklist["items"]:
            continue
        tasks = panel.locator(f"#blocked-{checklist['name']}")
        for what, reasons in checklist["items"]:
            item = tasks.locator("li", has_text=what)
            expect(item.locator(".status")).to_have_text("Missing" if reasons else "Done")
        # The action itself is always there: a link when it can be taken, disabled when not.
        head = page.locator("#pagehead .actions")
        if checklist["enabled"]:
            expect(head.get_by_role("link", name=checklist["label"])).to_be_visible()
        else:
            expect(head.get_by_role("button", name=checklist["label"])).to_be_disabled()
    journey.check(label)


def test_each_role_sees_its_next_action_enabled_or_disabled_with_reasons(cast, journey):
    held = draft(cast.holdout_developer, model_name="Held-Back")  # the lab still negotiating
    ready = draft(cast.developer, model_name="Ready-To-Go")
    evaluating = cast.submission(State.EVALUATION, model_name="Three-Of-Four")
    first = evaluating.plan_items.select_related("domain").first()
    from reviews import services as review_services

    for item in evaluating.plan_items.select_related("domain").exclude(pk=first.pk):
        record_result(submission=evaluating, domain=item.domain, actor=cast.reviewer, score=0.1)

    journey.sign_in(cast.holdout_developer)
    _expect_panel(journey, cast.holdout_developer, held, "negotiating lab cannot submit")
    expect(journey.page.locator("#blocked-submit")).to_contain_text("negotiating")

    journey.sign_in(cast.developer)
    _expect_panel(journey, cast.developer, ready, "draft ready to submit")
    _expect_panel(journey, cast.developer, evaluating, "developer sees the office's turn")

    journey.sign_in(cast.lead)
    _expect_panel(journey, cast.lead, evaluating, "lead with one domain missing")
    expect(journey.page.locator("#blocked-clear")).to_contain_text(f"still to record in {first.domain} (1)")

    journey.sign_in(cast.reviewer)
    _expect_panel(journey, cast.reviewer, evaluating, "reviewer records the last result")

    # The last result, a serious finding and a proposed flag: now the concurring reviewer's turn.
    record_result(submission=evaluating, domain=first.domain, actor=cast.reviewer, score=0.1)
    serious_finding(evaluating, cast.reviewer)
    review_services.determination_propose_flag(
        submission=evaluating, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
    )
    _expect_panel(journey, cast.reviewer, evaluating, "flag awaits this reviewer's concurrence")
    expect(journey.page.locator(".next-action")).to_contain_text("Read the proposed flag and concur")
    journey.sign_in(cast.lead)
    _expect_panel(journey, cast.lead, evaluating, "lead waits for concurrence")
    journey.assert_accessible()


def test_waiting_on_you_lists_the_most_urgent_first_with_colour_and_words(cast, journey):
    traveller = journey.traveller
    cast.submission(State.INTAKE, model_name="Oldest-Intake")
    traveller.shift(dt.timedelta(days=1))
    cast.submission(State.INTAKE, model_name="Middle-Intake")
    traveller.shift(dt.timedelta(days=2, hours=1))  # the oldest's 3-day intake decision is now overdue
    cast.submission(State.INTAKE, model_name="Newest-Intake")
    evaluating = cast.submission(State.EVALUATION, model_name="Long-Review")
    record_all_results(evaluating, cast.reviewer)  # the lead's turn: issue the determination

    page = journey.sign_in(cast.lead)
    rows = page.locator("section.waiting tbody tr")
    steps = worklist.waiting_on(cast.lead)["items"]
    expected = [step.submission.model_name for step in steps]
    assert expected[:3] == ["Oldest-Intake", "Middle-Intake", "Newest-Intake"] and "Long-Review" in expected
    expect(rows).to_have_count(len(expected))
    for n, name in enumerate(expected):
        expect(rows.nth(n)).to_contain_text(name)
    # Red and said in words when overdue; amber within a week; the owner column names whose turn.
    expect(rows.nth(0)).to_have_class("urgency-overdue")
    expect(rows.nth(0).locator(".chip")).to_contain_text("overdue")
    expect(rows.nth(1)).to_have_class("urgency-urgent")
    expect(rows.nth(0)).to_contain_text(steps[0].owner_shown)  # "You, or another lead reviewer ..."
    expect(rows.filter(has_text="Long-Review")).to_contain_text("Issue a determination")
    journey.check("waiting on the lead")

    page.set_viewport_size({"width": 390, "height": 844})
    journey.go("/")
    expect(page.locator("section.waiting")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    journey.check("waiting on the lead phone")
    journey.assert_accessible()
