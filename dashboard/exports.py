"""CSV exports and the iCalendar feed: streamed or written piece by piece, so 100,000 rows never sit in memory.

On PostgreSQL the database writes an export's CSV itself (`COPY (SELECT ...) TO STDOUT`) from the
same filtered queryset; elsewhere (SQLite: `make run`) Python's csv module writes it. Both write
the same bytes for the same rows: tests/dashboard/test_export_copy.py holds them to it.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from types import SimpleNamespace

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import CharField, DateField, DateTimeField, IntegerField, TextField
from django.db.models.expressions import Case, F, Func, Value, When
from django.http import QueryDict, StreamingHttpResponse
from icalendar import Calendar, Event

from accounts import rules
from reviews.models import Determination
from submissions.models import ModelSubmission, ReleaseChannel, SlaBreach, SlaKind, State

from .filters import BreachFilter, DeterminationFilter, SubmissionFilter

# A cell that starts like a formula would run as code when a spreadsheet opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The CSV comes in pieces of this many rows: a job reports its progress after each.
ROWS_PER_PIECE = 1000


def _safe(value):
    """Neutralise spreadsheet formulas: a cell must never run as code when opened."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()  # machines read exports: ISO 8601, never the pages' format
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


@dataclass(frozen=True)
class Column:
    """One column of an export: its title, the field it reads (an ORM path) and a choice field's labels."""

    title: str
    field: str
    choices: tuple = ()


SUBMISSIONS = (
    Column("id", "pk"),
    Column("organization", "organization__name"),
    Column("model", "model_name"),
    Column("version", "model_version"),
    Column("release channel", "release_channel", tuple(ReleaseChannel.choices)),
    Column("state", "state", tuple(State.choices)),
    Column("submitted at", "submitted_at"),
    Column("planned release", "planned_release_date"),
    Column("released at", "released_at"),
)
BREACHES = (
    Column("id", "pk"),
    Column("organization", "submission__organization__name"),
    Column("model", "submission__model_name"),
    Column("version", "submission__model_version"),
    Column("kind", "kind", tuple(SlaKind.choices)),
    Column("due at", "due_at"),
    Column("detected at", "detected_at"),
    Column("acknowledged at", "acknowledged_at"),
    Column("acknowledged by", "acknowledged_by__username"),
    Column("note", "acknowledgement_note"),
)
DETERMINATIONS = (
    Column("submission id", "submission_id"),
    Column("organization", "submission__organization__name"),
    Column("model", "submission__model_name"),
    Column("version", "submission__model_version"),
    Column("outcome", "outcome", tuple(Determination.Outcome.choices)),
    Column("issued at", "issued_at"),
    Column("decided by", "decided_by__username"),
    Column("concurred by", "concurred_by__username"),
    Column("summary released to partners", "partner_summary"),
)
SUBMISSIONS_HEADER = [c.title for c in SUBMISSIONS]
BREACHES_HEADER = [c.title for c in BREACHES]
DETERMINATIONS_HEADER = [c.title for c in DETERMINATIONS]


# The SQL twins of `_safe`. The rows used to come through Python one by one (values_list, a
# label looked up, each cell made safe, csv.writer): ten times the time PostgreSQL takes to
# write the same CSV itself.


class _TextCell(Func):
    """`_safe` for text: a leading quote before a cell that starts like a formula.

    COPY writes NULL as nothing but '' as "", where Python writes both as nothing: '' becomes NULL.
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        text, params = compiler.compile(self.source_expressions[0])
        # ascii() is the first character's code point: cheaper than comparing left(text, 1).
        starts = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
        sql = f"CASE WHEN ascii({text}) IN ({starts}) THEN '''' || {text} ELSE NULLIF({text}, '') END"
        return sql, (*params,) * 3


class _IsoFormat(Func):
    """`datetime.isoformat()`: microseconds only when there are some, and the offset of the
    connection's time zone (UTC unless DATABASES names one), the zone Django reads times in."""

    template = "replace(to_char(%(expressions)s, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), '.000000', '')"
    output_field = TextField()


class _IsoDate(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = TextField()


def _field(model, path: str):
    *links, name = path.split("__")
    for link in links:
        model = model._meta.get_field(link).related_model
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return field.target_field if field.is_relation else field


def _cell(column: Column, model):
    """One cell of the COPY, formatted as `_safe` formats it."""
    field, value = _field(model, column.field), F(column.field)
    if column.choices:
        labels = [When(**{column.field: v}, then=Value(_safe(str(label)) or None)) for v, label in column.choices]
        return Case(*labels, default=_TextCell(value), output_field=TextField())
    if isinstance(field, DateTimeField):
        return _IsoFormat(value)
    if isinstance(field, DateField):
        return _IsoDate(value)
    if isinstance(field, IntegerField):
        return value  # ids: never negative, so never formula-like
    if isinstance(field, CharField | TextField):
        return _TextCell(value)
    raise TypeError(f"No CSV format for {field!r} ({column.title}).")


def uses_copy(alias: str) -> bool:
    """Whether the database itself writes the exports read through this connection."""
    return connections[alias].vendor == "postgresql"


class _Echo:
    def write(self, value):
        return value


def _header(columns) -> bytes:
    return csv.writer(_Echo()).writerow([c.title for c in columns]).encode()


def csv_response(filename: str, pieces) -> StreamingHttpResponse:
    def stream():
        with closing(pieces):  # a client that leaves early ends the COPY as well
            for data, _ in pieces:
                yield data

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def write_csv(out, pieces, on_progress=None, every=ROWS_PER_PIECE):
    """Write the pieces to a binary file; `on_progress(n)` each time the rows pass a multiple of `every`."""
    done = 0
    for data, rows in pieces:
        out.write(data)
        if on_progress and (done + rows) // every > done // every:
            on_progress(done + rows)
        done += rows
    return done


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
    """One export: its filters, its columns and the rows they read (the direct link and the job share it)."""

    filename: str
    filter_class: type
    columns: tuple[Column, ...]
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

    def csv(self, qs, every=ROWS_PER_PIECE):
        """The CSV of these rows in pieces of `every` rows: (bytes, rows in them), the header first."""
        return self.copied(qs, every) if uses_copy(qs.db) else self.written(qs, every)

    def rows(self, qs):
        """The rows as Python writes them: a choice by its label, every cell made safe."""
        labels = [dict(c.choices) for c in self.columns]
        for row in qs.values_list(*(c.field for c in self.columns)).iterator(chunk_size=2000):
            yield [_safe(label.get(value, value)) for value, label in zip(row, labels, strict=True)]

    def written(self, qs, every=ROWS_PER_PIECE):
        """The CSV as Python's csv module writes it."""
        yield _header(self.columns), 0
        writer, lines = csv.writer(_Echo()), []
        for row in self.rows(qs):
            lines.append(writer.writerow(row))
            if len(lines) == every:
                yield "".join(lines).encode(), every
                lines = []
        if lines:
            yield "".join(lines).encode(), len(lines)

    def copied(self, qs, every=ROWS_PER_PIECE):
        """The CSV as PostgreSQL writes it, from the same filtered queryset: no row passes through Python."""
        yield _header(self.columns), 0
        cells = {f"cell_{i}": _cell(c, qs.model) for i, c in enumerate(self.columns)}
        try:
            sql, params = qs.values(**cells).query.get_compiler(qs.db).as_sql()
        except EmptyResultSet:
            return
        connection = connections[qs.db]
        # The server takes no parameters for COPY, so they are bound here, client-side, as psycopg
        # would: a statement alone also suits Django's debug cursor (DEBUG on), whose copy() takes
        # nothing else and logs it as a query.
        copy_sql = connection.ops.compose_sql(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params)
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(copy_sql) as copy:
            lines = []
            for line in copy:
                # A COPY's rows come one to a message ("always one per row", says the protocol),
                # each ending in a newline: end them with CRLF instead, as Python's csv module does.
                lines.append(line[:-1])
                if len(lines) == every:
                    yield b"\r\n".join([*lines, b""]), every
                    lines = []
            if lines:
                yield b"\r\n".join([*lines, b""]), len(lines)


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
    "submissions": ExportKind("submissions.csv", SubmissionFilter, SUBMISSIONS, _submissions),
    "determinations": ExportKind("determinations.csv", DeterminationFilter, DETERMINATIONS, _determinations),
    "breaches": ExportKind("sla-breaches.csv", BreachFilter, BREACHES, _breaches),
}


def kind(name: str) -> ExportKind:
    return KINDS[name]
