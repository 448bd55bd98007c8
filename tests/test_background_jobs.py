"""Exports and capacity scenarios whose queue message is lost are sent again, and run once.

A job is one Celery message. Redis restarted empty loses it (and the job would wait "for a
worker" for ever); two messages for one job (the lost one turning up after all, a redelivery)
must not build it twice at once.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.db import connections

from caisi_portal.celery import app as celery_app
from capacity import services as capacity_services
from capacity.forms import ScenarioForm
from dashboard import services as export_services
from dashboard.models import ExportJob
from tests.capacity.test_pages import form_data
from tests.factories import Cast
from tests.waiting import wait_for

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


def _export(cast):
    return export_services.export_start(actor=cast.admin, kind="submissions", params={})


def _scenario(cast):
    form = ScenarioForm(form_data(headcount_min="1", headcount_max="1", replications="2"))
    assert form.is_valid(), form.errors
    return capacity_services.scenario_create(actor=cast.admin, name="Lost message", inputs=form.inputs())


JOBS = {
    # kind: (start one, run one as the worker does, the sweep, how long a run may last)
    "export": (_export, export_services.export_build, export_services.exports_requeue_stalled, 10),
    "scenario": (_scenario, capacity_services.scenario_run, capacity_services.scenarios_requeue_stalled, 20),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", JOBS)
def test_a_job_waiting_longer_than_a_run_may_last_is_sent_again_once_per_interval(
    kind, cast, django_capture_on_commit_callbacks
):
    start, run, sweep, limit = JOBS[kind]
    with time_machine.travel(T0, tick=False):
        job = start(cast)
    model = type(job)
    for minutes, sent in ((limit - 1, []), (limit + 1, [job.pk]), (limit + 2, []), (2 * limit + 2, [job.pk])):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            assert sweep(T0 + dt.timedelta(minutes=minutes)) == sent, minutes
        assert len(queued) == len(sent)
    assert model.objects.get(pk=job.pk).queued_at == T0 + dt.timedelta(minutes=2 * limit + 2)

    with time_machine.travel(T0 + dt.timedelta(minutes=2 * limit + 3), tick=False):
        run(job.pk)
    assert model.objects.get(pk=job.pk).status == "done"
    assert sweep(T0 + dt.timedelta(days=1)) == []  # a finished job is never sent again


@pytest.mark.django_db
@pytest.mark.parametrize("kind", JOBS)
def test_a_second_message_for_a_job_being_run_does_nothing_until_its_worker_is_gone(kind, cast):
    start, run, sweep, limit = JOBS[kind]
    with time_machine.travel(T0, tick=False):
        job = start(cast)
    model = type(job)
    # A worker took it and is still working (or died: nobody can tell yet).
    model.objects.filter(pk=job.pk).update(status="running", started_at=T0 + dt.timedelta(minutes=1))
    with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
        run(job.pk)  # the lost message turns up after all
    assert model.objects.get(pk=job.pk).status == "running"
    assert sweep(T0 + dt.timedelta(minutes=limit)) == []  # running, not yet longer than a run may last

    # Its worker was killed and Redis lost the unacknowledged message: the sweep sends it again
    # and the next worker takes it over.
    assert sweep(T0 + dt.timedelta(minutes=limit + 2)) == [job.pk]
    with time_machine.travel(T0 + dt.timedelta(minutes=limit + 3), tick=False):
        run(job.pk)
    done = model.objects.get(pk=job.pk)
    assert done.status == "done" and done.started_at == T0 + dt.timedelta(minutes=limit + 3)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_export_whose_message_redis_lost_is_built_by_the_worker_after_the_sweep():
    cast = Cast()
    job = _export(cast)  # committed: its message is in Redis
    celery_app.control.purge()  # Redis restarted empty: the message is gone
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert not wait_for(lambda: ExportJob.objects.get(pk=job.pk).status != "queued", timeout=2)
        later = job.queued_at + export_services.BUILD_LIMIT + dt.timedelta(minutes=1)
        assert export_services.exports_requeue_stalled(later) == [job.pk]
        assert wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == "done")
    connections.close_all()
