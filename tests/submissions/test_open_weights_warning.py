"""Open weights planned before the review can end: the developer is warned at draft and at
submission, and the office's queue marks the submission (published weights cannot be recalled)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from submissions import selectors
from submissions.models import State
from tests.factories import move

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
WARNING = "before this review could end"


@pytest.fixture
def at_t0():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def early(cast, **overrides):
    return cast.submission(
        State.DRAFT, release_channel="open_weights", planned_release_date=dt.date(2026, 12, 20), **overrides
    )


def test_the_draft_page_and_the_submit_page_warn_the_developer(cast, client, at_t0):
    s = early(cast)
    client.force_login(cast.developer)
    page = client.get(s.get_absolute_url()).content.decode()
    assert WARNING in page and "20 Dec 2026" in page and "31 Dec 2026" in page  # 30-day window
    assert "cannot be recalled" in page
    submit = client.get(reverse("submissions:action", args=[s.pk, "submit"])).content.decode()
    assert WARNING in submit


def test_saving_a_draft_warns_at_once(cast, client, at_t0):
    s = early(cast)
    client.force_login(cast.developer)
    data = {
        "model_name": s.model_name,
        "model_version": s.model_version,
        "release_channel": "open_weights",
        "planned_release_date": "2026-12-10",
        "capabilities": "Reasoning.",
        "intended_use": "Research.",
        "evaluator_access": "An endpoint.",
    }
    response = client.post(reverse("submissions:edit", args=[s.pk]), data, follow=True)
    assert WARNING in response.content.decode()


@pytest.mark.parametrize(
    "channel, planned, warned",
    [
        ("open_weights", dt.date(2026, 12, 20), True),
        ("open_weights", dt.date(2026, 12, 31), False),  # the deadline's own day: the review has ended
        ("open_weights", dt.date(2027, 2, 1), False),
        ("api", dt.date(2026, 12, 20), False),  # an API can be switched off; weights cannot be recalled
        ("open_weights", None, False),
    ],
)
def test_who_is_warned(cast, at_t0, channel, planned, warned):
    s = cast.submission(State.DRAFT, release_channel=channel, planned_release_date=planned)
    assert bool(selectors.early_open_weights_warning(s)) is warned


def test_the_office_queue_marks_it_and_the_page_says_so(cast, client, at_t0):
    s = early(cast)
    move(s, "submit", cast.developer)
    on_time = cast.submission(State.INTAKE, release_channel="open_weights", planned_release_date=dt.date(2027, 3, 1))
    client.force_login(cast.admin)
    queue = client.get(reverse("submissions:list") + "?section=open").content.decode()
    assert queue.count("open weights before the deadline") == 1
    assert on_time.model_name in queue
    page = client.get(s.get_absolute_url()).content.decode()
    assert "before the review ends on 31 Dec 2026" in page


def test_a_finished_review_is_no_longer_marked(cast, at_t0):
    s = cast.submission(State.CLEARED, release_channel="open_weights", planned_release_date=dt.date(2026, 12, 20))
    assert selectors.early_open_weights_warning(s) == ""
    assert not selectors.with_clocks([s])[0].early_open_weights
