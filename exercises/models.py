"""Training exercises: a sandbox of the live workflow on its own simulated clock.

An exercise owns its organizations, player accounts, submissions and notifications
(each carries an `exercise` foreign key; live rows have none), so the same services,
rules and sweep run it, and nothing of it mixes with live data. Its clock maps wall time
to simulated time: `sim_anchor` was the simulated time at `wall_anchor`, and while running
simulated time advances `speed` times faster than wall time.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Exercise(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready to start"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=200)
    scenario_slug = models.SlugField(max_length=80)
    scenario = models.JSONField(help_text="The scenario as loaded, kept for the after-action report.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    sim_start = models.DateTimeField(help_text="Simulated time at the start of day 0.")
    sim_anchor = models.DateTimeField()
    wall_anchor = models.DateTimeField(null=True, blank=True)
    speed = models.FloatField(default=60.0)
    duration_days = models.PositiveIntegerField(default=32)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    sim_ended_at = models.DateTimeField(null=True, blank=True)
    # The start form's one-time token: the same form sent again (a refresh of the sign-in
    # sheet, a double click) finds this exercise instead of building a second one.
    start_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status"], condition=Q(status="running"), name="exercise_running")]

    def __str__(self):
        return f"{self.name} (exercise {self.pk})"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("exercises:console", args=[self.pk])

    def simulated_now(self, wall: dt.datetime | None = None) -> dt.datetime:
        """Simulated time now. Wall time is real time here on purpose: it drives the clock."""
        if self.status != self.Status.RUNNING or self.wall_anchor is None:
            return self.sim_anchor
        wall = wall or timezone.now()
        return self.sim_anchor + (wall - self.wall_anchor) * self.speed

    def sim_end(self) -> dt.datetime:
        return self.sim_start + dt.timedelta(days=self.duration_days)

    def day_and_hour(self, at: dt.datetime) -> str:
        elapsed = at - self.sim_start
        days, rest = divmod(elapsed.total_seconds(), 86400)
        return f"day {int(days)}, {int(rest // 3600):02d}:{int(rest % 3600 // 60):02d}"


class Objective(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="objectives")
    key = models.SlugField(max_length=80)
    text = models.TextField()

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["exercise", "key"], name="objective_key_once")]

    def __str__(self):
        return self.text


class Participant(models.Model):
    """Controllers and evaluators are live accounts; players are the exercise's own accounts."""

    class Role(models.TextChoices):
        CONTROLLER = "controller", "Controller"
        EVALUATOR = "evaluator", "Evaluator"
        PLAYER = "player", "Player"

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exercise_roles")
    role = models.CharField(max_length=12, choices=Role.choices)
    plays = models.CharField(max_length=200, blank=True, help_text="Who a player plays, as the scenario says.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exercise", "user"], name="participant_once")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


class Inject(models.Model):
    """One line of the Master Scenario Events List (MSEL)."""

    class Delivery(models.TextChoices):
        PORTAL = "portal", "Portal message"
        EMAIL = "email", "Email"

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="injects")
    number = models.PositiveIntegerField()
    due_at = models.DateTimeField(help_text="Simulated time it fires.")
    sender = models.CharField(max_length=200, help_text="Who sends it, as played.")
    recipients = models.CharField(max_length=200, help_text="A role name or a player's username.")
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    subject = models.CharField(max_length=200)
    content = models.TextField()
    expected_action = models.TextField()
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="injects")
    action = models.JSONField(default=dict, blank=True, help_text="What the scenario itself does when it fires.")
    fired_at = models.DateTimeField(null=True, blank=True, help_text="Simulated time it fired.")
    fired_at_wall = models.DateTimeField(null=True, blank=True)
    fired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["exercise", "number"], name="inject_number_once")]
        indexes = [models.Index(fields=["exercise", "due_at"], condition=Q(fired_at__isnull=True), name="inject_due")]

    def __str__(self):
        return f"Inject {self.number}: {self.subject}"

    @property
    def recipients_label(self) -> str:
        """Who it goes to, as people say it: a role's name ("Lead reviewer"), or the player."""
        from accounts.roles import Role

        return Role(self.recipients).label if self.recipients in Role.values else self.recipients


class Message(models.Model):
    """What an inject put in a player's portal inbox (and, by email, their mailbox)."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="messages")
    inject = models.ForeignKey(Inject, on_delete=models.CASCADE, related_name="messages")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exercise_messages")
    sent_at = models.DateTimeField(help_text="Simulated time.")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["inject", "recipient"], name="message_once")]

    def __str__(self):
        return f"{self.inject} to {self.recipient}"


class Observation(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="observations")
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="observations")
    evaluator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    met = models.BooleanField(null=True, help_text="Whether the objective was met, as far as this shows.")
    sim_at = models.DateTimeField()
    wall_at = models.DateTimeField()

    class Meta:
        ordering = ["sim_at", "pk"]

    def __str__(self):
        return self.text[:80]


class ImprovementItem(models.Model):
    """A row of the improvement plan: issue, corrective action, owner, due date."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="improvements")
    objective = models.ForeignKey(Objective, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    issue = models.TextField()
    corrective_action = models.TextField()
    owner = models.CharField(max_length=200)
    due_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self):
        return self.issue[:80]
