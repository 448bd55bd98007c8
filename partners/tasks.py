from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def deliver_notifications(delivery_ids: list[str]) -> int:
    """One attempt at each delivery of a batch (a fan-out sends many batches in parallel)."""
    return len(services.deliveries_attempt(delivery_ids))


@shared_task(acks_late=True, ignore_result=True)
def dispatch_notifications(event_ids: list[str]) -> int:
    """A large fan-out: queue its batches here, not in the request that caused it."""
    return services.notifications_dispatch(event_ids)


@shared_task(acks_late=True, ignore_result=True)
def deliver_notification(delivery_id: str) -> str:
    """One attempt at one delivery; retries are scheduled in the row, not in Celery."""
    return services.delivery_attempt(delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def send_digests() -> int:
    """Every digest that is due, one per reader (beat, every minute)."""
    from . import digests

    return len(digests.digests_send())


@shared_task(acks_late=True, ignore_result=True)
def send_partner_backlog(partner_id: int) -> int:
    """A resumed partner's waiting webhooks, one at a time, oldest first."""
    from . import self_service

    return self_service.partner_backlog_send(partner_id)
