"""Fault: PostgreSQL restarts in the middle of a run; the worker reconnects and carries on.

  .venv/bin/python bench/fault_postgres_restart.py

Runs its own PostgreSQL cluster (initdb as the `postgres` user, port 5444, under /tmp) so
the restart hurts nobody else, with a private Redis and one worker. A submission is cleared
and its 40 partners notified; a second is cleared and, while its notifications are going
out, PostgreSQL restarts (pg_ctl restart -m fast: every connection is cut). Then people
carry on: a third is cleared and a review deadline passes. The same worker process must
deliver everything (what failed during the restart is retried by the sweep with the same
webhook-id) and act on the deadline, without a restart of its own.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import common

PORT = 5444
DATA = Path(f"/tmp/caisi-faults-pg-{PORT}")
PARTNERS = 40


def pg(*args: str) -> None:
    """Run a PostgreSQL server command as the postgres user (it refuses to run as root)."""
    binary = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    cmd = [f"{binary}/{args[0]}", *args[1:]]
    user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") and _is_root() else []
    subprocess.run([*user, *cmd], check=True, stdout=subprocess.DEVNULL)


def _is_root() -> bool:
    return os.geteuid() == 0


def start_cluster() -> None:
    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    if _is_root():
        shutil.chown(DATA, "postgres", "postgres")
    pg("initdb", "-D", str(DATA), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    pg_ctl("start")


def pg_ctl(action: str, *extra: str) -> None:
    options = f"-p {PORT} -k /tmp -c listen_addresses=127.0.0.1"
    pg("pg_ctl", "-D", str(DATA), "-o", options, "-l", str(DATA / "server.log"), "-w", action, *extra)


def main() -> int:
    database_url = f"postgres://postgres@127.0.0.1:{PORT}/caisi_faults_pg"
    redis = common.PrivateRedis(6394)
    start_cluster()
    env = common.configure(database_url=database_url, broker_url=redis.url)
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()

    from django.db import close_old_connections

    from partners.models import Delivery, PartnerEventType
    from submissions.models import ModelSubmission, ReviewClock, State
    from tests.factories import Cast, move, record_all_results

    receiver = common.Receiver(delay=0.05)
    cast = Cast()
    common.make_partners(PARTNERS, receiver, [PartnerEventType.CLEARED, PartnerEventType.WINDOW_ELAPSED])
    ready = []
    for _ in range(3):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        ready.append(s)
    elapsing = cast.submission(State.EVALUATION)

    redis.start()
    worker = common.Worker(env).start()
    tick = common.beat()
    try:
        move(ready[0], "clear", cast.lead)
        common.wait_until(lambda: receiver.seen() >= PARTNERS, timeout=60)
        move(ready[1], "clear", cast.lead)
        common.wait_until(lambda: receiver.seen() >= PARTNERS + 10, timeout=60)
        restart_began = time.monotonic()
        pg_ctl("restart", "-m", "fast")
        down_for = time.monotonic() - restart_began
        print(f"PostgreSQL restarted after {receiver.seen()} calls ({down_for:.1f} s)")

        # People carry on. A request starts by dropping a connection that died (as Django does).
        close_old_connections()
        move(ready[2], "clear", cast.lead)
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        ReviewClock.objects.filter(submission=elapsing).update(deadline_at=deadline)

        def settled():
            close_old_connections()
            done = not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists()
            return done and ModelSubmission.objects.get(pk=elapsing.pk).state == State.WINDOW_ELAPSED

        common.wait_until(settled, timeout=240, interval=1, tick=tick)
        caught_up = time.monotonic() - restart_began
        worker_survived = worker.alive()
        audit = common.delivery_audit(receiver)
        elapsed = ModelSubmission.objects.get(pk=elapsing.pk).state == State.WINDOW_ELAPSED
    finally:
        worker.stop()
        redis.stop()
        receiver.stop()
        pg_ctl("stop", "-m", "fast")
        shutil.rmtree(DATA, ignore_errors=True)

    common.print_report(
        "PostgreSQL restarted mid-run",
        {
            "same worker process still running": worker_survived,
            "deadline after the restart acted on": elapsed,
            "seconds from the restart to all caught up": f"{caught_up:.1f}",
            **audit,
        },
    )
    ok = worker_survived and elapsed and audit["lost"] == 0 and audit["unexpected duplicates"] == 0
    return common.verdict(ok and audit["emails not delivered"] == 0)


if __name__ == "__main__":
    sys.exit(main())
