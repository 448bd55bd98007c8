"""Exports built in the background with their progress shown, and downloaded by whoever asked."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse

from accounts.roles import Role
from dashboard import exports, services
from dashboard.models import ExportJob
from submissions.models import SlaBreach, SlaKind, State
from tests.factories import Cast, UserFactory
from tests.partners.test_worker_delivery import wait_for, worker  # noqa: F401 - fixture


def _csv(job):
    with job.file.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode())))


@pytest.mark.django_db
def test_an_administrator_starts_an_export_with_filters_and_downloads_it(cast, client):
    cast.submission(State.INTAKE, model_name="Wanted")
    cast.submission(State.DRAFT, model_name="Not-wanted")
    client.force_login(cast.admin)

    started = client.post(reverse("dashboard:export_start"), {"export": "submissions", "state": "intake"})
    job = ExportJob.objects.get()
    assert started.status_code == 302 and started["Location"] == reverse("dashboard:export", args=[job.pk])
    assert (job.status, job.query, job.requested_by) == ("queued", "state=intake", cast.admin)
    waiting = client.get(started["Location"]).content.decode()
    assert "Waiting for a worker" in waiting and 'hx-trigger="every 1s"' in waiting

    services.export_build(job.pk)  # what the worker does
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done, job.percent) == ("done", 1, 1, 100)
    rows = _csv(job)
    assert rows[0] == exports.SUBMISSIONS_HEADER and [r[2] for r in rows[1:]] == ["Wanted"]

    ready = client.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert ready.lstrip().startswith('<div id="export-progress">')  # the part alone, and no more polling
    assert "hx-trigger" not in ready and "Ready: 1 row" in ready
    download = client.get(reverse("dashboard:export_download", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "text/csv"
    assert b"Wanted" in b"".join(download.streaming_content)
    assert job.get_kind_display() in client.get(reverse("dashboard:reports")).content.decode()


@pytest.mark.django_db
def test_an_export_belongs_to_the_administrator_who_asked(cast, client):
    job = services.export_start(actor=cast.admin, kind="submissions", params={})
    services.export_build(job.pk)
    other_admin = UserFactory(username="admin.two", role=Role.ADMINISTRATOR, organization=cast.office)
    client.force_login(other_admin)
    for name in ("dashboard:export", "dashboard:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_a_bad_filter_is_refused_on_the_page_and_nothing_is_queued(cast, client):
    client.force_login(cast.admin)
    bad = client.post(reverse("dashboard:export_start"), {"export": "breaches", "detected_from": "last tuesday"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Check the filters." in page and "Enter a valid date." in page
    unknown = client.post(reverse("dashboard:export_start"), {"export": "launch-codes"})
    assert unknown.status_code == 400 and "Choose one of the exports on this page." in unknown.content.decode()
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_the_breach_list_exports_what_it_shows(cast, client):
    s = cast.submission(State.INTAKE)
    SlaBreach.objects.create(
        submission=s, kind=SlaKind.INTAKE_DECISION, due_at=s.submitted_at, detected_at=s.submitted_at
    )
    client.force_login(cast.admin)
    page = client.get(reverse("dashboard:breaches"), {"kind": SlaKind.INTAKE_DECISION}).content.decode()
    assert f'<input type="hidden" name="kind" value="{SlaKind.INTAKE_DECISION}">' in page
    client.post(reverse("dashboard:export_start"), {"export": "breaches", "kind": SlaKind.INTAKE_DECISION})
    job = services.export_build(ExportJob.objects.get().pk)
    assert job.query == f"kind={SlaKind.INTAKE_DECISION}" and len(_csv(job)) == 2
    assert job.filters == f"Kind: {SlaKind.INTAKE_DECISION.label}"
    assert job.filters in client.get(reverse("dashboard:export", args=[job.pk])).content.decode()


def test_progress_is_reported_as_rows_are_written():
    """Each time the rows written pass a thousand, whatever the size of the pieces."""
    pieces = [(b"n\r\n", 0)] + [(b"1\r\n" * rows, rows) for rows in (1000, 1000, 500)]
    seen, out = [], io.BytesIO()
    assert exports.write_csv(out, pieces, on_progress=seen.append, every=1000) == 2500
    assert seen == [1000, 2000] and out.getvalue().count(b"\n") == 2501

    uneven = [(b"1\r\n" * rows, rows) for rows in (600, 600, 300, 900)]
    seen = []
    assert exports.write_csv(io.BytesIO(), uneven, on_progress=seen.append, every=1000) == 2400
    assert seen == [1200, 2400]


@pytest.mark.django_db
def test_progress_shows_rows_done_of_the_total(cast, client):
    job = ExportJob.objects.create(
        kind="submissions", requested_by=cast.admin, requested_at=dt.datetime.now(dt.UTC), status="running"
    )
    ExportJob.objects.filter(pk=job.pk).update(rows_total=4000, rows_done=1000)
    client.force_login(cast.admin)
    part = client.get(reverse("dashboard:export", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert '<progress value="25" max="100"' in part and "1000 of 4000 rows (25%)" in part


@pytest.mark.django_db
def test_a_failed_export_says_so_and_a_repeated_message_changes_nothing(cast, client, monkeypatch):
    job = services.export_start(actor=cast.admin, kind="submissions", params={})

    def broken(self, qs, every=1000):
        yield b"id\r\n", 0
        raise OSError("disk full")

    monkeypatch.setattr(exports.ExportKind, "csv", broken)
    services.export_build(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "could not be built (OSError)" in job.error
    client.force_login(cast.admin)
    page = client.get(reverse("dashboard:export", args=[job.pk])).content.decode()
    assert "could not be built" in page and "hx-trigger" not in page
    assert client.get(reverse("dashboard:export_download", args=[job.pk])).status_code == 404

    monkeypatch.undo()
    services.export_build(job.pk)  # a duplicate message for a finished job
    job.refresh_from_db()
    assert job.status == "failed"


@pytest.mark.django_db
def test_exports_are_forgotten_after_a_week(cast):
    with time_machine.travel(dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), tick=False):
        old = services.export_start(actor=cast.admin, kind="submissions", params={})
        services.export_build(old.pk)
    old.refresh_from_db()
    storage, name = old.file.storage, old.file.name
    assert storage.exists(name)
    with time_machine.travel(dt.datetime(2026, 11, 8, 10, tzinfo=dt.UTC), tick=False):
        recent = services.export_start(actor=cast.admin, kind="submissions", params={})
        assert services.exports_purge(dt.datetime.now(dt.UTC)) == 1
    assert not storage.exists(name)
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_builds_the_export_and_the_page_sees_it_finish(worker, client):  # noqa: F811
    cast = Cast()
    for i in range(3):
        cast.submission(State.INTAKE, model_name=f"Worker-{i}")
    client.force_login(cast.admin)
    started = client.post(reverse("dashboard:export_start"), {"export": "submissions"})
    job_id = ExportJob.objects.get().pk
    assert wait_for(lambda: ExportJob.objects.get(pk=job_id).status == "done")
    part = client.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "Ready: 3 rows" in part, part
    assert [r[2] for r in _csv(ExportJob.objects.get(pk=job_id))[1:]] == ["Worker-0", "Worker-1", "Worker-2"]
