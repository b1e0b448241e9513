"""What every environment shares, read from the environment (see ``.env.example``).

Not used on its own: ``local`` (development and the demo), ``test`` (pytest) and ``production``
build on it. Safe by default: ``DEBUG`` is off unless ``DJANGO_DEBUG`` says otherwise, and
``DJANGO_SECRET_KEY`` is required (only ``local`` and ``test`` supply one of their own).

SQLite under ``var/`` when ``DATABASE_URL`` is unset, PostgreSQL when it is set. A missing or
malformed variable stops start-up with a message naming it (``pushadmin.env``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pushadmin.env import env_bool, env_duration, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PUSHADMIN_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",  # login throttling: failed attempts, lockouts (see "Login throttling" below)
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files, no CDN
    "django_celery_beat",
    "apps.core",
    "apps.audience",
    "apps.contents",
    "apps.campaigns",
    "apps.delivery",
    "apps.events",
    "apps.mlops",
    "apps.orchestration",
    "apps.dashboards",
    "pushadmin.apps.ProjectConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the pages: the switch's cookie, else the browser's Accept-Language, else
    # LANGUAGE_CODE; PreferenceMiddleware then applies a logged-in person's own choice.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.PreferenceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lockout page (apps.core.login.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pushadmin.urls"
WSGI_APPLICATION = "pushadmin.wsgi.application"

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
                "apps.core.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_database_url = env_url("DATABASE_URL", None, schemes=("postgres", "postgresql", "sqlite"))
if _database_url:
    try:
        # A connection kept between requests (CONN_MAX_AGE) is checked before a request reuses
        # it: after the database restarted, the first request opens a new one instead of failing.
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
                                                      conn_health_checks=True)}
    except Exception as exc:  # dj-database-url raises several kinds of errors
        raise ImproperlyConfigured(f"Environment variable DATABASE_URL is malformed: {exc}") from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "pushadmin.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the Celery worker and beat share one file: WAL lets readers run beside a
    # writer, IMMEDIATE transactions take the write lock up front instead of failing mid-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (throttling, heartbeats) and the Celery broker -----------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("PUSHADMIN_CACHE_PREFIX", "pushadmin"),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A task not acknowledged within this many seconds is handed to another worker. It must be
# longer than the longest task (training runs report progress and are split into steps).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)

# --- Auth and pages ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Axes' backend first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# --- Login throttling (django-axes; docs/security.md) ------------------------------------------
# Both login pages (/login/ and /admin/login/) count failed passwords per user name *and* client
# address: PUSHADMIN_LOGIN_FAILURE_LIMIT failures lock that pair for PUSHADMIN_LOGIN_LOCKOUT
# (each further try during the lock starts it again); a successful login clears the count. Per
# pair, so that nobody can lock an editor out from elsewhere by typing wrong passwords for
# their name, and one person's typos do not lock out everyone behind the same office address.
# The API's keys are not passwords and are not counted.
AXES_FAILURE_LIMIT = env_int("PUSHADMIN_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = env_duration("PUSHADMIN_LOGIN_LOCKOUT", timedelta(minutes=30))
if AXES_COOLOFF_TIME < timedelta(seconds=1):
    raise ImproperlyConfigured(
        "Environment variable PUSHADMIN_LOGIN_LOCKOUT must be a duration of at least 1s (a lockout that never ends "
        f"is not offered), got {AXES_COOLOFF_TIME}."
    )
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed login, kept for the audit (Admin > Axes)
AXES_ENABLE_ADMIN = False  # apps.core.admin registers axes' pages, with an "unlock" action
AXES_LOCKOUT_CALLABLE = "apps.core.login.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.core.login.client_ip"

# --- Languages and time zones (docs/editors.md, "Language and time zone") ----------------------
# The pages speak Korean and English: a person's preference (apps.core.models.Preference), else
# the language switch's cookie, else the browser's Accept-Language, else English. The API
# (/api/) always answers in English. Catalogues: locale/<lang>/LC_MESSAGES/django.po, compiled
# to django.mo and committed (the build needs no gettext).
LANGUAGE_CODE = "en"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times: the person's time zone (else UTC), in the formats of pushadmin/formats/<lang>.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["pushadmin.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed names from ``collectstatic``'s manifest; ``local`` and ``test`` serve from the sources.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Model artifacts (apps.mlops.artifacts): the local folder PUSHADMIN["ARTIFACTS_DIR"], or, with
    # PUSHADMIN_ARTIFACTS_S3_BUCKET, an S3-compatible bucket every machine reads (the local folder
    # is then each machine's cache). Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the
    # machine's role).
    "artifacts": {"BACKEND": "apps.mlops.artifacts.LocalArtifactStorage"},
}
if env_str("PUSHADMIN_ARTIFACTS_S3_BUCKET", ""):
    STORAGES["artifacts"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": env_str("PUSHADMIN_ARTIFACTS_S3_BUCKET"),
        "location": env_str("PUSHADMIN_ARTIFACTS_S3_PREFIX", "artifacts").strip("/"),
        "endpoint_url": env_url("PUSHADMIN_ARTIFACTS_S3_ENDPOINT", None, schemes=("http", "https")),
        "region_name": env_str("PUSHADMIN_ARTIFACTS_S3_REGION", "") or None,
        "file_overwrite": True,  # a version's names are its own: the store must keep them as given
        "querystring_auth": False,
    }}

# A batch of 10,000 events or subscribers is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024 * 1024, minimum=1024)

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.core.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.api_auth.IsApiClient"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.throttling.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pushadmin API",
    "DESCRIPTION": (
        "Register contents, subscribers and events; read campaigns. Authenticate with "
        "`Authorization: Api-Key <key>` or `X-Api-Key: <key>`. Every error answer has the shape of `Error`. "
        "Lists are cursor pages: pass a page's `next_cursor` as `cursor` to get the next one."
    ),
    "VERSION": "1",
    # 3.1: nullable fields are `type: [..., "null"]`, which strict validators and generated clients read alike.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "apps.core.openapi.enum_parameters_as_components"],
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The docs pages run only our own static files (drf-spectacular-sidecar), no CDN script on the
    # origin of the logged-in pages, and send the schema to no outside validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "ContentStatusEnum": "apps.contents.models.ContentStatus",
        "CampaignStateEnum": "apps.campaigns.models.Campaign.State",
        "WaveStateEnum": "apps.campaigns.models.Wave.State",
        "TitleReviewEnum": "apps.contents.models.TitleVariant.Review",
        "EventResultStatusEnum": ["accepted", "duplicate", "rejected"],
        "WaveDecisionEnum": "apps.campaigns.models.Wave.Decision",
    },
}

# --- The product ---------------------------------------------------------------------------------
PUSHADMIN = {
    "API_DEFAULT_RATE": env_str("PUSHADMIN_API_RATE", "6000/min"),
    "MAX_BATCH": 10_000,
    # Defaults for new clients; each client can change its own.
    "EVALUATION_DELAY": env_duration("PUSHADMIN_EVALUATION_DELAY", timedelta(minutes=30)),
    "CONTENT_LIFETIME": env_duration("PUSHADMIN_CONTENT_LIFETIME", timedelta(hours=4)),
    "ARTIFACTS_DIR": Path(env_str("PUSHADMIN_ARTIFACTS_DIR", str(VAR_DIR / "artifacts"))),
    "WORKER_HEARTBEAT_SECONDS": 10,
    # Reverse proxies in front of the web server that append the client's address to
    # X-Forwarded-For (nginx: proxy_add_x_forwarded_for). 0: the client is REMOTE_ADDR and the
    # header is ignored (anyone can write it). Login throttling counts per client address.
    "TRUSTED_PROXIES": env_int("PUSHADMIN_TRUSTED_PROXIES", 0, minimum=0),
    # The beat sweep's period; the live demo, whose clock runs fast, sweeps every few seconds.
    "SWEEP_SECONDS": env_int("PUSHADMIN_SWEEP_SECONDS", 60, minimum=1),
    # Days events are kept (older ones refused, then dropped by the sweep); at least the longest
    # window a reader of events uses (the system check pushadmin.E001 says which).
    "EVENT_RETENTION_DAYS": env_int("PUSHADMIN_EVENT_RETENTION_DAYS", 365, minimum=1),
    # Each client's models are retrained by the beat's training check (apps.orchestration.training):
    # the first versions as soon as the data allow (retried every FIRST_RETRY_MINUTES of product
    # time), then nightly in the client's quiet hours and whenever CAMPAIGNS campaigns have ended.
    # Threads one training run may use (implicit's ALS, LightGBM): the cores this worker may run
    # on, as the ml queue runs one task at a time. Lower it when other work shares the machine.
    "ML_THREADS": env_int("PUSHADMIN_ML_THREADS", len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else (os.cpu_count() or 1), minimum=1),
    # Work split by subscriber ranges (apps.mlops.shards, docs/several-machines.md): a wave whose
    # eligible people number MIN_CANDIDATES or more is ranked in shards of about SUBSCRIBERS ids,
    # as is the nightly slot pricing; WORKERS shards_work tasks go to the ``shards`` queue for each
    # job (0: the process that runs the job does every shard; the result is the same), which leaves
    # them the free shards for LEAVE_SECONDS before taking them itself. A shard whose worker stops
    # renewing its claim for LEASE_SECONDS is taken over.
    "SHARDS": {
        "MIN_CANDIDATES": env_int("PUSHADMIN_SHARD_MIN_CANDIDATES", 2_000_000, minimum=1),
        "SUBSCRIBERS": env_int("PUSHADMIN_SHARD_SUBSCRIBERS", 1_000_000, minimum=1),
        "WORKERS": env_int("PUSHADMIN_SHARD_WORKERS", 0, minimum=0),
        "LEAVE_SECONDS": env_int("PUSHADMIN_SHARD_LEAVE_SECONDS", 0, minimum=0),
        "LEASE_SECONDS": env_int("PUSHADMIN_SHARD_LEASE_SECONDS", 120, minimum=1),
        "TIMEOUT_SECONDS": env_int("PUSHADMIN_SHARD_TIMEOUT_SECONDS", 1800, minimum=1),
        # connections a wave's planner reads its eligible people over, side by side (PostgreSQL)
        "READ_STREAMS": env_int("PUSHADMIN_READ_STREAMS", 2, minimum=1),
    },
    "TRAINING": {
        "CHECK_SECONDS": env_int("PUSHADMIN_TRAINING_CHECK_SECONDS", 300, minimum=1),
        "FIRST_RETRY_MINUTES": env_int("PUSHADMIN_TRAINING_FIRST_RETRY_MINUTES", 60, minimum=1),
        "CAMPAIGNS": env_int("PUSHADMIN_TRAINING_CAMPAIGNS", 20, minimum=1),
        "STALE_MINUTES": 360,
    },
    # Product time = epoch + (real time - epoch) x speed. 1 = real time (anything else is for demos).
    "CLOCK_SPEED": env_int("PUSHADMIN_CLOCK_SPEED", 1, minimum=1),
    # Where pushes go: log (development), webhook (HTTPS POST, HMAC-signed) or fcm (FCM HTTP v1).
    "DELIVERY": {
        "PROVIDER": env_str("PUSHADMIN_PUSH_PROVIDER", "log"),
        "RATE_PER_SECOND": env_int("PUSHADMIN_PUSH_RATE", 10_000, minimum=1),
        "TIMEOUT_SECONDS": env_int("PUSHADMIN_PUSH_TIMEOUT", 10, minimum=1),
        # Two kinds of retry. HTTP requests per push in one hand-over to the webhook or FCM
        # provider (the first included, a second or so of backoff between them) while the
        # dispatcher's claim is held; and hand-overs of one send by the dispatcher, with its own
        # backoff between them (30 s, 1 min, 2 min, ... up to 15 min), before the send fails.
        "HTTP_ATTEMPTS": env_int("PUSHADMIN_PUSH_HTTP_ATTEMPTS", 2, minimum=1),
        "SEND_ATTEMPTS": env_int("PUSHADMIN_PUSH_SEND_ATTEMPTS", 5, minimum=1),
        # The dispatcher's first wait before handing a send over again; it doubles after each
        # hand-over, up to SEND_BACKOFF_MAX_SECONDS.
        "SEND_BACKOFF_SECONDS": env_int("PUSHADMIN_PUSH_SEND_BACKOFF", 30, minimum=1),
        "SEND_BACKOFF_MAX_SECONDS": 900,
        # How long a provider instance stops sending after a batch it stopped early (an endpoint
        # that keeps timing out, Redis unreachable for the rate limit), unless told how long.
        "COOLDOWN_SECONDS": env_int("PUSHADMIN_PUSH_COOLDOWN", 30, minimum=1),
        # A claimed send not finished within this many seconds was left by a dead worker: taken back.
        "CLAIM_TIMEOUT_SECONDS": env_int("PUSHADMIN_PUSH_CLAIM_TIMEOUT", 120, minimum=1),
        "WEBHOOK_URL": env_str("PUSHADMIN_WEBHOOK_URL", ""),
        "WEBHOOK_SECRET": env_str("PUSHADMIN_WEBHOOK_SECRET", ""),
        "FCM_PROJECT_ID": env_str("PUSHADMIN_FCM_PROJECT_ID", ""),
        "FCM_ACCESS_TOKEN": env_str("PUSHADMIN_FCM_ACCESS_TOKEN", ""),
        # https only: the access token and the push tokens travel in every request.
        "FCM_BASE_URL": env_url("PUSHADMIN_FCM_BASE_URL", "https://fcm.googleapis.com", schemes=("https",)),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    # axes: its warnings (a failed login, a lockout) but not its start-up and bookkeeping lines.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

if PUSHADMIN["CLOCK_SPEED"] != 1:
    from datetime import datetime as _datetime

    for _name, _key in (("PUSHADMIN_CLOCK_EPOCH", "CLOCK_EPOCH"), ("PUSHADMIN_CLOCK_START", "CLOCK_START")):
        _value = env_str(_name) if _key == "CLOCK_EPOCH" else env_str(_name, None)
        if _value is None:
            continue
        try:
            PUSHADMIN[_key] = _datetime.fromisoformat(_value)
            assert PUSHADMIN[_key].tzinfo is not None
        except (ValueError, AssertionError):
            raise ImproperlyConfigured(
                f"Environment variable {_name} must be an ISO-8601 date-time with a time zone, got {_value!r}."
            ) from None
