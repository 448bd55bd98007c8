"""The one clock every domain decision asks.

It answers wall time, unless the current work runs under a simulated clock (a training
exercise), in which case it answers that clock's time. Tests move wall time with
time-machine; nothing in the domain calls ``timezone.now()`` directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Iterator

from django.utils import timezone

_simulated: contextvars.ContextVar[Callable[[], dt.datetime] | None] = contextvars.ContextVar(
    "caisi_simulated_clock", default=None
)


def now() -> dt.datetime:
    """The current instant for domain decisions (aware, UTC)."""
    source = _simulated.get()
    return source() if source is not None else timezone.now()


@contextlib.contextmanager
def simulated(source: Callable[[], dt.datetime]) -> Iterator[None]:
    """Run a block of work on another clock (an exercise's simulated time)."""
    token = _simulated.set(source)
    try:
        yield
    finally:
        _simulated.reset(token)
