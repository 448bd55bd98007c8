"""Celery entry points for the review clock. Thin: they call review_clock."""

from celery import shared_task

from . import review_clock


@shared_task(acks_late=True, ignore_result=True)
def sweep_review_clocks() -> dict:
    """Every minute (beat): act on every due expiry, warning, breach and notification."""
    return review_clock.sweep().as_dict()


@shared_task(acks_late=True, ignore_result=True)
def expire_review_clock(clock_id: int) -> bool:
    """At a deadline (eta): expire that clock now rather than at the next sweep."""
    return review_clock.expire_clock(clock_id)
