"""What reads the office's side of a review: assignment suggestions, who is away, and whether the
two-person rule can still be met."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db.models import Count, Exists, Min, OuterRef, Q

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role
from caisi_portal import clock, timefmt
from submissions.models import OPEN_REVIEW_STATES, Agreement, ReviewClock
from submissions.review_clock import review_window

from .models import (
    Assignment,
    AssignmentPolicy,
    EvaluationDomain,
    EvaluationResult,
    Finding,
    ReviewerExpertise,
    ReviewerLeave,
)


@dataclass
class Candidate:
    """One reviewer as the person assigning sees them: why they rank where they do."""

    reviewer: object
    is_lead: bool
    clearance: int
    expertise: list[str] = field(default_factory=list)  # planned domains they know, by name
    expertise_sources: list[str] = field(default_factory=list)  # "past results", "declared"...
    open_reviews: int = 0
    nearest_deadline: dt.datetime | None = None
    excluded_because: list[str] = field(default_factory=list)
    leave: list[str] = field(default_factory=list)  # their leave in the review window: "12–20 Dec"

    @property
    def eligible(self) -> bool:
        return not self.excluded_because

    @property
    def on_leave(self) -> bool:
        return bool(self.leave)

    @property
    def clearance_label(self) -> str:
        return Clearance(self.clearance).label

    def rank_key(self):
        # Those away during the review window last; then more planned domains known first; then
        # the lighter load; then the later nearest deadline (someone whose next review is due
        # tomorrow is busier); then the name.
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return (
            self.on_leave,
            -len(self.expertise),
            self.open_reviews,
            -(self.nearest_deadline or far).timestamp(),
            str(self.reviewer),
        )

    @property
    def reasons(self) -> list[str]:
        """The rank's reasons, in words, for the page and the API."""
        out = [f"on leave {words}" for words in self.leave]
        out.append(f"{self.clearance_label} clearance")
        if self.expertise:
            out.append(f"knows {', '.join(self.expertise)} ({', '.join(self.expertise_sources)})")
        else:
            out.append("no recorded expertise in the planned domains")
        if self.open_reviews:
            plural = "s" if self.open_reviews != 1 else ""
            out.append(f"{self.open_reviews} open review{plural}")
        else:
            out.append("no open reviews")
        return out


@dataclass
class Suggestions:
    submission: object
    clearance_needed: int
    domains: list[str]
    candidates: list[Candidate]  # eligible, best first
    excluded: list[Candidate]  # with the reason each is left out
    lead: Candidate | None  # the suggested lead, when the review has none yet
    reviewers: list[Candidate]  # the suggested reviewers besides the lead
    window: tuple[dt.date, dt.date] | None = None  # the review's days, which leave is read against

    @property
    def window_words(self) -> str:
        return timefmt.days(*self.window) if self.window else ""

    @property
    def window_starts_on(self) -> dt.date | None:
        return self.window[0] if self.window else None

    @property
    def window_ends_on(self) -> dt.date | None:
        return self.window[1] if self.window else None

    @property
    def clearance_needed_label(self) -> str:
        return Clearance(self.clearance_needed).label

    @property
    def suggested(self) -> list[Candidate]:
        return ([self.lead] if self.lead else []) + self.reviewers


def assignment_suggestions(submission, world=rules.LIVE, *, reviewers: int | None = None) -> Suggestions:
    """The reviewers of this submission's world ranked for it, and those left out with why.

    Eligible: cleared for what the review needs (rules.clearance_needed), no conflict of
    interest with the submitting organization (rules.conflict_reasons), not already on the
    review. Ranked by expertise in the planned domains (past results and findings, and
    declared expertise), then by open workload and its nearest deadline. Someone on leave
    during the review window (review_window_days) is ranked last with their dates, and never
    suggested: the assigner may still choose them by hand.

    A fixed number of queries whatever the number of reviewers: the people with their load,
    the plan (and the default plan in intake), the assignments, the clearance needed, three
    for expertise, one for conflicts, the review window and the leave in it, the policy.
    """
    organization = submission.organization
    people = list(
        rules.reviewer_candidates(world).annotate(
            open_reviews=Count(
                "assignments",
                filter=Q(assignments__submission__state__in=OPEN_REVIEW_STATES),
                distinct=True,
            ),
            nearest_deadline=Min(
                "assignments__submission__review_clock__deadline_at",
                filter=Q(assignments__submission__state__in=OPEN_REVIEW_STATES),
            ),
            is_lead=Exists(Group.objects.filter(user=OuterRef("pk"), name=Role.LEAD_REVIEWER)),
        )
    )
    plan = {
        item.domain_id: item.domain.name
        for item in submission.plan_items.select_related("domain").order_by("domain__sort_order")
    }
    if not plan:
        # In intake the plan is not chosen yet: accepting plans the active domains by default.
        plan = dict(EvaluationDomain.objects.filter(is_active=True).values_list("pk", "name"))
    assigned = dict(submission.assignments.values_list("reviewer_id", "role"))
    needed = rules.clearance_needed(submission)
    ids = [p.pk for p in people]

    # Expertise: what each person has recorded results or findings in, and what they declared.
    known: dict[int, dict[int, set[str]]] = {}
    sources = [
        ("past results", EvaluationResult.objects.filter(recorded_by_id__in=ids, domain_id__in=list(plan))),
        ("past findings", Finding.objects.filter(recorded_by_id__in=ids, domain_id__in=list(plan))),
    ]
    for label, qs in sources:
        # Another submission's work only: recording on this one is not prior expertise.
        for person_id, domain_id in qs.exclude(submission=submission).values_list("recorded_by_id", "domain_id"):
            known.setdefault(person_id, {}).setdefault(domain_id, set()).add(label)
    declared = ReviewerExpertise.objects.filter(reviewer_id__in=ids, domain_id__in=list(plan))
    for person_id, domain_id in declared.values_list("reviewer_id", "domain_id"):
        known.setdefault(person_id, {}).setdefault(domain_id, set()).add("declared")

    window = review_window_days(submission)
    away: dict[int, list[str]] = {}
    for leave in ReviewerLeave.objects.filter(reviewer_id__in=ids, starts_on__lte=window[1], ends_on__gte=window[0]):
        away.setdefault(leave.reviewer_id, []).append(leave.words)

    conflicts = rules.conflict_reasons(people, [organization])
    candidates, excluded = [], []
    for person in people:
        if person.pk in assigned:
            continue  # already on this review: listed with the assignments, not here
        mine = known.get(person.pk, {})
        candidate = Candidate(
            reviewer=person,
            is_lead=person.is_lead,
            clearance=person.clearance,
            expertise=[name for domain_id, name in plan.items() if domain_id in mine],
            expertise_sources=sorted(set().union(*mine.values())) if mine else [],
            open_reviews=person.open_reviews,
            nearest_deadline=person.nearest_deadline,
            leave=away.get(person.pk, []),
        )
        candidate.excluded_because += conflicts.get((person.pk, organization.pk), [])
        if person.clearance < needed:
            candidate.excluded_because.append(
                f"{candidate.clearance_label} clearance, below the {Clearance(needed).label} this review needs"
            )
        (candidates if candidate.eligible else excluded).append(candidate)
    candidates.sort(key=Candidate.rank_key)
    excluded.sort(key=lambda c: str(c.reviewer))

    has_lead = Assignment.Role.LEAD in assigned.values()
    available = [c for c in candidates if not c.on_leave]
    lead = None if has_lead else next((c for c in available if c.is_lead), None)
    wanted = AssignmentPolicy.current().reviewers_on_accept if reviewers is None else reviewers
    members = sum(1 for role in assigned.values() if role == Assignment.Role.MEMBER)
    others = [c for c in available if c is not lead][: max(wanted - members, 0)]
    return Suggestions(
        submission=submission,
        clearance_needed=needed,
        domains=list(plan.values()),
        candidates=candidates,
        excluded=excluded,
        lead=lead,
        reviewers=others,
        window=window,
    )


def review_window_days(submission) -> tuple[dt.date, dt.date]:
    """The days a review still runs, both included, as leave is read against them: from today
    to its deadline once its clock runs; before that (intake), the window its agreement grants,
    counted from today, as accepting it now would start it."""
    today = clock.now().date()
    deadline = ReviewClock.objects.filter(submission=submission).values_list("deadline_at", flat=True).first()
    if deadline is not None:
        return today, max(today, deadline.date())
    days = (
        Agreement.objects.filter(organization_id=submission.organization_id)
        .values_list("review_window_days", flat=True)
        .first()
    )
    return today, today + review_window(days or Agreement._meta.get_field("review_window_days").default)


TWO_PERSON_RULE = (
    "a flag, or a clearance against the evidence, cannot be issued until a second reviewer cleared for every "
    "finding concurs (two-person rule). Assign one."
)
MSG_LEAD_ALONE = "The lead is alone on this review: " + TWO_PERSON_RULE
MSG_NO_SECOND_REVIEWER = "No one on this review besides its lead is cleared {needed}, as its evidence needs: " + (
    TWO_PERSON_RULE
)


def two_person_gap(submission) -> str | None:
    """Why the two-person rule cannot be met by the people now on the review (None when it can):
    concurring needs an assigned reviewer other than the proposing lead, cleared for every
    finding (rules.concurrence_refusal). Said once the review has its lead."""
    assigned = list(submission.assignments.values_list("role", "reviewer__clearance"))
    if not any(role == Assignment.Role.LEAD for role, _ in assigned):
        return None
    others = [clearance for role, clearance in assigned if role != Assignment.Role.LEAD]
    if not others:
        return MSG_LEAD_ALONE
    needed = rules.clearance_needed(submission)
    if any(clearance >= needed for clearance in others):
        return None
    return MSG_NO_SECOND_REVIEWER.format(needed=Clearance(needed).label)
