"""Rows built once and shared by a module's tests, as Django's `setUpTestData` does.

The rows are written inside a transaction that stays open while the module's tests run;
pytest-django runs each test in a savepoint of its own, rolled back when it ends, and the
whole transaction is rolled back after the module's last test. Each test receives a deep copy
of what was built (as `setUpTestData`'s class attributes are copied per test), so a test that
changes an object in memory leaves the next test the objects as they were built.

Only for tests that are not transactional: a `transactional_db` or `live_server` test empties
the tables, which would take the shared rows with it (`shared` refuses them).
"""

from __future__ import annotations

import contextlib
import copy

import pytest
from django.db import transaction
from django.test.utils import override_settings


@contextlib.contextmanager
def rows_built_once(django_db_blocker, build, *, catalog=True, **settings):
    """Call `build()` in a transaction kept open until the `with` block ends; yield its result.
    With `catalog`, the reference benchmarks every database test starts with are made first
    (tests/conftest.py; a module marked `empty_catalog` passes False)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(**settings):
                if catalog:
                    from tests.factories import ensure_reference_catalog

                    ensure_reference_catalog()
                built = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def shared(request, built):
    """`built`, deep-copied for this test, which must run in a savepoint (not a transactional test)."""
    from tests.conftest import _flushes_database

    if _flushes_database(request.node)[0]:
        raise pytest.UsageError(f"{request.node.nodeid} is transactional: it cannot share rows built once")
    request.getfixturevalue("db")
    return copy.deepcopy(built)
