"""Two people acting at once, for real: two threads, two connections, PostgreSQL row locks."""

import threading

import pytest
from django.db import connection, connections

from caisi_portal.errors import ApplicationError
from submissions.models import AuditEntry, ModelSubmission, State
from tests.factories import Cast, move, record_all_results

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def only_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking (run with DATABASE_URL=postgres://...)")


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
