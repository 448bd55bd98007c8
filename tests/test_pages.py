"""The demo journey through the pages: each role does its part, by forms, not services."""

import datetime as dt
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from caisi_portal import clock
from reviews.models import EvaluationDomain
from submissions.models import ModelSubmission, State
from tests.factories import reference_version

pytestmark = pytest.mark.django_db


def act(client, submission, name, **fields):
    url = reverse("submissions:action", args=[submission.pk, name])
    assert client.get(url).status_code == 200
    body = {"expected_state": submission.state, "comment": "", **fields}
    if name in ("clear", "flag"):
        # First the check of what partners will receive; nothing is issued yet.
        check = client.post(url, body)
        assert check.status_code == 200 and b"Check what will be sent" in check.content, check.content[-2000:]
        submission.refresh_from_db()
        assert submission.state == "evaluation"
        from submissions.views import announcement_seal

        body["confirmed"] = announcement_seal(submission, name, body)
        assert f'value="{body["confirmed"]}"' in check.content.decode()  # the page's own button
    response = client.post(url, body)
    assert response.status_code == 302, response.content.decode()[-3000:]
    submission.refresh_from_db()
    return submission


def file_draft(client, cast, name):
    client.force_login(cast.developer)
    response = client.post(
        reverse("submissions:create"),
        {
            "model_name": name,
            "model_version": "1.0",
            "release_channel": "api",
            "planned_release_date": (clock.now().date() + dt.timedelta(days=45)).isoformat(),
            "capabilities": "Coding agent.",
            "intended_use": "API.",
            "evaluator_access": "Endpoint.",
        },
    )
    assert response.status_code == 302
    s = ModelSubmission.objects.get(model_name=name)
    card = SimpleUploadedFile("card.md", b"# card")
    assert (
        client.post(
            reverse("submissions:artifact_upload", args=[s.pk]), {"kind": "model_card", "file": card}
        ).status_code
        == 302
    )
    return act(client, s, "submit")


def accept_and_assign(client, cast, s):
    client.force_login(cast.admin)
    checklist = {"check_cards_received": "on", "check_access_confirmed": "on", "check_release_plan_confirmed": "on"}
    domains = [str(pk) for pk in EvaluationDomain.objects.values_list("pk", flat=True)]
    act(client, s, "accept", domains=domains, **checklist)
    for reviewer, role in ((cast.lead, "lead"), (cast.reviewer, "member")):
        r = client.post(reverse("reviews:assign", args=[s.pk]), {"reviewer": reviewer.pk, "role": role})
        assert r.status_code == 302


def record_results(client, cast, s):
    client.force_login(cast.reviewer)
    for domain in EvaluationDomain.objects.all():
        r = client.post(
            reverse("reviews:record_result", args=[s.pk]), {"version": reference_version(domain).pk, "score": "0.2"}
        )
        assert r.status_code == 302


def test_draft_to_cleared_to_released_through_the_pages(cast, client):
    s = file_draft(client, cast, "Page-Cleared")
    assert s.state == State.INTAKE
    accept_and_assign(client, cast, s)
    record_results(client, cast, s)
    client.force_login(cast.lead)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Clear for release" in page and "Flag</a>" not in page
    act(client, s, "clear", rationale="All below threshold.", partner_summary="Cleared for partners.")
    assert s.state == State.CLEARED

    client.force_login(cast.partner)
    assert "Cleared for partners." in client.get(s.get_absolute_url()).content.decode()

    client.force_login(cast.developer)
    act(client, s, "record_release", released_on=clock.now().date().isoformat(), note="GA")
    assert s.state == State.RELEASED


def test_draft_to_flagged_through_the_pages(cast, client):
    s = file_draft(client, cast, "Page-Flagged")
    accept_and_assign(client, cast, s)
    record_results(client, cast, s)
    domain = EvaluationDomain.objects.first()
    r = client.post(
        reverse("reviews:record_finding", args=[s.pk]),
        {
            "domain": domain.pk,
            "severity": "high",
            "classification": "0",
            "title": "Exploit chain",
            "description": "Writes a working exploit chain.",
        },
    )
    assert r.status_code == 302
    client.force_login(cast.lead)
    r = client.post(
        reverse("reviews:propose_flag", args=[s.pk]),
        {"rationale": "Cyber uplift.", "partner_summary": "Flagged: not for release."},
    )
    assert r.status_code == 302
    assert "Flag</a>" not in client.get(s.get_absolute_url()).content.decode()
    client.force_login(cast.reviewer)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Concur: flag as proposed" in page and "Flagged: not for release." in page
    from reviews.models import Determination

    digest = Determination.objects.get(submission=s).digest()
    assert client.post(reverse("reviews:concur", args=[s.pk]), {"proposal_digest": digest}).status_code == 302
    client.force_login(cast.lead)
    act(client, s, "flag")
    assert s.state == State.FLAGGED


def test_page_shows_only_actions_the_user_may_take_now(cast, client):
    s = cast.submission(State.INTAKE)
    client.force_login(cast.developer)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Withdraw" in page and "Accept into evaluation" not in page
    client.force_login(cast.admin)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Accept into evaluation" in page and "Withdraw" not in page


def test_guard_refusal_is_explained_on_the_action_page(cast, client):
    from tests.factories import draft

    s = draft(cast.holdout_developer)
    client.force_login(cast.holdout_developer)
    page = client.get(reverse("submissions:action", args=[s.pk, "submit"])).content.decode()
    assert "agreement is negotiating" in page
    r = client.post(reverse("submissions:action", args=[s.pk, "submit"]), {"expected_state": "draft"})
    assert r.status_code == 409 and "agreement is negotiating" in r.content.decode()


def test_stale_form_gets_reload_message(cast, client):
    s = cast.submission(State.INTAKE)
    client.force_login(cast.developer)
    r = client.post(reverse("submissions:action", args=[s.pk, "withdraw"]), {"expected_state": "evaluation"})
    assert r.status_code == 409 and "Reload and try again" in r.content.decode()


def test_bad_form_input_gets_field_messages(cast, client):
    client.force_login(cast.developer)
    r = client.post(reverse("submissions:create"), {"model_name": "", "release_channel": "telepathy"})
    assert r.status_code == 400  # refused, with a message on each field
    body = r.content.decode()
    assert "This field is required." in body and "Select a valid choice" in body
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.reviewer)
    r = client.post(reverse("reviews:record_result", args=[s.pk]), {"domain": "", "score": "lots"})
    assert r.status_code == 400 and "Enter a number." in r.content.decode()


def test_oversized_upload_is_refused_on_the_page(cast, client, settings):
    s = cast.submission()
    settings.ARTIFACT_MAX_BYTES = 10
    client.force_login(cast.developer)
    r = client.post(
        reverse("submissions:artifact_upload", args=[s.pk]),
        {"kind": "other", "file": SimpleUploadedFile("big.txt", b"x" * 100)},
    )
    assert (
        r.status_code == 413
        and "The file is 100\xa0bytes; the largest artifact accepted is 10\xa0bytes" in r.content.decode()
    )


@pytest.mark.parametrize("who", ["developer", "admin", "lead", "reviewer", "partner", "trainee"])
def test_every_role_has_a_home(cast, client, who):
    cast.submission(State.CLEARED)
    client.force_login(getattr(cast, who))
    assert client.get(reverse("home")).status_code == 200


def test_admin_manages_agreements(cast, client):
    from submissions.models import Agreement

    client.force_login(cast.admin)
    holdout = Agreement.objects.get(organization=cast.holdout)
    page = client.get(reverse("submissions:agreements")).content.decode()
    assert "Lab Holdout" in page and "Negotiating" in page
    r = client.post(reverse("submissions:agreement_change", args=[holdout.pk]), {"action": "sign", "note": "Signed."})
    assert r.status_code == 302
    holdout.refresh_from_db()
    assert holdout.status == "signed" and holdout.events.get().recorded_by == cast.admin
    client.post(reverse("submissions:agreement_change", args=[holdout.pk]), {"review_window_days": "45"})
    holdout.refresh_from_db()
    assert holdout.review_window_days == 30


def test_developer_cannot_change_agreements(cast, client):
    from submissions.models import Agreement

    client.force_login(cast.developer)
    own = Agreement.objects.get(organization=cast.lab)
    client.post(reverse("submissions:agreement_change", args=[own.pk]), {"action": "suspend"})
    own.refresh_from_db()
    assert own.status == "signed"
    other = Agreement.objects.get(organization=cast.other_lab)
    assert (
        client.post(reverse("submissions:agreement_change", args=[other.pk]), {"action": "suspend"}).status_code == 404
    )


def test_dates_show_in_the_readers_time_zone_with_the_exact_instant_on_hover(cast, client):
    s = cast.submission(State.EVALUATION)
    deadline = s.review_clock.deadline_at
    client.force_login(cast.developer)
    r = client.post(reverse("profile"), {"action": "time_zone", "time_zone": "Asia/Tokyo"})
    assert r.status_code == 302
    page = client.get(s.get_absolute_url()).content.decode()
    tokyo = deadline.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo.day} {tokyo:%b %Y, %H:%M} JST" in page
    assert f'title="{deadline.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"' in page
    bad = client.post(reverse("profile"), {"action": "time_zone", "time_zone": "Mars/Olympus"}, follow=True)
    assert "Choose a time zone from the list." in bad.content.decode()
    cast.developer.refresh_from_db()
    assert cast.developer.time_zone == "Asia/Tokyo"


def test_an_upload_in_place_answers_for_htmx(cast, client):
    s = cast.submission(State.DRAFT)
    client.force_login(cast.developer)
    url = reverse("submissions:artifact_upload", args=[s.pk])
    card = SimpleUploadedFile("card.md", b"# Card\n", content_type="text/markdown")
    done = client.post(url, {"kind": "model_card", "file": card}, HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Redirect"] == s.get_absolute_url()
    bad = client.post(url, {"kind": "model_card"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422
    body = bad.content.decode()
    assert body.lstrip().startswith("<form") and 'class="upload-progress"' in body and "This field is required" in body


def test_lists_show_each_open_review_clock_and_partners_see_none(cast, client):
    cast.submission(State.INTAKE, model_name="Running-One")
    cast.submission(State.INFORMATION_REQUESTED, model_name="Paused-One")
    cast.submission(State.CLEARED, model_name="Done-One")
    client.force_login(cast.admin)
    home = client.get(reverse("home")).content.decode()
    assert '<th scope="col">Review clock</th>' in home
    assert '<td class="clock-cell running" data-label="Review clock" data-first>29 days 23 hours left</td>' in home
    assert '<td class="clock-cell paused" data-label="Review clock" data-first>paused: information owed</td>' in home
    listed = client.get(reverse("submissions:list"), {"section": "open"}).content.decode()
    assert "29 days 23 hours left" in listed
    client.force_login(cast.partner)
    partner_home = client.get(reverse("home")).content.decode()
    assert "Done-One" in partner_home and "Review clock" not in partner_home


def test_the_forms_about_a_submission_show_its_state_and_clock(cast, client):
    s = cast.submission(State.INTAKE)
    client.force_login(cast.admin)
    action = client.get(reverse("submissions:action", args=[s.pk, "request_information"])).content.decode()
    assert 'class="badge state-intake"' in action and "Review clock: <strong>" in action
    refused = client.post(reverse("reviews:assign", args=[s.pk]), {"reviewer": "", "role": "lead"})
    assert refused.status_code == 400 and "Review clock: <strong>" in refused.content.decode()


def test_a_blocked_action_is_shown_disabled_with_its_reason(cast, client):
    """The action does not vanish: it is shown, disabled, beside what is missing (the guards' words)."""
    from tests.factories import draft, record_result

    meta = draft(cast.holdout_developer)
    client.force_login(cast.holdout_developer)
    page = client.get(meta.get_absolute_url()).content.decode()
    assert (
        '<button type="button" class="secondary" disabled aria-describedby="blocked-submit">Submit for review' in page
    )
    # The task list beside it: what is done, what is missing, in the guards' own words.
    assert "Before you can submit for review" in page and "negotiating" in page
    assert 'A model card or system card uploaded</span>\n        <span class="status">Done' in page
    assert 'A signed review agreement</span>\n        <span class="status">Missing' in page

    s = cast.submission(State.EVALUATION)
    first = s.plan_items.select_related("domain").first()
    record_result(submission=s, domain=first.domain, actor=cast.reviewer, score=0.1)
    client.force_login(cast.lead)
    page = client.get(s.get_absolute_url()).content.decode()
    assert 'aria-describedby="blocked-clear">Clear for release' in page
    planned = s.plan_items.count()  # one reference benchmark per domain
    assert f"1 of {planned} planned benchmark results are recorded: still to record in" in page
    # Any assigned reviewer records results, the lead included: it is their turn.
    assert "Your turn" in page and f"Record results: {planned - 1} of {planned} planned benchmarks" in page
    # People who could never take it are not shown it at all.
    client.force_login(cast.developer)
    assert "blocked-clear" not in client.get(s.get_absolute_url()).content.decode()


def test_an_agreement_changes_only_on_purpose_and_with_a_reason(cast, client):
    """No destructive default: the status is chosen, not preselected, and a reason is required."""
    from submissions.models import Agreement

    client.force_login(cast.admin)
    own = Agreement.objects.get(organization=cast.lab)
    listing = client.get(reverse("submissions:agreements")).content.decode()
    # A compact table: one action per row, leading to the agreement's own page.
    change_url = reverse("submissions:agreement_change", args=[own.pk])
    assert listing.count('class="button secondary small"') == listing.count("<tr") - 1 and change_url in listing
    assert "<select" not in listing and "<form" not in listing.split("</header>")[1].split("Sign out")[-1]
    page = client.get(change_url).content.decode()
    assert 'type="radio" name="action"' in page and "checked" not in page  # nothing preselected
    assert "Lab Alpha can no longer submit new models" in page and "cannot be reinstated" in page
    refused = client.post(
        reverse("submissions:agreement_change", args=[own.pk]), {"action": "suspend", "note": " "}, follow=True
    )
    assert b"Say why the agreement changes" in refused.content
    own.refresh_from_db()
    assert own.status == "signed"
    client.post(
        reverse("submissions:agreement_change", args=[own.pk]), {"action": "suspend", "note": "Terms breached."}
    )
    own.refresh_from_db()
    assert own.status == "suspended" and own.events.get().note == "Terms breached."
