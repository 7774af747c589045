"""Settings, all from environment variables with safe defaults (nothing exists only in production).

Security: BSI TR-02102-2 (TLS behind the proxy), seed 000 "Sicherheitshinweise"/"Cookies":
session cookies carry no personal data and are Secure/HttpOnly/SameSite.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "ja"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env("KVPORTAL_VAR_DIR", str(Path.cwd() / "var")))

DEBUG = env_bool("KVPORTAL_DEBUG", False)
SECRET_KEY = env("KVPORTAL_SECRET_KEY")
if not SECRET_KEY:
    if env_bool("KVPORTAL_NO_SECRET_NEEDED", False):  # `kvportal help`: nothing is signed
        SECRET_KEY = secrets.token_urlsafe(50)
    elif not DEBUG and not env_bool("KVPORTAL_ALLOW_INSECURE_KEY", False):
        raise ImproperlyConfigured(
            "Die Umgebungsvariable KVPORTAL_SECRET_KEY ist nicht gesetzt. Setzen Sie sie, z. B. "
            "export KVPORTAL_SECRET_KEY=\"$(python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(50))')\", oder nutzen Sie für die Entwicklung "
            "./dev kvportal … (setzt KVPORTAL_DEBUG=1)."
        )
    else:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("KVPORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("KVPORTAL_CSRF_TRUSTED_ORIGINS", "")
#: Address of the portal as printed in credential letters and e-mails.
PORTAL_URL = env("KVPORTAL_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "django_celery_beat",
    "kvportal.core",
    "kvportal.audit",
    "kvportal.members",
    "kvportal.accounts",
    "kvportal.kvdt",
    "kvportal.billing",
    "kvportal.documents",
    "kvportal.access",
    "kvportal.admission",
    "kvportal.ehba",
    "kvportal.kim",
    "kvportal.arztbrief",
    "kvportal.oneclick",
    "kvportal.masterdata",
    "kvportal.portal",
    "kvportal.legal",
    "kvportal.selfservice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kvportal.audit.middleware.RequestContextMiddleware",
    "kvportal.accounts.middleware.IdleTimeoutMiddleware",
    "kvportal.accounts.middleware.SecurityGateMiddleware",
    "kvportal.accounts.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "kvportal.core.middleware.FriendlyErrorMiddleware",
    "kvportal.accounts.middleware.ScopeCacheMiddleware",
]

ROOT_URLCONF = "kvportal.urls"
WSGI_APPLICATION = "kvportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kvportal.core.context_processors.portal",
            ],
            # issue 13: memoized {% url %} and |date in every template (same output)
            "builtins": ["kvportal.core.templatetags.cached_builtins"],
        },
    },
]

# --- Database: SQLite embedded by default, PostgreSQL via DATABASE_URL ---------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kvportal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A small multi-user server on SQLite (issue 11): WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock at BEGIN so a transaction that reads and then writes waits
    # for the lock (busy timeout) instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env_int("KVPORTAL_SQLITE_TIMEOUT", 30),
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
#: A PostgreSQL server that does not answer fails fast (readiness probe, requests) instead of
#: hanging on the operating system's TCP timeout.
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )

# --- Authentication ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if env_bool("KVPORTAL_FAST_HASHER", False):  # test suites only: Argon2 costs ~50 ms per hash
    PASSWORD_HASHERS.insert(0, "django.contrib.auth.hashers.MD5PasswordHasher")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "kvportal.accounts.passwords.LengthValidator"},
    {"NAME": "kvportal.accounts.passwords.CharacterClassValidator"},
    {"NAME": "kvportal.accounts.passwords.CommonPasswordValidator"},
    {"NAME": "kvportal.accounts.passwords.PersonalDataValidator"},
    {"NAME": "kvportal.accounts.passwords.PasswordHistoryValidator"},
]
#: How many previous passwords cannot be reused (hashes kept in accounts.PasswordHistory).
PASSWORD_HISTORY_COUNT = env_int("KVPORTAL_PASSWORD_HISTORY", 5)
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
#: Initial passwords from credential letters expire after this many days (seed 001).
INITIAL_PASSWORD_VALIDITY_DAYS = env_int("KVPORTAL_INITIAL_PASSWORD_DAYS", 30)

# Lockout (django-axes): lock the account after N failures until staff unlock it.
AXES_FAILURE_LIMIT = env_int("KVPORTAL_LOCKOUT_FAILURES", 5)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Lock the account, not the IP: practices share one address behind their router.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_COOLOFF_TIME = None
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_IPWARE_PROXY_COUNT = env_int("KVPORTAL_PROXY_COUNT", 0) or None

OTP_TOTP_ISSUER = env("KVPORTAL_OTP_ISSUER", "KV-Mitgliederportal")

# --- Sessions ------------------------------------------------------------------------------
#: Idle sessions end after this many minutes (seed 000: automatic logout).
SESSION_IDLE_MINUTES = env_int("KVPORTAL_SESSION_IDLE_MINUTES", 30)
#: Absolute limit: a session ends this long after login, whatever the activity.
SESSION_COOKIE_AGE = env_int("KVPORTAL_SESSION_MAX_HOURS", 10) * 3600
#: Polling endpoints whose requests do not count as activity for the idle timeout (the
#: portal's scripts also send the header X-Kvportal-Background: 1).
KVPORTAL_BACKGROUND_URL_NAMES = ["billing:status"]
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_NAME = "kvportal_session"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
#: Behind TLS (production): Secure cookies, HSTS, redirect to https.
HTTPS = env_bool("KVPORTAL_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
#: Plain HTTP is redirected to https when HTTPS is on; probes (/healthz, /readyz) stay on
#: plain HTTP so load balancers and orchestrators can reach them inside the cluster.
SECURE_SSL_REDIRECT = HTTPS and env_bool("KVPORTAL_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
if env_bool("KVPORTAL_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content Security Policy (django-csp 4): no inline script, no external hosts ------------
EHBA_AGENT_URL = env("KVPORTAL_EHBA_AGENT_URL", "http://127.0.0.1:8765")
EHBA_DIR = Path(env("KVPORTAL_EHBA_DIR", str(VAR_DIR / "ehba")))
#: Upload limit for signed PDFs (/ehba/dokument/<id>/hochladen/), separate from MAX_UPLOAD_MB.
EHBA_MAX_UPLOAD_MB = env_int("KVPORTAL_EHBA_MAX_UPLOAD_MB", 20)
#: eHBA trust (docs/ehba.md): production trust anchors are PEM files (comma-separated; a
#: directory stands for its *.pem) – the HBA CAs for card login, the qualified CAs/roots for
#: QES; revocation by OCSP. The test PKI is trusted only with the demo/test switch.
EHBA_LOGIN_TRUST_ANCHORS = env_list("KVPORTAL_EHBA_LOGIN_TRUST_ANCHORS", "")
EHBA_QES_TRUST_ANCHORS = env_list("KVPORTAL_EHBA_QES_TRUST_ANCHORS", "")
EHBA_TEST_PKI = env_bool("KVPORTAL_EHBA_TEST_PKI", DEBUG)
EHBA_TEST_PKI_DIR = Path(env("KVPORTAL_EHBA_TEST_PKI_DIR", str(EHBA_DIR / "pki")))
#: Revocation for test-PKI certificates: "local" (its state) or "ocsp" (real round trip).
EHBA_REVOCATION = env("KVPORTAL_EHBA_REVOCATION", "local")
#: Overrides the OCSP address of the certificates (like the TSL's address mapping).
EHBA_OCSP_URL = env("KVPORTAL_EHBA_OCSP_URL", "")
EHBA_CHALLENGE_SECONDS = 120  # validity of an eHBA login challenge (gematik IDP style)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", EHBA_AGENT_URL],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- Internationalisation: German UI --------------------------------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch")]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static and private files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("KVPORTAL_STATIC_ROOT", str(VAR_DIR / "static")))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
#: Private files (billing files, documents, PDFs): never served directly.
PRIVATE_ROOT = Path(env("KVPORTAL_PRIVATE_ROOT", str(VAR_DIR / "private")))
PRIVATE_STORAGE_BACKEND = env("KVPORTAL_PRIVATE_STORAGE", "filesystem")  # or "s3"
S3_PRIVATE = {
    "bucket_name": env("KVPORTAL_S3_BUCKET"),
    "endpoint_url": env("KVPORTAL_S3_ENDPOINT") or None,
    "access_key": env("KVPORTAL_S3_ACCESS_KEY"),
    "secret_key": env("KVPORTAL_S3_SECRET_KEY"),
    "region_name": env("KVPORTAL_S3_REGION") or None,
    "default_acl": "private",
    "querystring_auth": True,
    # like the filesystem: a name in use gets a suffix instead of replacing another file
    "file_overwrite": False,
    # downloads spool to a temporary file beyond 2 MB instead of holding the object in RAM
    "max_memory_size": 2 * 1024 * 1024,
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = PRIVATE_ROOT
MAX_UPLOAD_MB = env_int("KVPORTAL_MAX_UPLOAD_MB", 200)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- E-mail (notifications carry no health data) ---------------------------------------------
EMAIL_BACKEND = env("KVPORTAL_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("KVPORTAL_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("KVPORTAL_EMAIL_PORT", 25)
EMAIL_HOST_USER = env("KVPORTAL_EMAIL_USER")
EMAIL_HOST_PASSWORD = env("KVPORTAL_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("KVPORTAL_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env("KVPORTAL_EMAIL_FROM", "mitgliederportal@kv.example")

# --- Background work (Celery; in-process when no broker is configured) ----------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Durable background work (issue 11): a task is acknowledged only after it ran; a task whose
# worker process died is given back to the queue instead of being acked and lost; Redis hands
# an unacknowledged task to another worker after the visibility timeout, which must be longer
# than the longest task (the time limit) or a running check would be delivered twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("KVPORTAL_TASK_TIME_LIMIT", 30 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("KVPORTAL_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5 * 60)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "purge-expired": {
        "task": "kvportal.core.tasks.purge_expired",
        "schedule": 60 * 60,  # hourly; every purger is idempotent and batched
    },
    "recover-stalled": {
        "task": "kvportal.core.tasks.recover_stalled",
        # every registered recoverer re-queues work whose lease ran out (billing checks)
        "schedule": env_int("KVPORTAL_RECOVER_EVERY", 60),
    },
}

# --- Retention -------------------------------------------------------------------------------
#: Seed 000 "Datenerhebung und Protokollierung": access log kept 31 days.
AUDIT_RETENTION_DAYS = 31
PURGE_BATCH_SIZE = env_int("KVPORTAL_PURGE_BATCH_SIZE", 2000)

# --- Logging: no patient data, no passwords ----------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "kvportal.audit.context.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env("KVPORTAL_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Feature settings (documented in docs/<app>.md) -------------------------------------------
#: Applications must arrive this many weeks before a committee session (Zulassungsausschuss).
ADMISSION_LEAD_WEEKS = env_int("KVPORTAL_ADMISSION_LEAD_WEEKS", 6)
ADMISSION_MAX_ATTACHMENT_MB = env_int("KVPORTAL_ADMISSION_MAX_ATTACHMENT_MB", 20)
ADMISSION_DRAFT_DAYS = env_int("KVPORTAL_ADMISSION_DRAFT_DAYS", 180)
#: Anti-automation on the public access application (no image puzzle): proof-of-work
#: difficulty (leading zero hex digits) and starts per hour (access/antiabuse.py).
ACCESS_POW_DIFFICULTY = env_int("KVPORTAL_ACCESS_POW_DIFFICULTY", 4)
ACCESS_RATE_LIMITS = {"ip": 10, "ip_noscript": 3, "email": 3}

# --- Declared settings (issue 13: every setting an app reads is declared here) -------------------
ACCESS_CONFIRMATION_DAYS = 14  # a confirmation link/code of the access application stays valid
ACCESS_DRAFT_DAYS = 30  # abandoned and withdrawn access applications are deleted after
BILLING_CHECK_LEASE_SECONDS = 120
BILLING_CHECK_MAX_ATTEMPTS = 5
BILLING_CHECK_TEST_DELAY = 0.0  # test-only slow check (tests/faults)
BILLING_MAX_UPLOAD_BYTES = 0  # 0: MAX_UPLOAD_MB applies
BILLING_TEST_RUN_HOURS = 24
#: § 304 SGB V: years per document type (DocType value → years); types not named keep 10.
DOCUMENT_RETENTION_YEARS: dict[str, int] = {}
#: Durable outbox (core/tasks.py): lease of a run, attempts before giving up, first back-off
#: (doubling up to 1 h), days a finished job row is kept.
KVPORTAL_OUTBOX_LEASE_SECONDS = env_int("KVPORTAL_OUTBOX_LEASE_SECONDS", 300)
KVPORTAL_OUTBOX_MAX_ATTEMPTS = env_int("KVPORTAL_OUTBOX_MAX_ATTEMPTS", 10)
KVPORTAL_OUTBOX_BACKOFF_SECONDS = env_int("KVPORTAL_OUTBOX_BACKOFF_SECONDS", 30)
KVPORTAL_OUTBOX_KEEP_DAYS = env_int("KVPORTAL_OUTBOX_KEEP_DAYS", 31)
KVPORTAL_OTP_FOR_ALL = False  # second factor mandatory for members too (staff always)
KVPORTAL_RECOVER_EVERY = env_int("KVPORTAL_RECOVER_EVERY", 60)
KVPORTAL_RECOVER_IN_PROCESS = True
KV_NAME = "Kassenärztliche Vereinigung Sachsen"
KV_ARZTREGISTER_ADDRESS = ["Fachbereich Arztregister", "Postfach 1164", "09070 Chemnitz"]
PASSWORD_MIN_LENGTH = 10
#: One confirmation primitive (core/confirmation.py): secret link + one-time e-mail code.
CONFIRMATION_TOKEN_BYTES = 32
CONFIRMATION_CODE_DIGITS = 6
CONFIRMATION_MAX_ATTEMPTS = 5  # wrong codes before a new code must be requested
CONFIRMATION_CODE_MINUTES = 30  # validity of a code requested on its own (admission)
CONFIRMATION_RESEND_SECONDS = 60  # a new code at most once a minute
CONFIRMATION_MAX_CODES_PER_DAY = 5  # no mail bombing through a confirmation link
#: audit.record() refuses a write activity outside a transaction: raise (DEBUG, tests) or log.
AUDIT_REQUIRE_TRANSACTION = DEBUG
# --- Legal pages (kvportal.legal, docs/legal.md): the KV's own texts and the feedback address
#: Templates in this directory override the shipped demo texts (legal/texte/<seite>.html).
LEGAL_CONTENT_DIR = env("KVPORTAL_CONTENT_DIR")
if LEGAL_CONTENT_DIR:
    TEMPLATES[0]["DIRS"].insert(0, LEGAL_CONTENT_DIR)
#: BITV 2.0 § 7: feedback of the Erklärung zur Barrierefreiheit is mailed here (and stored).
ACCESSIBILITY_FEEDBACK_EMAIL = env(
    "KVPORTAL_ACCESSIBILITY_FEEDBACK_EMAIL", "barrierefreiheit@kv-musterland.example"
)
LEGAL_FEEDBACK_RETENTION_DAYS = env_int("KVPORTAL_LEGAL_FEEDBACK_RETENTION_DAYS", 730)
#: "Passwort vergessen" (kvportal.selfservice): requests for a new credential letter go here.
ARZTREGISTER_EMAIL = env("KVPORTAL_ARZTREGISTER_EMAIL", "arztregister@kv-musterland.example")
#: KIM (issue 15, docs/kim.md): domain of the KV's KIM addresses, folder of the test SMC-B CA.
KIM_DOMAIN = env("KVPORTAL_KIM_DOMAIN", "kv-sachsen.kim.example")
KIM_TSP_DIR = Path(env("KVPORTAL_KIM_TSP_DIR", str(VAR_DIR / "kim-tsp")))
#: Maildir root of the Fachdienst (`kvportal kim serve --store`); empty: web mailbox only.
KIM_STORE_DIR = env("KVPORTAL_KIM_STORE_DIR", "")
#: Local KIM agent the web mailbox talks to (decrypts/signs with the card; kim/agent_endpoints.py).
KIM_AGENT_URL = env("KVPORTAL_KIM_AGENT_URL", "http://127.0.0.1:8766")
#: Host name of the Fachdienst printed in credential letters; empty: mail.<KIM_DOMAIN>.
KIM_MAIL_HOST = env("KVPORTAL_KIM_MAIL_HOST", "")
#: The web mailbox submits over SMTP to the Fachdienst like a client module (kim/submission.py):
#: smtps://HOST:465 or smtp://HOST:587 (STARTTLS), CA file of its TLS certificate (empty: system
#: CAs). Empty URL: no Fachdienst, mails are delivered within the portal (development, demo).
KIM_SUBMISSION_URL = env("KVPORTAL_KIM_SUBMISSION_URL", "")
KIM_SUBMISSION_CA = env("KVPORTAL_KIM_SUBMISSION_CA", "")
if KIM_AGENT_URL not in CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"]:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"].append(KIM_AGENT_URL)
#: The KV's own KIM service mailbox (issue 16, kim/inbound.py, docs/oneclick.md): the billing
#: address (1-Click-Abrechnung, eSE), the KV's card as JSON naming PEM files (osig_key,
#: osig_cert, enc_key, enc_cert, chain), trust anchors for senders (PEM files); the test PKI
#: issues a software card from the test TSP instead (demo and tests only).
KIM_SERVICE_BILLING_ADDRESS = env(
    "KVPORTAL_KIM_SERVICE_BILLING_ADDRESS", f"abrechnung@{KIM_DOMAIN}"
)
KIM_SERVICE_CARD = env("KVPORTAL_KIM_SERVICE_CARD", "")
KIM_SERVICE_TRUST = env_list("KVPORTAL_KIM_SERVICE_TRUST", "")
KIM_SERVICE_TEST_PKI = env_bool("KVPORTAL_KIM_SERVICE_TEST_PKI", DEBUG)
#: eSE (elektronische Sammelerklärung): KV profile of the published schemas, "01" (KV
#: Schleswig-Holstein) or "38" (KV Nordrhein); oneclick/ese.py.
ONECLICK_ESE_PROFILE = env("KVPORTAL_ONECLICK_ESE_PROFILE", "38")
# --- Shared cache (issue 13) -------------------------------------------------------------------
#: Several web processes share the cache through Redis (e.g. redis://127.0.0.1:6379/1): the
#: security gate's device version (accounts/middleware.py) and the access rate limits must be
#: seen by all of them. Empty: each process keeps its own memory cache.
CACHE_URL = env("KVPORTAL_CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }

# eArztbrief (issue 16, docs/arztbrief.md): the plain content of a letter not sent within this
# many days is deleted (a sent letter's at once); size limit of an uploaded letter / CDA file.
ARZTBRIEF_UNSENT_DAYS = env_int("KVPORTAL_ARZTBRIEF_UNSENT_DAYS", 30)
ARZTBRIEF_MAX_UPLOAD_MB = env_int("KVPORTAL_ARZTBRIEF_MAX_UPLOAD_MB", 20)
