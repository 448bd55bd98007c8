"""A realistic spread of reviews, made fast with bulk inserts (for scale tests and benchmarks).

It bypasses the services on purpose: it writes rows as the services would have left them,
a hundred thousand at a time, which the services (one transition at a time) cannot do.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth.models import Group

from accounts.models import Clearance, User
from accounts.roles import Role
from reviews.models import Assignment, Determination, EvaluationDomain, Finding
from submissions import reminders, review_clock
from submissions.models import (
    Agreement,
    ClockPause,
    ModelSubmission,
    Organization,
    ReviewClock,
    SlaBreach,
    SlaKind,
    SlaPolicy,
    State,
)

# (state, share of all submissions)
SPREAD = [
    (State.DRAFT, 0.05),
    (State.INTAKE, 0.08),
    (State.INFORMATION_REQUESTED, 0.05),
    (State.EVALUATION, 0.22),
    (State.CLEARED, 0.20),
    (State.FLAGGED, 0.05),
    (State.RELEASED, 0.25),
    (State.WINDOW_ELAPSED, 0.04),
    (State.WITHDRAWN, 0.04),
    (State.ACCESS_REMOVED, 0.02),
]
OPEN = {State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION}
DETERMINED = {State.CLEARED, State.FLAGGED, State.RELEASED, State.ACCESS_REMOVED}


def ensure_people(prefix: str = "bench") -> dict:
    orgs = []
    for n in range(6):
        org, _ = Organization.objects.get_or_create(
            slug=f"{prefix}-lab-{n}", defaults={"name": f"{prefix.title()} Lab {n}", "kind": "developer"}
        )
        agreement, created = Agreement.objects.get_or_create(organization=org)
        if created and n < 5:
            agreement.sign()
            agreement.save()
        orgs.append(org)
    office, _ = Organization.objects.get_or_create(
        slug=f"{prefix}-office", defaults={"name": f"{prefix.title()} Office", "kind": "review_office"}
    )
    reviewers = []
    for n in range(8):
        user, created = User.objects.get_or_create(
            username=f"{prefix}.reviewer{n}",
            defaults={"organization": office, "clearance": Clearance.SECRET, "email": f"r{n}@{prefix}.test"},
        )
        if created:
            user.groups.add(Group.objects.get(name=Role.LEAD_REVIEWER if n < 3 else Role.REVIEWER))
        reviewers.append(user)
    return {"orgs": orgs[:5], "holdout": orgs[5], "reviewers": reviewers}


def build_portfolio(count: int, *, now: dt.datetime, seed: int = 7, prefix: str = "bench", batch: int = 5000) -> None:
    rnd = random.Random(seed)
    people = ensure_people(prefix)
    domain = EvaluationDomain.objects.order_by("sort_order").first()
    policy = SlaPolicy.current()
    start = ModelSubmission.objects.count()
    states = [state for state, share in SPREAD for _ in range(int(share * 1000))]
    for offset in range(0, count, batch):
        n = min(batch, count - offset)
        _batch(rnd, people, domain, policy, states, now, start + offset, n, prefix)


def _reminders(deadline: dt.datetime, now: dt.datetime, policy: SlaPolicy) -> tuple[list[str], dt.datetime | None]:
    """(reminders_sent, next_reminder_at) of a running clock in evaluation, as the sweep leaves it
    when it keeps up (submissions/reminders.py: clock_remind): the steps whose moment has passed
    handled, the next one ahead."""
    handled = sorted(step for step, days in policy.reminder_steps() if deadline - dt.timedelta(days=days) <= now)
    return handled, reminders.next_reminder_at(deadline, handled, policy)


def _batch(rnd, people, domain, policy, states, now, first, n, prefix):
    subs = []
    for i in range(first, first + n):
        state = rnd.choice(states)
        submitted = now - dt.timedelta(days=rnd.uniform(1, 360)) if state != State.DRAFT else None
        subs.append(
            ModelSubmission(
                organization=rnd.choice(people["orgs"]),
                model_name=f"{prefix}-model-{i}",
                model_version=str(rnd.randint(1, 9)),
                release_channel=rnd.choice(["api", "open_weights", "closed_product"]),
                planned_release_date=(now + dt.timedelta(days=rnd.randint(10, 90))).date(),
                capabilities="Generated for scale tests.",
                intended_use="Scale tests.",
                evaluator_access="Endpoint.",
                state=state,
                created_at=submitted or now,
                submitted_at=submitted,
                released_at=submitted + dt.timedelta(days=35)
                if state in (State.RELEASED, State.ACCESS_REMOVED) and submitted
                else None,
                is_simulated=True,
                published_at=now if state in DETERMINED | {State.WINDOW_ELAPSED} and rnd.random() < 0.6 else None,
            )
        )
    subs = ModelSubmission.objects.bulk_create(subs, batch_size=2000)
    clocks, determinations, assignments, breaches, findings = [], [], [], [], []
    for s in subs:
        if s.state == State.DRAFT:
            continue
        started = s.submitted_at
        window = dt.timedelta(days=30)
        if s.state in OPEN:
            # Open reviews: submitted within the last month, so their clocks still run.
            started = now - dt.timedelta(days=rnd.uniform(0, 29))
            s.submitted_at = started
        status = {
            State.INFORMATION_REQUESTED: ReviewClock.Status.PAUSED,
            State.WINDOW_ELAPSED: ReviewClock.Status.ELAPSED,
        }.get(s.state, ReviewClock.Status.RUNNING if s.state in OPEN else ReviewClock.Status.STOPPED)
        # Results reminders are planned when evaluation begins (review_clock.on_accept).
        sent, next_reminder = _reminders(started + window, now, policy) if s.state == State.EVALUATION else ([], None)
        clocks.append(
            ReviewClock(
                submission=s,
                status=status,
                started_at=started,
                window=window,
                deadline_at=started + window,
                next_warning_at=started + window - dt.timedelta(days=7) if status == "running" else None,
                next_reminder_at=next_reminder,
                reminders_sent=sent,
                stopped_at=None if s.state in OPEN else started + dt.timedelta(days=rnd.uniform(5, 30)),
            )
        )
        reviewers = rnd.sample(people["reviewers"], 2)
        if s.state not in (State.INTAKE, State.WITHDRAWN):
            lead = next((r for r in people["reviewers"][:3] if r not in reviewers), people["reviewers"][0])
            assignments.append(
                Assignment(submission=s, reviewer=lead, role="lead", assigned_by=lead, assigned_at=started)
            )
            for r in reviewers:
                if r != lead:
                    assignments.append(
                        Assignment(submission=s, reviewer=r, role="member", assigned_by=lead, assigned_at=started)
                    )
        if s.state in DETERMINED:
            outcome = "flagged" if s.state == State.FLAGGED or rnd.random() < 0.1 else "cleared"
            issued = started + dt.timedelta(days=rnd.uniform(5, 29))
            determinations.append(
                Determination(
                    submission=s,
                    outcome=outcome,
                    rationale="Generated.",
                    partner_summary="Generated summary.",
                    decided_by=people["reviewers"][0],
                    proposed_at=issued,
                    issued_at=issued,
                )
            )
            if outcome == "flagged":
                findings.append(
                    Finding(
                        submission=s,
                        domain=domain,
                        severity="high",
                        classification=rnd.choice([0, 1, 2]),
                        title="Generated finding",
                        description="Generated.",
                        recorded_by=people["reviewers"][1],
                        recorded_at=issued,
                    )
                )
        if s.state == State.WINDOW_ELAPSED:
            breaches.append(
                SlaBreach(
                    submission=s, kind=SlaKind.DETERMINATION, due_at=started + window, detected_at=started + window
                )
            )
        elif s.state != State.WITHDRAWN and rnd.random() < 0.08:
            kind = rnd.choice([SlaKind.INTAKE_DECISION, SlaKind.REVIEWER_ASSIGNMENT, SlaKind.DEVELOPER_ANSWER])
            due = started + dt.timedelta(days=3)
            acknowledged = rnd.random() < 0.5
            breaches.append(
                SlaBreach(
                    submission=s,
                    kind=kind,
                    due_at=due,
                    detected_at=due,
                    acknowledged_by=people["reviewers"][0] if acknowledged else None,
                    acknowledged_at=due + dt.timedelta(days=1) if acknowledged else None,
                    acknowledgement_note="Generated." if acknowledged else "",
                )
            )
    # A paused clock's open pause, and the pause limit the app sets when the pause begins
    # (review_clock.pause_limit: returned after 30 days in all, warned 5 days before).
    pauses = {}
    for c in clocks:
        if c.status == ReviewClock.Status.PAUSED:
            pauses[c.submission_id] = paused_at = now - dt.timedelta(days=rnd.uniform(0, 9))
            c.pause_cap_at, c.pause_step_at = review_clock.pause_limit(c.paused_total, paused_at, policy)
    ModelSubmission.objects.bulk_update([s for s in subs if s.submitted_at], ["submitted_at"], batch_size=2000)
    clocks = ReviewClock.objects.bulk_create(clocks, batch_size=2000)
    ClockPause.objects.bulk_create(
        [
            ClockPause(clock=c, started_at=pauses[c.submission_id], reason="information requested")
            for c in clocks
            if c.status == ReviewClock.Status.PAUSED
        ],
        batch_size=2000,
    )
    Determination.objects.bulk_create(determinations, batch_size=2000)
    Assignment.objects.bulk_create(assignments, batch_size=2000)
    SlaBreach.objects.bulk_create(breaches, batch_size=2000)
    Finding.objects.bulk_create(findings, batch_size=2000)
