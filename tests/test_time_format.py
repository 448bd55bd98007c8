"""The one way moments are shown to people: caisi_portal.timefmt and {% load portal_time %}."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.template import Context, Template
from django.utils import timezone

from caisi_portal import clock, timefmt

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def render(source: str, **context) -> str:
    return Template("{% load portal_time %}" + source).render(Context(context))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def new_york():
    with timezone.override(NEW_YORK):
        yield


def test_a_moment_is_shown_in_the_readers_zone_with_the_zone_named(new_york):
    moment = dt.datetime(2026, 12, 1, 19, 5, tzinfo=dt.UTC)
    assert timefmt.when(moment) == "1 Dec 2026, 14:05 EST"
    html = render("{{ m|when }}", m=moment)
    assert html == (
        '<time datetime="2026-12-01T19:05:00+00:00" title="2026-12-01 19:05:00 UTC">1 Dec 2026, 14:05 EST</time>'
    )


def test_daylight_saving_time_names_the_summer_zone(new_york):
    summer = dt.datetime(2026, 7, 6, 13, 0, tzinfo=dt.UTC)
    assert timefmt.when(summer) == "6 Jul 2026, 09:00 EDT"
    # The night the clocks go back: one UTC hour apart, the same local hour, told apart by the zone.
    assert timefmt.when(dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)) == "1 Nov 2026, 01:30 EDT"
    assert timefmt.when(dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)) == "1 Nov 2026, 01:30 EST"


def test_without_a_zone_of_their_own_people_read_utc_and_zones_without_letters_are_offsets():
    moment = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert timefmt.when(moment) == "1 Dec 2026, 09:00 UTC"
    assert timefmt.when(moment, zone="Asia/Dubai") == "1 Dec 2026, 13:00 UTC+04"
    assert timefmt.when(moment, zone="Asia/Tokyo") == "1 Dec 2026, 18:00 JST"


def test_a_day_is_shown_alone_and_a_datetime_gives_its_local_day(new_york):
    assert render("{{ d|day }}", d=dt.date(2026, 12, 1)) == '<time datetime="2026-12-01">1 Dec 2026</time>'
    late_utc = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)  # still the 1st in New York
    assert render("{{ d|day }}", d=late_utc) == '<time datetime="2026-12-01">1 Dec 2026</time>'
    assert render("{{ d|day }}", d="2026-12-01") == '<time datetime="2026-12-01">1 Dec 2026</time>'


@pytest.mark.parametrize(
    "first, last, text",
    [
        (dt.date(2026, 12, 12), dt.date(2026, 12, 20), "12–20 Dec"),
        (dt.date(2026, 11, 28), dt.date(2026, 12, 3), "28 Nov – 3 Dec"),
        (dt.date(2026, 12, 28), dt.date(2027, 1, 3), "28 Dec 2026 – 3 Jan 2027"),
        (dt.date(2026, 12, 12), dt.date(2026, 12, 12), "12 Dec"),
    ],
)
def test_a_span_of_days_names_the_month_once_and_the_years_only_across_one(first, last, text):
    assert timefmt.days(first, last) == text


def test_iso_strings_from_json_ready_rows_read_as_moments(new_york):
    assert "1 Dec 2026, 14:05 EST" in render("{{ m|when }}", m="2026-12-01T19:05:00+00:00")


@pytest.mark.parametrize("source", ["{{ m|when }}", "{{ m|day }}", "{{ m|countdown }}", "{% deadline m %}"])
@pytest.mark.parametrize("empty", [None, ""])
def test_no_value_renders_nothing(source, empty):
    assert render(source, m=empty) == ""


def test_a_missing_deadline_may_render_a_dash():
    assert render('{% deadline m empty="—" %}', m=None) == "—"
    assert render('{{ m|when|default:"—" }}', m=None) == "—"


@pytest.mark.parametrize(
    ("offset", "text", "level"),
    [
        (dt.timedelta(days=-3, hours=-1), "3 days overdue", "overdue"),
        (dt.timedelta(hours=-2), "2 hours overdue", "overdue"),
        (dt.timedelta(seconds=-20), "due now", "overdue"),
        (dt.timedelta(minutes=20), "in 20 minutes", "urgent"),
        (dt.timedelta(hours=47), "in 47 hours", "urgent"),
        (dt.timedelta(hours=49), "in 2 days", "soon"),
        (dt.timedelta(days=6, hours=23), "in 6 days", "soon"),
        (dt.timedelta(days=7), "in 7 days", "later"),
        (dt.timedelta(days=21), "in 21 days", "later"),
    ],
)
def test_the_countdown_says_how_far_off_a_deadline_is_and_how_worried_to_be(frozen, offset, text, level):
    assert timefmt.countdown(NOW + offset) == (text, level)
    assert render("{{ d|countdown }}", d=NOW + offset) == f'<span class="chip deadline-{level}">{text}</span>'


def test_the_deadline_tag_shows_the_absolute_time_and_its_chip(frozen):
    html = render("{% deadline d %}", d=NOW + dt.timedelta(days=3))
    assert html.startswith('<span class="deadline"><time datetime="2026-12-04T12:00:00+00:00"')
    assert "4 Dec 2026, 12:00 UTC</time>" in html
    assert '<span class="chip deadline-soon">in 3 days</span></span>' in html
    assert "green" not in html and "ok" not in html


def test_the_countdown_counts_on_the_portals_clock_so_exercises_count_in_simulated_time(frozen):
    simulated_now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with clock.simulated(lambda: simulated_now):
        assert timefmt.countdown(simulated_now + dt.timedelta(hours=5)) == ("in 5 hours", "urgent")


def test_the_old_instant_filter_renders_the_one_format(new_york):
    moment = dt.datetime(2026, 12, 1, 19, 5, tzinfo=dt.UTC)
    assert "1 Dec 2026, 14:05 EST" in render('{{ m|instant:"Y-m-d H:i" }}', m=moment)
    assert render('{{ m|instant:"Y-m-d" }}', m=moment) == '<time datetime="2026-12-01">1 Dec 2026</time>'


def test_the_zone_filter_names_the_readers_zone_for_labels(new_york):
    assert render("{{ m|zone }}", m=dt.datetime(2026, 7, 1, tzinfo=dt.UTC)) == "EDT"
