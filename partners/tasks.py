from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def deliver_notification(delivery_id: str) -> str:
    """One attempt at one delivery; retries are scheduled in the row, not in Celery."""
    return services.delivery_attempt(delivery_id)
