"""Jobs run by the worker whose page shows their progress (exports, capacity scenarios).

Each is queued as one Celery message. A message can be lost (Redis restarted empty before a
worker took it, or a worker killed after taking it and Redis restarted before redelivery): the
job would wait "for a worker" for ever. The sweep below sends such a job again; the claim makes
any number of messages for one job run it once at a time.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

QUEUED, RUNNING = "queued", "running"
# Stalled jobs sent again per sweep: a backlog is worked through over several sweeps.
REQUEUE_BATCH = 100


def job_claim(rows, *, now: dt.datetime, stale_after: dt.timedelta, **fields) -> bool:
    """Take the job (a one-row queryset) for this worker: a queued job, or a running one started
    longer ago than any run may last (its worker died). A second message for a job another
    worker is running does nothing. `fields` are set with the claim."""
    takeable = Q(status=QUEUED) | Q(status=RUNNING, started_at__lt=now - stale_after)
    return bool(rows.filter(takeable).update(status=RUNNING, started_at=now, **fields))


def jobs_requeue_stalled(model, *, now: dt.datetime, stale_after: dt.timedelta, send) -> list:
    """Send again every job of `model` queued (or last sent again) longer than `stale_after` ago
    and not taken, or taken by a worker silent for longer than a run may last. `send(pk)` queues
    the job's message, after this transaction commits."""
    cutoff = now - stale_after
    stalled = model.objects.filter(
        Q(status=QUEUED) | Q(status=RUNNING, started_at__lt=cutoff), queued_at__lt=cutoff
    ).order_by("queued_at")
    with transaction.atomic():
        ids = list(stalled.select_for_update(skip_locked=True).values_list("pk", flat=True)[:REQUEUE_BATCH])
        model.objects.filter(pk__in=ids).update(queued_at=now)
        for pk in ids:
            transaction.on_commit(lambda pk=pk: send(pk))
    return ids
