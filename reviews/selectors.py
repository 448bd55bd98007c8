"""What reads the office's side of a review: assignment suggestions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db.models import Count, Exists, Min, OuterRef, Q

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role
from submissions.models import OPEN_REVIEW_STATES

from .models import Assignment, AssignmentPolicy, EvaluationDomain, EvaluationResult, Finding, ReviewerExpertise


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

    @property
    def eligible(self) -> bool:
        return not self.excluded_because

    @property
    def clearance_label(self) -> str:
        return Clearance(self.clearance).label

    def rank_key(self):
        # More planned domains known first; then the lighter load; then the later nearest
        # deadline (someone whose next review is due tomorrow is busier); then the name.
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return (
            -len(self.expertise),
            self.open_reviews,
            -(self.nearest_deadline or far).timestamp(),
            str(self.reviewer),
        )

    @property
    def reasons(self) -> list[str]:
        """The rank's reasons, in words, for the page and the API."""
        out = [f"{self.clearance_label} clearance"]
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
    declared expertise), then by open workload and its nearest deadline.

    A fixed number of queries whatever the number of reviewers: the people with their load,
    the plan (and the default plan in intake), the assignments, the clearance needed, three
    for expertise, one for conflicts, the policy.
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
    lead = None if has_lead else next((c for c in candidates if c.is_lead), None)
    wanted = AssignmentPolicy.current().reviewers_on_accept if reviewers is None else reviewers
    members = sum(1 for role in assigned.values() if role == Assignment.Role.MEMBER)
    others = [c for c in candidates if c is not lead][: max(wanted - members, 0)]
    return Suggestions(
        submission=submission,
        clearance_needed=needed,
        domains=list(plan.values()),
        candidates=candidates,
        excluded=excluded,
        lead=lead,
        reviewers=others,
    )
