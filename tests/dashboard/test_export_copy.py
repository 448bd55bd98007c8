"""On PostgreSQL the database writes the exports' CSV (COPY); elsewhere Python's csv module does.
For the same rows both write the same bytes, hostile values included."""

import csv
import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from dashboard import exports, services
from dashboard.models import ExportJob
from reviews.models import Determination
from submissions.models import ModelSubmission, Organization, SlaBreach, SlaKind, State
from tests.factories import Cast, UserFactory

pytestmark = pytest.mark.postgres  # COPY is PostgreSQL's

HOSTILE = [
    "plain",
    "comma, inside",
    'quote " inside',
    '"starts with a quote',
    "new\nline",
    "carriage\rreturn",
    "both\r\nends",
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\ttab first",
    "\rreturn first",
    '=HYPERLINK("http://evil.example", "open")',
    "'already quoted",
    "ünïcödé — ✓ 漢字 🙂",
    "controls \x01\x07\x1b\x7f \x0b\x0c end",
    "\u2028line separator",
    "\\.",
    "\\N",
    " leading space",
    "trailing space ",
    "",
]
TIMES = [
    dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 2, 9, 30, 0, 500, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 2, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 3, 1, 0, 7, 120000, tzinfo=ZoneInfo("America/New_York")),
]


def _at(i, shift=0):
    """Row i's time: one of TIMES, a day later for each row, so that no two rows tie in an order."""
    return TIMES[(i + shift) % len(TIMES)] + dt.timedelta(days=i)


@pytest.fixture
def hostile(cast):
    """Rows of every export whose texts, choices and times try to break the CSV."""
    Organization.objects.filter(pk=cast.lab.pk).update(name='=cmd|" /C calc"!A0, Lab\n"Alpha"')
    odd_admin = UserFactory(username='-admin,"odd"', role=Role.ADMINISTRATOR, organization=cast.office)
    states = [State.INTAKE, State.EVALUATION, State.CLEARED, "=odd"]  # "=odd": a value no choice names
    subs = ModelSubmission.objects.bulk_create(
        ModelSubmission(
            organization=cast.lab,
            model_name=text,
            model_version=HOSTILE[-1 - i],
            release_channel=["api", "open_weights", "@raw", ""][i % 4],
            state=states[i % 4],
            created_at=TIMES[0],
            submitted_at=_at(i),
            planned_release_date=None if i % 3 == 0 else _at(i).date(),
            released_at=None if i % 2 else _at(i, 1),
        )
        for i, text in enumerate(HOSTILE)
    )
    SlaBreach.objects.bulk_create(
        SlaBreach(
            submission=s,
            kind=[SlaKind.INTAKE_DECISION, "+odd", SlaKind.INTAKE_DECISION][i % 3],
            due_at=_at(i),
            detected_at=_at(i, 2),
            acknowledged_by=[None, cast.admin, odd_admin][i % 3],
            acknowledged_at=None if i % 3 == 0 else _at(i),
            acknowledgement_note=HOSTILE[i],
        )
        for i, s in enumerate(subs)
    )
    Determination.objects.bulk_create(
        Determination(
            submission=s,
            outcome=["cleared", "flagged", "-odd"][i % 3],
            rationale="Generated.",
            partner_summary=HOSTILE[-1 - i],
            decided_by=[cast.lead, odd_admin][i % 2],
            proposed_at=TIMES[0],
            concurred_by=None if i % 2 else cast.reviewer,
            issued_at=None if i == 3 else _at(i),
        )
        for i, s in enumerate(subs)
    )
    return subs


def _both(name, params, user):
    spec = exports.kind(name)
    rows = spec.filtered(params, user).qs
    copied, written = list(spec.copied(rows, every=5)), list(spec.written(rows, every=5))
    return b"".join(d for d, _ in copied), b"".join(d for d, _ in written), sum(n for _, n in copied), rows.count()


@pytest.mark.parametrize(
    "name, params",
    [
        ("submissions", {}),
        ("submissions", {"state": State.EVALUATION, "release_channel": "open_weights"}),
        ("submissions", {"submitted_from": "2026-11-03", "organization": "lab"}),
        ("breaches", {}),
        ("breaches", {"order": "-due", "acknowledged": "false"}),
        ("breaches", {"kind": SlaKind.INTAKE_DECISION, "detected_to": "2026-11-02"}),
        ("determinations", {}),
        ("determinations", {"outcome": "flagged", "issued_from": "2026-11-02"}),
    ],
)
def test_the_database_writes_the_bytes_python_writes(hostile, cast, name, params):
    """Labels, formula guards, ISO times, quoting and CRLF row ends: the same, filters and order kept."""
    params = {k: str(cast.lab.pk) if v == "lab" else v for k, v in params.items()}
    copied, written, rows_counted, rows = _both(name, params, cast.admin)
    assert copied == written
    assert rows_counted == rows > 0
    assert len(list(csv.reader(io.StringIO(copied.decode())))) == rows + 1


def test_every_cell_reads_back_safe_and_whole(hostile, cast):
    copied, *_ = _both("breaches", {}, cast.admin)
    table = list(csv.reader(io.StringIO(copied.decode(), newline="")))
    assert table[0] == exports.BREACHES_HEADER and len(table) == len(HOSTILE) + 1
    assert not [cell for row in table for cell in row if cell.startswith(exports.FORMULA_STARTS)]
    notes = {row[9] for row in table[1:]}
    assert {"new\nline", "both\r\nends", 'quote " inside', "controls \x01\x07\x1b\x7f \x0b\x0c end"} <= notes
    assert {"'=1+1", "'-1", "'\ttab first", "'\rreturn first", "'already quoted", ""} <= notes
    acknowledged = {row[7] for row in table[1:]}
    assert {"", "2026-11-06T09:30:00+00:00", "2026-11-03T09:30:00.000500+00:00"} <= acknowledged
    assert "2026-11-04T06:00:07.120000+00:00" in {row[6] for row in table[1:]}  # New York's 1 am, in UTC
    assert {row[4] for row in table[1:]} == {SlaKind.INTAKE_DECISION.label, "'+odd"}
    assert {row[8] for row in table[1:]} == {"", "admin", '\'-admin,"odd"'}


def test_no_rows_is_the_header_alone(hostile, cast):
    copied, written, rows_counted, _ = _both("submissions", {"submitted_from": "2030-01-01"}, cast.admin)
    assert copied == written == ",".join(exports.SUBMISSIONS_HEADER).encode() + b"\r\n" and rows_counted == 0
    spec, nothing = exports.kind("determinations"), Determination.objects.none()
    header = ",".join(exports.DETERMINATIONS_HEADER).encode() + b"\r\n"
    assert list(spec.copied(nothing)) == list(spec.written(nothing)) == [(header, 0)]


def test_the_link_and_the_job_send_what_python_writes(hostile, cast, client):
    spec = exports.kind("determinations")
    expected = b"".join(d for d, _ in spec.written(spec.filtered({}, cast.admin).qs))
    client.force_login(cast.admin)
    streamed = b"".join(client.get(reverse("dashboard:export_determinations")).streaming_content)
    job = services.export_build(services.export_start(actor=cast.admin, kind="determinations", params={}).pk)
    with job.file.open("rb") as f:
        built = f.read()
    assert streamed == built == expected and job.rows_done == len(HOSTILE) - 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_reports_progress_while_the_database_streams_its_rows(monkeypatch):
    """The job's connection is busy with the COPY: progress reaches the database through another."""
    cast = Cast()
    ModelSubmission.objects.bulk_create(
        ModelSubmission(
            organization=cast.lab,
            model_name=f"Model-{i}",
            model_version="1",
            release_channel="api",
            state=State.INTAKE,
            created_at=TIMES[0],
            submitted_at=TIMES[0],
        )
        for i in range(2500)
    )
    recorded, record = [], services._progress_record

    def spy(jobs, n):
        record(jobs, n)
        recorded.append((n, threading.current_thread().name, jobs.get().rows_done))

    monkeypatch.setattr(services, "_progress_record", spy)
    job = ExportJob.objects.create(kind="submissions", requested_by=cast.admin, requested_at=TIMES[0])
    done = services.export_build(job.pk)
    assert (done.status, done.rows_done, done.rows_total) == ("done", 2500, 2500)
    assert [(n, seen) for n, _, seen in recorded] == [(1000, 1000), (2000, 2000)]
    assert all(name.startswith("export-progress") for _, name, _ in recorded)


def test_debug_mode_copies_too_and_logs_the_copy(hostile, cast, client, settings):
    """With DEBUG on Django hands out its debug cursor (the demo's setting): the COPY still runs,
    the link and the job send what Python writes, and the COPY shows in the query log."""
    settings.DEBUG = True
    spec = exports.kind("determinations")
    expected = b"".join(d for d, _ in spec.written(spec.filtered({}, cast.admin).qs))
    client.force_login(cast.admin)
    with CaptureQueriesContext(connection) as queries:
        streamed = b"".join(client.get(reverse("dashboard:export_determinations")).streaming_content)
    assert streamed == expected
    assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith("COPY (")]
    job = services.export_build(services.export_start(actor=cast.admin, kind="determinations", params={}).pk)
    assert (job.status, job.error) == ("done", "")
    with job.file.open("rb") as f:
        assert f.read() == expected
