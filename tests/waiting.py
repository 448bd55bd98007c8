"""Waiting for another process or thread to finish its work; never a way to move time."""

import time


def wait_for(predicate, timeout=20.0):
    """Poll `predicate` until it holds or `timeout` seconds pass; its last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
