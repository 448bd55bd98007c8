"""Each role's journey through the portal in a real Chromium, as people use it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from exercises.models import Exercise
from exercises.services import tick_running_exercises
from submissions.models import ModelSubmission, SlaBreach, SlaKind, State
from tests.factories import UserFactory, record_result, reference_version
from tests.partners.test_worker_delivery import worker  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.browser]


def test_developer_files_a_submission_with_an_artifact_and_sees_it_in_intake_with_its_clock(cast, journey):
    page = journey.sign_in(cast.developer)
    journey.check("developer home")
    page.get_by_role("link", name="New submission").click()
    page.get_by_label("Model name").fill("Journey-One")
    page.get_by_label("Model version").fill("1.0")
    page.get_by_label("Release channel").select_option("api")
    page.get_by_label("Planned release date").fill((dt.date.today() + dt.timedelta(days=60)).isoformat())
    page.get_by_label("Capabilities").fill("Reasoning and code.")
    page.get_by_label("Intended use").fill("API customers.")
    page.get_by_label("How evaluators get access").fill("A dedicated endpoint.")
    journey.check("new submission form")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Journey-One")

    page.get_by_label("Kind").select_option("model_card")
    page.get_by_label("File").set_input_files(
        files=[{"name": "model-card.md", "mimeType": "text/markdown", "buffer": b"# Journey-One\nA model card.\n"}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("link", name="model-card.md")).to_be_visible()
    page.get_by_role("link", name="Submit for review").click()
    journey.check("submit action")
    page.get_by_role("button", name="Submit for review").click()

    expect(page.locator("h1 .badge")).to_have_text("Intake")
    expect(page.locator(".clock")).to_contain_text("left")
    journey.check("submission in intake")
    assert ModelSubmission.objects.get(model_name="Journey-One").state == State.INTAKE
    journey.assert_accessible()


def test_administrator_accepts_and_assigns_and_a_conflicted_reviewer_is_refused(cast, journey):
    from reviews.models import ConflictOfInterest

    s = cast.submission(State.INTAKE, model_name="Journey-Two")
    ConflictOfInterest.objects.create(
        reviewer=cast.unassigned_reviewer, organization=cast.lab, kind="employment", declared_at=timezone.now()
    )
    page = journey.sign_in(cast.admin)  # first sign-in: sets up the authenticator app
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Accept into evaluation").click()
    for box in page.get_by_role("checkbox").all():
        box.check()
    journey.check("accept with checklist")
    page.get_by_role("button", name="Accept into evaluation").click()
    expect(page.locator("h1 .badge")).to_have_text("Evaluation")

    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Reviewer").select_option(str(cast.lead.pk))
    page.get_by_label("Role").select_option("lead")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_text("Reviewer assigned.")).to_be_visible()
    expect(page.locator("#reviewers")).to_contain_text(f"{cast.lead} · Lead reviewer")

    # The conflicted reviewer is not offered, and the page says why; the lead is not offered twice.
    offered = page.get_by_label("Reviewer").locator("option").all_inner_texts()
    assert not any(str(cast.unassigned_reviewer) in o or str(cast.lead) in o for o in offered)
    expect(page.locator("#reviewers")).to_contain_text(
        f"Not offered, conflict of interest with {cast.lab}: {cast.unassigned_reviewer}"
    )
    page.get_by_label("Reviewer").select_option(str(cast.reviewer.pk))
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator("#reviewers")).to_contain_text(f"{cast.reviewer} · Reviewer")
    assert page.evaluate("window.stillTheSamePage") is True  # both answered in place
    journey.check("conflicted reviewer not offered")
    journey.assert_accessible()


def test_information_request_pauses_the_clock_and_the_page_shows_it(cast, journey):
    s = cast.submission(State.EVALUATION, model_name="Journey-Five")
    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Request information").click()
    page.get_by_label("Questions").fill("Which safeguards ship with the model?")
    page.get_by_role("button", name="Request information").click()
    expect(page.locator(".clock")).to_contain_text("paused since")
    journey.check("clock paused")

    page = journey.sign_in(cast.developer)
    journey.go(f"/submissions/{s.pk}/")
    expect(page.get_by_text("Which safeguards ship with the model?").first).to_be_visible()
    page.get_by_role("link", name="Answer information request").click()
    page.get_by_label("Answer").fill("A classifier and refusal training.")
    page.get_by_role("button", name="Answer information request").click()
    expect(page.locator(".clock")).to_contain_text("paused")  # the pause is counted in the total
    expect(page.locator(".clock")).not_to_contain_text("paused since")
    journey.check("clock resumed")
    journey.assert_accessible()


def test_administrator_acknowledges_a_breach_and_exports_the_list(cast, journey, worker, tmp_path):  # noqa: F811
    s = cast.submission(State.INTAKE, model_name="Journey-Six")
    SlaBreach.objects.create(
        submission=s, kind=SlaKind.INTAKE_DECISION, due_at=s.submitted_at, detected_at=s.submitted_at
    )
    page = journey.sign_in(cast.admin)
    journey.go("/dashboard/")
    journey.check("dashboard")
    journey.go("/dashboard/breaches/")
    expect(page.get_by_text("Journey-Six")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Why is this breach acknowledged?").first.fill("Backlog after the holiday.")
    page.get_by_role("button", name="Acknowledge").first.click()
    # htmx: the row changes in place; the page is not reloaded.
    expect(page.get_by_role("row", name=re.compile("Backlog after the holiday."))).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    journey.check("breach acknowledged")
    assert SlaBreach.objects.get(submission=s).acknowledged_at is not None

    # The list's export: built by the worker, its progress on the page, then the file.
    page.get_by_role("button", name="Export CSV (these filters)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SLA breaches export")
    expect(page.get_by_role("link", name=re.compile("Download sla-breaches-"))).to_be_visible()
    expect(page.locator("#export-progress")).to_contain_text("Ready: 1 row")
    journey.check("export ready")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download sla-breaches-")).click()
    saved = tmp_path / "breaches.csv"
    download.value.save_as(saved)
    assert "Journey-Six" in saved.read_text() and "Backlog after the holiday." in saved.read_text()
    journey.assert_accessible()


def test_controller_runs_an_exercise_at_high_speed_and_downloads_the_aar(cast, journey, tmp_path):
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
    page = journey.sign_in(controller)
    page.get_by_role("link", name="Exercises").click()
    page.get_by_label("Scenario").select_option("access-removal")
    page.get_by_label("Speed").select_option(label="1 simulated week passes in 1 real minute")
    journey.check("exercises")
    page.get_by_role("button", name="Start the exercise").click()
    expect(page.get_by_role("heading", name="Players' sign-in sheet")).to_be_visible()
    page.get_by_role("link", name="Open the controller console").click()
    journey.check("controller console")

    exercise = Exercise.objects.get()
    assert exercise.speed == 10080
    page.get_by_label("Jump to (simulated, UTC)").fill(f"{exercise.sim_end():%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Jump").click()
    tick_running_exercises()  # what beat does every few seconds
    # The status panel follows the exercise by itself (htmx, every 2 s) until it ends.
    status = page.locator("#exercise-status")
    expect(status).to_contain_text("Ended")
    expect(status).to_contain_text("100% of the simulated time")
    expect(status.get_by_role("progressbar")).to_have_attribute("value", "100")
    page.get_by_role("link", name="After-action report").click()
    expect(page.get_by_role("heading", name=re.compile("After-Action Report"))).to_be_visible()
    journey.check("after-action report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    saved = tmp_path / "aar.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert exercise.injects.filter(fired_at__isnull=True).count() == 0
    journey.assert_accessible()


def test_reviewers_record_results_and_a_high_finding_a_second_concurs_and_the_lead_flags(cast, journey):
    s = cast.submission(State.EVALUATION, model_name="Journey-Three")
    page = journey.sign_in(cast.reviewer)
    journey.go(f"/submissions/{s.pk}/")
    page.evaluate("window.stillTheSamePage = true")
    results = page.locator("form", has=page.get_by_role("button", name="Record result"))
    for item in s.plan_items.select_related("domain"):
        page.get_by_text("Record a result").click() if not results.is_visible() else None
        # The benchmark version scored (its domain's reference version); no threshold to type.
        results.get_by_label("Benchmark").select_option(value=str(reference_version(item.domain).pk))
        results.get_by_label("Score").fill("0.2")
        results.get_by_role("button", name="Record result").click()
        # htmx: the plan's row fills in place, with the message and the timeline.
        expect(page.locator("#results tr", has_text=str(item.domain))).to_contain_text("0.200")
        expect(page.get_by_text("Result recorded.")).to_be_visible()
        # Focus stays in the section (its heading), not back at the top of the page.
        expect(page.locator("#results h2")).to_be_focused()
    expect(page.locator("#timeline")).to_contain_text("Result recorded")
    page.get_by_text("Record a finding").click()
    finding = page.locator("form", has=page.get_by_role("button", name="Record finding"))
    finding.get_by_label("Domain").select_option(index=1)
    finding.get_by_label("Severity").select_option("high")
    finding.get_by_label("Classification").select_option("0")  # no marking is chosen for the author
    finding.get_by_label("Title").fill("Working exploit chains")
    finding.get_by_label("Description").fill("Writes a **working** exploit chain for a known CVE.")
    finding.get_by_role("button", name="Record finding").click()
    expect(page.get_by_role("heading", name=re.compile("Working exploit chains"))).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    journey.check("reviewer with results and a finding")

    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_text("Propose to flag (two-person rule)").click()
    proposal = page.locator("form", has=page.get_by_role("button", name="Propose flag"))
    proposal.get_by_label("Rationale").fill("Meaningful cyber uplift.")
    proposal.get_by_label("Summary for the developer and partners").fill("Flagged: not for release to the public.")
    proposal.get_by_role("button", name="Propose flag").click()
    expect(page.get_by_text("Waiting for a second reviewer's concurrence.")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # proposed in place

    page = journey.sign_in(cast.low_reviewer)
    journey.go(f"/submissions/{s.pk}/")
    # What is agreed to is on the page: the rationale and what partners will be told.
    expect(page.locator("#determination")).to_contain_text("Flagged: not for release to the public.")
    page.get_by_role("button", name="Concur: flag as proposed").click()
    expect(page.get_by_text("You concurred with the proposal to flag.")).to_be_visible()
    journey.check("second reviewer concurred")

    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Flag", exact=True).click()
    page.get_by_role("button", name="Check what will be sent").click()
    expect(page.get_by_role("heading", name="Check what will be sent")).to_be_visible()
    journey.check("flag: what partners will receive")
    page.get_by_role("button", name=re.compile("^Flag: issue it")).click()
    expect(page.locator("h1 .badge")).to_have_text("Flagged")
    journey.check("flagged")
    journey.assert_accessible()


def test_a_cleared_model_is_announced_to_the_partner_and_the_developer_records_the_release(cast, journey):
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION, model_name="Journey-Four")
    record_all_results(s, cast.reviewer)
    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Clear for release").click()
    page.get_by_label("Rationale").fill("Below every threshold.")
    page.get_by_label("Summary for the developer and partners").fill("Cleared: no threshold exceeded in any domain.")
    page.get_by_role("button", name="Check what will be sent").click()
    expect(page.locator("pre.preview").first).to_contain_text("Cleared: no threshold exceeded in any domain.")
    page.get_by_role("button", name=re.compile("^Clear for release: issue it")).click()
    expect(page.locator("h1 .badge")).to_have_text("Cleared")

    page = journey.sign_in(cast.partner)
    expect(page.get_by_role("link", name=re.compile("Journey-Four"))).to_be_visible()
    journey.check("partner home")
    page.get_by_role("link", name=re.compile("Journey-Four")).click()
    expect(page.get_by_text("Cleared: no threshold exceeded in any domain.")).to_be_visible()
    journey.check("partner reads the announcement")

    page = journey.sign_in(cast.developer)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Record release").click()
    page.get_by_label("Released on").fill(dt.date.today().isoformat())
    page.get_by_role("button", name="Record release").click()
    expect(page.locator("h1 .badge")).to_have_text("Released")
    journey.check("released")
    journey.assert_accessible()


def test_the_portal_works_with_the_keyboard_alone(cast, journey):
    """Sign in, reach "New submission", fill the form and save, pressing keys only."""
    page = journey.page
    journey.go("/login/")
    focus = page.locator("#id_username")  # focused on arrival (autofocus), or a few Tabs away
    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "id_username":
            break
        page.keyboard.press("Tab")
    expect(focus).to_be_focused()
    page.keyboard.type(cast.developer.username)
    page.keyboard.press("Tab")
    page.keyboard.type("correct-horse-battery")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()

    def tab_to(predicate_js, limit=60):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate_js):
                return
        raise AssertionError(f"could not reach {predicate_js} with Tab")

    tab_to("document.activeElement.textContent.trim() === 'New submission'")
    # Focus is visible: the focused link has an outline.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New submission")).to_be_visible()
    tab_to("document.activeElement.id === 'id_model_name'")
    page.keyboard.type("Keyboard-Only")
    page.keyboard.press("Tab")
    page.keyboard.type("2.0")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # the release channel select
    tab_to("document.activeElement.type === 'submit'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Keyboard-Only")
    journey.check("draft saved with the keyboard")
    journey.assert_accessible()


def test_an_action_refused_in_place_says_so_rather_than_failing_silently(cast, journey):
    from reviews.models import Assignment

    s = cast.submission(State.EVALUATION, model_name="Journey-Refused")
    page = journey.sign_in(cast.reviewer)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_text("Record a result").click()
    results = page.locator("form", has=page.get_by_role("button", name="Record result"))
    results.get_by_label("Benchmark").select_option(index=1)
    results.get_by_label("Score").fill("0.2")
    Assignment.objects.filter(submission=s, reviewer=cast.reviewer).delete()  # taken off meanwhile
    results.get_by_role("button", name="Record result").click()
    expect(page.get_by_role("alert")).to_contain_text("You may no longer do this here")
    expect(results.get_by_role("button", name="Record result")).to_be_enabled()  # not stuck busy
    journey.check("refused in place")
    assert not s.results.exists()
    journey.assert_accessible()


def test_clearing_against_an_exceeded_threshold_takes_two_people(cast, journey):
    """One lead alone cannot clear past the evidence: the page says so before anyone tries;
    a justification per concern and a second reviewer's concurrence are needed."""
    from tests.factories import record_all_results

    s = cast.submission(State.EVALUATION, model_name="Journey-Against")
    record_all_results(s, cast.reviewer)
    over = s.plan_items.select_related("domain").first().domain
    record_result(submission=s, domain=over, actor=cast.reviewer, score=0.9)

    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    expect(page.get_by_role("heading", name="Clearing against the evidence")).to_be_visible()
    expect(page.get_by_role("link", name="Clear for release")).to_have_count(0)
    journey.go(f"/submissions/{s.pk}/actions/clear/")
    expect(page.get_by_role("alert")).to_contain_text("second reviewer's concurrence")
    journey.check("clear refused: the evidence speaks against it")
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_text("Propose to clear, with justifications").click()
    form = page.locator("form", has=page.get_by_role("button", name="Propose clearance"))
    form.get_by_label("Rationale").fill("The uplift is confined to a sandboxed tool the release does not ship.")
    form.get_by_label("Summary for the developer and partners").fill("Cleared with the code tool disabled.")
    form.get_by_label(re.compile("Why clear despite this")).fill("The exceeding tasks all need the code tool.")
    form.get_by_role("button", name="Propose clearance").click()
    expect(page.get_by_text("Waiting for a second reviewer's concurrence.")).to_be_visible()
    journey.check("clearance proposed with a justification")

    page = journey.sign_in(cast.reviewer)
    journey.go(f"/submissions/{s.pk}/")
    expect(page.locator("#determination")).to_contain_text("The exceeding tasks all need the code tool.")
    page.get_by_role("button", name="Concur: clear as proposed").click()
    expect(page.get_by_text("You concurred with the proposal to clear.")).to_be_visible()

    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{s.pk}/")
    page.get_by_role("link", name="Clear for release").click()
    expect(page.get_by_text("This issues the proposal that")).to_be_visible()
    page.get_by_role("button", name="Check what will be sent").click()
    expect(page.locator("pre.preview").first).to_contain_text("Cleared with the code tool disabled.")
    page.get_by_role("button", name=re.compile("^Clear for release: issue it")).click()
    expect(page.locator("h1 .badge")).to_have_text("Cleared")
    journey.check("cleared by two people")
    journey.assert_accessible()


def test_administrator_runs_a_capacity_scenario_and_reads_the_recommended_headcount(cast, journey, worker):  # noqa: F811
    from capacity.models import Scenario

    for _ in range(2):
        cast.submission(State.CLEARED)  # some history for the form's starting values
    page = journey.sign_in(cast.admin)
    journey.go("/")
    page.get_by_role("link", name="Capacity", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Capacity planner")
    expect(page.get_by_text("Filled in from the live office's last 12 months: 2 submissions")).to_be_visible()
    journey.check("capacity form")
    page.get_by_label("Name").fill("Journey plan")
    page.get_by_label("Submissions per month").fill("4")
    page.get_by_label("Smallest headcount tried").fill("1")
    page.get_by_label("Largest headcount tried").fill("6")
    page.get_by_label("Replications").fill("10")
    page.get_by_role("button", name="Run the scenario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Journey plan")
    # The worker simulates it; the page watches its progress and reloads with the answer.
    expect(page.locator("#recommended-headcount")).to_be_visible(timeout=60_000)
    scenario = Scenario.objects.get(name="Journey plan")
    assert scenario.status == Scenario.Status.DONE
    recommended = scenario.results["recommended"]
    expect(page.locator("#recommended-headcount")).to_have_text(str(recommended) if recommended is not None else "—")
    page.get_by_text("Figures").first.click()
    expect(page.get_by_role("table").nth(1)).to_contain_text("Headcount")
    journey.check("capacity answer")
    journey.assert_accessible()
