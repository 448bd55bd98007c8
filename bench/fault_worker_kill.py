"""Fault: a Celery worker is killed (SIGKILL) in the middle of a webhook fan-out to 1,000 partners.

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_kill .venv/bin/python bench/fault_worker_kill.py

A submission is cleared; 1,000 subscribed partners each get a delivery row and a task.
When the receiver has seen a few hundred calls, the worker's whole process group is
killed with SIGKILL: the messages it had taken are neither acknowledged nor finished,
and the notifications it was sending were sent but not recorded. A new worker starts;
the sweep (played every 3 s) queues again what the dead one left once its claim (the
delivery lease, 20 s here) has run out. Every partner must end with the event, under the
one webhook-id of its delivery; a repeat of an id is a retry, a second id would be a bug.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import common

PARTNERS = 1000
KILL_AFTER = 300


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_kill")
    redis = common.PrivateRedis(6392)
    env = common.configure(database_url=database_url, broker_url=redis.url)
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()

    from partners.models import Delivery, PartnerEventType
    from tests.factories import Cast, move, record_all_results

    receiver = common.Receiver(delay=0.01)
    cast = Cast()
    common.make_partners(PARTNERS, receiver, [PartnerEventType.CLEARED])
    s = cast.submission("evaluation")
    record_all_results(s, cast.reviewer)

    redis.start()
    first = common.Worker(env, concurrency=4).start()
    second = None
    tick = common.beat()
    try:
        started = time.monotonic()
        move(s, "clear", cast.lead)  # the outbox rows and 1,000 tasks, after commit
        common.wait_until(lambda: receiver.seen() >= KILL_AFTER, timeout=120)
        first.kill()
        at_kill = receiver.seen()
        time.sleep(1)  # a reply still on the wire when the worker died lands now
        in_flight = receiver.seen() - at_kill
        delivered_at_kill = Delivery.objects.filter(channel="webhook", status="delivered").count()
        print(f"SIGKILL after {receiver.seen()} calls; {delivered_at_kill} recorded as delivered")

        second = common.Worker(env, concurrency=4).start()

        def all_delivered():
            return not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists()

        common.wait_until(all_delivered, timeout=300, interval=1, tick=tick)
        took = time.monotonic() - started
        audit = common.delivery_audit(receiver)
    finally:
        first.stop()
        if second:
            second.stop()
        redis.stop()
        receiver.stop()

    per_partner = {}
    for partner, _ in receiver.calls:
        per_partner[partner] = per_partner.get(partner, 0) + 1
    common.print_report(
        f"SIGKILL in the middle of a fan-out to {PARTNERS} partners",
        {
            "receiver calls when the worker was killed": at_kill,
            "calls that arrived after the kill (in flight)": in_flight,
            "partners that have the event": f"{len(per_partner)}/{PARTNERS}",
            "seconds from the clear to every partner notified": f"{took:.1f}",
            **audit,
        },
    )
    ok = len(per_partner) == PARTNERS and audit["lost"] == 0 and audit["unexpected duplicates"] == 0
    return common.verdict(ok)


if __name__ == "__main__":
    sys.exit(main())
