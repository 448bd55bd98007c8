"""The simulation on its own: the policy's numbers decide breaches, clearances decide who may
take a review, replications are reproducible, and the intervals and splits are right."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from capacity import simulation
from capacity.services import recommended_headcount
from capacity.simulation import YEAR_START, Case, Inputs
from submissions.models import SlaKind, SlaPolicy
from submissions.review_clock import obligation_due_at

DAY = dt.timedelta(days=1)


def policy(**changes):
    fields = {
        "intake_decision_days": 3,
        "reviewer_assignment_days": 2,
        "developer_answer_days": 10,
        "information_pause_cap_days": 30,
        "pause_cap_warning_days": 5,
        "warning_days": [7, 2],
    }
    return SlaPolicy(**(fields | changes))


def one_year(**changes):
    fields = {
        "arrivals_per_month": (0.0,) * 12,
        "plans": (),
        "work_days": {},
        "reviewers": {2: 1},
        "leave_days": 0,
    }
    return Inputs(**(fields | changes))


def run(cases, pol=None, **changes):
    return simulation.run(one_year(**changes), cases, pol or policy(), keep_traces=True)


def test_the_policys_days_decide_an_intake_breach():
    """Two days to an intake decision: on time under a 3-day target, late under a 1-day one."""
    case = Case(arrives=0, clearance=0, intake=2.0, answer=None, work=1.0)
    assert run([case]).breaches[SlaKind.INTAKE_DECISION] == 0
    late = run([case], policy(intake_decision_days=1))
    assert late.breaches[SlaKind.INTAKE_DECISION] == 1
    kind, due_at, met_at, breached = late.traces[0].obligations[0]
    assert (
        kind == SlaKind.INTAKE_DECISION and due_at == YEAR_START + DAY and met_at == YEAR_START + 2 * DAY and breached
    )
    assert due_at == obligation_due_at(policy(intake_decision_days=1), kind, YEAR_START)


def test_an_information_request_pauses_the_clock_and_moves_the_deadline():
    trace = run([Case(arrives=0, clearance=0, intake=1.0, answer=6.0, work=1.0)]).traces[0]
    assert trace.deadline_at == YEAR_START + 36 * DAY
    assert trace.answered_at == YEAR_START + 7 * DAY and trace.accepted_at == YEAR_START + 8 * DAY
    assert not any(breached for *_, breached in trace.obligations)


def test_a_request_unanswered_past_the_pause_limit_returns_the_submission():
    result = run([Case(arrives=0, clearance=0, intake=1.0, answer=31.0, work=1.0)])
    assert result.returned == 1 and result.traces[0].returned
    assert result.breaches[SlaKind.DEVELOPER_ANSWER] == 1 and result.breaches[SlaKind.DETERMINATION] == 0
    # A longer pause limit lets the same answer in, late against the 10-day target.
    later = run(
        [Case(arrives=0, clearance=0, intake=1.0, answer=31.0, work=1.0)], policy(information_pause_cap_days=40)
    )
    assert later.returned == 0 and later.breaches[SlaKind.DEVELOPER_ANSWER] == 1


def test_one_reviewer_makes_the_second_review_wait_and_its_window_elapse():
    cases = [
        Case(arrives=0, clearance=0, intake=0.5, answer=None, work=20.0),
        Case(arrives=0.1, clearance=0, intake=0.5, answer=None, work=15.0),
    ]
    one = run(cases)
    assert one.breaches[SlaKind.REVIEWER_ASSIGNMENT] == 1 and one.elapsed == 1
    two = run(cases, reviewers={2: 2})
    assert two.breaches[SlaKind.REVIEWER_ASSIGNMENT] == 0 and two.elapsed == 0


def test_only_a_cleared_reviewer_takes_a_secret_review():
    secret = Case(arrives=0, clearance=2, intake=0.5, answer=None, work=1.0)
    uncleared = run([secret], reviewers={0: 3})
    # Nobody may take it: the lead is never assigned and the window runs out.
    assert uncleared.breaches[SlaKind.REVIEWER_ASSIGNMENT] == 1 and uncleared.elapsed == 1
    cleared = run([secret], reviewers={0: 3, 2: 1})
    assert cleared.elapsed == 0 and cleared.traces[0].assigned_at == YEAR_START + DAY / 2


def test_the_least_cleared_free_reviewer_takes_a_review():
    """An unclassified review goes to the unclassified reviewer, keeping the SECRET one free."""
    cases = [
        Case(arrives=0, clearance=0, intake=0.5, answer=None, work=10.0),
        Case(arrives=0.2, clearance=2, intake=0.5, answer=None, work=10.0),
    ]
    result = run(cases, reviewers={0: 1, 2: 1})
    assert result.breaches[SlaKind.REVIEWER_ASSIGNMENT] == 0


def test_utilisation_counts_the_work_done_in_the_year():
    result = run([Case(arrives=0, clearance=0, intake=0.0, answer=None, work=36.5)], reviewers={2: 2})
    assert result.utilisation == pytest.approx(36.5 / (2 * 365))


def test_leave_takes_reviewers_out_of_the_pool():
    """With every reviewer on leave most of the year, reviews wait."""
    cases = simulation.draw_cases(
        one_year(arrivals_per_month=(20.0,) * 12, plans=((("cyber",), 1.0),), work_days={"cyber": 1.0}),
        random.Random(3),
    )
    working = run(cases, reviewers={2: 2})
    away = simulation.run(one_year(reviewers={2: 2}, leave_days=300), cases, policy(), rng=random.Random(1))
    assert sum(away.queue) > sum(working.queue)


def test_replications_are_reproducible_and_more_reviewers_help():
    year = one_year(
        arrivals_per_month=(10.0,) * 12,
        plans=((("cyber", "bio"), 0.7), (("cyber",), 0.3)),
        work_days={"cyber": 4.0, "bio": 4.0},
        reviewers={0: 1, 2: 1},
    )
    first = simulation.summarise(simulation.replicate(year, policy(), replications=5, seed=7))
    again = simulation.summarise(simulation.replicate(year, policy(), replications=5, seed=7))
    assert first == again
    more = simulation.summarise(
        simulation.replicate(Inputs(**{**year.__dict__, "reviewers": {0: 3, 2: 3}}), policy(), replications=5, seed=7)
    )
    assert more["breach_probability"]["determination"]["mean"] < first["breach_probability"]["determination"]["mean"]
    assert more["utilisation"]["mean"] < first["utilisation"]["mean"]
    assert len(first["queue_by_week"]) == 52 and len(first["utilisation_by_month"]) == 12


def test_interval_is_the_t_interval_of_the_mean():
    ci = simulation.interval([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0
    assert ci["high"] - ci["mean"] == pytest.approx(4.303 * 1.0 / 3**0.5)
    assert simulation.interval([5.0]) == {"mean": 5.0, "low": 5.0, "high": 5.0}


def test_headcount_split_rounds_by_largest_remainder():
    assert simulation.headcount_split(10, {0: 50, 1: 30, 2: 20}) == {0: 5, 1: 3, 2: 2}
    split = simulation.headcount_split(7, {0: 50, 1: 30, 2: 20})
    assert sum(split.values()) == 7 and split == {0: 4, 1: 2, 2: 1}


def _point(n, high):
    return {"headcount": n, "breach_probability": {"determination": {"mean": high, "low": 0, "high": high}}}


def test_the_recommendation_is_the_smallest_headcount_from_which_all_larger_keep_the_target():
    points = [_point(3, 0.5), _point(4, 0.04), _point(5, 0.06), _point(6, 0.03), _point(7, 0.01)]
    assert recommended_headcount(points, 5) == 6
    assert recommended_headcount(points, 1) == 7
    assert recommended_headcount([_point(3, 0.5)], 5) is None


def test_a_deadline_met_at_its_very_moment_counts_as_missed_as_the_sweep_decides():
    """The sweep acts on `due_at <= now`: the simulation's breaches use the same comparison."""
    from submissions.review_clock import met_late

    assert met_late(YEAR_START, YEAR_START) and met_late(YEAR_START, None)
    assert not met_late(YEAR_START, YEAR_START - dt.timedelta(seconds=1))
