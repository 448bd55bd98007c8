"""Moved time for review-clock tests: one start, and the sweep at a moment (the `traveller`
fixture, time frozen at START, is in tests/conftest.py)."""

import datetime as dt

from submissions import review_clock
from submissions.models import ReviewClock

START = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def clock_of(submission) -> ReviewClock:
    return ReviewClock.objects.get(submission=submission)


def sweep_at(traveller, when):
    traveller.move_to(when)
    return review_clock.sweep()


def told(submission, event_type) -> list[str]:
    """Who was written to about this event, by username."""
    from partners.models import Delivery

    return sorted(
        Delivery.objects.filter(event__submission=submission, event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )
