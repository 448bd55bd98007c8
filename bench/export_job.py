"""Benchmark: the submissions export at 100,000 rows, as a background job, against a raw SQL floor.

Fills a scratch PostgreSQL database with a realistic portfolio (bench/portfolio.py), then
times, in one process and one run:

  floor   PostgreSQL's own `COPY (SELECT ... joins ...) TO STDOUT WITH CSV` of the same columns
  stream  the direct CSV link's streamed response, read to the end
  job     `dashboard.services.export_build`, what the worker runs: counts the rows, writes the
          CSV to a temporary file with a progress update every 1,000 rows, stores it

and prints each one's time and its ratio to the floor, with the job's progress updates and
peak memory. Usage:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench .venv/bin/python bench/export_job.py \
      [--submissions 100000] [--reuse]

The database named in DATABASE_URL is dropped and recreated (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caisi_portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

FLOOR_SQL = """
COPY (
  SELECT s.id, o.name, s.model_name, s.model_version, s.release_channel, s.state,
         s.submitted_at, s.planned_release_date, s.released_at
  FROM submissions_modelsubmission s JOIN submissions_organization o ON o.id = s.organization_id
  WHERE NOT s.is_exercise AND s.state <> 'draft'
  ORDER BY s.id
) TO STDOUT WITH CSV HEADER
"""


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run filled")
    args = parser.parse_args()
    from bench.scratch_db import portfolio_database

    portfolio_database(args.submissions, reuse=args.reuse)
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import RequestFactory

    from accounts.models import User
    from accounts.roles import Role
    from dashboard import services
    from dashboard.models import ExportJob
    from dashboard.views import export_submissions
    from submissions.models import ModelSubmission

    admin, _ = User.objects.get_or_create(username="bench.admin", defaults={"clearance": 2})
    admin.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
    rows = ModelSubmission.objects.visible_to(admin).filter(is_exercise=False).count()
    print(f"{rows:,} submissions an administrator exports (drafts are the developers' own).")

    def floor():
        size = 0
        with connection.cursor() as cur, cur.copy(FLOOR_SQL) as copy:
            for chunk in copy:
                size += len(chunk)
        return size

    def stream():
        request = RequestFactory().get("/dashboard/reports/submissions.csv")
        request.user = admin
        response = export_submissions.__wrapped__.__wrapped__(request)  # past login_required, require_safe
        return sum(len(part) for part in response.streaming_content)

    updates = []

    def job():
        from dashboard import exports

        new = ExportJob.objects.create(kind="submissions", requested_by=admin, requested_at=dt.datetime.now(dt.UTC))
        real_write = exports.write_csv

        def write(out, header, data, on_progress=None, every=1000):
            def progress(n):
                updates.append(n)
                on_progress(n)

            return real_write(out, header, data, on_progress=progress, every=every)

        exports.write_csv = write  # only to count the progress updates
        try:
            done = services.export_build(new.pk)
        finally:
            exports.write_csv = real_write
        assert done.status == "done", done.error
        return done.file.size

    results = []
    for name, fn in (("floor: COPY ... TO STDOUT", floor), ("direct link, streamed", stream), ("export job", job)):
        seconds, size = timed(fn)
        # Memory in a second pass: tracing allocations slows Python several times over.
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append((name, seconds, size, peak))
    base = results[0][1]
    print(f"\n{'':28} {'seconds':>8} {'x floor':>8} {'MB out':>7} {'peak MB (Python)':>17}")
    for name, seconds, size, peak in results:
        print(f"{name:28} {seconds:8.2f} {seconds / base:8.1f} {size / 1e6:7.1f} {peak / 1e6:17.1f}")
    print(f"\nThe job reported progress {len(updates) // 2} times (every 1,000 rows; last at {updates[-1]:,}).")


if __name__ == "__main__":
    main()
