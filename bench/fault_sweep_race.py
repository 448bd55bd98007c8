"""Fault: two sweeps at once, racing a lead reviewer's determinations (PostgreSQL).

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_race .venv/bin/python bench/fault_sweep_race.py

N reviews are ready to clear and their 30-day windows have all just ended. Three
processes start on one signal: two run the sweep (each would expire every one of them)
and one lead reviewer clears them, one after another. Each review must end exactly one
way, cleared or window_elapsed, never both: one audit entry, one partner event, at most
one determination breach; and the sweeps' own counts must add up to the elapsed ones.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import common

REVIEWS = 150
REDIS = common.PrivateRedis(6393)


def _child_setup(database_url):
    common.configure(database_url=database_url, broker_url=REDIS.url)
    common.start_django()


def sweeper(database_url, go, results):
    _child_setup(database_url)
    from submissions import review_clock

    go.wait()
    expired = 0
    for _ in range(3):
        expired += len(review_clock.sweep().expired)
    results.put(("sweep", expired))


def lead_reviewer(database_url, ids, lead_id, go, results):
    _child_setup(database_url)
    from accounts.models import User
    from caisi_portal.errors import ApplicationError
    from submissions.models import ModelSubmission
    from submissions.services import submission_transition

    lead = User.objects.get(pk=lead_id)
    go.wait()
    cleared = refused = 0
    for pk in ids:
        try:
            submission_transition(
                submission=ModelSubmission.objects.get(pk=pk),
                name="clear",
                actor=lead,
                data={"rationale": "Below thresholds.", "partner_summary": "Cleared."},
            )
            cleared += 1
        except ApplicationError:
            refused += 1  # the window ended first: the sweep's elapse stands
    results.put(("lead", cleared, refused))


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_race")
    common.configure(database_url=database_url, broker_url=REDIS.url)
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()

    from django.db import connections
    from django.db.models import Count, Q

    from caisi_portal import clock
    from partners.models import Event, PartnerEventType
    from submissions.models import ModelSubmission, ReviewClock, SlaBreach, SlaKind, State
    from tests.factories import Cast, record_all_results

    REDIS.start()
    try:
        cast = Cast()
        ids = []
        for _ in range(REVIEWS):
            s = cast.submission(State.EVALUATION)
            record_all_results(s, cast.reviewer)
            ids.append(s.pk)
        ReviewClock.objects.filter(submission_id__in=ids).update(deadline_at=clock.now())
        connections.close_all()

        ctx = mp.get_context("spawn")
        go, results = ctx.Event(), ctx.Queue()
        processes = [
            ctx.Process(target=sweeper, args=(database_url, go, results)),
            ctx.Process(target=sweeper, args=(database_url, go, results)),
            ctx.Process(target=lead_reviewer, args=(database_url, ids, cast.lead.pk, go, results)),
        ]
        for p in processes:
            p.start()
        go.set()
        outcomes = [results.get(timeout=600) for _ in processes]
        for p in processes:
            p.join(60)
    finally:
        REDIS.stop()

    swept = sum(o[1] for o in outcomes if o[0] == "sweep")
    _, cleared_by_lead, refused = next(o for o in outcomes if o[0] == "lead")
    endings = (
        ModelSubmission.objects.filter(pk__in=ids)
        .annotate(
            ends=Count("audit_entries", filter=Q(audit_entries__to_state__in=[State.CLEARED, State.WINDOW_ELAPSED])),
        )
        .values_list("pk", "state", "ends")
    )
    events = dict(
        Event.objects.filter(
            submission_id__in=ids, type__in=[PartnerEventType.CLEARED, PartnerEventType.WINDOW_ELAPSED]
        )
        .values("submission_id")
        .annotate(n=Count("id"))
        .values_list("submission_id", "n")
    )
    breaches = dict(
        SlaBreach.objects.filter(submission_id__in=ids, kind=SlaKind.DETERMINATION)
        .values("submission_id")
        .annotate(n=Count("id"))
        .values_list("submission_id", "n")
    )
    states = [state for _, state, _ in endings]
    cleared, elapsed = states.count(State.CLEARED), states.count(State.WINDOW_ELAPSED)
    rows = {
        "reviews raced": REVIEWS,
        "ended cleared (the lead won)": cleared,
        "ended window_elapsed (a sweep won)": elapsed,
        "ended some other way": REVIEWS - cleared - elapsed,
        "ended twice (two endings in the audit)": sum(1 for _, _, n in endings if n > 1),
        "ended with no audit entry": sum(1 for _, _, n in endings if n == 0),
        "partner events other than one per review": sum(1 for pk in ids if events.get(pk, 0) != 1),
        "determination breaches recorded twice": sum(1 for n in breaches.values() if n > 1),
        "expiries the two sweeps reported": swept,
        "clears the lead made / was refused": f"{cleared_by_lead} / {refused}",
    }
    common.print_report("Two sweeps and a lead reviewer, all at once", rows)
    ok = (
        cleared + elapsed == REVIEWS
        and rows["ended twice (two endings in the audit)"] == 0
        and rows["ended with no audit entry"] == 0
        and rows["partner events other than one per review"] == 0
        and rows["determination breaches recorded twice"] == 0
        and swept == elapsed
        and cleared_by_lead == cleared
    )
    return common.verdict(ok)


if __name__ == "__main__":
    sys.exit(main())
