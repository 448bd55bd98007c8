"""CSV exports and the iCalendar feed: streamed, so 100,000 rows never sit in memory."""

from __future__ import annotations

import csv
import datetime as dt

from django.http import StreamingHttpResponse
from icalendar import Calendar, Event


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def stream():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_safe(v) for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _safe(value):
    """Neutralise spreadsheet formulas: a cell must never run as code when opened."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def submissions_rows(qs):
    for s in qs.select_related("organization").iterator(chunk_size=2000):
        yield (
            s.pk,
            s.organization.name,
            s.model_name,
            s.model_version,
            s.get_release_channel_display(),
            s.get_state_display(),
            s.submitted_at,
            s.planned_release_date,
            s.released_at,
        )


SUBMISSIONS_HEADER = [
    "id",
    "organization",
    "model",
    "version",
    "release channel",
    "state",
    "submitted at",
    "planned release",
    "released at",
]


def breach_rows(qs):
    for b in qs.select_related("submission__organization", "acknowledged_by").iterator(chunk_size=2000):
        yield (
            b.pk,
            b.submission.organization.name,
            b.submission.model_name,
            b.submission.model_version,
            b.get_kind_display(),
            b.due_at,
            b.detected_at,
            b.acknowledged_at,
            b.acknowledged_by.get_username() if b.acknowledged_by else "",
            b.acknowledgement_note,
        )


BREACHES_HEADER = [
    "id",
    "organization",
    "model",
    "version",
    "kind",
    "due at",
    "detected at",
    "acknowledged at",
    "acknowledged by",
    "note",
]


def determination_rows(qs):
    for d in qs.select_related("submission__organization", "decided_by", "concurred_by").iterator(chunk_size=2000):
        yield (
            d.submission_id,
            d.submission.organization.name,
            d.submission.model_name,
            d.submission.model_version,
            d.get_outcome_display(),
            d.issued_at,
            d.decided_by.get_username(),
            d.concurred_by.get_username() if d.concurred_by else "",
            d.partner_summary,
        )


DETERMINATIONS_HEADER = [
    "submission id",
    "organization",
    "model",
    "version",
    "outcome",
    "issued at",
    "decided by",
    "concurred by",
    "summary released to partners",
]


def deadlines_calendar(clocks, *, name: str, base_url: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//CAISI Review Portal (simulation)//Review deadlines//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for c in clocks:
        s = c.submission
        event = Event()
        event.add("uid", f"review-deadline-{s.pk}@caisi-review-portal")
        event.add("summary", f"Review deadline: {s.model_name} {s.model_version} ({s.organization.name})")
        event.add("dtstart", c.deadline_at)
        event.add("dtend", c.deadline_at + dt.timedelta(minutes=30))
        event.add("dtstamp", c.started_at)
        status = "paused: moves later while the developer owes information" if c.status == "paused" else "running"
        event.add("description", f"Review clock {status}. {base_url.rstrip('/')}{s.get_absolute_url()}")
        event.add("url", f"{base_url.rstrip('/')}{s.get_absolute_url()}")
        cal.add_component(event)
    return cal.to_ical()
