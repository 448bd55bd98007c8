from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def tick_exercises() -> dict:
    """Every few seconds (beat): each running exercise's injects and clocks, on its own time."""
    return {pk: report.fired for pk, report in services.tick_running_exercises().items()}
