"""Benchmark: the dashboard, the breach list and the public register at 100,000 submissions.

Fills a scratch PostgreSQL database with a realistic portfolio (bench/portfolio.py),
starts gunicorn on a free local port, and sends each page a fixed number of requests
from concurrent clients, next to `/healthz/` (a trivial view through the same
middleware) as the floor. Prints p50 and p95 latency per page and the ratio of each
page's p95 to the floor's. Usage:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench .venv/bin/python bench/dashboard_load.py \
      [--submissions 100000] [--requests 200] [--concurrency 8]

The database named in DATABASE_URL is dropped and recreated (its name must contain "bench").
Requests go only to 127.0.0.1, a bounded number of them; gunicorn is stopped at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caisi_portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

PAGES = [
    ("floor: /healthz/", "/healthz/", False),
    ("dashboard", "/dashboard/", True),
    ("breach list", "/dashboard/breaches/", True),
    ("breach list, filtered", "/dashboard/breaches/?kind=intake_decision&acknowledged=false", True),
    ("register page", "/register/", False),
    ("register JSON", "/register/register.json", False),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_session_cookie() -> str:
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import Role
    from bench.sessions import verified_session

    admin, _ = User.objects.get_or_create(username="bench.admin", defaults={"clearance": 2})
    admin.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
    return verified_session(admin)


def load(base: str, path: str, cookie: str | None, requests: int, concurrency: int) -> list[float]:
    cookies = {"sessionid": cookie} if cookie else {}

    def one(_):
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            return elapsed

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(requests)))


def peak_rss_mb(parent: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) of a process's children, by pid, in MB."""
    peaks = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == parent and "VmHWM" in fields:
            peaks[int(status.parent.name)] = int(fields["VmHWM"].split()[0]) / 1024
    return peaks


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run filled")
    args = parser.parse_args()
    from bench.scratch_db import portfolio_database

    portfolio_database(args.submissions, reuse=args.reuse)
    import django

    from submissions.models import ModelSubmission

    print(f"{ModelSubmission.objects.count():,} submissions in the database.")
    cookie = admin_session_cookie()
    django.db.connections.close_all()

    port = free_port()
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
        "SECURE_COOKIES": "false",
        "SECURE_SSL_REDIRECT": "false",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "caisi_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"gunicorn, {args.workers} workers; {args.requests} requests per page, {args.concurrency} at a time.\n")
        print(f"{'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'p95 / floor':>12}")
        floor_p95 = None
        for label, path, signed_in in PAGES:
            load(base, path, cookie if signed_in else None, max(args.concurrency, 10), args.concurrency)  # warm-up
            times = load(base, path, cookie if signed_in else None, args.requests, args.concurrency)
            p50, p95 = percentile(times, 50), percentile(times, 95)
            floor_p95 = floor_p95 or p95
            print(f"{label:<24} {p50:>8.1f} {p95:>8.1f} {p95 / floor_p95:>12.1f}")
        peaks = peak_rss_mb(server.pid)
        print(f"\npeak RSS of each web worker after the run: {', '.join(f'{mb:.0f} MB' for mb in peaks.values())}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
