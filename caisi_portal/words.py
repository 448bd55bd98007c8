"""Numbers as people read them: "1 clock", "2 clocks", "4.5 days", never "0.0 days"."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """'1 clock at risk' and '2 clocks': the noun agrees with the number."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _figure(value: float) -> str:
    """One decimal below ten, whole numbers above, and no trailing '.0'."""
    text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return text[:-2] if text.endswith(".0") else text


def days_in_words(days: float | None) -> str:
    """A duration given in days, rounded as people say it: '4.5 days', '12 days', '3 hours'.

    Under a day it is counted in hours, so a fast review never reads as '0.0 days'.
    """
    if days is None:
        return ""
    if days < 1:
        hours = days * 24
        if hours < 1:
            return "under an hour"
        figure = _figure(hours)
        return f"{figure} hour{'' if figure == '1' else 's'}"
    figure = _figure(days)
    return f"{figure} day{'' if figure == '1' else 's'}"


def _duration(seconds: float) -> str:
    """A real duration, never "0": whole seconds under a minute, then minutes, then hours."""
    if seconds < 59.5:
        n = max(1, round(seconds))
        return counted(n, "real second")
    if seconds < 90 * 60:
        figure = _figure(seconds / 60)
        return f"{figure} real minute{'' if figure == '1' else 's'}"
    figure = _figure(seconds / 3600)
    return f"{figure} real hour{'' if figure == '1' else 's'}"


SIMULATED_UNITS = (("hour", 3600), ("day", 86400), ("week", 7 * 86400))


def speed_in_words(speed: float) -> str:
    """How fast an exercise runs, as a person would say it.

    `speed` is simulated seconds per real second. The unit is the smallest simulated one
    (hour, day, week) that takes at least half a real minute, so the figure is never 0:
    60 -> '1 simulated hour passes in 1 real minute', 1440 -> '1 simulated day passes in
    1 real minute', 10080 -> '1 simulated week passes in 1 real minute'.
    """
    speed = max(float(speed or 1), 1e-9)
    if speed == 1:
        return "simulated time passes at real speed"
    name, seconds = next(((n, s) for n, s in SIMULATED_UNITS if s / speed >= 30), SIMULATED_UNITS[-1])
    return f"1 simulated {name} passes in {_duration(seconds / speed)}"
