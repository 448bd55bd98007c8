"""CSV exports and the iCalendar feed: streamed or written row by row, so 100,000 rows never sit in memory."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.http import QueryDict, StreamingHttpResponse
from icalendar import Calendar, Event

from accounts import rules
from reviews.models import Determination
from submissions.models import ModelSubmission, ReleaseChannel, SlaBreach, SlaKind, State

from .filters import BreachFilter, DeterminationFilter, SubmissionFilter


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
        return value.isoformat()  # machines read exports: ISO 8601, never the pages' format
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# The rows come as plain tuples (values_list), not model instances: building 100,000
# submissions (each with its state machine) cost most of an export's time.


def _labels(choices) -> dict:
    return {value: label for value, label in choices}


def submissions_rows(qs):
    channel, state = _labels(ReleaseChannel.choices), _labels(State.choices)
    columns = ("pk", "organization__name", "model_name", "model_version", "release_channel", "state")
    dates = ("submitted_at", "planned_release_date", "released_at")
    for row in qs.values_list(*columns, *dates).iterator(chunk_size=2000):
        yield (*row[:4], channel.get(row[4], row[4]), state.get(row[5], row[5]), *row[6:])


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
    kind = _labels(SlaKind.choices)
    columns = (
        "pk",
        "submission__organization__name",
        "submission__model_name",
        "submission__model_version",
        "kind",
        "due_at",
        "detected_at",
        "acknowledged_at",
        "acknowledged_by__username",
        "acknowledgement_note",
    )
    for row in qs.values_list(*columns).iterator(chunk_size=2000):
        yield (*row[:4], kind.get(row[4], row[4]), *row[5:8], row[8] or "", row[9])


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
    outcome = _labels(Determination.Outcome.choices)
    columns = (
        "submission_id",
        "submission__organization__name",
        "submission__model_name",
        "submission__model_version",
        "outcome",
        "issued_at",
        "decided_by__username",
        "concurred_by__username",
        "partner_summary",
    )
    for row in qs.values_list(*columns).iterator(chunk_size=2000):
        yield (*row[:4], outcome.get(row[4], row[4]), row[5], row[6], row[7] or "", row[8])


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


@dataclass(frozen=True)
class ExportKind:
    """One export: its filters, its rows and its columns (the direct link and the job share it)."""

    filename: str
    filter_class: type
    header: list[str]
    rows: Callable
    base: Callable  # user -> queryset before filters

    def filtered(self, params, user):
        # The filters' choices (organizations) come from the person's world, like the rows.
        return self.filter_class(params or None, queryset=self.base(user), request=SimpleNamespace(user=user))

    def describe(self, query: str, user) -> str:
        """The filters of a stored query in words: "State: Intake; Organization: Lab Alpha"."""
        form = self.filter_class(QueryDict(query), queryset=None, request=SimpleNamespace(user=user)).form
        parts = []
        for name, value in QueryDict(query).items():
            field = form.fields.get(name)
            if field is None:
                continue
            choices = getattr(field, "choices", None) or getattr(field.widget, "choices", None) or ()
            shown = {str(k): v for k, v in choices}.get(value, value)
            parts.append(f"{field.label or name}: {shown}")
        return "; ".join(parts)


# Each export reads the rows of the asker's world, through the policy's scopes.


def _submissions(user):
    return ModelSubmission.objects.visible_to(user).order_by("pk")


def _determinations(user):
    if not rules.is_administrator(user):
        return Determination.objects.none()
    issued = Determination.objects.filter(issued_at__isnull=False)
    return rules.in_world_of_submission(issued, rules.world_of(user)).order_by("issued_at")


def _breaches(user):
    return rules.scope_breaches(SlaBreach.objects.all(), user).order_by("-detected_at", "-pk")


KINDS = {
    "submissions": ExportKind("submissions.csv", SubmissionFilter, SUBMISSIONS_HEADER, submissions_rows, _submissions),
    "determinations": ExportKind(
        "determinations.csv", DeterminationFilter, DETERMINATIONS_HEADER, determination_rows, _determinations
    ),
    "breaches": ExportKind("sla-breaches.csv", BreachFilter, BREACHES_HEADER, breach_rows, _breaches),
}


def kind(name: str) -> ExportKind:
    return KINDS[name]


def write_csv(out, header, rows, on_progress=None, every=1000):
    """Write the rows as CSV to a text file; `on_progress(n)` every `every` rows."""
    writer = csv.writer(out)
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([_safe(v) for v in row])
        n += 1
        if on_progress and n % every == 0:
            on_progress(n)
    return n
