from django.contrib.auth.models import AbstractUser
from django.db import models


class Clearance(models.IntegerChoices):
    """Simulated classification levels, ordered so that "at or below" is a comparison."""

    UNCLASSIFIED = 0, "UNCLASSIFIED"
    CUI = 1, "CUI"
    SECRET = 2, "SECRET"


class CalendarFeedToken(models.Model):
    """A private, revocable link to a person's review-deadline calendar (.ics).

    Only a hash is stored: the link is shown once, when made. Making a new one revokes
    the old.
    """

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="calendar_token")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self):
        return f"Calendar link of {self.user}"


class User(AbstractUser):
    """A person using the portal. Roles are Django groups (see accounts.roles)."""

    organization = models.ForeignKey(
        "submissions.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text="The developer, trusted partner or review office this person works for.",
    )
    clearance = models.IntegerField(choices=Clearance.choices, default=Clearance.UNCLASSIFIED)
    is_simulated = models.BooleanField(default=False, help_text="Created by a seed: not a real person.")
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="Where dates and times are shown for this person (IANA name); empty: UTC."
    )
    # A player's account inside one training exercise: it sees that exercise and nothing live.
    exercise = models.ForeignKey(
        "exercises.Exercise",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="players",
        help_text="The training exercise this belongs to; empty for live data.",
    )
    # Sign-in-sheet passwords are printed and handed round: they stop working at this time.
    password_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When this account's password stops working; empty: never (live accounts)."
    )

    def __str__(self):
        return self.get_full_name() or self.username
