"""The release gate: what a lab's pipeline asks before it ships a model.

The framework is voluntary and imposes no preclearance, so the answer is advisory: it reports
where the review stands, in four words a pipeline can act on, and the lab's own release policy
decides. The answer is read from the caller's own scope (accounts.rules.scope_submissions): a
model the caller may not see is "unknown", exactly as one never submitted, so the gate tells
nobody about another lab's work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import models

from accounts import rules
from caisi_portal import clock, timefmt
from reviews.models import Determination

from .models import AccessRemovalOrder, ModelSubmission, ReleaseChannel, ReviewClock, State
from .review_clock import describe_remaining

ADVISORY = (
    "Advisory only: the review agreements are voluntary and impose no preclearance. This answer "
    "reports where the review stands; your own release policy decides what to do with it."
)


class Answer(models.TextChoices):
    PERMITTED = "permitted", "Release permitted"
    NOT_YET = "not_yet", "Not yet: under review"
    BLOCKED = "blocked", "Blocked"
    UNKNOWN = "unknown", "Unknown: never submitted"


# Which answer each state gives (a released model looks at its determination, and a government
# order in force blocks whatever the state: a hold before release, or access removed; below).
STATE_ANSWERS = {
    State.INTAKE: Answer.NOT_YET,
    State.INFORMATION_REQUESTED: Answer.NOT_YET,
    State.EVALUATION: Answer.NOT_YET,
    State.CLEARED: Answer.PERMITTED,
    State.WINDOW_ELAPSED: Answer.PERMITTED,
    State.RELEASED: Answer.PERMITTED,
    State.FLAGGED: Answer.BLOCKED,
    State.ACCESS_REMOVED: Answer.BLOCKED,
    State.WITHDRAWN: Answer.UNKNOWN,
    State.DRAFT: Answer.UNKNOWN,
}


class AmbiguousModel(Exception):
    """Several organizations in the caller's scope have a model of this name and version."""

    def __init__(self, organizations: list[str]):
        self.organizations = organizations
        super().__init__(
            "Several organizations have a model of this name and version: give `organization` "
            f"(one of {', '.join(organizations)})."
        )


@dataclass
class GateAnswer:
    answer: Answer
    reason: str
    model: str
    version: str
    channel: str
    submission: ModelSubmission | None = None
    deadline_at: dt.datetime | None = None
    determination: Determination | None = None
    checked_at: dt.datetime = field(default_factory=clock.now)
    advisory: str = ADVISORY

    @property
    def permitted(self) -> bool:
        return self.answer == Answer.PERMITTED


def release_gate(user, *, model: str, version: str, channel: str, organization: str = "") -> GateAnswer:
    """The gate's answer for one model, version and release channel, as `user` may know it."""
    channel_label = ReleaseChannel(channel).label
    candidates = rules.scope_submissions(ModelSubmission.objects.all(), user).filter(
        model_name__iexact=model.strip(), model_version__iexact=version.strip()
    )
    if organization:
        candidates = candidates.filter(organization__slug=organization)
    candidates = list(
        candidates.select_related("organization", "review_clock").order_by("-submitted_at", "-created_at", "-pk")
    )
    organizations = sorted({s.organization.slug for s in candidates})
    if len(organizations) > 1:
        raise AmbiguousModel(organizations)

    def answer(kind, reason, submission=None, **more):
        return GateAnswer(kind, reason, model, version, channel, submission=submission, **more)

    on_channel = [s for s in candidates if s.release_channel == channel]
    filed = [s for s in on_channel if s.state not in (State.DRAFT, State.WITHDRAWN)]
    if filed:
        return _answer_for(filed[0], answer)
    if any(s.state == State.WITHDRAWN for s in on_channel):
        withdrawn = next(s for s in on_channel if s.state == State.WITHDRAWN)
        return answer(
            Answer.UNKNOWN,
            f"{_name(withdrawn)} was withdrawn before a determination: submit it again for review.",
            withdrawn,
        )
    if on_channel:
        return answer(
            Answer.UNKNOWN,
            f"{_name(on_channel[0])} is a draft that was never submitted for review.",
            on_channel[0],
        )
    elsewhere = sorted({s.get_release_channel_display() for s in candidates})
    if elsewhere:
        return answer(
            Answer.UNKNOWN,
            f"{model} {version} was filed for release as {' and '.join(elsewhere)} only; "
            f"a release as {channel_label} was never submitted for review.",
        )
    return answer(Answer.UNKNOWN, f"No review of {model} {version} for release as {channel_label} is on record.")


def _name(submission) -> str:
    return f"{submission.model_name} {submission.model_version}"


def _answer_for(submission: ModelSubmission, answer) -> GateAnswer:
    now = clock.now()
    determination = Determination.objects.filter(submission=submission, issued_at__isnull=False).first()
    kind = STATE_ANSWERS[submission.state]
    name = _name(submission)
    if submission.state == State.RELEASED and determination and determination.outcome == Determination.Outcome.FLAGGED:
        # Released over a flag: the review's answer stays the flag.
        kind = Answer.BLOCKED
    on = timefmt.day
    order = AccessRemovalOrder.objects.filter(submission=submission, lifted_at__isnull=True).first()
    if order is not None:
        # In force until the office records it lifted; then the state's own answer again.
        kind = Answer.BLOCKED
    if submission.state == State.ACCESS_REMOVED:
        cited = f" {order.reference} ({order.authority}, {on(order.issued_on)})" if order else ""
        reason = (
            f"Access to {name} was removed by government order{cited}, recorded {on(submission.access_removed_at)}."
        )
    elif order is not None:
        reason = (
            f"Government order {order.reference} ({order.authority}, {on(order.issued_on)}) holds the release "
            f"of {name} until the office records that it is lifted."
        )
    elif kind == Answer.BLOCKED:
        reason = (
            f"The office flagged {name} on {on(determination.issued_at)}." if determination else f"{name} is flagged."
        )
        if submission.state == State.RELEASED:
            reason += " It was released all the same."
    elif kind == Answer.NOT_YET:
        return _under_review(submission, answer, now)
    elif determination:
        reason = f"The office cleared {name} on {on(determination.issued_at)}."
        if determination.release_conditions:
            reason += " Release conditions apply: see release_conditions."
    else:
        ended = getattr(submission, "review_clock", None)
        when = f" on {on(ended.deadline_at)}" if ended else ""
        reason = (
            f"The review window of {name} ended{when} without a determination: "
            "under the agreement, release may go ahead."
        )
    return answer(kind, reason, submission, determination=determination)


def _under_review(submission, answer, now) -> GateAnswer:
    name = _name(submission)
    try:
        review_clock = submission.review_clock
    except ReviewClock.DoesNotExist:
        review_clock = None
    if review_clock is None:
        reason = f"{name} waits for the office to accept it; the review window starts at acceptance."
        return answer(Answer.NOT_YET, reason, submission)
    remaining = describe_remaining(review_clock, now)
    if review_clock.status != ReviewClock.Status.RUNNING:
        # A paused window's end moves with the answer: no deadline to promise yet.
        reason = (
            f"The office asked for information about {name}; "
            f"the review clock restarts when it is answered ({remaining})."
        )
        return answer(Answer.NOT_YET, reason, submission)
    reason = f"{name} is under review: {remaining}."
    return answer(Answer.NOT_YET, reason, submission, deadline_at=review_clock.deadline_at)
