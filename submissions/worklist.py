"""Who must do what next, by when: the "Waiting on you" list and each submission's next step.

One function, `next_step`, reads a submission's state, its open SLA obligation, its review
clock, assignments, plan and proposal and says what the review waits for, from whom, and by
when. The home page's "Waiting on you" list and the submission page's "Next step" panel both
read it, so they cannot disagree. The list is built for a bounded number of rows with a fixed
number of queries, whatever the size of the office's queue.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q
from django.db.models.functions import Coalesce

from accounts import rules
from accounts.roles import Role, has_role
from caisi_portal import clock, timefmt

from .models import (
    AccessRemovalOrder,
    Agreement,
    ModelSubmission,
    ReviewClock,
    SlaBreach,
    SlaKind,
    SlaObligation,
    State,
)

WAITING_ROWS = 15


@dataclasses.dataclass
class Step:
    """What one submission waits for next."""

    submission: ModelSubmission
    action: str  # what must be done, in words
    owner: str  # who must do it, in words
    due_at: dt.datetime | None
    owner_ids: frozenset = frozenset()  # the people named to do it
    # Or, when it is a group's to do, the policy's own rule for who may (accounts.rules).
    may: Callable | None = None
    kind: str = "step"  # "step" or "breach"
    breach: SlaBreach | None = None
    where: str = ""  # where on the submission's page (an anchor) or which action it is done
    others: str = ""  # for a group's step, who else may take it ("another lead reviewer or an administrator")
    names: dict = dataclasses.field(default_factory=dict)  # pk -> name of the people named

    @property
    def href(self) -> str:
        from django.urls import reverse

        if self.kind == "breach":
            return reverse("dashboard:breaches")
        url = self.submission.get_absolute_url()
        if self.where.startswith("#"):
            return url + self.where
        if self.where:
            return reverse("submissions:action", args=[self.submission.pk, self.where])
        return url

    def owner_for(self, user) -> str:
        """Whose turn, as this person reads it: "You", "You or Bob Okafor", "You, or another ..."."""
        if user.pk in self.owner_ids:
            others = [name for pk, name in self.names.items() if pk != user.pk]
            return "You" + (f" or {_people(others)}" if others else "")
        if self.may is not None and self.may(user):
            return f"You, or {self.others}" if self.others else "You"
        return self.owner

    def is_for(self, user) -> bool:
        return user.pk in self.owner_ids or (self.may is not None and self.may(user))


def urgency(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """'overdue', 'urgent' (under 48 hours), 'soon' (under 7 days), 'later', or '' (no deadline):
    the levels of the deadline chips (caisi_portal.timefmt), so a row and its chip agree."""
    found = timefmt.countdown(due_at, now)
    return found[1] if found else ""


def _people(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _involving(user):
    """Submissions with something for this person to do, or to watch for them (a Q)."""
    from reviews.models import Assignment

    involved = Q(pk__in=[])
    assigning = Exists(
        SlaObligation.objects.filter(
            submission=OuterRef("pk"), kind=SlaKind.REVIEWER_ASSIGNMENT, closed_at__isnull=True
        )
    )
    if has_role(user, Role.DEVELOPER_STAFF) and user.organization_id:
        involved |= Q(organization_id=user.organization_id, state__in=(State.DRAFT, State.INFORMATION_REQUESTED))
        involved |= Q(
            organization_id=user.organization_id,
            state__in=list(AFTER_DETERMINATION),
            review_clock__stopped_at__gte=clock.now() - RECENT_DETERMINATIONS,
        )
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        involved |= Q(state=State.EVALUATION, pk__in=Assignment.objects.filter(reviewer=user).values("submission_id"))
    if has_role(user, Role.LEAD_REVIEWER):
        involved |= Q(state=State.INTAKE) & ~Q(organization_id__in=rules.conflicted_organization_ids(user))
        involved |= Q(assigning, state=State.EVALUATION) & ~Q(
            organization_id__in=rules.conflicted_organization_ids(user)
        )
    if rules.is_administrator(user):
        involved |= Q(state=State.INTAKE) | Q(assigning, state=State.EVALUATION)
    return involved


# The SLA obligation each state's next step answers to (missed or not: a missed one is overdue).
# Another open obligation belongs to someone else: the developer asked for information while a
# lead is yet to be assigned must not be shown the office's assignment deadline as theirs.
STEP_OBLIGATION = {
    State.INTAKE: SlaKind.INTAKE_DECISION,
    State.INFORMATION_REQUESTED: SlaKind.DEVELOPER_ANSWER,
    State.EVALUATION: SlaKind.REVIEWER_ASSIGNMENT,
}


# What a developer does once the office has spoken: no deadline, listed for 30 days.
AFTER_DETERMINATION = {
    State.CLEARED: "Cleared: read the determination and its release conditions; record the release when it happens",
    State.FLAGGED: "Flagged: read the determination and talk to the office before any release; "
    "a release, if you go ahead, is recorded as made despite the flag",
    State.WINDOW_ELAPSED: "The review window elapsed without a determination: you may release; record it when you do",
}
RECENT_DETERMINATIONS = dt.timedelta(days=30)


def _with_due(qs):
    """Each row's next deadline: the obligation its step answers to, else its review clock."""
    own = Q(pk__in=[])
    for state, kind in STEP_OBLIGATION.items():
        own |= Q(state=state, sla_obligations__kind=kind)
    return qs.annotate(
        next_due=Coalesce(
            Min("sla_obligations__due_at", filter=own & Q(sla_obligations__closed_at__isnull=True)),
            F("review_clock__deadline_at"),
        )
    )


def steps_for(submissions, now: dt.datetime | None = None) -> list[Step]:
    """The next step of each submission given, in a fixed number of queries."""
    from reviews.models import Assignment, Determination

    now = now or clock.now()
    rows = list(submissions)
    if not rows:
        return []
    ids = [s.pk for s in rows]
    states = {s.pk: s.state for s in rows}
    obligations = {
        o.submission_id: o
        for o in SlaObligation.objects.filter(submission_id__in=ids, closed_at__isnull=True)
        if STEP_OBLIGATION.get(states[o.submission_id]) == o.kind
    }
    assignments = defaultdict(list)
    for a in Assignment.objects.filter(submission_id__in=ids).select_related("reviewer"):
        assignments[a.submission_id].append(a)
    progress = {
        row["pk"]: row
        for row in ModelSubmission.objects.filter(pk__in=ids)
        .annotate(
            planned=Count("plan_items__versions", distinct=True),
            recorded=Count("results", distinct=True),
            highest_finding=Max("findings__classification"),
            highest_result=Max("results__version__classification"),
        )
        .values("pk", "planned", "recorded", "highest_finding", "highest_result")
    }
    proposals = {
        d.submission_id: d
        for d in Determination.objects.filter(submission_id__in=ids, issued_at__isnull=True).select_related(
            "decided_by", "concurred_by"
        )
    }
    clocks = {c.submission_id: c for c in ReviewClock.objects.filter(submission_id__in=ids)}
    held = set(
        AccessRemovalOrder.objects.filter(submission_id__in=ids, lifted_at__isnull=True).values_list(
            "submission_id", flat=True
        )
    )
    open_orgs = set(
        Agreement.objects.filter(
            organization_id__in={s.organization_id for s in rows}, status=Agreement.Status.SIGNED
        ).values_list("organization_id", flat=True)
    )
    return [
        _step(
            s,
            obligations.get(s.pk),
            assignments[s.pk],
            progress[s.pk],
            proposals.get(s.pk),
            clocks.get(s.pk),
            agreement_open=s.organization_id in open_orgs,
            held=s.pk in held,
        )
        for s in rows
    ]


def _step(s, obligation, assigned, progress, proposal, review_clock, *, agreement_open=True, held=False) -> Step:
    deadline = review_clock.deadline_at if review_clock is not None and review_clock.status == "running" else None
    due = obligation.due_at if obligation is not None else deadline
    org = str(s.organization)
    if s.state == State.DRAFT:
        if not agreement_open:
            # The lab can prepare the draft, but submitting waits on the agreement, not on them.
            return Step(
                s,
                f"Submitting waits on {org}'s review agreement, which is not signed: prepare the draft meanwhile",
                "the review office and your organization's signatories",
                None,
                where="#blocked",
            )
        return Step(
            s,
            "Finish the draft and submit it for review",
            f"{org} staff",
            None,
            may=_developer(s),
            where="#blocked",
            others=f"another member of {org} staff",
        )
    if s.state == State.INFORMATION_REQUESTED:
        return Step(
            s,
            "Answer the office's information request",
            f"{org} staff",
            due,
            may=_developer(s),
            where="answer_information_request",
            others=f"another member of {org} staff",
        )
    if s.state == State.INTAKE:
        return Step(
            s,
            "Decide on intake: accept, or ask for information",
            "A lead reviewer or an administrator",
            due,
            may=lambda user: rules.may_accept(s, user),
            where="accept",
            others="another lead reviewer or an administrator",
        )
    if s.state in AFTER_DETERMINATION and held:
        # Nothing the developer can do: the release waits for the office to lift the order.
        return Step(
            s,
            "A government order holds the release: it can be recorded once the office lifts the order",
            "The office (administrators)",
            None,
            where="orders",
        )
    if s.state in AFTER_DETERMINATION:
        return Step(s, AFTER_DETERMINATION[s.state], f"{org} staff", None, may=_developer(s), others="")
    if s.state != State.EVALUATION:
        return Step(s, "Nothing: the review is over", "", None)
    lead = next((a.reviewer for a in assigned if a.role == "lead"), None)
    if lead is None:
        return Step(
            s,
            "Assign a lead reviewer",
            "A lead reviewer or an administrator",
            due,
            may=lambda user: rules.may_assign_reviewers(user, s),
            where="#reviewers",
            others="another lead reviewer or an administrator",
        )
    planned, recorded = progress["planned"], progress["recorded"]
    if recorded < planned:
        missing = planned - recorded
        reviewers = {a.reviewer.pk: a.reviewer.get_full_name() or a.reviewer.username for a in assigned}
        return Step(
            s,
            f"Record results: {missing} of {planned} planned benchmark{'s' if planned != 1 else ''} "
            f"{'has' if missing == 1 else 'have'} none yet",
            _people(list(reviewers.values())),
            deadline,
            owner_ids=frozenset(reviewers),
            where="#results",
            names=reviewers,
        )
    lead_name = lead.get_full_name() or lead.username
    if proposal is None:
        return Step(
            s,
            "Issue a determination: clear, or propose a flag",
            lead_name,
            deadline,
            frozenset({lead.pk}),
            where="#blocked",
        )
    what = "flag" if proposal.outcome == "flagged" else "clearance"
    if proposal.concurred_by_id is not None and proposal.concurrence_holds:
        verb = "Flag" if what == "flag" else "Clear"
        return Step(
            s,
            f"{verb}: issue the concurred {what}",
            lead_name,
            deadline,
            frozenset({lead.pk}),
            where="flag" if what == "flag" else "clear",
        )
    # Every piece of evidence, findings and results alike, bounds who may concur.
    found = [c for c in (progress["highest_finding"], progress["highest_result"]) if c is not None]
    highest = max(found) if found else None
    eligible = [
        a.reviewer
        for a in assigned
        if a.reviewer_id != proposal.decided_by_id and (highest is None or a.reviewer.clearance >= highest)
    ]
    if not eligible:
        return Step(
            s,
            f"Assign a second reviewer cleared for every finding, to concur with the proposed {what}",
            lead_name,
            deadline,
            frozenset({lead.pk}),
            where="#reviewers",
        )
    names = {r.pk: r.get_full_name() or r.username for r in eligible}
    return Step(
        s,
        f"Read the proposed {what} and concur if you agree (two-person rule)",
        _people(list(names.values())),
        deadline,
        owner_ids=frozenset(names),
        where="#determination",
        names=names,
    )


def _developer(submission):
    def may(user) -> bool:
        return rules.is_developer_of(user, submission.organization_id) and rules.same_world(
            user, submission.exercise_id
        )

    return may


def next_step(submission) -> Step:
    return steps_for([submission])[0]


def next_step_shown_to(user, submission) -> Step | None:
    """The next step as this person may know it: the office's people see who and what;
    the developer sees that the office has the turn and by when, not its inner workings;
    partners and everyone else see nothing."""
    if rules.may_see_internal_review(user, submission):
        step = next_step(submission)
    elif rules.is_developer_of(user, submission.organization_id) and rules.same_world(user, submission.exercise_id):
        step = next_step(submission)
        if not step.is_for(user) and step.owner:
            office_turn = {
                State.INTAKE: "The office decides whether to accept the submission into evaluation",
                State.EVALUATION: "The office evaluates the model and issues a determination",
            }
            review_clock = getattr(submission, "review_clock", None)
            step = Step(
                submission,
                office_turn.get(submission.state, step.action),
                "the review office",
                step.due_at if submission.state == State.INTAKE else getattr(review_clock, "deadline_at", None),
            )
    else:
        return None
    if not step.owner:
        return None
    step.urgency_now = urgency(step.due_at, clock.now())
    return step


def waiting_on(user, now: dt.datetime | None = None) -> dict:
    """The person's "Waiting on you" list, most urgent first, and how many there are in all.

    Rows without a deadline (a draft) come last. Administrators also find here the breaches
    they have not acknowledged, overdue by definition.
    """
    now = now or clock.now()
    if not user.is_authenticated or not _has_turns(user):
        return {"items": [], "more": False, "applies": False}
    base = ModelSubmission.objects.visible_to(user).select_related("organization")
    candidates = list(
        _with_due(base.filter(_involving(user))).order_by(F("next_due").asc(nulls_last=True), "pk")[: WAITING_ROWS * 2]
    )
    # A row is "for you" when its next step is yours; others in the candidates (the lead's
    # reviews waiting on a reviewer) are left to the "waiting on others" lists.
    items = [step for step in steps_for(candidates, now) if step.is_for(user)]
    if rules.is_administrator(user):
        breaches = rules.scope_breaches(SlaBreach.objects.all(), user).filter(acknowledged_at__isnull=True)
        for breach in breaches.select_related("submission__organization").order_by("due_at")[:WAITING_ROWS]:
            items.append(
                Step(
                    breach.submission,
                    f"Acknowledge the missed deadline: {breach.get_kind_display().lower()}",
                    "Any administrator",
                    breach.due_at,
                    may=lambda user, breach=breach: rules.may_acknowledge_breach(user, breach),
                    kind="breach",
                    breach=breach,
                )
            )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    items.sort(key=lambda step: (step.due_at or far, step.submission.pk))
    for step in items:
        step.urgency_now = urgency(step.due_at, now)
        step.owner_shown = step.owner_for(user)
    return {"items": items[:WAITING_ROWS], "more": len(items) > WAITING_ROWS, "applies": _has_turns(user)}


def _has_turns(user) -> bool:
    """Whether anything in the workflow can be this person's turn (partners' never is)."""
    return rules.is_administrator(user) or has_role(user, Role.DEVELOPER_STAFF, Role.REVIEWER, Role.LEAD_REVIEWER)
