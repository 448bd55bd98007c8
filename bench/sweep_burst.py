"""Benchmark: a burst of 10,000 review windows ending at once, acted on by the real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_bench_burst .venv/bin/python bench/sweep_burst.py \
        [--clocks 10000] [--partners 5] [--sample 200]

It recreates its scratch database (the name must contain "faults" and "bench"), files the
clocks as running submissions of one lab, each with a lead and a reviewer assigned and a
deadline five minutes ago, and makes N trusted partners subscribed to "window elapsed" whose
webhooks point at a local receiver. Then, with the portal's own `celery worker` running
(2 processes, a private Redis), it queues one sweep, as beat does each minute, and times:

- **acted on**: until no running clock is past its deadline (each elapsed: transition, audit
  entry, determination breach, obligations closed, event and notices written);
- **notices delivered**: until the receiver holds every partner's webhook for every window.

It then checks what a person would: every submission elapsed exactly once (one audit entry,
one breach, one event each), the audit chain intact, no webhook lost or sent under two ids.
For comparison it first acts on a sample of clocks (--sample, 200) one at a time in this process
(each its own transaction, as the sweep did before) and prints the time per clock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.faults import common


def fill(clocks: int, partners: int, receiver: common.Receiver) -> None:
    """The lab, its people, N partners and `clocks` submissions in evaluation, all due."""
    from django.db import connection

    from partners.models import PartnerEventType
    from reviews.models import Assignment
    from submissions.models import ModelSubmission, ReviewClock, SlaKind, SlaObligation, SlaPolicy, State
    from tests.factories import Cast

    cast = Cast()
    common.make_partners(partners, receiver, [PartnerEventType.WINDOW_ELAPSED])
    # The deadline has passed: every days-left warning and results reminder is behind the clock,
    # handled as the sweep leaves them (reminders_sent sorted, as reminders.clock_remind writes it).
    all_reminders = sorted(step for step, _ in SlaPolicy.current().reminder_steps())
    now = dt.datetime.now(dt.UTC)
    due = now - dt.timedelta(minutes=5)
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM submissions_modelsubmission")
        first = cur.fetchone()[0] + 1
    subs = ModelSubmission.objects.bulk_create(
        ModelSubmission(
            pk=first + i,
            organization=cast.lab,
            model_name=f"Burst-{i}",
            model_version="1",
            release_channel="api",
            state=State.EVALUATION,
            created_by=cast.developer,
            created_at=due - dt.timedelta(days=31),
            submitted_at=due - dt.timedelta(days=30),
        )
        for i in range(clocks)
    )
    ReviewClock.objects.bulk_create(
        ReviewClock(
            submission=s,
            started_at=due - dt.timedelta(days=30),
            window=dt.timedelta(days=30),
            deadline_at=due,
            next_warning_at=None,
            warnings_sent=[7, 2],
            next_reminder_at=None,
            reminders_sent=all_reminders,
        )
        for s in subs
    )
    SlaObligation.objects.bulk_create(
        SlaObligation(submission=s, kind=SlaKind.REVIEWER_ASSIGNMENT, due_at=now + dt.timedelta(days=1), opened_at=due)
        for s in subs
    )
    Assignment.objects.bulk_create(
        Assignment(submission=s, reviewer=person, role=role, assigned_by=cast.admin, assigned_at=due)
        for s in subs
        for person, role in ((cast.lead, Assignment.Role.LEAD), (cast.reviewer, Assignment.Role.MEMBER))
    )
    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('submissions_modelsubmission', 'id'), %s)", [first + clocks])
        cur.execute("ANALYZE")


def due_clocks():
    from submissions.models import ReviewClock

    return ReviewClock.objects.filter(status="running", deadline_at__lte=dt.datetime.now(dt.UTC))


def one_at_a_time(count: int) -> float:
    """Milliseconds per clock, each clock its own transaction (the sweep's shape before)."""
    from submissions import review_clock

    ids = list(due_clocks().order_by("pk").values_list("pk", flat=True)[:count])
    started = time.perf_counter()
    for clock_id in ids:
        review_clock.clocks_expire([clock_id])
    return (time.perf_counter() - started) * 1000 / max(len(ids), 1)


def check(clocks: int, partners: int, receiver: common.Receiver) -> dict:
    from django.db.models import Count

    from partners.models import Delivery, Event
    from submissions import audit_chain
    from submissions.models import AuditEntry, ModelSubmission, SlaBreach

    def at_most_once(queryset, field="submission"):
        return not queryset.values(field).annotate(n=Count("pk")).filter(n__gt=1).exists()

    elapsed = ModelSubmission.objects.filter(state="window_elapsed").count()
    entries = AuditEntry.objects.filter(action="elapse")
    breaches = SlaBreach.objects.filter(kind="determination")
    events = Event.objects.filter(type="submission.window_elapsed")
    checked, broken = audit_chain.verify()
    ids = {}
    for partner, message_id in receiver.calls:
        ids.setdefault(message_id, set()).add(partner)
    webhooks = Delivery.objects.filter(channel="webhook")
    return {
        "elapsed": elapsed,
        "once": at_most_once(entries) and at_most_once(breaches) and at_most_once(events),
        "counts_match": entries.count() == breaches.count() == events.count() == elapsed == clocks,
        "chain": broken is None,
        "chain_checked": checked,
        "webhooks": webhooks.count(),
        "lost": len({d.webhook_id for d in webhooks} - set(ids)),
        "received": len(ids),
        "expected_webhooks": clocks * partners,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clocks", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="clocks first acted on one at a time, for comparison")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_bench_burst")
    name = database_url.rsplit("/", 1)[-1]
    if "bench" not in name or "faults" not in name:
        sys.exit("DATABASE_URL must name a scratch database whose name contains 'faults' and 'bench'.")
    redis = common.PrivateRedis(6394)
    env = common.configure(database_url=database_url, broker_url=redis.url, LOG_LEVEL="ERROR")
    redis.start()
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()
    receiver = common.Receiver()
    worker = None
    try:
        started = time.perf_counter()
        fill(args.clocks + args.sample, args.partners, receiver)
        print(f"Filled {args.clocks + args.sample:,} due clocks in {time.perf_counter() - started:.0f} s.", flush=True)
        per_clock_ms = one_at_a_time(args.sample)
        print(f"One at a time: {per_clock_ms:.1f} ms per clock ({args.sample} clocks).", flush=True)

        from django.db import connections

        from submissions.tasks import sweep_review_clocks

        connections.close_all()
        worker = common.Worker(env, concurrency=2).start()
        time.sleep(4)  # the worker connects to Redis and PostgreSQL before the clock starts
        started = time.perf_counter()
        sweep_review_clocks.delay()  # what beat does each minute; a full batch queues the next at once
        common.wait_until(lambda: not due_clocks().exists(), timeout=900, interval=0.2)
        acted_s = time.perf_counter() - started
        print(f"Acted on {args.clocks:,} due clocks in {acted_s:.1f} s.", flush=True)
        expected = (args.clocks + args.sample) * args.partners
        common.wait_until(lambda: receiver.seen() >= expected, timeout=1800, interval=0.5)
        delivered_s = time.perf_counter() - started
        print(f"Every partner's notice of every window received after {delivered_s:.1f} s.", flush=True)
    finally:
        if worker:
            worker.stop()
        receiver.stop()
        redis.stop()
    result = check(args.clocks + args.sample, args.partners, receiver)
    print()
    print("| due clocks | one at a time, ms per clock | burst acted on, s | clocks/s | notices | all received, s |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.clocks:,} | {per_clock_ms:.1f} | {acted_s:.1f} | {args.clocks / acted_s:.0f} | "
        f"{result['expected_webhooks']:,} | {delivered_s:.1f} |"
    )
    print()
    print(
        f"elapsed {result['elapsed']:,}; each once: {result['once']}; entries = breaches = events = clocks: "
        f"{result['counts_match']}; audit chain intact over {result['chain_checked']:,} entries: {result['chain']}; "
        f"webhooks {result['webhooks']:,}, distinct ids received {result['received']:,}, lost {result['lost']}"
    )
    ok = (
        result["once"]
        and result["counts_match"]
        and result["chain"]
        and result["lost"] == 0
        and result["received"] == result["webhooks"] == result["expected_webhooks"]
    )
    print("RESULT", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
