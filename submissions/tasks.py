"""Celery entry points for the review clock. Thin: they call review_clock."""

from celery import shared_task

from . import review_clock


@shared_task(acks_late=True, ignore_result=True)
def sweep_review_clocks() -> dict:
    """Every minute (beat): act on every due expiry, warning, breach and notification."""
    report = review_clock.sweep_run()
    if report.batch_full:
        # More is due than one run takes: carry on now rather than in a minute.
        sweep_review_clocks.delay()
    return report.as_dict()


@shared_task(acks_late=True, ignore_result=True)
def expire_review_clock(clock_id: int) -> bool:
    """At a deadline (eta): expire that clock now rather than at the next sweep."""
    return review_clock.expire_clock(clock_id)


@shared_task(acks_late=True, ignore_result=True)
def audit_checkpoint() -> int:
    """Daily (beat): seal and publish the audit chain's head."""
    from .audit_chain import checkpoint_take

    return checkpoint_take().pk


@shared_task(acks_late=True, ignore_result=True)
def audit_verify() -> str | None:
    """Hourly (beat): verify the chains against the checkpoints; administrators are told once."""
    from .audit_chain import integrity_check_and_alert

    return integrity_check_and_alert()
