"""The planner against the live system: one small scenario run through the simulation, then
replayed through the real services on moved time, people acting when the simulation says they
did and the sweep running as it does in production. Both must give the same deadlines and the
same breaches: the simulation uses the live rules, not a copy of them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from capacity import simulation
from capacity.simulation import Case
from reviews import services as review_services
from reviews.models import Assignment
from submissions import review_clock
from submissions.models import ReviewClock, SlaBreach, SlaKind, SlaPolicy, State
from tests.factories import draft, move, record_all_results

pytestmark = pytest.mark.django_db

START = simulation.YEAR_START
SWEEP_EVERY = dt.timedelta(hours=12)  # every event below falls on a half day

# One reviewer (SECRET), four submissions:
CASES = [
    # A: quick intake, ten days of work: nothing breached.
    Case(arrives=0.0, clearance=0, intake=1.0, answer=None, work=10.0),
    # B: a slow intake (4 days > 3), waits for the reviewer (assignment late), 25 days of work:
    # the window elapses at day 30.5 and the review ends late.
    Case(arrives=0.5, intake=4.0, clearance=0, answer=None, work=25.0),
    # C: asked for information at day 3, answers after 12 days (> 10): the clock pauses 12 days,
    # the deadline moves to day 44; it waits for the reviewer until day 36, done by day 41.
    Case(arrives=2.0, intake=1.0, clearance=0, answer=12.0, work=5.0),
    # D: asked at day 3.5 and never answers within the pause limit: returned at day 33.5.
    Case(arrives=3.0, intake=0.5, clearance=0, answer=40.0, work=3.0),
]


def _simulate(policy):
    inputs = simulation.Inputs(
        arrivals_per_month=(0.0,) * 12, plans=(), work_days={}, reviewers={2: 1}, leave_days=0, window_days=30
    )
    result = simulation.run(inputs, CASES, policy, keep_traces=True)
    return sorted(result.traces, key=lambda t: t.case.arrives), result


def _replay(cast, traces, traveller):
    """The people's actions at the simulated moments, the sweep every half day in between."""
    actions = []  # (when, order, what)
    submissions = {}
    traveller.move_to(START - dt.timedelta(hours=1))
    for i, trace in enumerate(traces):
        submissions[i] = draft(cast.developer, model_name=f"Capacity-{i}")
        s = lambda i=i: submissions[i]  # noqa: E731
        actions.append((trace.submitted_at, 0, lambda s=s: move(s(), "submit", cast.developer)))
        if trace.asked_at:
            actions.append((trace.asked_at, 1, lambda s=s: move(s(), "request_information", cast.admin)))
        if trace.answered_at:
            actions.append((trace.answered_at, 1, lambda s=s: move(s(), "answer_information_request", cast.developer)))
        if trace.accepted_at:
            actions.append((trace.accepted_at, 2, lambda s=s: move(s(), "accept", cast.admin)))
        if trace.assigned_at:
            actions.append((trace.assigned_at, 3, lambda s=s: _assign(s(), cast)))
        if trace.determined_at and not trace.window_elapsed:
            actions.append((trace.determined_at, 0, lambda s=s: _clear(s(), cast)))
    end = max(a[0] for a in actions) + dt.timedelta(days=40)
    moments = sorted({a[0] for a in actions} | set(_grid(START, end)))
    for when in moments:
        traveller.move_to(when)
        # The sweep first: in production it has run in the minute before anyone acts.
        review_clock.sweep()
        for _, _, act in sorted((a for a in actions if a[0] == when), key=lambda a: a[1]):
            submissions_refresh(submissions)
            act()
    return submissions


def submissions_refresh(submissions):
    for s in submissions.values():
        s.refresh_from_db()


def _grid(start, end):
    at = start
    while at <= end:
        yield at
        at += SWEEP_EVERY


def _assign(submission, cast):
    review_services.assignment_create(
        submission=submission, reviewer=cast.lead, role=Assignment.Role.LEAD, actor=cast.admin
    )
    review_services.assignment_create(
        submission=submission, reviewer=cast.reviewer, role=Assignment.Role.MEMBER, actor=cast.admin
    )


def _clear(submission, cast):
    record_all_results(submission, cast.reviewer)
    move(submission, "clear", cast.lead)


def test_the_simulation_and_the_live_services_give_the_same_deadlines_and_breaches(cast):
    policy = SlaPolicy.current()
    traces, result = _simulate(policy)
    # The scenario is the one described above (so the comparison below covers every kind).
    assert [t.window_elapsed for t in traces] == [False, True, False, False]
    assert [t.returned for t in traces] == [False, False, False, True]
    assert result.breaches == {
        SlaKind.INTAKE_DECISION: 1,
        SlaKind.REVIEWER_ASSIGNMENT: 2,
        SlaKind.DEVELOPER_ANSWER: 2,
        SlaKind.DETERMINATION: 1,
    }
    assert traces[2].deadline_at == START + dt.timedelta(days=2 + 30 + 12)

    with time_machine.travel(START, tick=False) as traveller:
        submissions = _replay(cast, traces, traveller)

    index = {s.pk: i for i, s in submissions.items()}
    for i, trace in enumerate(traces):
        live = ReviewClock.objects.get(submission=submissions[i])
        assert live.deadline_at == trace.deadline_at, f"submission {i}"
    live_breaches = sorted(
        (index[b.submission_id], str(b.kind), b.due_at) for b in SlaBreach.objects.filter(submission__in=index)
    )
    simulated = sorted(
        (i, str(kind), due_at)
        for i, trace in enumerate(traces)
        for kind, due_at, _met, breached in trace.obligations
        if breached
    )
    assert live_breaches == simulated
    states = [submissions[i].state for i in range(len(traces))]
    assert states[1] == State.WINDOW_ELAPSED and states[3] == State.WITHDRAWN
    assert states[0] == states[2] == State.CLEARED
