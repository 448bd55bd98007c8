"""Each action's page says what it will do, to whom, by when, and shows what the person needs."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from reviews.models import ConflictOfInterest
from submissions.models import SlaPolicy, State
from tests.factories import move

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def _page(client, user, submission, name):
    client.force_login(user)
    response = client.get(reverse("submissions:action", args=[submission.pk, name]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_answer_page_shows_the_questions_and_the_answer_by_date(cast, client):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.INTAKE)
        move(s, "request_information", cast.lead, questions="Which **safeguards** ship with the weights?")
        page = _page(client, cast.developer, s, "answer_information_request")
    assert "The office's questions" in page and "<strong>safeguards</strong>" in page
    due = T0 + dt.timedelta(days=SlaPolicy.current().developer_answer_days)
    assert "Please answer by" in page and due.isoformat() in page
    # What the action needs comes first; the optional comment after it.
    assert page.index("Your answer") < page.index("Comment for the timeline (optional)")


def test_the_request_page_says_the_clock_pauses_and_by_when_the_developer_answers(cast, client):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.INTAKE)
        page = _page(client, cast.lead, s, "request_information")
    assert "The review clock pauses" in page
    days = SlaPolicy.current().developer_answer_days
    assert f"answer within {days} days, by" in page
    assert (T0 + dt.timedelta(days=days)).isoformat() in page


def test_the_intake_page_has_a_checklist_heading_and_links_the_model_card(cast, client):
    s = cast.submission(State.INTAKE)
    page = _page(client, cast.lead, s, "accept")
    card = s.artifacts.get()
    assert "<legend>Intake checklist</legend>" in page and "<legend>Evaluation plan</legend>" in page
    assert reverse("submissions:artifact_download", args=[s.pk, card.pk]) in page


def test_releasing_a_flagged_open_weights_model_warns_and_asks_for_one_note(cast, client):
    s = cast.submission(State.FLAGGED, release_channel="open_weights")
    page = _page(client, cast.developer, s, "record_release")
    assert "Warning:" in page and "released despite the flag" in page
    assert "cannot be recalled" in page and "cannot be undone" in page
    assert "Release note (optional)" in page and "Comment for the timeline" not in page
    client.post(
        reverse("submissions:action", args=[s.pk, "record_release"]),
        {"expected_state": State.FLAGGED, "released_on": timezone.now().date().isoformat(), "note": "On the hub."},
    )
    s.refresh_from_db()
    assert s.state == State.RELEASED and s.released_after_flag and s.release_note == "On the hub."


def test_a_cleared_release_is_not_called_flagged(cast, client):
    s = cast.submission(State.CLEARED)
    page = _page(client, cast.developer, s, "record_release")
    assert "Warning:" not in page and "despite the flag" not in page


def test_withdrawing_says_it_is_final(cast, client):
    s = cast.submission(State.INTAKE)
    page = _page(client, cast.developer, s, "withdraw")
    assert "What this does, and it cannot be undone" in page and "file a new submission" in page


def test_the_assign_list_offers_only_the_assignable_with_clearance_and_load(cast, client):
    s = cast.submission(State.EVALUATION)
    ConflictOfInterest.objects.create(
        reviewer=cast.unassigned_reviewer,
        organization=s.organization,
        kind=ConflictOfInterest.Kind.DECLARED,
        declared_at=timezone.now(),
    )
    client.force_login(cast.admin)
    page = client.get(s.get_absolute_url()).content.decode()
    form = page[page.index('id="assign-reviewer"') : page.index("</select>", page.index('id="assign-reviewer"'))]
    for assigned in (cast.lead, cast.reviewer, cast.low_reviewer):
        assert str(assigned) not in form  # already on the review
    assert str(cast.unassigned_reviewer) not in form  # conflicted: named apart, with the reason
    assert f"conflict of interest with {s.organization}: {cast.unassigned_reviewer}" in page
    # A crafted post of the conflicted reviewer is refused with the reason, not a bare "invalid choice".
    response = client.post(
        reverse("reviews:assign", args=[s.pk]), {"reviewer": cast.unassigned_reviewer.pk, "role": "member"}
    )
    assert response.status_code == 400 and "conflict of interest" in response.content.decode()


def test_the_assign_list_shows_clearance_and_open_reviews(cast, client):
    s = cast.submission(State.INTAKE)
    move(s, "accept", cast.admin)
    client.force_login(cast.admin)
    page = client.get(s.get_absolute_url()).content.decode()
    assert f"{cast.reviewer} · {cast.reviewer.get_clearance_display()} clearance · 0 open reviews" in page
    # No lead yet: the lead is what is needed first, so it is the default role.
    assert '<option value="lead" selected>' in page


def test_partners_do_not_read_the_developers_release_note(cast, client):
    s = cast.submission(State.CLEARED)
    move(s, "record_release", cast.developer, note="RELEASE-NOTE-FOR-OFFICE")
    client.force_login(cast.developer)
    assert "RELEASE-NOTE-FOR-OFFICE" in client.get(s.get_absolute_url()).content.decode()
    client.force_login(cast.partner)
    page = client.get(s.get_absolute_url())
    assert page.status_code == 200 and "RELEASE-NOTE-FOR-OFFICE" not in page.content.decode()


@pytest.mark.parametrize(
    "name, field, limit",
    [
        ("record_release", "note", 5000),
        ("clear", "release_conditions", 20000),
        ("answer_information_request", "answer", 50000),
    ],
)
def test_free_text_has_a_cap_in_the_service_itself(cast, name, field, limit):
    from caisi_portal.errors import ValidationFailed
    from tests.factories import record_all_results

    source = {
        "record_release": State.CLEARED,
        "clear": State.EVALUATION,
        "answer_information_request": State.INFORMATION_REQUESTED,
    }
    s = cast.submission(source[name])
    if name == "clear":
        record_all_results(s, cast.reviewer)
    actor = cast.lead if name == "clear" else cast.developer
    with pytest.raises(ValidationFailed, match=f"{limit:,} characters at most"):
        move(s, name, actor, **{field: "x" * (limit + 1)})


def test_an_agreement_reason_has_a_cap(cast):
    from caisi_portal.errors import ValidationFailed
    from submissions import services
    from submissions.models import Agreement

    with pytest.raises(ValidationFailed, match="characters at most"):
        services.agreement_change_status(
            agreement=Agreement.objects.get(organization=cast.lab), action="suspend", actor=cast.admin, note="x" * 5000
        )


def test_a_release_cannot_be_dated_before_the_submission(cast):
    from caisi_portal.errors import ValidationFailed

    s = cast.submission(State.CLEARED)
    with pytest.raises(ValidationFailed, match="submitted for review on"):
        move(s, "record_release", cast.developer, released_at=dt.date(1900, 1, 1))


def test_partners_read_announcements_newest_first_with_their_date(cast, client):
    first = cast.submission(State.CLEARED, model_name="Older-Announcement")
    second = cast.submission(State.FLAGGED, model_name="Newer-Announcement")
    client.force_login(cast.partner)
    page = client.get(reverse("home")).content.decode()
    assert page.index("Newer-Announcement") < page.index("Older-Announcement")
    from reviews.models import Determination

    issued = Determination.objects.get(submission=second).issued_at
    assert "Announced" in page and issued.astimezone(dt.UTC).isoformat() in page
    assert first.pk and "Planned release" not in page
