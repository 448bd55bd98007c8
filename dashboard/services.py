"""Exports as background jobs: start one, build it (the worker), forget old ones."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlencode

from django.core.files import File
from django.db import DatabaseError, connections, transaction
from django.http import QueryDict

from accounts import rules
from caisi_portal import background_jobs, clock
from caisi_portal.errors import NotPermitted, ValidationFailed

from . import exports
from .models import ExportJob

log = logging.getLogger(__name__)

KEEP_EXPORTS = dt.timedelta(days=7)
# Longer than the portal's task time limit (settings): an export "building" for longer has lost
# its worker, and one queued for longer has lost its message.
BUILD_LIMIT = dt.timedelta(minutes=10)
MSG_UNKNOWN_EXPORT = "Choose one of the exports on this page."


def export_start(*, actor, kind: str, params) -> ExportJob:
    """Queue an export with these filters; the worker builds it and the page shows its progress."""
    if not rules.may_export(actor):
        raise NotPermitted("Only the office's administrators export its records.")
    if kind not in ExportJob.Kind.values:
        raise ValidationFailed(MSG_UNKNOWN_EXPORT)
    chosen = exports.kind(kind).filtered(params, actor)
    if chosen.is_bound and not chosen.is_valid():
        raise ValidationFailed("Check the filters.", details=chosen.errors)
    query = urlencode([(name, params[name]) for name in chosen.form.fields if params.get(name)])
    now = clock.now()
    job = ExportJob.objects.create(
        kind=kind,
        query=query,
        filters=exports.kind(kind).describe(query, actor),
        requested_by=actor,
        requested_at=now,
        queued_at=now,
    )

    from .tasks import build_export

    transaction.on_commit(lambda: build_export.delay(str(job.pk)))
    return job


def export_build(job_id) -> ExportJob | None:
    """Write the job's CSV, reporting progress every 1,000 rows.

    A job redelivered after its worker died starts again from the first row; a message for a
    job finished, or being built by another worker, does nothing.
    """
    job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or job.finished:
        return job
    jobs = ExportJob.objects.filter(pk=job.pk)
    if not background_jobs.job_claim(jobs, now=clock.now(), stale_after=BUILD_LIMIT, rows_done=0, error=""):
        return job
    try:
        spec = exports.kind(job.kind)
        rows = spec.filtered(QueryDict(job.query), job.requested_by).qs
        total = rows.count()
        jobs.update(rows_total=total)
        with tempfile.TemporaryFile("w+b") as raw, _progress(jobs) as on_progress:
            written = exports.write_csv(raw, spec.csv(rows), on_progress=on_progress)
            raw.seek(0)
            job.file.save(job.filename, File(raw), save=False)
    except Exception as exc:
        log.exception("export %s failed", job.pk)
        jobs.update(
            status=ExportJob.Status.FAILED,
            finished_at=clock.now(),
            error=f"The export could not be built ({exc.__class__.__name__}). Start it again; if it fails again, "
            "tell the portal's operators.",
        )
    else:
        jobs.update(
            status=ExportJob.Status.DONE,
            file=job.file.name,
            rows_done=written,
            rows_total=max(total, written),
            finished_at=clock.now(),
        )
    job.refresh_from_db()
    return job


@contextmanager
def _progress(jobs):
    """How a running export records the rows it has written."""
    if not exports.uses_copy(jobs.db):
        yield lambda n: jobs.update(rows_done=n)
        return
    if connections[jobs.db].in_atomic_block:
        # Inside a transaction (a test's), another connection would find the job's row unseen or
        # locked, and wait: the job records its rows at the end only.
        yield None
        return
    # The job's connection streams the COPY until its last row and can run nothing else
    # meanwhile: progress goes through a thread with a connection of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-progress") as reporter:
        try:
            yield lambda n: reporter.submit(_progress_record, jobs, n)
        finally:
            reporter.submit(connections.close_all)  # the reporter thread's own connection


def _progress_record(jobs, n):
    try:
        jobs.update(rows_done=n)
    except DatabaseError:
        # Progress is for the page's bar; the job goes on and records its total at the end.
        log.warning("export progress not recorded", exc_info=True)


def exports_requeue_stalled(now: dt.datetime) -> list:
    """Send again the exports whose message was lost (the sweep, every few minutes)."""
    from .tasks import build_export

    return background_jobs.jobs_requeue_stalled(
        ExportJob, now=now, stale_after=BUILD_LIMIT, send=lambda pk: build_export.delay(str(pk))
    )


def exports_purge(now: dt.datetime) -> int:
    """Delete exports (and their files) older than a week: they are copies, not records."""
    old = list(ExportJob.objects.filter(requested_at__lt=now - KEEP_EXPORTS))
    for job in old:
        if job.file:
            job.file.delete(save=False)
    ExportJob.objects.filter(pk__in=[j.pk for j in old]).delete()
    return len(old)
