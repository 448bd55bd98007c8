import os
import uuid

import pytest

from caisi_portal.celery import app as celery_app
from tests.factories import Cast

# Tests never touch the queue a running `make run` worker consumes: their own Redis
# database and a queue name unique to this run.
TEST_BROKER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_QUEUE = f"caisi-test-{uuid.uuid4().hex[:8]}"
celery_app.conf.update(broker_url=TEST_BROKER_URL, task_default_queue=TEST_QUEUE)


@pytest.fixture(scope="session", autouse=True)
def purge_test_queue():
    yield
    import redis

    redis.Redis.from_url(TEST_BROKER_URL).delete(TEST_QUEUE)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Uploaded files go to a throwaway folder, never the developer's var/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path / "private")}},
    }


@pytest.fixture(autouse=True)
def simple_static(settings):
    # Pages render without a collectstatic manifest in tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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
def fast_password_hashing(settings):
    # Argon2 is deliberately slow; the suite creates many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
