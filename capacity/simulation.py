"""A year of review work, simulated event by event (SimPy), through the live system's rules.

Every deadline here comes from submissions.review_clock's arithmetic (`clock_deadline`,
`obligation_due_at`, `pause_limit`, `met_late`) with an SlaPolicy row, so a simulated review
falls due exactly when a real one would: change the policy or the arithmetic and the planner
follows. What is simulated is people's behaviour around those rules: when submissions arrive,
how long intake and the developers' answers take, and how long reviewers work on a plan.

The flow of one submission (the states of DESIGN.md, the parts that take the office's time):
submitted (the clock starts, the intake decision is owed) -> intake decision, or an information
request (the clock pauses, the developer's answer is owed; past the pause limit the submission is
returned) and, after the answer, a second intake decision -> accepted (a lead reviewer is owed)
-> a reviewer cleared for the submission takes it when one is free -> the plan's work -> the
determination, on time or after the window elapsed (the review goes on: late determinations are
allowed). Reviewers take their leave in blocks, once their review in hand is done.

This module reads no database: the caller passes the policy, and a replication is a function of
its inputs and its seed, so results can be reproduced and compared.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import statistics
from dataclasses import dataclass, field

import simpy

from submissions.models import SlaKind, SlaPolicy
from submissions.review_clock import clock_deadline, is_due, met_late, obligation_due_at, pause_limit, review_window

# The simulated year starts here; only differences of times matter (calendar days, no zones).
YEAR_START = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
HORIZON_DAYS = 365
# After the year's last arrival the simulation runs on (no new arrivals) until every review
# it took in is determined or returned, so December's arrivals are counted too.
RUN_ON_DAYS = 365
MONTH_DAYS = HORIZON_DAYS / 12
QUEUE_SAMPLE_DAYS = 7  # the queue is read once a week
LEAVE_BLOCK_DAYS = 5  # leave is taken a working week at a time
ZERO = dt.timedelta(0)
# Each kind, in the order pages and downloads show them.
KINDS = [SlaKind.INTAKE_DECISION, SlaKind.REVIEWER_ASSIGNMENT, SlaKind.DEVELOPER_ANSWER, SlaKind.DETERMINATION]
CLEARANCES = (0, 1, 2)


def moment(days: float) -> dt.datetime:
    """The simulated moment `days` after the year's start."""
    return YEAR_START + dt.timedelta(days=days)


@dataclass(frozen=True)
class Inputs:
    """What a scenario says about the year (services.py builds it from a saved scenario)."""

    arrivals_per_month: tuple[float, ...]  # 12 mean arrivals, January first
    plans: tuple[tuple[tuple[str, ...], float], ...]  # (planned domains, share of submissions)
    work_days: dict  # domain -> mean reviewer-days of work on it
    work_spread: float = 0.5  # coefficient of variation of a plan's work (0: always the mean)
    intake_days: float = 1.0  # mean days to an intake decision
    information_share: float = 0.2  # share of submissions asked for information at intake
    answer_days: float = 7.0  # mean days a developer takes to answer
    submission_clearance: dict = field(default_factory=lambda: {0: 1.0})  # clearance needed -> share
    reviewers: dict = field(default_factory=lambda: {2: 10})  # reviewer clearance -> headcount
    leave_days: float = 25.0  # days of leave per reviewer per year
    window_days: int = 30  # the agreements' review window


@dataclass(slots=True)
class Case:
    """One submission's draws: all the randomness of a review, fixed before it runs."""

    arrives: float  # days after the year's start
    clearance: int  # the clearance its work needs
    intake: float  # days to each intake decision
    answer: float | None  # days the developer takes to answer; None: no information request
    work: float  # reviewer-days of its plan


@dataclass(slots=True)
class Trace:
    """What happened to one simulated submission, in the live system's terms."""

    case: Case
    submitted_at: dt.datetime
    deadline_at: dt.datetime | None = None
    obligations: list = field(default_factory=list)  # (kind, due_at, met_at or None, breached)
    asked_at: dt.datetime | None = None  # information requested
    answered_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    assigned_at: dt.datetime | None = None
    determined_at: dt.datetime | None = None
    window_elapsed: bool = False
    returned: bool = False


@dataclass
class Replication:
    submissions: int
    breaches: dict  # kind -> number of submissions that breached it
    elapsed: int  # windows elapsed without a determination
    returned: int
    queue: list  # submissions waiting for a reviewer, read weekly
    utilisation: float  # share of the reviewers' year spent on reviews
    busy_by_month: list  # the same, month by month
    traces: list | None = None


class ReviewerPool(simpy.FilterStore):
    """The free reviewers, lowest clearance first: a review takes the least-cleared reviewer
    who may do it, keeping the cleared ones for the work only they may do."""

    def _do_put(self, event):
        if len(self.items) < self._capacity:
            bisect.insort(self.items, event.item)
            event.succeed()


def _gamma(rng: random.Random, mean: float, spread: float) -> float:
    if mean <= 0:
        return 0.0
    if spread <= 0:
        return mean
    shape = 1.0 / (spread * spread)
    return rng.gammavariate(shape, mean / shape)


def _pick(rng: random.Random, options, weights):
    return rng.choices(options, weights=weights)[0]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation: Knuth's product underflows for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def draw_cases(inputs: Inputs, rng: random.Random) -> list[Case]:
    """A year's submissions: Poisson arrivals month by month, each with its draws."""
    plan_options = [domains for domains, _ in inputs.plans]
    plan_weights = [share for _, share in inputs.plans]
    levels = list(inputs.submission_clearance)
    level_weights = [inputs.submission_clearance[k] for k in levels]
    cases = []
    for month, mean in enumerate(inputs.arrivals_per_month):
        for _ in range(_poisson(rng, mean)):
            arrives = (month + rng.random()) * MONTH_DAYS
            plan = _pick(rng, plan_options, plan_weights) if plan_options else ()
            work = sum(_gamma(rng, inputs.work_days.get(d, 0.0), inputs.work_spread) for d in plan)
            asked = rng.random() < inputs.information_share
            cases.append(
                Case(
                    arrives=arrives,
                    clearance=int(_pick(rng, levels, level_weights)) if levels else 0,
                    intake=_gamma(rng, inputs.intake_days, inputs.work_spread),
                    answer=_gamma(rng, inputs.answer_days, inputs.work_spread) if asked else None,
                    work=work,
                )
            )
    cases.sort(key=lambda c: c.arrives)
    return cases


def run(
    inputs: Inputs,
    cases: list[Case],
    policy: SlaPolicy,
    *,
    rng: random.Random | None = None,
    keep_traces: bool = False,
) -> Replication:
    """One replication: these submissions, these reviewers, this policy."""
    rng = rng or random.Random(0)  # noqa: S311 - simulated years, reproducible from a seed; not security
    env = simpy.Environment()
    people = [(level, n) for level, n in sorted(inputs.reviewers.items()) for n in range(int(n))]
    pool = ReviewerPool(env)
    pool.items.extend(sorted(people))
    window = review_window(inputs.window_days)
    breaches = dict.fromkeys(KINDS, 0)
    state = {"waiting": 0, "elapsed": 0, "returned": 0}
    # Reviews still waiting for a reviewer when the run ends (no reviewer cleared for them, or
    # a backlog that outlasts the run): case -> (deadline, the assignment's due time, trace).
    unassigned: dict[int, tuple] = {}
    busy_by_month = [0.0] * 12
    traces = [] if keep_traces else None

    def obligation(trace, kind, due_at, met_at):
        late = met_late(due_at, met_at)
        if late:
            breaches[kind] += 1
        if trace is not None:
            trace.obligations.append((kind, due_at, met_at, late))

    def work_done(start: float, end: float):
        # Busy time within the year, month by month (work after the year is not its load).
        month = int(start // MONTH_DAYS)
        while start < end and month < 12:
            stop = min(end, (month + 1) * MONTH_DAYS)
            busy_by_month[month] += stop - start
            start, month = stop, month + 1

    def review(case: Case):
        trace = Trace(case, moment(case.arrives)) if keep_traces else None
        started = moment(env.now)
        paused_total = ZERO
        deadline = clock_deadline(started, window, paused_total)
        intake_due = obligation_due_at(policy, SlaKind.INTAKE_DECISION, started)
        yield env.timeout(case.intake)
        if case.answer is not None:
            asked = moment(env.now)
            obligation(trace, SlaKind.INTAKE_DECISION, intake_due, asked)
            answer_due = obligation_due_at(policy, SlaKind.DEVELOPER_ANSWER, asked)
            cap_at, _ = pause_limit(paused_total, asked, policy)
            if trace is not None:
                trace.asked_at = asked
            if is_due(cap_at, moment(env.now + case.answer)):
                # The sweep returns the submission at the pause limit, before any answer.
                yield env.timeout((cap_at - asked).total_seconds() / 86400)
                obligation(trace, SlaKind.DEVELOPER_ANSWER, answer_due, None)
                state["returned"] += 1
                if trace is not None:
                    trace.returned, trace.deadline_at = True, deadline
                    traces.append(trace)
                return
            yield env.timeout(case.answer)
            answered = moment(env.now)
            obligation(trace, SlaKind.DEVELOPER_ANSWER, answer_due, answered)
            if trace is not None:
                trace.answered_at = answered
            paused_total += answered - asked
            deadline = clock_deadline(started, window, paused_total)
            intake_due = obligation_due_at(policy, SlaKind.INTAKE_DECISION, answered)
            yield env.timeout(case.intake)
        accepted = moment(env.now)
        obligation(trace, SlaKind.INTAKE_DECISION, intake_due, accepted)
        if trace is not None:
            trace.accepted_at = accepted
        assignment_due = obligation_due_at(policy, SlaKind.REVIEWER_ASSIGNMENT, accepted)
        state["waiting"] += 1
        unassigned[id(case)] = (deadline, assignment_due, trace)
        need = case.clearance
        reviewer = yield pool.get(lambda r: r[0] >= need)
        state["waiting"] -= 1
        del unassigned[id(case)]
        assigned = moment(env.now)
        obligation(trace, SlaKind.REVIEWER_ASSIGNMENT, assignment_due, assigned)
        begun = env.now
        yield env.timeout(case.work)
        work_done(begun, env.now)
        pool.put(reviewer)
        determined = moment(env.now)
        # The clock elapses at its deadline if no determination came first (the sweep's rule).
        elapsed = met_late(deadline, determined)
        if elapsed:
            state["elapsed"] += 1
            breaches[SlaKind.DETERMINATION] += 1
        if trace is not None:
            trace.deadline_at, trace.assigned_at, trace.determined_at = deadline, assigned, determined
            trace.window_elapsed = elapsed
            trace.obligations.append((SlaKind.DETERMINATION, deadline, determined, elapsed))
            traces.append(trace)

    def arrivals():
        for case in cases:
            if case.arrives > env.now:
                yield env.timeout(case.arrives - env.now)
            env.process(review(case))

    def leave(person, starts: list[float]):
        for start in starts:
            if start > env.now:
                yield env.timeout(start - env.now)
            # Leave begins once the review in hand is done: the reviewer leaves the pool.
            me = yield pool.get(lambda r: r == person)
            yield env.timeout(LEAVE_BLOCK_DAYS)
            pool.put(me)

    queue: list[int] = []

    def monitor():
        for _ in range(int(HORIZON_DAYS // QUEUE_SAMPLE_DAYS)):
            yield env.timeout(QUEUE_SAMPLE_DAYS)
            queue.append(state["waiting"])

    env.process(arrivals())
    env.process(monitor())
    blocks = round(inputs.leave_days / LEAVE_BLOCK_DAYS)
    if blocks:
        for person in people:
            env.process(leave(person, sorted(rng.uniform(0, HORIZON_DAYS - LEAVE_BLOCK_DAYS) for _ in range(blocks))))
    env.run(until=HORIZON_DAYS + RUN_ON_DAYS)
    for deadline, assignment_due, trace in unassigned.values():
        # Never assigned: the lead was owed and the window ran out, as the sweep would record.
        obligation(trace, SlaKind.REVIEWER_ASSIGNMENT, assignment_due, None)
        state["elapsed"] += 1
        breaches[SlaKind.DETERMINATION] += 1
        if trace is not None:
            trace.deadline_at, trace.window_elapsed = deadline, True
            trace.obligations.append((SlaKind.DETERMINATION, deadline, None, True))
            traces.append(trace)
    capacity = len(people) * MONTH_DAYS
    return Replication(
        submissions=len(cases),
        breaches=breaches,
        elapsed=state["elapsed"],
        returned=state["returned"],
        queue=queue,
        utilisation=sum(busy_by_month) / (capacity * 12) if capacity else 0.0,
        busy_by_month=[b / capacity if capacity else 0.0 for b in busy_by_month],
        traces=traces,
    )


# --- replications and their confidence intervals -------------------------------------------------

# Student's t at 97.5 % for 1..30 degrees of freedom; beyond, the normal's 1.96 is close enough.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131]
_T975 += [2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def interval(values: list[float]) -> dict:
    """Mean and 95 % confidence interval of the mean over replications."""
    n = len(values)
    mean = statistics.fmean(values) if values else 0.0
    if n < 2:
        return {"mean": mean, "low": mean, "high": mean}
    half = (_T975[n - 2] if n - 1 <= len(_T975) else 1.96) * statistics.stdev(values) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def headcount_split(headcount: int, shares: dict) -> dict:
    """Reviewers by clearance for a headcount: the shares, rounded by largest remainder."""
    total = sum(shares.values()) or 1.0
    exact = {level: headcount * share / total for level, share in shares.items()}
    split = {level: int(v) for level, v in exact.items()}
    for level in sorted(exact, key=lambda k: (split[k] - exact[k], -k))[: headcount - sum(split.values())]:
        split[level] += 1
    return split


def replicate(inputs: Inputs, policy: SlaPolicy, *, replications: int, seed: int) -> list[Replication]:
    """`replications` independent years. Replication i draws from seed+i whatever the headcount
    (common random numbers), so headcounts are compared on the same years."""
    out = []
    for i in range(replications):
        rng = random.Random(seed + i)  # noqa: S311 - simulated years, reproducible from a seed
        cases = draw_cases(inputs, rng)
        out.append(run(inputs, cases, policy, rng=rng))
    return out


def summarise(reps: list[Replication]) -> dict:
    """Per scenario: breach probability per kind, windows elapsed, queue and utilisation, each
    with its 95 % confidence interval over the replications."""
    shares = {
        kind: interval([r.breaches[kind] / r.submissions if r.submissions else 0.0 for r in reps]) for kind in KINDS
    }
    weeks = len(reps[0].queue) if reps else 0
    return {
        "replications": len(reps),
        "submissions": interval([r.submissions for r in reps]),
        "breach_probability": {str(kind): ci for kind, ci in shares.items()},
        "windows_elapsed": interval([r.elapsed for r in reps]),
        "returned": interval([r.returned for r in reps]),
        "utilisation": interval([r.utilisation for r in reps]),
        "utilisation_by_month": [interval([r.busy_by_month[m] for r in reps]) for m in range(12)],
        "queue_by_week": [interval([r.queue[w] for r in reps]) for w in range(weeks)],
    }
