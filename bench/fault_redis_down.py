"""Fault: Redis stops while people keep working, then comes back empty.

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/caisi_faults_redis .venv/bin/python bench/fault_redis_down.py

With a worker running against a private Redis, the script clears submissions through the
pages (partners are notified), then stops Redis. While it is down, people keep using the
pages: they read their home, submission and dashboard pages, clear more submissions, ask
for and answer information, and review deadlines pass. Redis then starts again with
nothing in it (no persistence: every queued task, including the deadlines' exact-time
expiry tasks, is gone). The sweep (beat, played every 3 s) must find everything: every
notification delivered with its one webhook-id, every passed deadline acted on once.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import common

PARTNERS = 50
BEFORE, DURING, DEADLINES = 3, 4, 4


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caisi_faults_redis")
    redis = common.PrivateRedis(6391)
    env = common.configure(database_url=database_url, broker_url=redis.url)
    common.recreate_database(database_url)
    common.start_django()
    common.migrate()

    from django.test import Client
    from django.urls import reverse

    from bench.sessions import verified_session
    from partners.models import PartnerEventType
    from submissions.models import AuditEntry, ModelSubmission, ReviewClock, State
    from submissions.views import announcement_seal
    from tests.factories import Cast, move, record_all_results

    def signed_in(user) -> Client:
        client = Client()
        client.cookies["sessionid"] = verified_session(user)
        return client

    receiver = common.Receiver()
    cast = Cast()
    common.make_partners(PARTNERS, receiver, [PartnerEventType.CLEARED, PartnerEventType.WINDOW_ELAPSED])
    lead, admin, developer = signed_in(cast.lead), signed_in(cast.admin), signed_in(cast.developer)
    page_answers: list[tuple[str, int]] = []

    def page(client, method, url, data=None):
        response = getattr(client, method)(url, data or {})
        # Sent to sign in is a failure too (a session the portal no longer accepts).
        signed_out = response.status_code == 302 and response["Location"].startswith(reverse("login"))
        page_answers.append((url, 401 if signed_out else response.status_code))
        return response

    def clear_on_the_page(s):
        page(lead, "post", reverse("submissions:action", args=[s.pk, "clear"]), {
            "expected_state": s.state, "rationale": "Below every threshold.", "partner_summary": "Cleared.",
            "confirmed": announcement_seal(s, "clear", {
                "rationale": "Below every threshold.", "partner_summary": "Cleared.",
            }),
        })  # fmt: skip

    def ready_to_clear():
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        return s

    redis.start()
    worker = common.Worker(env).start()
    tick = common.beat()
    try:
        # Redis up: the normal path.
        for _ in range(BEFORE):
            clear_on_the_page(ready_to_clear())
        waiting_for_info = ready_to_clear()
        to_clear_later = [ready_to_clear() for _ in range(DURING)]
        # Reviews whose 30-day window ends a few seconds into the outage; their exact-time
        # expiry tasks are queued in Redis now, and will be lost with it.
        elapsing = [cast.submission(State.EVALUATION) for _ in range(DEADLINES)]
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)
        ReviewClock.objects.filter(submission__in=elapsing).update(deadline_at=soon)
        tick()
        common.wait_until(lambda: receiver.seen() >= BEFORE * PARTNERS, timeout=60, tick=tick)
        print(f"before the outage: {receiver.seen()} webhook calls received")

        redis.stop()
        outage_started = time.monotonic()
        print("Redis stopped")
        for s in to_clear_later:
            clear_on_the_page(s)
        move(waiting_for_info, "request_information", cast.admin)
        answer_url = reverse("submissions:action", args=[waiting_for_info.pk, "answer_information_request"])
        page(developer, "post", answer_url, {"expected_state": State.INFORMATION_REQUESTED, "answer": "A classifier."})
        while dt.datetime.now(dt.UTC) < soon + dt.timedelta(seconds=2):
            page(developer, "get", reverse("home"))
            page(developer, "get", reverse("submissions:detail", args=[to_clear_later[0].pk]))
            page(admin, "get", reverse("dashboard:index"))
            page(lead, "get", reverse("submissions:detail", args=[elapsing[0].pk]))
            tick()
            time.sleep(0.5)
        outage = time.monotonic() - outage_started
        still_running = ReviewClock.objects.filter(submission__in=elapsing, status="running").count()
        print(f"outage: {outage:.1f} s; passed deadlines not yet acted on: {still_running}")

        redis.start()
        back = time.monotonic()
        print("Redis started again, empty")

        def settled():
            elapsed = ModelSubmission.objects.filter(pk__in=[s.pk for s in elapsing], state=State.WINDOW_ELAPSED)
            audit = common.delivery_audit(receiver)
            return elapsed.count() == DEADLINES and audit["lost"] == 0 and audit["emails not delivered"] == 0

        common.wait_until(settled, timeout=240, interval=1, tick=tick)
        caught_up = time.monotonic() - back
        audit = common.delivery_audit(receiver)
    finally:
        worker.stop()
        redis.stop()
        receiver.stop()

    acted = {
        s.pk: AuditEntry.objects.filter(submission_id=s.pk, to_state=State.WINDOW_ELAPSED).count() for s in elapsing
    }
    cleared = ModelSubmission.objects.filter(pk__in=[s.pk for s in to_clear_later], state=State.CLEARED).count()
    bad_pages = [(u, c) for u, c in page_answers if c >= 400]
    common.print_report(
        "Redis stopped while people kept working",
        {
            "page requests during the run": len(page_answers),
            "page errors (4xx/5xx)": len(bad_pages),
            "cleared during the outage": f"{cleared}/{DURING}",
            "deadlines that passed in the outage": DEADLINES,
            "deadlines acted on (window_elapsed)": sum(1 for n in acted.values() if n == 1),
            "deadlines acted on twice": sum(1 for n in acted.values() if n > 1),
            "deadlines lost": sum(1 for n in acted.values() if n == 0),
            "seconds from Redis back to all caught up": f"{caught_up:.1f}",
            **audit,
        },
    )
    ok = (
        not bad_pages
        and cleared == DURING
        and all(n == 1 for n in acted.values())
        and audit["lost"] == 0
        and audit["unexpected duplicates"] == 0
        and audit["emails not delivered"] == 0
    )
    return common.verdict(ok)


if __name__ == "__main__":
    sys.exit(main())
