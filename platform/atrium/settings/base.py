"""Settings read from the environment (every variable is listed in `.env.example`)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import environ

from atrium import embedded

BASE_DIR = Path(__file__).resolve().parents[3]
env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="" if not DEBUG else "dev-only-insecure-secret-key")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set (DEBUG=true allows a development default)")
# Separate key for encrypting secrets at rest (API key secrets, phone numbers); rotating the
# session-signing SECRET_KEY must not make stored secrets unreadable.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default=SECRET_KEY)

BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
PUBLIC_SCHEME = env.str("PUBLIC_SCHEME", default="http")
PUBLIC_PORT = env.str("PUBLIC_PORT", default="")
# The tenant middleware answers unknown hosts with 404, and custom domains are per tenant, so
# host validation happens against the Domain table rather than a static list.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = embedded.ensure_postgres()
if "REDIS_URL" not in os.environ:
    os.environ["REDIS_URL"] = embedded.ensure_redis()
DATABASE_URL = env.str("DATABASE_URL")
REDIS_URL = env.str("REDIS_URL")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)

_db = env.db_url("DATABASE_URL")
_db["ENGINE"] = "django_tenants.postgresql_backend"
_db["HOST"] = unquote(_db.get("HOST") or "")  # a socket folder arrives percent-encoded
# Django's psycopg pool, never CONN_MAX_AGE > 0 (see ARCHITECTURE.md: connection pooling).
_db["CONN_MAX_AGE"] = 0
_db.setdefault("OPTIONS", {})
_db["OPTIONS"]["pool"] = {
    "min_size": env.int("DATABASE_POOL_MIN", default=1),
    "max_size": env.int("DATABASE_POOL_MAX", default=8),
    "timeout": 10,
}
# Django turns psycopg's prepared statements off (for transaction-pooling proxies, which Atrium
# does not use). Its ORM binds client-side and never prepares; the writer's server-bound
# statements (atrium.sql) are prepared from their second use on this connection, so PostgreSQL
# stops parsing and planning them on every sale. A plan never crosses tenants: PostgreSQL
# re-plans a prepared statement when search_path changed since it was planned.
_db["OPTIONS"]["prepare_threshold"] = 1
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# Set search_path once per schema switch rather than before every query (halves the statements
# of a sale); every request, task and consumer switches schema explicitly, which resets it.
TENANT_LIMIT_SET_CALLS = True

# `tenants` comes before `django_tenants` so that its `migrate_schemas` (template first, stale
# schemas only, in parallel) overrides the stock command.
SHARED_APPS = [
    "tenants",
    "django_tenants",
    "provider",
    "billing",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
]
TENANT_APPS = [
    "atrium",
    "apps.accounts",
    "apps.merchants",
    "apps.members",
    "apps.loyalty",
    "apps.sales",
    "apps.imports",
    "apps.settlement",
    "apps.clearing",
    "apps.reconciliation",
    "apps.console",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "atrium.urls_public"
ROOT_URLCONF = "atrium.urls_tenant"
TENANT_TEMPLATE_SCHEMA = "atrium_template"
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("MIGRATE_PROCESSES", default=4)
TENANT_CREATION_FAKES_MIGRATIONS = False

MIDDLEWARE = [
    "atrium.middleware.RequestContextMiddleware",
    "tenants.middleware.TenantResolutionMiddleware",
    "apps.sales.middleware.PosSaleArrivalMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "platform" / "atrium" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "atrium.wsgi.application"
ASGI_APPLICATION = "atrium.asgi.application"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCESS_TOKEN_TTL_SECONDS = env.int("ACCESS_TOKEN_TTL_SECONDS", default=15 * 60)
REFRESH_TOKEN_TTL_SECONDS = env.int("REFRESH_TOKEN_TTL_SECONDS", default=30 * 24 * 3600)
INVITATION_TTL_SECONDS = env.int("INVITATION_TTL_SECONDS", default=7 * 24 * 3600)
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=300)
HMAC_MAX_SKEW_SECONDS = 300
# Group commit of POS sales (ADR 0021): how long a group's leader waits, at most, for the POS
# calls of its mall still on their way through this process. 0 writes at once.
SALES_GROUP_GATHER_MS = env.float("SALES_GROUP_GATHER_MS", default=10.0)
# The POS ingest (ADR 0022): writer threads per ingest process, each answering every POS sale
# call queued by the time it is free; while one writes, the others are spares that take calls
# only once the oldest has waited 50 ms behind it (ADR 0026). And how long, at most, a writer
# waits for calls that keep arriving (each within 0.5 ms) before it writes them together. 0
# writes at once.
POS_INGEST_WRITERS = env.int("POS_INGEST_WRITERS", default=2)
POS_INGEST_GATHER_MS = env.float("POS_INGEST_GATHER_MS", default=3.0)

CACHES = {
    "default": {
        # Django's Redis backend, reusing one client per connection pool (see atrium/cache.py).
        "BACKEND": "atrium.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Keys carry the schema, so one mall's cache never answers for another.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"  # the Alipay SDK signs timestamps in local time
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / ".devdata" / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serve straight from the app folders in development, so no collectstatic is needed there.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".devdata" / "media")))
PRIVATE_ROOT = Path(env.str("PRIVATE_ROOT", default=str(BASE_DIR / ".devdata" / "private")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PG_BIN_DIR = env.str("PG_BIN_DIR", default=str(embedded.pg_bin_dir()))

SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
if SENTRY_DSN:
    from atrium.observability import init_sentry

    init_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "atrium.logging.JsonFormatter"}},
    "filters": {"redact": {"()": "atrium.logging.RedactingFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
if TRUST_X_FORWARDED_FOR:
    # Behind our nginx, which terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Text messages (integrations/sms): `file` for the demo, `memory` in tests, `aliyun` in production.
SMS_BACKEND = env.str("SMS_BACKEND", default="file")
SMS_FILE_DIR = Path(env.str("SMS_FILE_DIR", default=str(BASE_DIR / ".devdata" / "sms")))
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=5.0)
SMS_ALIYUN_ACCESS_KEY_ID = env.str("SMS_ALIYUN_ACCESS_KEY_ID", default="")
SMS_ALIYUN_ACCESS_KEY_SECRET = env.str("SMS_ALIYUN_ACCESS_KEY_SECRET", default="")
SMS_ALIYUN_ENDPOINT = env.str("SMS_ALIYUN_ENDPOINT", default="https://dysmsapi.aliyuncs.com/")
SMS_ALIYUN_REGION = env.str("SMS_ALIYUN_REGION", default="cn-hangzhou")
SMS_ALIYUN_SIGN_NAME = env.str("SMS_ALIYUN_SIGN_NAME", default="")
SMS_ALIYUN_TEMPLATES = env.dict("SMS_ALIYUN_TEMPLATES", default={})  # e.g. otp=SMS_123456789
if SMS_BACKEND not in {"file", "memory", "aliyun"}:
    raise RuntimeError("SMS_BACKEND must be file, memory or aliyun")
if SMS_BACKEND == "aliyun" and not (
    SMS_ALIYUN_ACCESS_KEY_ID
    and SMS_ALIYUN_ACCESS_KEY_SECRET
    and SMS_ALIYUN_SIGN_NAME
    and "otp" in SMS_ALIYUN_TEMPLATES
):
    raise RuntimeError(
        "SMS_BACKEND=aliyun needs SMS_ALIYUN_ACCESS_KEY_ID, SMS_ALIYUN_ACCESS_KEY_SECRET, "
        "SMS_ALIYUN_SIGN_NAME and an `otp` entry in SMS_ALIYUN_TEMPLATES"
    )

# WeChat mini-program login (integrations/wechat); empty app id: WeChat login is switched off.
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
WECHAT_API_BASE = env.str("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)

# Alipay (integrations/alipay): the mall's app that pays merchants by royalty settle. Empty app
# id: every statement is paid through the bank transfer file. Keys come from the environment.
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY = env.str("ALIPAY_APP_PRIVATE_KEY", default="", multiline=True)
ALIPAY_PUBLIC_KEY = env.str("ALIPAY_PUBLIC_KEY", default="", multiline=True)
ALIPAY_GATEWAY = env.str("ALIPAY_GATEWAY", default="https://openapi.alipay.com/gateway.do")
# Settlement: an issued statement the merchant leaves unanswered is confirmed after this many days.
SETTLEMENT_AUTO_CONFIRM_DAYS = env.int("SETTLEMENT_AUTO_CONFIRM_DAYS", default=7)

from atrium.settings.celery import *  # noqa: E402,F403
from atrium.settings.realtime import *  # noqa: E402,F403
