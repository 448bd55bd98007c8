"""`make bench-smoke`: every benchmark at a tiny size, one after another, in a minute or two.

Each script runs as it would by hand, as a subprocess, with arguments that make it small. A
script passes when it exits 0 and prints its table (the table's header, with a row under it):
so a fill that predates a migration, or code that no longer matches the models, fails here and
not on the day someone measures. The figures mean nothing at these sizes; the full sizes stay
manual (bench/README.md). The `fault_*.py` scripts are not here: `make faults` runs them.

Databases: whatever DATABASE_URL says, every script gets a scratch database whose name
contains "bench" (the scripts drop and recreate it); fanout.py and sweep_burst.py also want
"faults" in it. The migrations run once, into a template each script copies
(BENCH_TEMPLATE_DATABASE), so each script's own `migrate` has nothing left to apply. All three
databases are dropped at the end (`--keep` keeps them). Celery: the scripts that start a worker
start their own Redis on a private port; the others queue to an in-memory broker, never the
machine's Redis.

    .venv/bin/python bench/smoke.py [--only clock_sweep digests] [--keep]

Each script's whole output is in var/bench-smoke/<script>.log.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "bench-smoke"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = "caisi_bench_smoke"
FAULTS_DB = "caisi_faults_bench_smoke"  # fanout.py and sweep_burst.py want "faults" and "bench"
TEMPLATE_DB = "caisi_bench_smoke_template"
TIMEOUT = 300  # seconds per script; each takes well under a minute


@dataclass
class Script:
    name: str
    args: list[str]
    table: str  # the start of its table's header line
    database: str | None = BENCH_DB
    env: dict[str, str] = field(default_factory=dict)


SCRIPTS = [
    # No database: 10 replications of a year instead of 100, timed once instead of 5 times. The
    # issue's 10 s bar is for the full run (by hand): a timed bar would fail a loaded machine.
    Script(
        "capacity", ["--runs", "1", "--replications", "10"], "| runs | median s |", database=None, env={"DEBUG": "true"}
    ),
    # 1,000 open clocks (10 due, then 100 due), 3 runs each; acts on 100 due clocks one by one.
    Script("clock_sweep", ["--max", "1000", "--repeat", "3"], "open clocks"),
    # 10 then 20 people, 5 held items each, one run per size.
    Script("digests", ["--people", "20", "--items", "5", "--repeat", "1"], "people"),
    # 300 submissions; gunicorn with 1 worker, 10 requests per page, 2 at a time.
    Script(
        "dashboard_load",
        ["--submissions", "300", "--requests", "10", "--concurrency", "2", "--workers", "1"],
        "page ",
    ),
    # 300 submissions, the submissions export once.
    Script("export_job", ["--submissions", "300", "--repeat", "1"], "seconds "),
    # 300 submissions; a real Celery worker (private Redis on 6395) runs every export and a sweep.
    Script("worker_memory", ["--submissions", "300"], "| process |"),
    # 20 partners; a real Celery worker (private Redis on 6393) and a local webhook receiver.
    Script("fanout", ["--partners", "20"], "| partners |", database=FAULTS_DB),
    # 20 due clocks after 10 acted on one at a time, 2 partners; real worker (Redis on 6394).
    Script(
        "sweep_burst", ["--clocks", "20", "--partners", "2", "--sample", "10"], "| due clocks |", database=FAULTS_DB
    ),
    # 5 people for 12 s on the demo seed and 200 submissions: gunicorn, a Celery worker with beat
    # (Redis on 6395) and Locust. Locust lives in its own virtualenv, var/bench-venv, which the
    # script makes from bench/requirements.txt on its first run (pip, so once about 30 s more).
    Script("load_run", ["--users", "5", "--minutes", "0.2", "--submissions", "200"], "action "),
]

SEPARATOR = re.compile(r"^\|[-:| ]+\|$")


def psql(*commands: str) -> None:
    run = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}  # no "does not exist, skipping"
        subprocess.run([*run, "-c", command], check=True, stdout=subprocess.DEVNULL, env=quiet)


def drop(*names: str) -> None:
    psql(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


def make_template(env: dict[str, str]) -> None:
    """One migrated database the scripts copy instead of each migrating its own."""
    drop(TEMPLATE_DB)
    psql(f'CREATE DATABASE "{TEMPLATE_DB}"')
    migrate_env = {**env, "DATABASE_URL": f"{POSTGRES}/{TEMPLATE_DB}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=migrate_env, check=True
    )


def table_in(output: str, header: str) -> list[str]:
    """The table whose header line starts with `header`: its lines up to the first blank one,
    or [] when there is no such header or no row under it."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(header):
            table = [line]
            for following in lines[i + 1 :]:
                if not following.strip():
                    break
                table.append(following)
            rows = [row for row in table[1:] if not SEPARATOR.match(row.strip())]
            return table if rows else []
    return []


def run(script: Script, env: dict[str, str]) -> tuple[bool, str]:
    """Run one script; (passed, why not)."""
    env = {**env, **script.env}
    if script.database:
        env["DATABASE_URL"] = f"{POSTGRES}/{script.database}"
    log = LOGS / f"{script.name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, f"bench/{script.name}.py", *script.args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            code = process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            # Ctrl-C, so its `finally` stops the servers and workers it started; then for good.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return False, f"still running after {TIMEOUT} s"
    output = log.read_text(errors="replace")
    table = table_in(output, script.table)
    if code != 0:
        return False, f"exit status {code}"
    if not table:
        return False, f"no table (a line starting {script.table!r} with a row under it)"
    print("\n".join("    " + line for line in table))
    return True, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run these scripts only (names without .py)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases at the end")
    args = parser.parse_args()
    scripts = [s for s in SCRIPTS if not args.only or s.name in args.only]
    unknown = set(args.only or ()) - {s.name for s in SCRIPTS}
    if unknown:
        parser.error(f"no such benchmark here: {', '.join(sorted(unknown))}")

    LOGS.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.setdefault("SECRET_KEY", "bench-only")
    env["CELERY_BROKER_URL"] = "memory://"  # those that start a worker set their own private Redis
    env["BENCH_TEMPLATE_DATABASE"] = TEMPLATE_DB
    env["PYTHONUNBUFFERED"] = "1"

    begun = time.perf_counter()
    failed = []
    try:
        print(f"== migrating the template database, {TEMPLATE_DB}", flush=True)
        make_template(env)
        print(f"   done in {time.perf_counter() - begun:.0f} s", flush=True)
        for script in scripts:
            print(f"== bench/{script.name}.py {' '.join(script.args)}", flush=True)
            started = time.perf_counter()
            passed, why = run(script, env)
            took = time.perf_counter() - started
            if passed:
                print(f"   ok in {took:.0f} s", flush=True)
            else:
                failed.append(script.name)
                tail = (LOGS / f"{script.name}.log").read_text(errors="replace").splitlines()[-30:]
                print("\n".join("    " + line for line in tail))
                print(f"   FAILED in {took:.0f} s: {why} (whole output: var/bench-smoke/{script.name}.log)", flush=True)
    finally:
        if not args.keep:
            drop(BENCH_DB, FAULTS_DB, TEMPLATE_DB)
    total = time.perf_counter() - begun
    if failed:
        print(f"\nbench-smoke: {len(failed)} of {len(scripts)} failed ({', '.join(failed)}) in {total:.0f} s")
        return 1
    print(f"\nbench-smoke: all {len(scripts)} benchmarks ran and printed their tables in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
