"""The portal's one way of writing a moment for people to read.

    when(value)      "1 Dec 2026, 14:05 EST"  in the reader's time zone, the zone named
    day(value)       "1 Dec 2026"
    days(first, last) "12–20 Dec"                a span of whole days (leave)
    countdown(at)    ("in 3 days", "soon")    how far off a deadline is, and how worried to be

Templates use these through `{% load portal_time %}` (caisi_portal/templatetags/portal_time.py);
text built in Python (review-clock summaries, timeline comments, messages) calls them directly.
The reader's zone is the one `accounts.middleware.UserTimeZone` activated for the request;
text stored once and read by many (a timeline comment) passes `zone=dt.UTC`, so it still names
its zone.

Machines keep ISO 8601 in UTC: CSV and JSON exports, webhooks, the iCalendar feed and the
`datetime` attribute of every <time> element. Never format those with this module.

Time arithmetic asks the portal's one clock (caisi_portal.clock.now()), so a countdown in a
training exercise counts down to simulated deadlines in simulated time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from caisi_portal import clock

# Countdown levels, most worrying first. The level is also the chip's CSS class suffix.
OVERDUE, URGENT, SOON, LATER = "overdue", "urgent", "soon", "later"
URGENT_WITHIN = dt.timedelta(hours=48)
# The portal speaks English; written out here rather than through Django's translated date
# format, which a page of a hundred dates would pay for a hundred times.
MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SOON_WITHIN = dt.timedelta(days=7)


def parse(value) -> dt.datetime | dt.date | None:
    """A datetime or date as given; an ISO 8601 string (as JSON-ready rows carry) parsed."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)  # the portal stores UTC; a naive value is one
    return value


def _zone(zone: dt.tzinfo | str | None) -> dt.tzinfo:
    if zone is None:
        return timezone.get_current_timezone()
    if isinstance(zone, str):
        return zoneinfo.ZoneInfo(zone)
    return zone


def zone_name(local: dt.datetime) -> str:
    """The zone as people say it: "EST", "CET", "UTC"; "UTC+03" where the zone has no letters."""
    name = local.tzname() or "UTC"
    if name[:1] in "+-":
        return f"UTC{name}"
    return name


def local(value: dt.datetime, zone: dt.tzinfo | str | None = None) -> dt.datetime:
    return value.astimezone(_zone(zone))


def when(value, zone: dt.tzinfo | str | None = None) -> str:
    """ "1 Dec 2026, 14:05 EST"; "" for no value. A date alone is written as a day."""
    value = parse(value)
    if value is None:
        return ""
    if not isinstance(value, dt.datetime):
        return day(value)
    moment = local(value, zone)
    return f"{moment.day} {MONTHS[moment.month]} {moment.year}, {moment:%H:%M} {zone_name(moment)}"


def day(value, zone: dt.tzinfo | str | None = None) -> str:
    """ "1 Dec 2026"; a datetime gives its day in the reader's zone; "" for no value."""
    value = parse(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value, zone).date()
    return f"{value.day} {MONTHS[value.month]} {value.year}"


def days(first: dt.date, last: dt.date) -> str:
    """A span of whole days, both included: "12–20 Dec", "28 Nov – 3 Dec", "12 Dec"; the years
    only when it runs into the next one ("28 Dec 2026 – 3 Jan 2027")."""
    if first == last:
        return f"{first.day} {MONTHS[first.month]}"
    if first.year != last.year:
        return f"{day(first)} – {day(last)}"
    if first.month != last.month:
        return f"{first.day} {MONTHS[first.month]} – {last.day} {MONTHS[last.month]}"
    return f"{first.day}–{last.day} {MONTHS[last.month]}"


def iso(value) -> str:
    """The machine-readable form for a <time datetime="...">: UTC for a moment, the bare day for a date."""
    value = parse(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _amount(delta: dt.timedelta) -> str:
    """The largest unit that says it: "3 days", "47 hours", "20 minutes"."""
    seconds = int(abs(delta.total_seconds()))
    if seconds >= 2 * 86400:
        n, unit = seconds // 86400, "day"
    elif seconds >= 2 * 3600:
        n, unit = seconds // 3600, "hour"
    elif seconds >= 3600:
        n, unit = seconds // 60, "minute"
    else:
        n, unit = max(seconds // 60, 1), "minute"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def countdown(deadline, now: dt.datetime | None = None) -> tuple[str, str] | None:
    """("in 3 days", "soon"), ("2 hours overdue", "overdue"); None for no deadline.

    Levels: overdue and under 48 hours are red, under 7 days amber, anything later neutral.
    `now` defaults to the portal's clock, which is simulated time inside an exercise.
    """
    deadline = parse(deadline)
    if deadline is None:
        return None
    if not isinstance(deadline, dt.datetime):
        # A day-only deadline ends when that day ends in the reader's zone.
        deadline = dt.datetime.combine(deadline, dt.time.max, tzinfo=_zone(None))
    now = now or clock.now()
    left = deadline - now
    if left <= dt.timedelta(0):
        if -left < dt.timedelta(minutes=1):
            return "due now", OVERDUE
        return f"{_amount(left)} overdue", OVERDUE
    text = f"in {_amount(left)}"
    if left < URGENT_WITHIN:
        return text, URGENT
    if left < SOON_WITHIN:
        return text, SOON
    return text, LATER


# A day typed by a person is a day of their own calendar: a moment falls on one of two (or
# three) calendar days depending on where one stands, from UTC-12 to UTC+14. Checks of a typed
# day against a moment ("not in the future", "not before it was filed") accept any of them, so
# an administrator in Los Angeles or Tokyo can type their own today.
_WESTMOST, _EASTMOST = dt.timedelta(hours=-12), dt.timedelta(hours=14)


def earliest_day(moment: dt.datetime) -> dt.date:
    """The calendar day `moment` falls on where it is earliest (UTC-12)."""
    return (moment.astimezone(dt.UTC) + _WESTMOST).date()


def latest_day(moment: dt.datetime) -> dt.date:
    """The calendar day `moment` falls on where it is latest (UTC+14)."""
    return (moment.astimezone(dt.UTC) + _EASTMOST).date()
