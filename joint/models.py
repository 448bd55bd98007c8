"""Joint reviews with allied institutes: the data-sharing arrangement that caps what an
institute's staff may see, and the invitation that brings an institute into one review.

Who may see and do what is decided in accounts.rules (scope_joint_invitations,
may_invite_institute, ...); what changes these rows is joint.services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts import rules
from accounts.models import Clearance
from caisi_portal.text import validate_single_line


class DataSharingArrangement(models.Model):
    """What the office and one allied institute agreed to share: up to a classification cap.

    An institute's staff see, on the reviews their institute joined, only evidence at or below
    this cap and their own clearance (the stricter). An ended arrangement stops all access.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    institute = models.ForeignKey(
        "submissions.Organization",
        on_delete=models.PROTECT,
        related_name="sharing_arrangements",
        limit_choices_to={"kind": "allied_institute"},
    )
    reference = models.CharField(max_length=120, validators=[validate_single_line])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    classification_cap = models.IntegerField(
        choices=Clearance.choices,
        default=Clearance.UNCLASSIFIED,
        help_text="The highest classification the institute's staff may see under this arrangement.",
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="When it ended (or ends); empty: open-ended.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    end_reason = models.CharField(max_length=500, blank=True, validators=[validate_single_line])

    class Meta:
        ordering = ["institute__name", "-starts_on", "-pk"]
        constraints = [
            # One arrangement in force per institute: which cap applies is never ambiguous.
            models.UniqueConstraint(
                fields=["institute"], condition=Q(status="active"), name="one_active_arrangement_per_institute"
            ),
        ]

    def __str__(self):
        return f"{self.reference} with {self.institute} (up to {self.get_classification_cap_display()})"

    def in_force_on(self, day) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
        )


class JointReviewInvitationQuerySet(models.QuerySet):
    def visible_to(self, user):
        return rules.scope_joint_invitations(self, user)


class JointReviewInvitation(models.Model):
    """The office invites an allied institute to one review, under its arrangement."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the institute"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn by the office"

    submission = models.ForeignKey(
        "submissions.ModelSubmission", on_delete=models.CASCADE, related_name="joint_invitations"
    )
    institute = models.ForeignKey("submissions.Organization", on_delete=models.PROTECT, related_name="+")
    arrangement = models.ForeignKey(DataSharingArrangement, on_delete=models.PROTECT, related_name="invitations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.TextField(blank=True, help_text="What the office asks of the institute.")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField()
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = JointReviewInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-invited_at", "-pk"]
        permissions = [("respond_jointreviewinvitation", "Can accept or decline a joint review invitation")]
        constraints = [
            # An institute is invited to a review once at a time (declined or withdrawn: again).
            models.UniqueConstraint(
                fields=["submission", "institute"],
                condition=Q(status__in=["pending", "accepted"]),
                name="one_open_invitation_per_institute",
            ),
        ]

    def __str__(self):
        return f"{self.institute} invited to {self.submission}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("joint:invitation", args=[self.pk])
