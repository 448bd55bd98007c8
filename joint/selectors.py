"""What the joint-review pages read, scoped by who is asking (accounts.rules)."""

from __future__ import annotations

from django.db.models import F

from accounts import rules
from submissions.models import ModelSubmission
from submissions.selectors import with_clocks

from .models import DataSharingArrangement, JointReviewInvitation


def invitations_of(submission, user) -> list[JointReviewInvitation]:
    """A review's invitations, as this person may see them (the office's own page section)."""
    return list(
        JointReviewInvitation.objects.visible_to(user)
        .filter(submission=submission)
        .select_related("institute", "arrangement", "invited_by", "responded_by")
    )


def arrangements_in_force(user) -> list[DataSharingArrangement]:
    """The arrangements the invite page shows beside the institutes (their caps)."""
    return [
        a
        for a in DataSharingArrangement.objects.filter(status=DataSharingArrangement.Status.ACTIVE)
        .filter(institute__in=rules.scope_allied_institutes(_organizations(), user))
        .select_related("institute")
        if a.in_force_on(_today())
    ]


def _organizations():
    from submissions.models import Organization

    return Organization.objects.all()


def _today():
    from caisi_portal import clock

    return clock.now().date()


def institute_queue(user) -> dict:
    """An institute reviewer's page: what waits for their answer, the joint reviews they work on
    (soonest deadline first, with their clocks) and their institute's arrangements. A fixed
    number of queries however long the lists."""
    pending = list(
        JointReviewInvitation.objects.visible_to(user)
        .filter(status=JointReviewInvitation.Status.PENDING)
        .select_related("submission__organization", "arrangement", "invited_by")
    )
    reviews = with_clocks(
        ModelSubmission.objects.visible_to(user)
        .select_related("organization", "review_clock")
        .order_by(F("review_clock__deadline_at").asc(nulls_last=True), "-pk")[:100]
    )
    arrangements = list(
        rules.scope_arrangements(DataSharingArrangement.objects.all(), user).select_related("institute")
    )
    today = _today()
    for a in arrangements:
        a.in_force = a.in_force_on(today)
    return {"pending": pending, "reviews": reviews, "arrangements": arrangements}
