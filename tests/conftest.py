import os
import uuid
from urllib.parse import urlsplit

import pytest
import time_machine

from caisi_portal.celery import app as celery_app
from tests.factories import Cast


def _test_redis_url() -> str:
    """TEST_REDIS_URL's database for a serial run; pytest-xdist's worker gwN takes the database
    N below it (15, 14, 13... by default), so no worker's Celery sees another's messages or
    unacknowledged set, and none reaches database 0, which `make run` uses."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"... set by pytest-xdist
    if not worker:
        return url
    parts = urlsplit(url)
    db = int(parts.path.lstrip("/") or 0) - int(worker.removeprefix("gw"))
    if db < 1:
        raise pytest.UsageError(f"TEST_REDIS_URL {url} leaves no Redis database for xdist worker {worker}")
    return parts._replace(path=f"/{db}").geturl()


# Tests never touch the queue a running `make run` worker consumes: their own Redis
# database and a queue name unique to this run.
TEST_BROKER_URL = _test_redis_url()
TEST_QUEUE = f"caisi-test-{uuid.uuid4().hex[:8]}"
celery_app.conf.update(broker_url=TEST_BROKER_URL, task_default_queue=TEST_QUEUE)


def pytest_collection_modifyitems(config, items):
    """A test marked `postgres` exercises what only PostgreSQL has (SKIP LOCKED, COPY, row locks
    between threads): on SQLite it is skipped, saying so, rather than passing by accident."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def purge_test_queue():
    yield
    import redis

    redis.Redis.from_url(TEST_BROKER_URL).delete(TEST_QUEUE)


def _flushes_database(item) -> tuple[bool, bool]:
    """(transactional, serialized): whether pytest-django ran this test in a TransactionTestCase,
    which empties every table when it ends, and whether it did so with serialized rollback."""
    from pytest_django.fixtures import validate_django_db

    transaction = serialized = False
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        transaction, reset_sequences, _databases, serialized, _apps = validate_django_db(marker)
        transaction = transaction or reset_sequences
    names = item.fixturenames
    transaction = transaction or bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(names))
    serialized = serialized or "django_db_serialized_rollback" in names
    return transaction, transaction and serialized


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a transactional test, put back what the migrations made (role groups and their
    permissions, content types, the default evaluation domains...).

    The test's flush empties every table, and serialized rollback only reloads the snapshot at
    the start of the next serialized test. A serial run orders transactional tests last, so
    nothing noticed; pytest-xdist hands each worker tests in any order, and a plain test that
    followed a transactional one on the same worker found no groups. Reloading here keeps every
    test independent of what ran before it on its worker."""
    result = yield  # the fixtures are torn down: a transactional test's flush has run
    transaction, serialized = _flushes_database(item)
    if transaction and nextitem is not None:  # with no next item the test database is gone
        _restore_migrated_data(item.config, flush_first=not serialized)
    return result


def _restore_migrated_data(config, flush_first: bool) -> None:
    from django.core.management import call_command
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents is None:  # no test in this run asked for serialized rollback
                continue
            if flush_first:
                # A flush without serialized rollback re-ran post_migrate (groups, permissions):
                # empty the tables again so the snapshot loads with its own primary keys.
                call_command(
                    "flush", verbosity=0, interactive=False, database=connection.alias, inhibit_post_migrate=True
                )
            connection.creation.deserialize_db_from_string(contents)


@pytest.fixture(scope="session", autouse=True)
def suite_settings(tmp_path_factory):
    """Settings every test runs with, set once per process (so rows built once per module see
    them too): uploaded files go to a throwaway folder, never the developer's var/; pages render
    without a collectstatic manifest; and Argon2, deliberately slow, gives way to a fast hasher,
    since the suite creates many users."""
    from django.conf import settings
    from django.test.utils import override_settings

    storages = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("private"))},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="module")
def matrix_worlds(django_db_setup, django_db_blocker):
    """The permission matrix's two worlds (tests/test_permission_matrix.py), built once per module
    and process; a test takes them with `tests.built_once.shared`."""
    from tests.built_once import rows_built_once
    from tests.test_permission_matrix import build_worlds

    with rows_built_once(django_db_blocker, build_worlds, DEMO_WEBHOOK_RECEIVER=True) as built:
        yield built


@pytest.fixture
def traveller():
    """Time frozen at tests.submissions.clocks.START; move it with traveller.move_to(...)."""
    from tests.submissions.clocks import START

    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def cast(db):
    return Cast()


@pytest.fixture(autouse=True)
def reference_catalog(request):
    """Every database test starts with a catalog: one unclassified reference benchmark per
    default domain (tests.factories.REFERENCE_LEVELS), so a submission accepted into evaluation
    has a benchmark version planned in each domain, as on a configured installation.
    Live-server tests flush the database between tests: it is put back (with the domains)."""
    if request.node.get_closest_marker("empty_catalog"):
        return
    if "_django_db_helper" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("_django_db_helper")
    from tests.factories import ensure_reference_catalog

    ensure_reference_catalog()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Cached dashboard figures must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def local_test_receivers(settings):
    """Tests' webhook receivers listen on this machine: allow them as private destinations
    (tests of the SSRF guard clear this list)."""
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture(autouse=True)
def plain_http(settings):
    # The test client speaks plain HTTP; production redirects to HTTPS (see settings).
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def second_factor_verified(request, monkeypatch):
    """Signed-in test clients count as having entered their authenticator code.

    Office accounts must verify a TOTP code (accounts.two_factor); tests about other
    things sign in with `force_login`, so this gives those sessions a verified device.
    Tests of the second factor itself are marked `real_second_factor` and skip this.
    """
    if request.node.get_closest_marker("real_second_factor"):
        return
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts import two_factor

    original = Client._login

    def _login(self, user, backend=None):
        original(self, user, backend)
        if two_factor.second_factor_required(user):
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = two_factor.simulated_device(user).persistent_id
            session.save()

    monkeypatch.setattr(Client, "_login", _login)
