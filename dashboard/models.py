"""Exports built in the background, so a large one shows its progress instead of a stalled page."""

import uuid

from django.conf import settings
from django.db import models

from caisi_portal import progress


def export_upload_to(instance, filename):
    return f"exports/{instance.pk}/{filename}"


class ExportJob(models.Model):
    class Kind(models.TextChoices):
        SUBMISSIONS = "submissions", "Submissions"
        DETERMINATIONS = "determinations", "Determinations"
        BREACHES = "breaches", "SLA breaches"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The filters as a query string: the same filters the direct CSV links take.
    query = models.TextField(blank=True)
    # The same filters in words, as they read when the export was asked for.
    filters = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # When its message was last sent, and when a worker took it (caisi_portal.background_jobs:
    # a lost message is sent again, a second one for a job being built does nothing).
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_upload_to, blank=True, max_length=300)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["requested_by", "-requested_at"], name="export_owner_recent")]

    def __str__(self):
        return f"{self.get_kind_display()} export {self.requested_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return progress.percent(self.rows_done, self.rows_total, complete=self.status == self.Status.DONE)

    @property
    def filename(self) -> str:
        from .exports import kind

        stem = kind(self.kind).filename.removesuffix(".csv")  # as the direct link names it
        return f"{stem}-{self.requested_at:%Y%m%d-%H%M}.csv"
