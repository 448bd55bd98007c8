"""Row ids typed by people and programs: query strings, form lists, JSON."""

from __future__ import annotations

# Primary keys are 64-bit: a larger number names no row, and SQLite cannot even compare it.
MAX_ID = 2**63 - 1


def row_id(value) -> int | None:
    """The id `value` spells (ASCII digits, 1 to MAX_ID), or None when it could name no row."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
