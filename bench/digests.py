"""Benchmark: one digest run for 10, 100 and 1,000 people with 50 held items each (PostgreSQL).

Fills a scratch database with people who chose a daily digest (in four time zones), 50 events
about 10 submissions, and one held email per person and event, all due; then times
`partners.digests.digests_send`, the beat task's whole run: the due items read with FOR UPDATE
SKIP LOCKED, one message built per person (every item, grouped by submission), the digests
inserted, the items marked as included. It asserts the run's number of queries is the same
for every size and that every item went into exactly one digest. Usage:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench_digests .venv/bin/python bench/digests.py \
      [--people 1000] [--items 50] [--repeat 3]

The database named in DATABASE_URL is dropped and recreated (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caisi_portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

ZONES = ("America/New_York", "Europe/Berlin", "Asia/Tokyo", "")
SUBMISSIONS = 10


def setup(people: int, items: int) -> list[int]:
    """People with a daily digest, `items` events about SUBMISSIONS submissions. Returns the
    people's ids."""
    from accounts.models import DigestCadence, NotificationPreference, User
    from caisi_portal import clock
    from partners.models import Event
    from submissions.models import Agreement, ModelSubmission, Organization

    org = Organization.objects.create(name="Bench Lab", slug="bench-lab", kind="developer", is_simulated=True)
    agreement = Agreement.objects.create(organization=org)
    agreement.sign()
    agreement.save()
    now = clock.now()
    submissions = ModelSubmission.objects.bulk_create(
        [
            ModelSubmission(organization=org, model_name=f"Bench-{i}", model_version="1", created_at=now)
            for i in range(SUBMISSIONS)
        ]
    )
    Event.objects.bulk_create(
        [
            Event(
                type="review.assigned",
                submission=submissions[i % SUBMISSIONS],
                occurred_at=now - dt.timedelta(hours=20) + dt.timedelta(minutes=i),
                payload={
                    "model_name": submissions[i % SUBMISSIONS].model_name,
                    "model_version": "1",
                    "organization": org.name,
                    "path": f"/submissions/{submissions[i % SUBMISSIONS].pk}/",
                },
            )
            for i in range(items)
        ]
    )
    users = User.objects.bulk_create(
        [
            User(username=f"reader{i}", email=f"reader{i}@bench.example", time_zone=ZONES[i % len(ZONES)])
            for i in range(people)
        ]
    )
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user=u, cadence=DigestCadence.DAILY, digest_hour=8) for u in users]
    )
    return [u.pk for u in users]


def hold(user_ids: list[int]) -> int:
    """One held email per person and event, due a minute ago (earlier digests removed)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DELETE FROM partners_delivery")
        cur.execute(
            """
            INSERT INTO partners_delivery (id, event_id, channel, recipient_id, address, status, attempts,
                                           next_attempt_at, last_error, subject, body)
            SELECT gen_random_uuid(), e.id, 'email', u.id, u.email, 'held', 0,
                   now() - interval '1 minute', '', '', ''
            FROM partners_event e CROSS JOIN accounts_user u WHERE u.id = ANY(%s)
            """,
            [user_ids],
        )
        count = cur.rowcount
        cur.execute("VACUUM ANALYZE partners_delivery")
    return count


def run_once(user_ids: list[int]) -> tuple[float, int, int]:
    """(ms, queries, digests) for one digest run over every held item of these people."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from caisi_portal import clock
    from partners import digests
    from partners.models import Delivery

    held = hold(user_ids)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        ids = digests.digests_send(clock.now())
        elapsed = (time.perf_counter() - started) * 1000
    assert len(ids) == len(user_ids), (len(ids), len(user_ids))
    included = Delivery.objects.filter(status=Delivery.Status.DIGESTED, digest_id__isnull=False).count()
    assert included == held, (included, held)
    assert not Delivery.objects.filter(status=Delivery.Status.HELD).exists()
    run_once.last_queries = [(float(q["time"]) * 1000, q["sql"][:40]) for q in queries.captured_queries]
    return elapsed, len(queries), len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000, help="the largest number of people")
    parser.add_argument("--items", type=int, default=50, help="held items per person")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'.")
    from bench.clock_sweep import recreate_database

    recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from partners import digests

    digests._enqueue = lambda ids: len(ids)  # no broker: the digests stay pending in the outbox

    everyone = setup(args.people, args.items)
    sizes = [n for n in (10, 100, 1000, 10_000) if n < args.people] + [args.people]
    print(
        f"PostgreSQL {connection.pg_version // 10000}; {args.items} held items per person about "
        f"{SUBMISSIONS} submissions; median of {args.repeat} runs.\n"
    )
    print(f"{'people':>7} {'items':>8} {'queries':>8} {'run ms':>9} {'ms/person':>10}")
    counts = set()
    for size in sizes:
        runs = [run_once(everyone[:size]) for _ in range(args.repeat)]
        ms = statistics.median(r[0] for r in runs)
        counts |= {r[1] for r in runs}
        print(f"{size:>7,} {size * args.items:>8,} {runs[0][1]:>8} {ms:>9.1f} {ms / size:>10.2f}")
    assert len(counts) == 1, f"the number of queries changed with the number of people: {counts}"
    print(f"\nThe last run's queries (of {sizes[-1]:,} people), ms:")
    for ms, sql in run_once.last_queries:
        print(f"{ms:>9.1f}  {sql}")
    from partners.models import Delivery

    sample = Delivery.objects.filter(event__isnull=True).first()
    print(f"\nQueries per run, whatever the size: {counts.pop()}. One digest's body: {len(sample.body):,} characters.")


if __name__ == "__main__":
    main()
