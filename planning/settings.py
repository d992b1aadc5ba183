"""Django settings for Exponent.

Everything that differs between a laptop and production comes from the environment; the
defaults are safe for development. See README.md for the table of variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# The test suite says so explicitly: its pytest plugin (tests/plugin.py) sets EXPONENT_TESTING=1
# before these settings load; so do the test servers it starts.
TESTING = env.bool("EXPONENT_TESTING", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Reading settings never starts a service or writes a file: without these variables there is
# nothing to connect to. `make run` / `make test` (planning/devstack.py) and the test suite's
# plugin start the embedded PostgreSQL and Redis and set them.
_missing = [name for name in ("DATABASE_URL", "CELERY_BROKER_URL") if not env.str(name, default="")]
if _missing:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} {'is' if len(_missing) == 1 else 'are'} not set. "
        "Set them (see README.md, Configuration), or run through the local stack, which starts "
        "the embedded PostgreSQL and Redis: `make run`, `make test`, or "
        "`.venv/bin/python -m planning.devstack manage <command>` instead of `manage.py <command>`."
    )

# `make run` passes a development key kept in var/secret_key, the test plugin a fixed one.
# Without one, Django refuses whatever needs it (sessions, signing) and `check --deploy` says so.
SECRET_KEY = env.str("SECRET_KEY", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "planning.accounts",
    "planning.teams",
    "planning.notes",
    "planning.live",
    "planning.cadences",
    "planning.bottlenecks",
    "planning.saturation",
    "planning.reviews",
    "planning.facilitator",
    "predictions",
    "audits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "predictions.api.JsonErrorsUnderApi",
    "planning.middleware.InputGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "planning.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "planning.teams.context_processors.teams",
                "audits.context_processors.simulated_models",
            ],
            # planning/ itself is not an app, so its tag libraries are registered by name.
            "libraries": {"charts": "planning.templatetags.charts"},
            # {% quarter q %} and |quarter_text: every quarter label reads "FY2027 Q4";
            # |render_markdown: the one Markdown filter.
            "builtins": ["planning.templatetags.quarters", "planning.templatetags.text"],
        },
    },
]

WSGI_APPLICATION = "planning.wsgi.application"
ASGI_APPLICATION = "planning.asgi.application"

# --------------------------------------------------------------------------- database
DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
# A Unix-socket directory arrives percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST") or "")
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# DB_POOL=n: a psycopg pool of at most n connections shared by the process's threads (the
# audits thread-pool worker sets it: Celery closes a task's connection after every task, and
# with a pool that hands it back instead of opening a new one for the next task).
if env.int("DB_POOL", default=0):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pool manages the connections' lifetime
    from planning.dbpool import check_if_idle

    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DB_POOL"),
        "timeout": 30,
        "check": check_if_idle,
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parallel test runs against one server each need their own test database.
if env.str("TEST_DB_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DB_NAME")}
# The test suite's Celery worker processes write to the test database pytest created.
if env.str("EXPONENT_TEST_DB_NAME", default=""):
    DATABASES["default"]["NAME"] = env.str("EXPONENT_TEST_DB_NAME")
# The live layer's SSE views read through a small psycopg pool on the same database
# (planning/live/dbrouter.py): a reconnect storm shares a few connections, idle holds none.
DATABASES["live"] = DATABASES["default"] | {
    "CONN_MAX_AGE": 0,
    "OPTIONS": DATABASES["default"].get("OPTIONS", {})
    | {
        "pool": {
            "min_size": 0,
            "max_size": env.int("LIVE_DB_POOL_SIZE", default=4),
            # under a quarter of LIVE_POLL_SECONDS: the pool gives back one unused connection
            # per max_idle period that saw no borrowing, and the streams' re-read borrows one
            # every 2 s; at 1 s a re-read that straddled the pool's check spoiled both periods,
            # and an idle server kept its connection for good
            "max_idle": env.float("LIVE_DB_POOL_MAX_IDLE", default=0.5),
            "timeout": 10.0,
            "num_workers": 1,
        }
    },
    "TEST": {"MIRROR": "default"},
}
DATABASE_ROUTERS = ["planning.live.dbrouter.LiveReadRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# django-allauth: sign-in by email; an address counts only once verified (signup sends a link;
# an invitation link verifies the address it was sent to). Signup and password reset answer
# the same whether or not an address has an account (ACCOUNT_PREVENT_ENUMERATION).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # no mail to addresses without an account
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Exponent] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_ADAPTER = "planning.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "planning.accounts.forms.LoginForm",
    "signup": "planning.accounts.forms.SignupForm",
}
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
# Rate limits (allauth's, kept in the Redis cache below so every web process shares them).
# "N/period/per": per ip, per key (the address typed) or per user. Failed logins: 10 a minute
# from one IP and 5 in 5 minutes for one address; password-reset mails: 3 an hour per address.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env.str("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env.str("RATE_LIMIT_SIGNUP", default="10/h/ip"),
    "reset_password": env.str("RATE_LIMIT_RESET_PASSWORD", default="20/h/ip,3/h/key"),
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "confirm_email": "1/3m/key",
}
# The JSON API: requests per token (planning.accounts.tokens.consume_api_rate).
API_RATE_LIMIT = env.str("RATE_LIMIT_API", default="600/m")
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Exponent"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=14)
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --------------------------------------------------------------------------- i18n
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --------------------------------------------------------------------------- static files
STATIC_URL = "static/"
# Every form field renders through templates/forms/field.html (labels, fieldsets, help ids).
FORM_RENDERER = "planning.forms.FormRenderer"

STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            # `make run` collects static files first, so hashed names, compression and
            # long-lived cache headers apply there too; tests serve straight from the finders.
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "planning.storage.HashedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = TESTING
WHITENOISE_AUTOREFRESH = TESTING


# --------------------------------------------------------------------------- email
# EMAIL_URL (e.g. smtp+tls://user:password@smtp.example.com:587) or the EMAIL_* variables;
# with neither, mail is printed on the console (development).
# Seconds to connect and for each answer of the mail server: one that accepts and never
# answers must not hold a worker for ever.
MAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)


def _mailer() -> dict:
    if env.str("EMAIL_URL", default=""):
        cfg = env.email_url("EMAIL_URL")
        backend = cfg["EMAIL_BACKEND"]
        options = {
            "host": cfg.get("EMAIL_HOST"),
            "port": cfg.get("EMAIL_PORT"),
            "username": cfg.get("EMAIL_HOST_USER") or None,
            "password": cfg.get("EMAIL_HOST_PASSWORD") or None,
            "use_tls": bool(cfg.get("EMAIL_USE_TLS")),
            "use_ssl": bool(cfg.get("EMAIL_USE_SSL")),
            "timeout": MAIL_TIMEOUT,
        }
    else:
        backend = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
        options = {}
        if backend.endswith("smtp.EmailBackend"):
            options = {
                "host": env.str("EMAIL_HOST", default="localhost"),
                "port": env.int("EMAIL_PORT", default=25),
                "username": env.str("EMAIL_HOST_USER", default="") or None,
                "password": env.str("EMAIL_HOST_PASSWORD", default="") or None,
                "use_tls": env.bool("EMAIL_USE_TLS", default=False),
                "timeout": MAIL_TIMEOUT,
            }
    if not backend.endswith("smtp.EmailBackend"):
        options = {}
    if backend.endswith("filebased.EmailBackend"):
        options = {"file_path": env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))}
    return {"BACKEND": backend, "OPTIONS": {k: v for k, v in options.items() if v is not None}}


MAILERS = {"default": _mailer()}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Exponent <exponent@localhost>")

# --------------------------------------------------------------------------- Celery / Redis
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
REDIS_URL = env.str(
    "REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis://") else ""
)
# The cache holds rate-limit counters, shared by every web process through Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # A test suite's worker processes share its prefix (tests/processes.worker_env).
        "KEY_PREFIX": env.str(
            "CACHE_KEY_PREFIX", default=f"exponent-test-{os.getpid()}" if TESTING else "exponent"
        ),
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Tests use their own queue so a running `make run` worker never takes a test's task.
CELERY_TASK_DEFAULT_QUEUE = env.str(
    "CELERY_QUEUE", default=f"exponent-test-{os.getpid()}" if TESTING else "celery"
)
# Audit calls wait on the network, many at once: they go to their own queue, served by a
# thread-pool worker (`celery -A planning worker -Q audits -P threads -c 20`, see Procfile).
# A private default queue (tests, benchmarks) carries them too, so its one worker runs them.
AUDITS_QUEUE = env.str(
    "AUDITS_QUEUE",
    default="audits" if CELERY_TASK_DEFAULT_QUEUE == "celery" else CELERY_TASK_DEFAULT_QUEUE,
)
CELERY_TASK_ROUTES = {
    "audits.tasks.run_call": {"queue": AUDITS_QUEUE},
    "audits.tasks.run_calls": {"queue": AUDITS_QUEUE},
    # one model call per bet of "Find the missing side": I/O-bound, like an audit call
    "planning.facilitator.side_tasks.write_side": {"queue": AUDITS_QUEUE},
}
# Extra task modules a worker imports: the test suite's workers add devtools.tasks (test-only
# tasks, not shipped). Empty in production.
CELERY_IMPORTS = env.list("EXPONENT_DEV_TASK_MODULES", default=[])
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Longer than the longest task, so an unacknowledged task is not redelivered while running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "expire-invitations": {
        "task": "planning.teams.tasks.expire_invitations",
        "schedule": 60 * 60,
    },
    "live-reap-stale-sessions": {
        "task": "planning.live.tasks.reap_stale_sessions",
        "schedule": 30,
    },
    "live-compact-finished-sessions": {
        "task": "planning.live.tasks.compact_finished_sessions",
        "schedule": 60 * 60,
    },
    "cadences-tick": {
        "task": "planning.cadences.tasks.tick",
        "schedule": env.float("CADENCE_TICK_SECONDS", default=60.0),
        "options": {"expires": 50},
    },
    "metric-sources-fetch": {
        "task": "predictions.tasks.fetch_sources",
        "schedule": env.float("SOURCE_TICK_SECONDS", default=60.0),
        "options": {"expires": 50},
    },
}

# --------------------------------------------------------------------------- metric sources
# predictions/fetching.py: per-request timeout (whole request), size limit, the claim's lease,
# the first retry after a failure (doubling up to the source's schedule), and the days of
# failures after which the metric's owner is told (once).
SOURCE_FETCH_TIMEOUT = env.float("SOURCE_FETCH_TIMEOUT", default=10.0)
SOURCE_MAX_BYTES = env.int("SOURCE_MAX_BYTES", default=2 * 1024 * 1024)
SOURCE_LEASE_SECONDS = env.float("SOURCE_LEASE_SECONDS", default=600.0)
SOURCE_RETRY_SECONDS = env.float("SOURCE_RETRY_SECONDS", default=900.0)
SOURCE_FAILURE_DAYS = env.int("SOURCE_FAILURE_DAYS", default=3)
# "Test the source" fetches inside the request (up to SOURCE_FETCH_TIMEOUT): per user.
SOURCE_TEST_RATE_LIMIT = env.str("RATE_LIMIT_SOURCE_TEST", default="10/m/user")

# --------------------------------------------------------------------------- cadence delivery
# A claimed reminder is sent again by a later tick only when its lease ran out (the worker
# holding it renews it as it goes); failures retry after 1, 2, 4 … times CADENCE_RETRY_SECONDS.
CADENCE_LEASE_SECONDS = env.float("CADENCE_LEASE_SECONDS", default=300.0)
CADENCE_RETRY_SECONDS = env.float("CADENCE_RETRY_SECONDS", default=60.0)
CADENCE_SEND_CHUNK = env.int("CADENCE_SEND_CHUNK", default=50)  # emails/webhooks per task
CADENCE_WEBHOOK_TIMEOUT = env.float("CADENCE_WEBHOOK_TIMEOUT", default=5.0)
# Outbound requests to team-supplied URLs refuse loopback/private/link-local addresses
# (planning/netguard.py). Tests alone turn this on to reach their own local target.
NETGUARD_ALLOW_LOOPBACK = env.bool("NETGUARD_ALLOW_LOOPBACK", default=False)
# `make run` alone sets this to the fake server's exact address ("127.0.0.1:9010"), which
# serves the demo's metric source; never set it in production.
NETGUARD_ALLOW_HOSTPORTS = env.list("NETGUARD_ALLOW_HOSTPORTS", default=[])

# --------------------------------------------------------------------------- Anthropic
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="") or None
SIMULATED_MODELS = env.bool("EXPONENT_SIMULATED_MODELS", default=False)

# --------------------------------------------------------------------------- security
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # plotly.js writes <style> elements at run time; styles cannot run code.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # the HTTP clients' line per request: every model call is a Result row already, and
        # an audit run makes thousands (a write to stderr each, inside the worker's threads)
        **{name: {"level": "WARNING"} for name in ("httpx", "httpx2", "httpcore", "httpcore2")},
    },
}

# Request bodies: larger ones get a 413 page (planning/middleware.py); form fields (not files)
# over DATA_UPLOAD_MAX_MEMORY_SIZE get a 400 page.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# /healthz shows hosts, workers and channels to staff and to callers with this token
# (Authorization: Bearer …); everyone else gets the status only.
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")

HEALTHZ_PING_TIMEOUT = env.float("HEALTHZ_PING_TIMEOUT", default=1.0)

# --------------------------------------------------------------------------- live sessions
# The one place these are set; planning/live/conf.py reads them when they are used.
# A worker silent this long is presumed dead (the reaper fails its session); token events of
# finished sessions are compacted after this many days.
LIVE_STALE_AFTER = env.float("LIVE_STALE_AFTER", default=300.0)
LIVE_TOKEN_RETENTION_DAYS = env.int("LIVE_TOKEN_RETENTION_DAYS", default=7)
LIVE_FLUSH_INTERVAL = 0.075  # seconds a token delta may wait in the writer before it is written
LIVE_FLUSH_CHARS = 400  # buffered characters that force a token flush earlier
LIVE_CANCEL_GRACE = 10.0  # seconds a worker has to obey a stop before the watchdog revokes it
LIVE_SSE_HEARTBEAT = 15.0  # seconds between SSE heartbeat comments
LIVE_SSE_MAX_SECONDS = 300.0  # a stream closes after this long; the client resumes by cursor
LIVE_SSE_RECHECK = 60.0  # how often an open stream re-checks the subscriber's membership
LIVE_POLL_SECONDS = 2.0  # how often open streams re-read the log in case a wake-up was lost

# --------------------------------------------------------------------------- audits
AUDITS_TEAM_CONCURRENCY = env.int("AUDITS_TEAM_CONCURRENCY", default=8)  # model calls per team
AUDITS_MAX_RETRIES = 4  # the SDK's retries of a failed call (429, 529, 5xx, connection)
AUDITS_CALL_TIMEOUT = 300.0  # seconds for one model call
AUDITS_STREAM_RETRIES = 2  # restarts of a stream that broke mid-answer
