"""Benchmark: how the review-clock sweep scales with open clocks (PostgreSQL).

Fills a scratch database with 10k, 100k and 1M open review clocks, 1% of them due
(expiry, days-left warning and SLA obligation each), and times, in one run:

  sweep  the sweep's own due-item query (submissions.review_clock.due_items: expiries,
         days-left warnings and SLA obligations), through the ORM, fetching every due id;
  floor  one hand-written SQL statement (UNION ALL of the same five predicates)
         returning the same ids.

It prints the median of several runs for each, their ratio, and the number of rows
due. A second table keeps the due count fixed (100) while open clocks grow, to show
the cost follows the due items, not the open clocks. Usage:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_bench .venv/bin/python bench/clock_sweep.py \\
      [--max 1000000] [--repeat 15]

The database named in DATABASE_URL is dropped and recreated (its name must contain
"bench").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caisi_portal.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

FLOOR_SQL = """
SELECT id FROM submissions_reviewclock WHERE status = 'running' AND deadline_at <= %(now)s
UNION ALL
SELECT id FROM submissions_reviewclock WHERE status = 'running' AND next_warning_at <= %(now)s
UNION ALL
SELECT id FROM submissions_reviewclock WHERE status = 'running' AND next_reminder_at <= %(now)s
UNION ALL
SELECT id FROM submissions_reviewclock WHERE status = 'paused' AND pause_step_at <= %(now)s
UNION ALL
SELECT id FROM submissions_slaobligation WHERE closed_at IS NULL AND breached_at IS NULL AND due_at <= %(now)s
"""


def recreate_database(url: str) -> None:
    import environ

    cfg = environ.Env.db_url_config(url)
    name = cfg["NAME"]
    if "bench" not in name:
        sys.exit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    base = ["psql", "-h", cfg["HOST"] or "127.0.0.1", "-p", str(cfg["PORT"] or 5432), "-U", cfg["USER"], "-q"]
    subprocess.run([*base, "-c", f"DROP DATABASE IF EXISTS {name}"], check=True)
    # bench/smoke.py migrates one template first and each script copies it: the `migrate` that
    # follows then has nothing to apply.
    template = os.environ.get("BENCH_TEMPLATE_DATABASE")
    subprocess.run([*base, "-c", f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")], check=True)


def fill(start: int, stop: int, due_every: int | None, fixed_due: set[int] | None = None) -> None:
    """Insert submissions start..stop-1 in evaluation, each with a running clock and an open obligation.

    A row is due when i % due_every == 0 (or i is in fixed_due); due rows are due a few
    minutes ago, the rest a day after their first results reminder or later (8 to 20 days
    ahead with the default policy).

    The clock's columns are those the app leaves on a running clock in evaluation with the sweep
    keeping up (submissions/reminders.py): a due clock's deadline has passed, so every reminder
    step of the SLA policy is handled (`reminders_sent`, sorted as `clock_remind` writes it) and
    none is next; a clock not due has sent none, and its next is the policy's first step. So no
    reminder falls due while the benchmark runs and the due rows stay 3% (or 300).
    """
    from django.db import connection

    from submissions.models import SlaPolicy

    due_expr = f"(mod(i, {due_every}) = 0)" if due_every else "false"
    if fixed_due:
        due_expr = f"(i IN ({','.join(map(str, sorted(fixed_due)))}))"
    steps = SlaPolicy.current().reminder_steps()  # (step, days before the deadline), earliest first
    first_days = steps[0][1] if steps else 0
    all_handled = json.dumps(sorted(step for step, _ in steps))
    not_due_deadline = f"now() + interval '{first_days + 1} days' + mod(i, 2500000) * interval '1 second'"
    next_reminder = f"{not_due_deadline} - interval '{first_days} days'" if steps else "NULL"
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO submissions_modelsubmission
              (id, organization_id, model_name, model_version, release_channel, capabilities, intended_use,
               evaluator_access, state, resume_state, created_at, intake_checklist, release_note,
               released_after_flag, is_simulated, is_exercise)
            SELECT i, 1, 'Bench-' || i, '1', 'api', '', '', '', 'evaluation', '', now(), '{}', '', false,
                   true, false
            FROM generate_series(%s, %s) AS i
            """,
            [start, stop - 1],
        )
        cur.execute(
            f"""
            INSERT INTO submissions_reviewclock
              (submission_id, status, started_at, "window", paused_total, deadline_at, next_warning_at,
               warnings_sent, next_reminder_at, reminders_sent)
            SELECT i, 'running', now() - interval '10 days', interval '30 days', interval '0',
                   CASE WHEN {due_expr} THEN now() - interval '5 minutes' ELSE {not_due_deadline} END,
                   CASE WHEN {due_expr} THEN now() - interval '2 minutes'
                        ELSE now() + interval '1 hour' + mod(i, 2500000) * interval '1 second' END,
                   '[]',
                   CASE WHEN {due_expr} THEN NULL ELSE {next_reminder} END,
                   CASE WHEN {due_expr} THEN %s::jsonb ELSE '[]' END
            FROM generate_series(%s, %s) AS i
            """,
            [all_handled, start, stop - 1],
        )
        cur.execute(
            f"""
            INSERT INTO submissions_slaobligation (submission_id, kind, due_at, opened_at)
            SELECT i, 'reviewer_assignment',
                   CASE WHEN {due_expr} THEN now() - interval '1 minute'
                        ELSE now() + interval '1 day' + mod(i, 2500000) * interval '1 second' END,
                   now() - interval '1 day'
            FROM generate_series(%s, %s) AS i
            """,
            [start, stop - 1],
        )
        cur.execute("ANALYZE submissions_modelsubmission, submissions_reviewclock, submissions_slaobligation")


def median_ms(fn, repeat: int) -> tuple[float, int]:
    fn()  # warm the cache and the plan
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def measure(repeat: int) -> tuple[float, float, int]:
    from django.db import connection

    from caisi_portal import clock
    from submissions import review_clock

    now = clock.now()
    everything = 10**9  # the benchmark fetches every due id, not one batch

    def sweep():
        return len(review_clock.due_items(now, limit=everything))

    def floor():
        with connection.cursor() as cur:
            cur.execute(FLOOR_SQL, {"now": now})
            return len(cur.fetchall())

    sweep_ms, sweep_rows = median_ms(sweep, repeat)
    floor_ms, floor_rows = median_ms(floor, repeat)
    assert sweep_rows == floor_rows, (sweep_rows, floor_rows)
    return sweep_ms, floor_ms, sweep_rows


def plan() -> str:
    from django.db import connection

    from caisi_portal import clock
    from submissions.models import ReviewClock

    qs = ReviewClock.objects.filter(status="running", deadline_at__lte=clock.now()).values_list("pk")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        return " / ".join(row[0].strip() for row in cur.fetchall()[:2])


def act_per_item(count: int) -> float:
    """Milliseconds per due clock for the whole act (transition, audit, breach, outbox)."""
    from caisi_portal import clock
    from submissions import review_clock
    from submissions.models import Agreement

    Agreement.objects.filter(organization_id=1).update(review_window_days=30)
    ids = [pk for kind, pk in review_clock.due_items(clock.now(), limit=None) if kind == review_clock.EXPIRY][:count]
    started = time.perf_counter()
    for clock_id in ids:
        review_clock.expire_clock(clock_id)
    return (time.perf_counter() - started) * 1000 / max(len(ids), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--max", type=int, default=1_000_000, help="largest number of open clocks (sizes: 10k, 100k, 1M up to it)"
    )
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    if args.max < 100:
        parser.error("--max must be at least 100 (the second table keeps 100 clocks due)")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'.")
    recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from submissions.models import Agreement, Organization

    org = Organization.objects.create(pk=1, name="Bench Lab", slug="bench-lab", kind="developer", is_simulated=True)
    agreement = Agreement.objects.create(organization=org)
    agreement.sign()
    agreement.save()

    sizes = [n for n in (10_000, 100_000, 1_000_000) if n < args.max] + [args.max]
    print(f"PostgreSQL {connection.pg_version // 10000}; median of {args.repeat} runs; 1% of clocks due.\n")
    print(f"{'open clocks':>12} {'due rows':>9} {'sweep ms':>9} {'floor ms':>9} {'ratio':>6}")
    filled = 0
    for size in sizes:
        fill(filled + 1, size + 1, due_every=100)
        filled = size
        sweep_ms, floor_ms, rows = measure(args.repeat)
        print(f"{size:>12,} {rows:>9,} {sweep_ms:>9.2f} {floor_ms:>9.2f} {sweep_ms / floor_ms:>6.2f}")
    print(f"\nplan of the expiry query at {filled:,}: {plan()}")

    # Fixed due count: rebuild with 100 due clocks whatever the size.
    connection.close()
    recreate_database(url)
    call_command("migrate", verbosity=0)
    org = Organization.objects.create(pk=1, name="Bench Lab", slug="bench-lab", kind="developer", is_simulated=True)
    agreement = Agreement.objects.create(organization=org)
    agreement.sign()
    agreement.save()
    print(f"\n{'open clocks':>12} {'due rows':>9} {'sweep ms':>9} {'floor ms':>9} {'ratio':>6}   (100 clocks due)")
    filled = 0
    for size in sizes:
        # The first fill holds the 100 due clocks; larger sizes add only clocks not due.
        due = {n * (size // 100) for n in range(1, 101)} if filled == 0 else None
        fill(filled + 1, size + 1, due_every=None, fixed_due=due)
        filled = size
        sweep_ms, floor_ms, rows = measure(args.repeat)
        print(f"{size:>12,} {rows:>9,} {sweep_ms:>9.2f} {floor_ms:>9.2f} {sweep_ms / floor_ms:>6.2f}")
    per_item = act_per_item(100)
    print(f"\nacting on a due clock (transition, audit, breach, outbox rows): {per_item:.1f} ms per clock")


if __name__ == "__main__":
    main()
