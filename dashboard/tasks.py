from celery import shared_task

from caisi_portal import clock

from . import services


@shared_task(acks_late=True, ignore_result=True)
def build_export(job_id: str) -> None:
    """Build one export job (queued when an administrator asks for it)."""
    services.export_build(job_id)


@shared_task(acks_late=True, ignore_result=True)
def purge_old_exports() -> int:
    """Hourly (beat): forget exports older than a week."""
    return services.exports_purge(clock.now())


@shared_task(acks_late=True, ignore_result=True)
def requeue_stalled_exports() -> int:
    """Every five minutes (beat): send again the exports whose message was lost."""
    return len(services.exports_requeue_stalled(clock.now()))
