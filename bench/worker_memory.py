"""Benchmark: peak memory of a Celery worker at 100,000 submissions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench .venv/bin/python bench/worker_memory.py \
        [--submissions 100000] [--reuse]

Fills (or, with --reuse, keeps) the portfolio of bench/portfolio.py, starts the portal's own
`celery worker` (2 processes, a private Redis), and gives it the heaviest work an office
queues: every export an administrator can start (all submissions, all breaches, all
determinations, unfiltered) and a sweep of the review clocks. When all of it is done it reads
the peak resident memory (VmHWM) of the worker's parent and of each pool process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run filled")
    args = parser.parse_args()
    from bench.faults import common

    database_url = os.environ.get("DATABASE_URL", "")
    redis = common.PrivateRedis(6395)
    env = common.configure(database_url=database_url, broker_url=redis.url, LOG_LEVEL="ERROR", DEBUG="false")
    from bench.dashboard_load import admin_session_cookie, peak_rss_mb
    from bench.scratch_db import portfolio_database

    portfolio_database(args.submissions, reuse=args.reuse)
    redis.start()
    worker = None
    try:
        from django.db import connections
        from django.http import QueryDict

        from accounts.models import User
        from dashboard.models import ExportJob
        from dashboard.services import export_start
        from submissions.tasks import sweep_review_clocks

        admin_session_cookie()  # makes the bench administrator
        admin = User.objects.get(username="bench.admin")
        connections.close_all()
        worker = common.Worker(env, concurrency=2).start()
        time.sleep(4)
        started = time.perf_counter()
        jobs = [export_start(actor=admin, kind=kind, params=QueryDict()) for kind in ExportJob.Kind.values]
        sweep_review_clocks.delay()
        done = common.wait_until(
            lambda: (
                ExportJob.objects.filter(pk__in=[j.pk for j in jobs], finished_at__isnull=False).count() == len(jobs)
            ),
            timeout=600,
            interval=0.5,
        )
        time.sleep(2)  # the sweep's run
        elapsed = time.perf_counter() - started
        rows = {j.kind: (j.status, j.rows_done) for j in ExportJob.objects.filter(pk__in=[j.pk for j in jobs])}
        pool = peak_rss_mb(worker.pid)  # the pool processes are the celery main process's children
        print(f"Exports done: {done} in {elapsed:.1f} s: {rows}\n")
        with open(f"/proc/{worker.pid}/status") as status:
            own = [line for line in status if line.startswith("VmHWM")]
        print("| process | peak RSS (VmHWM) MB |")
        print("|---|---:|")
        for pid, mb in pool.items():
            print(f"| pool process {pid} | {mb:.0f} |")
        print(f"| the celery main process | {int(own[0].split()[1]) / 1024:.0f} |")
        return 0 if done else 1
    finally:
        if worker:
            worker.stop()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
