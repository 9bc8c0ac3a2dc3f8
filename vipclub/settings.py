"""vipclub settings: everything that differs between machines comes from the environment.

See `.env.example` for the full list of variables.
"""

import datetime as dt
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state (the SQLite file, the filesystem broker, beat's schedule, demo logins); VIPCLUB_VAR_DIR moves it.
VAR_DIR = Path(os.environ.get("VIPCLUB_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("DJANGO_SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    # Development only: a random key kept outside the repository, under var/.
    from django.core.management.utils import get_random_secret_key

    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Production (DJANGO_DEBUG off) defaults pass `manage.py check --deploy` with no warning: every request
# redirected to https (but the health check, which load balancers and compose call over plain HTTP inside the
# network), secure cookies, HSTS. Behind a TLS-terminating proxy set DJANGO_BEHIND_PROXY=true: the proxy's
# X-Forwarded-Proto then tells Django a request came over https (the proxy must set it, and strip it from clients).
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

INSTALLED_APPS = [
    "core.admin_site.ClubAdminConfig",  # django.contrib.admin with the bounded form fields (core.forms)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "axes",
    "core",
    "customers",
    "tiers",
    "benefits",
    "points",
    "managers",
    "retention",
    "service",
    "desk",
    "partners",
    "vipclub",
]

MIDDLEWARE = [
    # first: a NUL character in the path, the query, a header or a form body is a 400 before anything reads it
    "core.middleware.MalformedRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # a view that cannot get a database connection answers 503 + Retry-After (core.db), not 500
    "core.db.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "managers.middleware.RowScopeMiddleware",  # request.row_scope: the admin's branch scope (core.admin)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page (core.login)
]

ROOT_URLCONF = "vipclub.urls"
WSGI_APPLICATION = "vipclub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "desk.context_processors.calendar_warning",
            ],
        },
    },
]

# Database: a SQLite file under var/ unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'vipclub.sqlite3'}")}
DATABASE_PREPARED_STATEMENTS = False  # PostgreSQL only (below)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # a transaction takes the write lock when it begins: a deferred one that read first and then wrote
            # failed at once with "database is locked" when the worker wrote meanwhile (make run: web + worker)
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    # PostgreSQL: one bounded connection pool per process (psycopg's, built into Django), whatever serves it —
    # runserver's thread per request, gunicorn's workers, a Celery worker or a command's threads. A request or a
    # task borrows a connection and gives it back when it ends; no thread keeps one of its own (persistent
    # connections per thread held up to 65 idle ones under runserver and PostgreSQL refused new ones). Past
    # DATABASE_POOL_MAX_SIZE a request waits DATABASE_POOL_TIMEOUT seconds for a free connection, then the API
    # answers 503 `database_unavailable` with Retry-After (core.db). Processes × max size must stay under the
    # server's max_connections (or PgBouncer's max_client_conn).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a connection broken meanwhile is replaced, not served
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
        "name": "vipclub",
    }
    # Behind a transaction-mode pooler (PgBouncer), DATABASE_URL points at it and DATABASE_DIRECT_URL at PostgreSQL
    # itself. A transaction pooler hands each transaction to any server connection: no server-side cursors
    # (`QuerySet.iterator()` reads its rows client-side), no session state (no session advisory locks; `SET LOCAL`
    # only; Django with psycopg 3 prepares no statements). What needs a session of its own goes direct: creating
    # and dropping test databases (core.postgresql, the engine then), pg_dump and pg_restore (backup, restore).
    DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
    # The API's hottest fixed reads (the token's, the customer's) prepared on the server once per connection
    # (core.sql.fetchone_prepared): on by default when connected to PostgreSQL itself, off behind a transaction-mode
    # pooler (DATABASE_DIRECT_URL set), where a statement prepared on one server connection is unknown on the next
    # (PgBouncer before 1.21, or without max_prepared_statements).
    DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=not DATABASE_DIRECT_URL)
    if DATABASE_PREPARED_STATEMENTS:
        # psycopg prepares nothing by itself (Django's client-side cursors never prepare; Django's default None would
        # refuse even an explicit prepare=True): only what fetchone_prepared() asks for
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
    if DATABASE_DIRECT_URL:
        direct = env.db_url_config(DATABASE_DIRECT_URL)
        DATABASES["default"]["ENGINE"] = "core.postgresql"
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"]["DIRECT"] = {key: direct[key] for key in ("HOST", "PORT", "USER", "PASSWORD")}
# Seconds a client is told to wait (Retry-After) when the database or the pool is exhausted or down.
DATABASE_RETRY_AFTER = env.int("DATABASE_RETRY_AFTER", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login protection (django-axes, issue 13): failed logins on /accounts/login/ and /admin/login/ are counted per
# username and per address (database handler: the same on SQLite and PostgreSQL, listed for club admins under
# Admin → Axes); at the limit, that username (from anywhere) and that address (for any username) are locked out for
# the cool-off, with the lockout page (core.login.lockout_response, 429 + Retry-After).
# Sessions already open and API tokens are not logins: unaffected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# The admin's apps in the order staff meet them (core.admin_site; "*": apps not named), the technical ones last.
ADMIN_APP_ORDER = (
    "customers",
    "tiers",
    "benefits",
    "points",
    "managers",
    "retention",
    "*",
    "auth",
    "partners",
    "vipclub",
    "core",
    "authtoken",
    "axes",
)
AXES_FAILURE_LIMIT = env.int("VIPCLUB_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.float("VIPCLUB_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe the count: logging in with one's own account from an address would otherwise reset the
# guesses at another username from it (axes resets by username OR address). Failures expire after the cool-off.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a guesser cannot keep a user locked out forever
AXES_LOCKOUT_CALLABLE = "core.login.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.login.client_address"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False  # no banner at every start; failed logins and lockouts are still logged

# Internationalisation: the UI speaks Simplified Chinese and English.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Redis is optional: broker, result backend and cache when REDIS_URL is set.
REDIS_URL = env.str("REDIS_URL", default="")
# Short socket timeouts: with Redis down, a request that touches the cache (throttling) fails fast and goes on.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Self-healing jobs (README "Jobs that heal themselves"). A rating chunk is stopped after this many seconds (it takes
# seconds); the broker's visibility timeout is twice that, and must stay above the longest task (the scheduled jobs
# take under 2 minutes on 1M customers). Beat checks every 2 minutes for runs with no progress for
# VIPCLUB_RUN_STALLED_AFTER seconds; a worker records its heartbeat every VIPCLUB_WORKER_HEARTBEAT seconds, and health
# calls a heartbeat older than VIPCLUB_HEARTBEAT_STALE_AFTER seconds stale.
VIPCLUB_CHUNK_TIME_LIMIT = env.int("VIPCLUB_CHUNK_TIME_LIMIT", default=300)
VIPCLUB_BROKER_VISIBILITY_TIMEOUT = env.int("VIPCLUB_BROKER_VISIBILITY_TIMEOUT", default=2 * VIPCLUB_CHUNK_TIME_LIMIT)
VIPCLUB_RUN_STALLED_AFTER = env.int("VIPCLUB_RUN_STALLED_AFTER", default=180)
VIPCLUB_WORKER_HEARTBEAT = env.int("VIPCLUB_WORKER_HEARTBEAT", default=30)
VIPCLUB_HEARTBEAT_STALE_AFTER = env.int("VIPCLUB_HEARTBEAT_STALE_AFTER", default=300)

# Celery: Redis when configured; otherwise a service-free filesystem broker under var/celery,
# so that `make run` still runs the scheduled jobs with no server installed.
CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Connecting gives up after 2 s (a request that enqueues a task does not hang on a dead Redis). A message a
    # worker took and never acknowledged (the worker was killed) goes back to the queue after the visibility
    # timeout: sized to the rating chunk (VIPCLUB_BROKER_VISIBILITY_TIMEOUT below), not an hour.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": VIPCLUB_BROKER_VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 2,
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
else:
    for sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REST_FRAMEWORK = {
    # JSON bodies of bounded depth and without NUL characters (core.parsers); forms as DRF reads them
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",  # DRF's, reading the user's grants in the same query
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",  # tags per area
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DATE_INPUT_FORMATS": ["iso-8601"],
    "COERCE_DECIMAL_TO_STRING": True,
    # Throttling (core.throttling): rates in VIPCLUB_THROTTLE_RATES below; 429 in the error shape + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.TokenRateThrottle",
        "core.throttling.UserRateThrottle",
        "core.throttling.AnonRateThrottle",
    ],
    # Anonymous requests are counted per client address: behind the proxy, the one it adds to X-Forwarded-For.
    "NUM_PROXIES": 1 if BEHIND_PROXY else None,
}

# Requests per client and period (N/s, N/min, N/hour, N/day); empty switches a scope off. API clients (token)
# are counted per client account, people (session) per user, anonymous requests (health) per address.
VIPCLUB_THROTTLE_RATES = {
    "token": env.str("VIPCLUB_THROTTLE_TOKEN", default="6000/min"),
    "user": env.str("VIPCLUB_THROTTLE_USER", default="1200/min"),
    "anon": env.str("VIPCLUB_THROTTLE_ANON", default="120/min"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "vipclub API",
    "DESCRIPTION": "Integration API of the VIP member club (billing, hotline, halls, lounges). "
    'Errors have the shape {"error": {"code", "message", "fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # ReDoc and Swagger group the operations by area (core.schema.AutoSchema tags each one)
    "TAGS": [
        {"name": "health", "description": "Liveness of the service, its database, broker and jobs."},
        {"name": "customers", "description": "Regions, customers (bulk upsert, list, profile)."},
        {"name": "bills", "description": "Monthly bills and the closure of billing months."},
        {"name": "events", "description": "Lifecycle events of the system of record."},
        {"name": "tiers", "description": "Rating runs, their changes, a customer's tier history and explanation."},
        {"name": "benefits", "description": "The benefit catalog, a customer's benefits, redemptions."},
        {"name": "points", "description": "A customer's points, redemptions and transfers."},
        {"name": "managers", "description": "Account managers, obligations, contact logs, reassignment."},
        {"name": "retention", "description": "Retention cases and their moves."},
        {"name": "reports", "description": "Churn and tier reports."},
    ],
    # Choice sets that share a field name get stable component names (and no naming warning in check --deploy).
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.models.Status",
        "ObligationStatusEnum": "managers.models.ObligationStatus",
        "ObligationKindEnum": "managers.models.ObligationKind",
        "RetentionCaseStateEnum": "retention.models.CaseState",
        "ComplaintStateEnum": "service.models.ComplaintState",
        "ComplaintChannelEnum": "service.models.ComplaintChannel",
        "ChannelEnum": "managers.models.Channel",  # the contact channels keep their name beside the complaint channels
        "GiftOrderStateEnum": "service.models.GiftOrderState",  # the gift orders' states beside the complaints'
    },
    # Every operation documents the errors DRF and core.api answer for any view, with the error shape.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.error_responses"],
}

# History pages are for reading: a revert would bypass services (and override approval).
SIMPLE_HISTORY_REVERT_DISABLED = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="vipclub@localhost")

# The monthly re-rating: customers per chunk (one Celery task each) and the hour it starts (Asia/Shanghai).
VIPCLUB_RATING_CHUNK_SIZE = env.int("VIPCLUB_RATING_CHUNK_SIZE", default=50_000)
VIPCLUB_RERATE_HOUR = env.int("VIPCLUB_RERATE_HOUR", default=3)

# Outbound events (the outbox read by the webhooks and /feed/) are kept this many days, then pruned daily.
VIPCLUB_OUTBOX_KEEP_DAYS = env.int("VIPCLUB_OUTBOX_KEEP_DAYS", default=30)

# Bulk API requests are atomic; this caps one request's rows.
VIPCLUB_BULK_MAX_ROWS = env.int("VIPCLUB_BULK_MAX_ROWS", default=10_000)
# A body Django reads into memory: room for the largest bulk request (a customer row is ~300 bytes of JSON);
# over it the API answers 413 `request_too_large`.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, VIPCLUB_BULK_MAX_ROWS * 1024)

# Every handler masks msisdns and ID numbers (core.logging): no personal data in the logs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "core.logging.MaskPIIFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Webhooks (partners): the delivery's timeout, batch, retry window and backoff, when an endpoint is paused, and the SSRF
# guard (http and private addresses only in development).
VIPCLUB_WEBHOOK_TIMEOUT = env.float("VIPCLUB_WEBHOOK_TIMEOUT", default=10.0)
VIPCLUB_WEBHOOK_BATCH = env.int("VIPCLUB_WEBHOOK_BATCH", default=500)
VIPCLUB_WEBHOOK_FANOUT_BATCH = env.int("VIPCLUB_WEBHOOK_FANOUT_BATCH", default=50_000)
VIPCLUB_WEBHOOK_THREADS = env.int("VIPCLUB_WEBHOOK_THREADS", default=16)
VIPCLUB_WEBHOOK_LEASE = env.int("VIPCLUB_WEBHOOK_LEASE", default=120)
VIPCLUB_WEBHOOK_RETRY_WINDOW = env.int("VIPCLUB_WEBHOOK_RETRY_WINDOW", default=3 * 24 * 3600)
VIPCLUB_WEBHOOK_BACKOFF_BASE = env.float("VIPCLUB_WEBHOOK_BACKOFF_BASE", default=10.0)
VIPCLUB_WEBHOOK_BACKOFF_CAP = env.float("VIPCLUB_WEBHOOK_BACKOFF_CAP", default=6 * 3600.0)
VIPCLUB_WEBHOOK_PAUSE_AFTER = env.int("VIPCLUB_WEBHOOK_PAUSE_AFTER", default=200)
VIPCLUB_WEBHOOK_TICK = env.int("VIPCLUB_WEBHOOK_TICK", default=5)
VIPCLUB_WEBHOOK_PARALLEL = env.int("VIPCLUB_WEBHOOK_PARALLEL", default=2)
VIPCLUB_WEBHOOK_TASK_BUDGET = env.int("VIPCLUB_WEBHOOK_TASK_BUDGET", default=50)
VIPCLUB_WEBHOOK_ALLOW_HTTP = env.bool("VIPCLUB_WEBHOOK_ALLOW_HTTP", default=DEBUG)
VIPCLUB_WEBHOOK_ALLOW_PRIVATE = env.bool("VIPCLUB_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
# The delivery log: settled deliveries (delivered, parked) are kept this many days, then pruned daily.
VIPCLUB_WEBHOOK_LOG_KEEP_DAYS = env.int("VIPCLUB_WEBHOOK_LOG_KEEP_DAYS", default=VIPCLUB_OUTBOX_KEEP_DAYS)
# Member SMS (partners.sms): the templates' language, and how many outbox events one pass of the SMS step reads.
VIPCLUB_SMS_LANGUAGE = env.str("VIPCLUB_SMS_LANGUAGE", default="zh-hans")
VIPCLUB_SMS_BATCH = env.int("VIPCLUB_SMS_BATCH", default=5000)
# The link a satisfaction survey's SMS carries (the `survey` template's {link}); `{id}` becomes the survey sent's id.
VIPCLUB_SURVEY_LINK = env.str("VIPCLUB_SURVEY_LINK", default="https://vip.example.com/s/{id}")
try:
    VIPCLUB_SURVEY_LINK.format(id=1)
except (KeyError, IndexError, ValueError, AttributeError) as exc:
    raise ImproperlyConfigured(
        f"VIPCLUB_SURVEY_LINK may hold {{id}} and no other {{…}} field: {VIPCLUB_SURVEY_LINK!r} ({exc!r})."
    ) from exc
