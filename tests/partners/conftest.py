import pytest

from partners import services


@pytest.fixture
def no_broker(monkeypatch):
    """Nothing reaches Celery: what would be queued is kept in the list this returns (modules
    that test the outbox's own rows use it; the worker tests beside them use the real broker)."""
    queued = []
    monkeypatch.setattr(services, "_enqueue", lambda ids: queued.extend(ids) or len(ids))
    monkeypatch.setattr(services, "_enqueue_retry", lambda *a: None)
    return queued
