"""Dates and times on pages: one format, in the reader's time zone, the zone named.

    {% load portal_time %}
    {{ value|when }}        <time datetime="2026-12-01T19:05:00+00:00" title="…UTC">1 Dec 2026, 14:05 EST</time>
    {{ value|day }}         <time datetime="2026-12-01">1 Dec 2026</time>
    {{ value|zone }}        the reader's zone at that moment ("EST"), e.g. for a field's label
    {{ value|countdown }}   the chip alone: <span class="chip deadline-soon">in 3 days</span>
    {% deadline value %}    the absolute time and its chip side by side, for any deadline

The chip's colour follows how close the deadline is: red when overdue or under 48 hours
(`deadline-overdue`, `deadline-urgent`), amber under 7 days (`deadline-soon`), neutral
otherwise (`deadline-later`); never green. Its words say the same, so colour is never the
only signal. Countdowns count on the portal's one clock (simulated time in an exercise).
Values may be aware datetimes, dates, or ISO 8601 strings; an empty value renders "" (use
`|default:"—"` where a dash reads better). The formatting itself lives in caisi_portal.timefmt,
which Python code uses for text it builds.
"""

import datetime as dt

from django import template
from django.utils.html import format_html

from caisi_portal import timefmt

register = template.Library()


@register.filter
def when(value):
    """A moment: `<time>` with the reader's local time and zone; the exact UTC instant on hover."""
    parsed = timefmt.parse(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, dt.datetime):
        return day(parsed)
    exact = parsed.astimezone(dt.UTC)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        timefmt.iso(parsed),
        f"{exact:%Y-%m-%d %H:%M:%S} UTC",
        timefmt.when(parsed),
    )


@register.filter
def day(value):
    """A day: `<time datetime="2026-12-01">1 Dec 2026</time>` (a datetime gives its local day)."""
    parsed = timefmt.parse(value)
    if parsed is None:
        return ""
    if isinstance(parsed, dt.datetime):
        parsed = timefmt.local(parsed).date()
    return format_html('<time datetime="{}">{}</time>', parsed.isoformat(), timefmt.day(parsed))


@register.filter
def instant(value, fmt=None):
    """Former name of `when`, kept so templates written before it still render the one format.

    A format without hours (`instant:"Y-m-d"`) gives the day; any other format is ignored.
    """
    if fmt is not None and "H" not in fmt:
        return day(value)
    return when(value)


@register.filter
def zone(value=None):
    """The reader's zone as people say it ("EST"), at the moment given (or now): for field labels."""
    parsed = timefmt.parse(value)
    moment = parsed if isinstance(parsed, dt.datetime) else timefmt.clock.now()
    return timefmt.zone_name(timefmt.local(moment))


@register.filter
def countdown(value):
    """The chip alone: "in 3 days", "2 hours overdue", coloured by urgency."""
    found = timefmt.countdown(value)
    if found is None:
        return ""
    text, level = found
    return format_html('<span class="chip deadline-{}">{}</span>', level, text)


@register.simple_tag
def deadline(value, empty=""):
    """`{% deadline clock.deadline_at %}`: the absolute time, then how far off it is.

    `{% deadline item.due empty="—" %}` renders the dash when there is no deadline.
    """
    if timefmt.parse(value) is None:
        return empty
    return format_html('<span class="deadline">{} {}</span>', when(value), countdown(value))
