"""Fault: two sweeps at once, racing a lead reviewer's determinations (PostgreSQL).

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_race .venv/bin/python bench/fault_sweep_race.py

N reviews are ready to clear and their 30-day windows have all just ended. Three
processes start on one signal: two run the sweep (each would expire every one of them)
and one lead reviewer clears them, one after another. A clear after the window is a late
clear (issue 19), so the lead's clear always lands; what the race must never do is end a
window twice or after the clear. Each review: exactly one clear; at most one window
ending, and only before the clear; one partner event for each; one determination breach
exactly when the window ended; and the sweeps' own counts add up to the windows ended.
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
    cleared = refused = reloaded = 0
    for pk in ids:
        # As a person would: a clear refused because the window ended while the page was open
        # ("changed while you were working") is reloaded once and made again, late.
        for attempt in range(2):
            try:
                submission_transition(
                    submission=ModelSubmission.objects.get(pk=pk),
                    name="clear",
                    actor=lead,
                    data={"rationale": "Below thresholds.", "partner_summary": "Cleared."},
                )
                cleared += 1
                break
            except ApplicationError as exc:
                if attempt == 0 and "changed while you were working" in str(exc):
                    reloaded += 1
                    continue
                refused += 1
                print(f"refused {pk}: {exc}", flush=True)
                break
    results.put(("lead", cleared, refused, reloaded))


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_race")
    common.configure(database_url=database_url, broker_url=REDIS.url)
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()

    from django.db import connections
    from django.db.models import Count

    from caisi_portal import clock
    from partners.models import Event, PartnerEventType
    from submissions.models import AuditEntry, ModelSubmission, ReviewClock, SlaBreach, SlaKind, State
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
    _, cleared_by_lead, refused, reloaded = next(o for o in outcomes if o[0] == "lead")

    history: dict[int, list[str]] = {pk: [] for pk in ids}
    for pk, to_state in (
        AuditEntry.objects.filter(submission_id__in=ids, to_state__in=[State.CLEARED, State.WINDOW_ELAPSED])
        .order_by("pk")
        .values_list("submission_id", "to_state")
    ):
        history[pk].append(to_state)
    events = {
        (sid, kind): n
        for sid, kind, n in Event.objects.filter(
            submission_id__in=ids, type__in=[PartnerEventType.CLEARED, PartnerEventType.WINDOW_ELAPSED]
        )
        .values("submission_id", "type")
        .annotate(n=Count("id"))
        .values_list("submission_id", "type", "n")
    }
    breaches = dict(
        SlaBreach.objects.filter(submission_id__in=ids, kind=SlaKind.DETERMINATION)
        .values("submission_id")
        .annotate(n=Count("id"))
        .values_list("submission_id", "n")
    )
    states = list(ModelSubmission.objects.filter(pk__in=ids).values_list("state", flat=True))
    elapsed_first = [pk for pk, h in history.items() if h == [State.WINDOW_ELAPSED, State.CLEARED]]
    on_time = [pk for pk, h in history.items() if h == [State.CLEARED]]
    wrong_events = sum(
        1
        for pk in ids
        if events.get((pk, PartnerEventType.CLEARED), 0) != 1
        or events.get((pk, PartnerEventType.WINDOW_ELAPSED), 0) != (1 if pk in set(elapsed_first) else 0)
    )
    wrong_breaches = sum(1 for pk in ids if breaches.get(pk, 0) != (1 if pk in set(elapsed_first) else 0))
    rows = {
        "reviews raced": REVIEWS,
        "ended cleared": states.count(State.CLEARED),
        "cleared on time (the lead won)": len(on_time),
        "cleared late (a sweep ended the window first)": len(elapsed_first),
        "any other history (twice, after the clear, none)": REVIEWS - len(on_time) - len(elapsed_first),
        "partner events other than one per ending": wrong_events,
        "determination breaches not one per ended window": wrong_breaches,
        "windows the two sweeps reported ended": swept,
        "clears the lead made / was refused": f"{cleared_by_lead} / {refused}",
        "stale pages reloaded and cleared again": reloaded,
    }
    common.print_report("Two sweeps and a lead reviewer, all at once", rows)
    ok = (
        states.count(State.CLEARED) == REVIEWS
        and len(on_time) + len(elapsed_first) == REVIEWS
        and wrong_events == 0
        and wrong_breaches == 0
        and swept == len(elapsed_first)
        and cleared_by_lead == REVIEWS
        and refused == 0
    )
    return common.verdict(ok)


if __name__ == "__main__":
    sys.exit(main())
