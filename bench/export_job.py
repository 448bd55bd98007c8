"""Benchmark: the CSV exports at 100,000 submissions, streamed and as a background job, against a raw SQL floor.

Fills a scratch PostgreSQL database with a realistic portfolio (bench/portfolio.py), then
times, in one process:

  floor   PostgreSQL's own `COPY (SELECT ... joins ...) TO STDOUT WITH CSV` of the same columns and
          rows, raw (state codes, the server's own time format): the least work for the answer
  stream  the direct CSV link's streamed response, read to the end
  job     `dashboard.services.export_build`, what the worker runs: counts the rows, writes the
          CSV to a temporary file while recording its progress, stores it

each `--repeat` times, interleaved (floor, stream, job, floor, ...) so that the load of a shared
machine falls on all three alike, and prints the medians and their ratios to the floor's, with
the job's progress records and peak Python memory (a further pass, with tracemalloc on). Usage:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench .venv/bin/python bench/export_job.py \\
      [--submissions 100000] [--kind submissions|breaches|determinations] [--repeat 5] [--reuse]

The database named in DATABASE_URL is dropped and recreated (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caisi_portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

# The floors: the same columns and rows as each export, raw (codes, the server's own time format).
FLOORS = {
    "submissions": """
        SELECT s.id, o.name, s.model_name, s.model_version, s.release_channel, s.state,
               s.submitted_at, s.planned_release_date, s.released_at
        FROM submissions_modelsubmission s JOIN submissions_organization o ON o.id = s.organization_id
        WHERE NOT s.is_exercise AND s.state <> 'draft'
        ORDER BY s.id
    """,
    "breaches": """
        SELECT b.id, o.name, s.model_name, s.model_version, b.kind, b.due_at, b.detected_at,
               b.acknowledged_at, u.username, b.acknowledgement_note
        FROM submissions_slabreach b
        JOIN submissions_modelsubmission s ON s.id = b.submission_id
        JOIN submissions_organization o ON o.id = s.organization_id
        LEFT JOIN accounts_user u ON u.id = b.acknowledged_by_id
        WHERE NOT s.is_exercise
        ORDER BY b.detected_at DESC, b.id DESC
    """,
    "determinations": """
        SELECT d.submission_id, o.name, s.model_name, s.model_version, d.outcome, d.issued_at,
               u.username, c.username, d.partner_summary
        FROM reviews_determination d
        JOIN submissions_modelsubmission s ON s.id = d.submission_id
        JOIN submissions_organization o ON o.id = s.organization_id
        JOIN accounts_user u ON u.id = d.decided_by_id
        LEFT JOIN accounts_user c ON c.id = d.concurred_by_id
        WHERE d.issued_at IS NOT NULL AND NOT s.is_exercise
        ORDER BY d.issued_at
    """,
}


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kind", choices=FLOORS, default="submissions", help="which export (default: submissions)")
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run filled")
    args = parser.parse_args()
    from bench.scratch_db import portfolio_database

    portfolio_database(args.submissions, reuse=args.reuse)
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import RequestFactory

    from accounts.models import User
    from accounts.roles import Role
    from dashboard import exports, services, views
    from dashboard.models import ExportJob

    admin, _ = User.objects.get_or_create(username="bench.admin", defaults={"clearance": 2})
    admin.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
    rows = exports.kind(args.kind).filtered({}, admin).qs.count()
    print(f"{rows:,} rows in an administrator's {args.kind} export.")

    def floor():
        size = lines = 0
        with connection.cursor() as cur, cur.copy(f"COPY ({FLOORS[args.kind]}) TO STDOUT WITH CSV HEADER") as copy:
            for chunk in copy:
                size, lines = size + len(chunk), lines + 1
        assert lines == rows + 1, (lines, rows)  # the same rows
        return size

    def stream():
        request = RequestFactory().get(f"/dashboard/reports/{args.kind}.csv")
        request.user = admin
        view = getattr(views, f"export_{args.kind}").__wrapped__.__wrapped__  # past login_required, require_safe
        return sum(len(part) for part in view(request).streaming_content)

    records = []
    real_record = services._progress_record

    def record(jobs, n):  # only to count the progress the job records
        records[-1].append(n)
        real_record(jobs, n)

    def job():
        records.append([])
        new = ExportJob.objects.create(kind=args.kind, requested_by=admin, requested_at=dt.datetime.now(dt.UTC))
        done = services.export_build(new.pk)
        assert done.status == "done", done.error
        assert done.rows_done == rows, (done.rows_done, rows)
        return done.file.size

    services._progress_record = record
    runs = {"floor: COPY ... TO STDOUT": floor, "direct link, streamed": stream, "export job": job}
    seconds, sizes = {name: [] for name in runs}, {}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            took, sizes[name] = timed(fn)
            seconds[name].append(took)
    peaks = {}
    for name, fn in runs.items():
        # Memory in a pass of its own: tracing allocations slows Python several times over.
        tracemalloc.start()
        fn()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    base = statistics.median(seconds["floor: COPY ... TO STDOUT"])
    print(f"\nMedians of {args.repeat} runs, interleaved.")
    print(f"{'':28} {'seconds':>8} {'x floor':>8} {'MB out':>7} {'peak MB (Python)':>17}")
    for name in runs:
        median = statistics.median(seconds[name])
        print(f"{name:28} {median:8.2f} {median / base:8.1f} {sizes[name] / 1e6:7.1f} {peaks[name] / 1e6:17.1f}")
    counts = [len(r) for r in records]
    last = f"last at {records[-1][-1]:,}" if records[-1] else "none under 1,000 rows"
    print(f"\nThe job recorded its progress {min(counts)} to {max(counts)} times a run (every 1,000 rows; {last}).")


if __name__ == "__main__":
    main()
