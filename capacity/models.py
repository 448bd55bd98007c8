"""Saved capacity scenarios: what an administrator asked, and what the simulation answered."""

from django.conf import settings
from django.db import models

from caisi_portal import progress


class ScenarioQuerySet(models.QuerySet):
    def visible_to(self, user):
        from accounts import rules

        return rules.scope_capacity_scenarios(self, user)


class Scenario(models.Model):
    """One question to the planner ("with these arrivals and these reviewers, how many
    breaches?") and its answer, kept so that scenarios can be compared side by side."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Simulating"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=120)
    # The form's cleaned values (services.scenario_inputs reads them): arrivals, plans, work
    # times, information requests, clearances, headcounts, leave, replications, target.
    inputs = models.JSONField(default=dict)
    # The SLA policy the run used, as it stood: a later change of policy leaves this answer as it was.
    policy = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # When its message was last sent (caisi_portal.background_jobs: a lost one is sent again).
    queued_at = models.DateTimeField(null=True, blank=True)
    runs_total = models.PositiveIntegerField(default=0)
    runs_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = ScenarioQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["-created_at"], name="capacity_scenario_recent")]

    def __str__(self):
        return self.name

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return progress.percent(self.runs_done, self.runs_total, complete=self.status == self.Status.DONE)
