"""Two people acting at once, for real: two threads, two connections, PostgreSQL row locks."""

import threading

import pytest
from django.db import connections

from caisi_portal.errors import ApplicationError
from submissions.models import AuditEntry, ModelSubmission, State
from tests.factories import Cast, move, record_all_results

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.postgres]


def test_clear_and_information_request_race_one_wins():
    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    barrier = threading.Barrier(2)
    outcomes = {}

    def act(name, actor):
        try:
            mine = ModelSubmission.objects.get(pk=s.pk)
            barrier.wait(timeout=10)
            move(mine, name, actor)
            outcomes[name] = "won"
        except ApplicationError as exc:
            outcomes[name] = exc.code
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=act, args=("clear", cast.lead)),
        threading.Thread(target=act, args=("request_information", cast.admin)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes.values()) == ["conflict", "won"], outcomes
    s.refresh_from_db()
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert s.state == {"clear": State.CLEARED, "request_information": State.INFORMATION_REQUESTED}[winner]
    actions = set(AuditEntry.objects.filter(submission=s).values_list("action", flat=True))
    assert winner in actions and ({"clear", "request_information"} - {winner}).isdisjoint(actions)


def _wait_for_a_lock_wait(timeout=20.0):
    """Until another backend is waiting on a row lock (no sleep: PostgreSQL says when)."""
    import time

    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return True
    return False


def test_a_flag_proposal_cannot_overwrite_a_clearance_that_lands_first():
    """The proposal's service read the state in memory, then wrote: a clear committing in
    between left a cleared submission whose determination was an unissued flag proposal."""
    from django.db import transaction

    from reviews import services as review_services
    from reviews.models import Determination

    cast = Cast()
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)  # nothing against clearing: one lead may clear
    stale = ModelSubmission.objects.get(pk=s.pk)  # the lead's page, loaded before the clear
    cleared_but_open, may_commit = threading.Event(), threading.Event()
    outcome = {}

    def clear():
        try:
            with transaction.atomic():
                move(ModelSubmission.objects.get(pk=s.pk), "clear", cast.lead, partner_summary="Cleared.")
                cleared_but_open.set()
                may_commit.wait(timeout=20)
        finally:
            connections.close_all()

    def propose():
        try:
            review_services.determination_propose_flag(
                submission=stale, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged: see the office."
            )
            outcome["propose"] = "won"
        except ApplicationError as exc:
            outcome["propose"] = exc.code
        finally:
            connections.close_all()

    clearing = threading.Thread(target=clear)
    clearing.start()
    assert cleared_but_open.wait(timeout=20)
    proposing = threading.Thread(target=propose)
    proposing.start()
    assert _wait_for_a_lock_wait(), "the proposal should wait for the clear's row lock"
    may_commit.set()
    clearing.join(timeout=30)
    proposing.join(timeout=30)

    assert outcome == {"propose": "conflict"}
    s.refresh_from_db()
    determination = Determination.objects.get(submission=s)
    assert s.state == State.CLEARED
    assert determination.outcome == Determination.Outcome.CLEARED and determination.issued_at is not None
