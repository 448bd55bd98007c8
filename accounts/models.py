from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator
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


class DigestCadence(models.TextChoices):
    """How often a person (or a partner's email addresses) is emailed about non-urgent events."""

    IMMEDIATE = "immediate", "Immediately, one email per event"
    DAILY = "daily", "A daily digest"
    WEEKLY = "weekly", "A weekly digest"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


HOUR = [MaxValueValidator(23)]


class NotificationPreference(models.Model):
    """When a person is emailed: at once, or in one daily or weekly digest, and never in their
    quiet hours. Hours are on the clock of the person's own time zone (User.time_zone).

    A person without a row is emailed at once, at any hour (the portal's behaviour before digests).
    """

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="notification_preference")
    cadence = models.CharField(max_length=10, choices=DigestCadence.choices, default=DigestCadence.IMMEDIATE)
    digest_hour = models.PositiveSmallIntegerField(default=8, validators=HOUR)
    digest_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    # No email starts from quiet_start:00 until quiet_end:00 (across midnight when start > end).
    quiet_start = models.PositiveSmallIntegerField(null=True, blank=True, validators=HOUR)
    quiet_end = models.PositiveSmallIntegerField(null=True, blank=True, validators=HOUR)

    def __str__(self):
        return f"Notification preference of {self.user}"
