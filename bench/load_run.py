"""Load run: 50 concurrent people for 5 minutes on the demo workload (PostgreSQL).

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench_load .venv/bin/python bench/load_run.py \
      [--users 50] [--minutes 5] [--submissions 5000]

It drops and recreates the database (the name must contain "bench"), loads the demo seed
and a portfolio of generated submissions, and makes the 50 accounts the virtual people sign
in with (each its own authenticator, since a TOTP code works only once). It starts the
portal as `make run` does, on a private Redis: gunicorn (3 workers), a Celery worker with
beat. Then Locust (installed from bench/requirements.txt into var/bench-venv) runs the
people of bench/load/locustfile.py and this script prints requests per second, p50/p95/
p99 per action and the error count, which must be zero.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from faults import common  # noqa: E402

OUT = ROOT / "var" / "load"
BENCH_VENV = ROOT / "var" / "bench-venv"
PASSWORD = "load-run-password-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_venv() -> Path:
    locust = BENCH_VENV / "bin" / "locust"
    if not locust.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        pip = [str(BENCH_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "bench" / "requirements.txt")], check=True)
    return locust


def make_accounts(users: int) -> dict:
    """Accounts for the virtual people, in the proportions the locustfile runs them."""
    from django.contrib.auth.models import Group

    from accounts import two_factor
    from accounts.models import Clearance, User
    from accounts.roles import Role
    from reviews.models import Assignment
    from submissions.models import ModelSubmission, Organization, State

    labs = list(Organization.objects.filter(slug__startswith="bench-lab-").order_by("slug")[:5])
    office = Organization.objects.get(slug="bench-office")
    partner_org = Organization.objects.filter(kind=Organization.Kind.TRUSTED_PARTNER).first()
    in_evaluation = list(ModelSubmission.objects.filter(state=State.EVALUATION).values_list("pk", flat=True)[:2000])
    share = {"developer": 20, "reviewer": 15, "admin": 5, "partner": 5}
    scale = users / 50
    role_of = {
        "developer": Role.DEVELOPER_STAFF,
        "reviewer": Role.REVIEWER,
        "admin": Role.ADMINISTRATOR,
        "partner": Role.TRUSTED_PARTNER,
    }
    accounts = {}
    now = dt.datetime.now(dt.UTC)
    for kind, count in share.items():
        rows = []
        for n in range(max(1, round(count * scale))):
            user = User.objects.create_user(
                username=f"load.{kind}{n}",
                password=PASSWORD,
                organization=labs[n % len(labs)]
                if kind == "developer"
                else partner_org
                if kind == "partner"
                else office,
                clearance=Clearance.SECRET if kind in ("reviewer", "admin") else Clearance.UNCLASSIFIED,
            )
            user.groups.add(Group.objects.get(name=role_of[kind]))
            if kind == "reviewer":
                Assignment.objects.bulk_create(
                    Assignment(submission_id=pk, reviewer=user, role="member", assigned_by=user, assigned_at=now)
                    for pk in in_evaluation[n * 40 : n * 40 + 40]
                )
            row = {"username": user.username, "password": PASSWORD}
            if two_factor.second_factor_required(user):
                row["totp"] = two_factor.setup_key(two_factor.simulated_device(user))
            rows.append(row)
        accounts[kind] = rows
    return accounts


def prepare(args) -> None:
    """The database as `make run` prepares it, plus the generated portfolio and the people's
    accounts (written to var/load/users.json for the locustfile)."""
    from django.core.management import call_command
    from django.db import connection, connections

    from bench.portfolio import build_portfolio
    from submissions.seeding import load_seed

    # As `make run` prepares its database: migrate, then the demo seed, whose benchmark catalog
    # and results go together. (Not common.migrate: the test suite's reference benchmark it adds
    # to every domain would enter the seed's plans without a result, and the seed could not
    # clear its reviews.)
    call_command("migrate", verbosity=0)
    load_seed(ROOT / "seeds" / "demo.yaml")
    build_portfolio(args.submissions, now=dt.datetime.now(dt.UTC))
    accounts = make_accounts(args.users)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    call_command("collectstatic", "--noinput", verbosity=0)
    connections.close_all()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "users.json").write_text(json.dumps(accounts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--submissions", type=int, default=5000)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_bench_load")
    if "bench" not in database_url.rsplit("/", 1)[-1]:
        sys.exit("The load run's database name must contain 'bench'.")
    locust = bench_venv()
    redis = common.PrivateRedis(6395)
    env = common.configure(
        database_url=database_url,
        broker_url=redis.url,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_COOKIES="false",
        SECURE_SSL_REDIRECT="false",
        CONN_MAX_AGE="60",
    )
    from bench.clock_sweep import recreate_database

    recreate_database(database_url)
    common.start_django()
    # Redis is up while the seed runs, as under `make run`: the seed's notifications are queued
    # (each would otherwise wait for a broker that is not there), and the worker sends them.
    redis.start()
    server = worker = None
    try:
        prepare(args)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "caisi_portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
            cwd=ROOT,
            env=env,
            stdout=(OUT / "gunicorn.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = common.Worker(env, concurrency=1, beat=True).start()
        base = f"http://127.0.0.1:{port}"
        import httpx

        common.wait_until(lambda: _answers(httpx, base), timeout=30)
        seconds = int(args.minutes * 60)
        print(f"{args.users} people for {seconds} s against {base} (gunicorn 3 workers, Celery worker + beat)")
        locustfile = ROOT / "bench" / "load" / "locustfile.py"
        run = [str(locust), "-f", str(locustfile), "--headless", "-u", str(args.users), "-r", "10"]
        run += ["-t", f"{seconds}s", "--host", base, "--csv", str(OUT / "run"), "--only-summary"]
        for stale in OUT.glob("run_*.csv"):  # a run that writes none must not report the last one's
            stale.unlink()
        subprocess.run(run, env={**env, "LOAD_USERS": str(OUT / "users.json")}, check=False)
    finally:
        if server:
            os.killpg(server.pid, signal.SIGTERM)
        if worker:
            worker.stop()
        if server:
            server.wait(20)
        redis.stop()
    return report(OUT / "run_stats.csv", OUT / "run_failures.csv")


def _answers(httpx, base) -> bool:
    try:
        return httpx.get(base + "/healthz/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def report(stats_path: Path, failures_path: Path) -> int:
    rows = list(csv.DictReader(stats_path.open()))
    print(f"\n{'action':<32} {'requests':>9} {'errors':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    total = None
    for row in rows:
        if row["Name"] == "Aggregated":
            total = row
            continue
        print(
            f"{row['Type'] + ' ' + row['Name']:<32} {row['Request Count']:>9} {row['Failure Count']:>7} "
            f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
        )
    print(
        f"\nall: {total['Request Count']} requests, {float(total['Requests/s']):.1f} per second, "
        f"p50 {total['50%']} ms, p95 {total['95%']} ms, p99 {total['99%']} ms, errors {total['Failure Count']}"
    )
    failures = list(csv.DictReader(failures_path.open())) if failures_path.exists() else []
    for f in failures[:10]:
        print("  error:", f.get("Method"), f.get("Name"), f.get("Error"), f.get("Occurrences"))
    return 0 if int(total["Failure Count"]) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
