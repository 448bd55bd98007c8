"""An information request nobody answers: the developer is warned before the pause limit, and
at the limit the submission is returned (withdrawn for lack of an answer), once."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.db import connection

from caisi_portal.errors import ApplicationError
from partners.messages import email_for
from partners.models import Delivery, Event
from submissions import review_clock
from submissions.models import AuditEntry, ReviewClock, SlaObligation, SlaPolicy, State
from tests.factories import Cast, move
from tests.submissions.clocks import DAY, START, clock_of, sweep_at, told

pytestmark = pytest.mark.django_db

WARNING, RETURNED = "submission.pause_limit_warning", "submission.returned"


def test_warned_then_returned_at_the_limit_each_once(cast, traveller):
    s = cast.submission(State.EVALUATION)
    move(s, "request_information", cast.lead)
    c = clock_of(s)
    assert (c.pause_cap_at, c.pause_step_at) == (START + 30 * DAY, START + 25 * DAY)  # the policy's defaults

    sweep_at(traveller, START + 25 * DAY - DAY)
    assert not Event.objects.filter(submission=s, type=WARNING).exists()
    report = sweep_at(traveller, START + 25 * DAY)
    assert report.pause_steps == [c.pk]
    assert told(s, WARNING) == [cast.developer.username]
    subject, body = email_for(Delivery.objects.get(event__type=WARNING))
    assert "will be returned unless you answer" in subject and "Returned on: 31 Jul 2026" in body
    assert review_clock.sweep().pause_steps == []  # a second sweep: nothing more

    sweep_at(traveller, START + 30 * DAY)
    s.refresh_from_db()
    assert s.state == State.WITHDRAWN
    entry = AuditEntry.objects.get(submission=s, action="return_unanswered")
    assert entry.actor is None and entry.from_state == State.INFORMATION_REQUESTED
    assert "unanswered past the pause limit" in entry.label
    assert set(told(s, RETURNED)) == {
        cast.developer.username,
        cast.lead.username,
        cast.reviewer.username,
        cast.low_reviewer.username,
        cast.admin.username,
    }
    c.refresh_from_db()
    assert c.status == ReviewClock.Status.STOPPED and c.pause_step_at is None and c.pause_cap_at is None
    assert not SlaObligation.objects.filter(submission=s, closed_at__isnull=True).exists()
    assert review_clock.sweep().pause_steps == []
    # The model can be filed again: a returned submission is withdrawn.
    again = cast.submission(State.INTAKE, model_name=s.model_name)
    assert again.pk != s.pk


def test_answering_in_time_ends_the_limit_and_earlier_pauses_count(cast, traveller):
    s = cast.submission(State.EVALUATION)
    move(s, "request_information", cast.lead)
    traveller.move_to(START + 10 * DAY)
    move(s, "answer_information_request", cast.developer)
    c = clock_of(s)
    assert c.pause_step_at is None and c.pause_cap_at is None
    traveller.move_to(START + 12 * DAY)
    move(s, "request_information", cast.lead)
    c.refresh_from_db()
    # 10 days already paused: 20 left of the 30, warned 5 before.
    assert c.pause_cap_at == START + 32 * DAY and c.pause_step_at == START + 27 * DAY


def test_less_left_than_the_warnings_lead_warns_at_once(cast, traveller):
    SlaPolicy.objects.update_or_create(pk=1, defaults={"information_pause_cap_days": 3, "warning_days": [7, 2]})
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.admin)
    c = clock_of(s)
    # Never returned with less notice than the warning's (5 days), though only 3 are left.
    assert c.pause_cap_at == START + 5 * DAY and c.pause_step_at == START
    assert review_clock.sweep().pause_steps == [c.pk]
    assert told(s, WARNING) == [cast.developer.username]


def test_a_sweep_down_through_the_warning_warns_first_and_gives_its_notice(cast, traveller):
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.admin)
    sweep_at(traveller, START + 31 * DAY)  # the first sweep after both the warning and the limit
    s.refresh_from_db()
    assert s.state == State.INFORMATION_REQUESTED and told(s, WARNING) == [cast.developer.username]
    assert clock_of(s).pause_cap_at == START + 36 * DAY
    sweep_at(traveller, START + 36 * DAY)
    s.refresh_from_db()
    assert s.state == State.WITHDRAWN


def test_the_request_page_says_when_an_unanswered_request_returns_it(cast, client, traveller):
    from django.urls import reverse

    s = cast.submission(State.INTAKE)
    client.force_login(cast.admin)
    page = client.get(reverse("submissions:action", args=[s.pk, "request_information"])).content.decode()
    assert "pause allowance (30 days across all its requests; 0 minutes used) runs out, on" in page
    assert "31 Jul 2026" in page


def test_no_warning_when_the_policy_turns_it_off(cast, traveller):
    SlaPolicy.objects.update_or_create(pk=1, defaults={"pause_cap_warning_days": 0, "warning_days": [7, 2]})
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.admin)
    sweep_at(traveller, START + 30 * DAY)
    s.refresh_from_db()
    assert s.state == State.WITHDRAWN and told(s, WARNING) == []


def test_an_answer_after_the_return_is_refused_with_the_state(cast, traveller):
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.admin)
    stale = type(s).objects.get(pk=s.pk)
    sweep_at(traveller, START + 25 * DAY)  # warned
    sweep_at(traveller, START + 30 * DAY)  # returned
    with pytest.raises(ApplicationError) as refused:
        move(stale, "answer_information_request", cast.developer)
    assert refused.value.state == State.WITHDRAWN


def test_nobody_may_return_a_submission_by_hand(cast, traveller):
    s = cast.submission(State.INTAKE)
    move(s, "request_information", cast.admin)
    for person in (cast.admin, cast.lead, cast.developer):
        with pytest.raises(ApplicationError):
            move(s, "return_unanswered", person)
    s.refresh_from_db()
    assert s.state == State.INFORMATION_REQUESTED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_return_it_once():
    with time_machine.travel(START, tick=False) as traveller:
        cast = Cast()
        s = cast.submission(State.INTAKE)
        move(s, "request_information", cast.admin)
        traveller.move_to(START + 25 * DAY)
        review_clock.sweep()  # the warning
        traveller.move_to(START + 30 * DAY)
        barrier, results = threading.Barrier(2), []

        def sweep():
            barrier.wait()
            try:
                results.append(review_clock.sweep().pause_steps)
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(len(r) for r in results) == [0, 1]
    assert AuditEntry.objects.filter(submission=s, action="return_unanswered").count() == 1
    assert Event.objects.filter(submission=s, type=RETURNED).count() == 1
