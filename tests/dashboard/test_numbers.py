"""Numbers people can trust: nouns agree with counts, medians only when there is data,
whole-number axes for counts, and at-risk figures never drawn in an all-clear green."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from caisi_portal.words import counted, days_in_words, speed_in_words
from submissions import review_clock
from submissions.models import State
from tests.dashboard.moments import NOW
from tests.factories import move, record_all_results

pytestmark = pytest.mark.django_db


DAY = dt.timedelta(days=1)


def text_of(response) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_counted_and_days_in_words():
    assert counted(1, "clock") == "1 clock" and counted(2, "clock") == "2 clocks" and counted(0, "clock") == "0 clocks"
    assert counted(1, "breach", "breaches") == "1 breach" and counted(3, "breach", "breaches") == "3 breaches"
    assert days_in_words(4.5) == "4.5 days" and days_in_words(8.0) == "8 days" and days_in_words(1.0) == "1 day"
    assert days_in_words(12.34) == "12 days" and days_in_words(2.75) == "2.8 days"
    assert days_in_words(0.0) == "under an hour" and days_in_words(0.125) == "3 hours"
    assert days_in_words(None) == ""


@pytest.mark.parametrize(
    "speed, words",
    [
        (60, "1 simulated hour passes in 1 real minute"),
        (1440, "1 simulated day passes in 1 real minute"),
        (2880, "1 simulated day passes in 30 real seconds"),
        (10080, "1 simulated week passes in 1 real minute"),
        (168, "1 simulated day passes in 8.6 real minutes"),
        (24, "1 simulated hour passes in 2.5 real minutes"),
        (1, "simulated time passes at real speed"),
        (2, "1 simulated hour passes in 30 real minutes"),
    ],
)
def test_speed_in_words_is_never_zero(speed, words):
    assert speed_in_words(speed) == words


def test_one_clock_at_risk_and_one_open_breach_read_in_the_singular(cast, client, traveller):
    traveller.move_to(NOW - 25 * DAY)
    cast.submission(State.EVALUATION)  # 5 days left at NOW: at risk
    traveller.move_to(NOW - 10 * DAY)
    cast.submission(State.INTAKE)  # intake decision due 3 days later: one breach
    traveller.move_to(NOW)
    review_clock.sweep()
    client.force_login(cast.admin)
    response = client.get(reverse("dashboard:index"))
    h = response.context["headline"]
    assert h["at_risk"] == 1 and h["breaches_open"] == 1 and h["paused"] == 0
    page = text_of(response)
    assert "1 review clock at risk" in page and "1 open SLA breach " in page and "0 review clocks paused" in page
    assert "2 open reviews" in page
    assert "1 clocks" not in page and "1 open breaches" not in page


def test_median_is_shown_only_with_data(cast, client, traveller):
    client.force_login(cast.admin)
    page = text_of(client.get(reverse("dashboard:index")))
    assert "No determinations yet in the last 12 months" in page
    assert "0.0" not in page and "median days" not in page


def test_median_is_rounded_in_days(cast, client, traveller):
    traveller.move_to(NOW - 10 * DAY)
    done = cast.submission(State.EVALUATION)
    record_all_results(done, cast.reviewer)
    traveller.move_to(NOW - dt.timedelta(days=5, hours=12))
    move(done, "clear", cast.lead)  # 4.5 days from submission to determination
    traveller.move_to(NOW)
    client.force_login(cast.admin)
    page = text_of(client.get(reverse("dashboard:index")))
    assert "4.5 days median time to determination" in page
    assert "No determinations yet" not in page


def test_count_charts_ask_for_whole_ticks_and_at_risk_is_amber(cast, client, traveller):
    cast.submission(State.EVALUATION)
    client.force_login(cast.admin)
    page = client.get(reverse("dashboard:index")).content.decode()

    def chart(chart_id):
        found = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', page, re.S)
        return json.loads(found.group(1))

    workload = chart("chart-workload")
    assert workload["counts"] is True
    tones = {s["name"]: s["tone"] for s in workload["series"]}
    assert tones["At risk (7 days or less left)"] == "warn" and tones["Open reviews"] == "neutral"
    assert chart("chart-activity")["counts"] is True and chart("chart-breaches")["counts"] is True
    activity = {s["name"]: s["tone"] for s in chart("chart-activity")["series"]}
    assert activity["Review window elapsed"] in ("warn", "bad") and activity["Cleared"] == "ok"
    breaches = {s["tone"] for s in chart("chart-breaches")["series"]}
    assert breaches <= {"warn", "warn-dark", "bad", "bad-dark"}  # a breach is never drawn green
    assert "counts" not in chart("chart-timing")  # medians may be fractional

    script = (Path(settings.BASE_DIR) / "static" / "js" / "charts.js").read_text()
    assert "precision: 0" in script
    colours = dict(re.findall(r'"?([a-z-]+)"?: "(#[0-9a-f]{6})"', script))
    green = colours["ok"]
    for tone in ("warn", "warn-dark", "bad", "bad-dark"):
        assert colours[tone] != green
    assert colours["warn"] == "#b45309"  # amber


def test_a_list_row_says_at_risk_in_words(cast, traveller):
    from submissions.review_clock import clock_cell

    traveller.move_to(NOW - 25 * DAY)
    s = cast.submission(State.EVALUATION)
    traveller.move_to(NOW)
    text, status = clock_cell(s.review_clock, NOW)
    assert status == "at-risk" and text.endswith("left (at risk)")
    text, status = clock_cell(s.review_clock, NOW - 10 * DAY)
    assert status == "running" and "at risk" not in text
    # Under 48 hours it is urgent, in red and in words, as the deadline chips say.
    text, status = clock_cell(s.review_clock, NOW + 4 * DAY)
    assert status == "urgent" and text.endswith("left (urgent)")


def test_breach_list_counts_in_the_singular(cast, client, traveller):
    traveller.move_to(NOW - 10 * DAY)
    for i in range(51):  # a second page, so the count is shown
        cast.submission(State.INTAKE, model_name=f"Late-{i}")
    traveller.move_to(NOW)
    review_clock.sweep()
    client.force_login(cast.admin)
    page = text_of(client.get(reverse("dashboard:breaches")))
    assert "(51 breaches)" in page


def test_deadline_warning_subject_agrees_with_its_number():
    from types import SimpleNamespace

    from partners.messages import email_for

    def subject(days):
        event = SimpleNamespace(
            type="review.deadline_warning",
            payload={"model_name": "M", "model_version": "1", "days_left": days},
            is_exercise=False,
        )
        return email_for(SimpleNamespace(event=event, event_id="e", recipient_id=None, webhook_id="x"))[0]

    assert subject(1) == "1 day left to review M 1" and subject(7) == "7 days left to review M 1"
