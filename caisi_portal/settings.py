"""Settings for the CAISI Review Portal, read from the environment.

Defaults are for a laptop (SQLite under var/, local Redis, console email). Production
must set SECRET_KEY explicitly: the portal refuses to start without it.
"""

import datetime as dt
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()


def _strict_bool(name: str, default: bool) -> bool:
    """Accept only true/false spellings so a typo cannot silently flip DEBUG."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


DEBUG = _strict_bool("DEBUG", False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (it is required when DEBUG is false)."
        )
    # A local development key, made once per checkout and never committed.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_fsm",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_celery_beat",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "caisi_portal",
    "accounts",
    "submissions",
    "reviews",
    "benchmarks",
    "partners",
    "dashboard",
    "register",
    "api",
    "exercises",
    "joint",
    "capacity",
]

MIDDLEWARE = [
    # First: an oversized body is refused before anything reads it.
    "caisi_portal.web.RefuseOversizedBodies",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Exercise players reach only the exercise's play surface (accounts.rules.PLAY_SURFACE).
    "accounts.middleware.PlaySurface",
    "accounts.middleware.RequireSecondFactor",
    "accounts.middleware.UserTimeZone",
    "exercises.middleware.ExerciseClock",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before any view runs: a session idle too long is signed out (with a message saying so).
    "accounts.middleware.SessionIdleTimeout",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "caisi_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "exercises.context_processors.exercise",
            ],
        },
    },
]

WSGI_APPLICATION = "caisi_portal.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, batching bulk inserts by the connection's own limit (caisi_portal/sqlite).
    DATABASES["default"]["ENGINE"] = "caisi_portal.sqlite"
    # The web server, the worker and beat share one file: wait for locks instead of
    # failing, and take the write lock at BEGIN so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # A file, not shared-cache memory: tests that run a real worker thread need SQLite's
    # busy timeout, which shared-cache table locks ignore.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Counts failed logins and locks out guessing (by username and address together).
    "axes.backends.AxesStandaloneBackend",
    # Django's password check, refusing exercise accounts whose exercise or sheet has run out.
    "accounts.backends.PortalBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a TLS proxy every request comes from the proxy's address: lockouts and throttles
# read the client's own address from X-Forwarded-For, trusting this many proxies (0: none).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# A signed-in session ends after this long without a request; API tokens after this many days.
SESSION_IDLE_HOURS = env.float("SESSION_IDLE_HOURS", default=8)
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=90)
# After a partner's webhook secret is rotated, the old one keeps signing beside the new for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
AXES_CLIENT_IP_CALLABLE = "caisi_portal.web.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
# Printed sign-in-sheet passwords of exercise players stop working after this many hours
# (a controller can issue a new one while the exercise runs).
EXERCISE_SHEET_PASSWORD_HOURS = env.int("EXERCISE_SHEET_PASSWORD_HOURS", default=24)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Artifacts and evidence are confidential: they live outside any public path and are
    # served only by permission-checked views (no MEDIA_URL route exists).
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploads: the largest artifact accepted, and what counts as an allowed artifact.
ARTIFACT_MAX_BYTES = env.int("ARTIFACT_MAX_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# The built-in stand-in for partners' webhook endpoints, for the local demo only.
DEMO_WEBHOOK_RECEIVER = _strict_bool("DEMO_WEBHOOK_RECEIVER", DEBUG)
# How long a worker holds a notification it is sending; a dead worker's claim ends then and
# the sweep retries it with the same webhook-id. Must be longer than the webhook timeout (10 s).
PARTNER_DELIVERY_LEASE = dt.timedelta(seconds=max(20, env.int("PARTNER_DELIVERY_LEASE_SECONDS", default=300)))
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# Webhooks go to public addresses only (partners.destinations). Hosts listed here ("host" or
# "host:port", optionally with a path prefix) may be private: by default only the local demo's
# own receiver, by its path (never the portal's other pages), when it is on.
WEBHOOK_ALLOWED_PRIVATE_HOSTS = env.list(
    "WEBHOOK_ALLOWED_PRIVATE_HOSTS",
    default=[f"{urlsplit(PORTAL_BASE_URL).netloc}/partners/demo-inbox/"] if DEMO_WEBHOOK_RECEIVER else [],
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CAISI Review Portal <portal@caisi.example>")

# Celery on Redis. Late acknowledgement plus idempotent tasks means a worker that dies
# mid-task leaves the message to be redelivered rather than lost.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
# Longer than the longest task and than the furthest eta we schedule is not possible
# (etas reach 30 days), so the sweep, not the eta, is what guarantees deadlines.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Declared here; django-celery-beat copies it into its database schedule at start-up.
CELERY_BEAT_SCHEDULE = {
    "sweep-review-clocks": {"task": "submissions.tasks.sweep_review_clocks", "schedule": 60.0},
    # Digests are due on the hour; held items become due at a reader's own hour in their zone.
    "send-digests": {"task": "partners.tasks.send_digests", "schedule": 60.0},
    # At 1440x a simulated day passes in a minute: exercises are looked at every 5 s.
    "tick-exercises": {"task": "exercises.tasks.tick_exercises", "schedule": 5.0},
    "purge-old-exports": {"task": "dashboard.tasks.purge_old_exports", "schedule": 3600.0},
    # A background job whose queue message was lost (Redis restarted empty) is sent again.
    "requeue-stalled-exports": {"task": "dashboard.tasks.requeue_stalled_exports", "schedule": 300.0},
    "requeue-stalled-scenarios": {"task": "capacity.tasks.requeue_stalled_scenarios", "schedule": 300.0},
    # The audit trail: its head sealed and published daily, verified against it hourly.
    "audit-checkpoint": {"task": "submissions.tasks.audit_checkpoint", "schedule": 86400.0},
    "audit-verify": {"task": "submissions.tasks.audit_verify", "schedule": 3600.0},
}
CELERY_TASK_ALWAYS_EAGER = _strict_bool("CELERY_TASK_ALWAYS_EAGER", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.LiveAccounts"],
    # The same client address as sign-in lockouts (caisi_portal.web.client_ip).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.OnePageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle", "api.throttling.IpRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_RATE_PER_TOKEN", default="600/min"),
        "ip": env.str("API_RATE_PER_IP", default="1200/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JsonWhateverIsAccepted",
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CAISI Review Portal API",
    "DESCRIPTION": (
        "File submissions, take transitions, record results and read determinations: everything the "
        "pages do, under the same rules. Errors always have the shape "
        '{"error": {"code", "message", "details"}}. Simulated data only.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # 411, 414 and 415, answered before an operation's view, and the rules of every body that
    # drf-spectacular does not write (api/schema_hooks.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema_hooks.document_body_answers",
        "api.schema_hooks.require_digits_in_decimals",
        "api.schema_hooks.refuse_nul_in_query_text",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SubmissionStateEnum": "submissions.models.State",
        "SlaKindEnum": "submissions.models.SlaKind",
        "ArtifactKindEnum": "submissions.models.Artifact.Kind",
        "OrganizationKindEnum": "submissions.models.Organization.Kind",
        "PartnerEventTypeEnum": "partners.models.PartnerEventType",
        "DeveloperEventTypeEnum": "partners.models.DeveloperEventType",
        "DeliveryStatusEnum": "partners.models.Delivery.Status",
        "DeliveryKindEnum": "partners.models.Delivery.Kind",
        # Read in full and as a summary: one name for both, the one clients already know.
        "DeterminationOutcomeEnum": "reviews.models.Determination.Outcome",
    },
}

# Per-process memory: dashboard figures are cached for a minute without adding a
# dependency on Redis for page views (pages must keep working when Redis is down).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "caisi"}}

# Transport and browser security. With DEBUG false these default to what `check --deploy`
# asks for; a deployment serving plain HTTP locally (docker-compose, benchmarks) opts out.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _strict_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: charts read JSON from json_script, the API docs load
# their initialiser as a file (SpectacularSwaggerSplitView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# Two-factor sign-in (accounts.two_factor): the name authenticator apps show.
OTP_TOTP_ISSUER = "CAISI Review Portal"
