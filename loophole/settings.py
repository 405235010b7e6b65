"""The one settings module, and the only reader of the environment.

Every variable is optional: with none set the app runs on SQLite, eager Celery, console email and
SMS, and the built-in local assistant. PRODUCT.md lists the names; a bad value fails at start-up
with ImproperlyConfigured naming it.
"""

import hashlib
import hmac
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from loophole.proxies import parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="")
    if raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _whole_number(name: str, default: int, lowest: int, highest: int) -> int:
    raw = env.str(name, default="")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and lowest <= int(raw) <= highest):
        raise ImproperlyConfigured(f"{name} must be a whole number from {lowest} to {highest}, not {raw!r}")
    return int(raw)


DEBUG = _bool("DEBUG", True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-loophole-development-only"  # noqa: S105
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
_public = urlsplit(PUBLIC_URL)
if _public.scheme not in {"http", "https"} or not _public.netloc or _public.path:
    raise ImproperlyConfigured(f"PUBLIC_URL must be an origin like https://support.example.com, not {PUBLIC_URL!r}")
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]

# The reverse proxies whose X-Forwarded-For names the client (loophole.proxies); empty: the peer is the client.
try:
    TRUSTED_PROXIES = parse_networks(env.str("TRUSTED_PROXIES", default=""))
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES must be addresses or CIDRs separated by commas: {exc}") from None

SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@loophole.localhost")
if "@" not in SUPPORT_EMAIL:
    raise ImproperlyConfigured(f"SUPPORT_EMAIL must be an email address, not {SUPPORT_EMAIL!r}")
DEFAULT_FROM_EMAIL = f"Loophole support <{SUPPORT_EMAIL}>"
SERVER_EMAIL = SUPPORT_EMAIL

# Staff notifications also go as a signed JSON POST here (Slack-style integrations); unset: email only.
STAFF_WEBHOOK_URL = env.str("STAFF_WEBHOOK_URL", default="")
_webhook = urlsplit(STAFF_WEBHOOK_URL)
if STAFF_WEBHOOK_URL and (_webhook.scheme not in {"http", "https"} or not _webhook.hostname):
    raise ImproperlyConfigured(f"STAFF_WEBHOOK_URL must be an http:// or https:// URL, not {STAFF_WEBHOOK_URL!r}")
STAFF_WEBHOOK_SECRET = env.str("STAFF_WEBHOOK_SECRET", default="")
if STAFF_WEBHOOK_URL and len(STAFF_WEBHOOK_SECRET.encode()) < 16:
    raise ImproperlyConfigured("STAFF_WEBHOOK_SECRET must be set, at least 16 bytes, when STAFF_WEBHOOK_URL is")

INSTALLED_APPS = [
    "loophole",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # the search's trigram indexes (OpClass); harmless on SQLite
    "django_celery_beat",
    "anymail",
    "tickets",
    "assistant",
    "channels_io",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "loophole.middleware.ContentSecurityPolicyMiddleware",
    "loophole.middleware.StaticFilesMiddleware",
    "loophole.middleware.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "loophole.urls"
WSGI_APPLICATION = "loophole.wsgi.application"
ASGI_APPLICATION = "loophole.asgi.application"

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
                "loophole.context_processors.support",
            ],
        },
    },
]

# Database: DATABASE_URL (postgres:// through psycopg 3, or sqlite:////absolute/path).
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # django-environ warns on an unknown scheme; we refuse it below
        DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
except (ImproperlyConfigured, KeyError, ValueError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django knows: {exc}") from exc
_db = DATABASES["default"]
if _db.get("ENGINE") not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
    raise ImproperlyConfigured("DATABASE_URL must be postgres://… or sqlite:////absolute/path.sqlite3")
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Under an ASGI server every request runs in a fresh thread: a pool keeps connections warm.
    _db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 20, "timeout": 10}
    _db["CONN_MAX_AGE"] = 0
else:
    _db.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "loophole.User"
# Django's model backend (under the name existing sessions recorded) and database sessions.
AUTHENTICATION_BACKENDS = ["loophole.auth.Backend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CSRF_FAILURE_VIEW = "loophole.views.csrf_failure"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "loophole.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Email: EMAIL_URL (smtp://user:pass@host:port, smtp+tls://…); console when unset.
try:
    vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
except (KeyError, ValueError, ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"EMAIL_URL is not an email URL (smtp://… or smtp+tls://…): {exc}") from exc
EMAIL_TIMEOUT = 20
# Seconds a worker may spend reading one inbound mail (the parsing steps check it; Celery's soft and
# hard time limits back it on a prefork worker). A mail not read in time is kept, marked, answered.
INBOUND_EMAIL_PARSE_SECONDS = 10

# Inbound email: Postmark's inbound webhook through django-anymail at /anymail/postmark/inbound/, behind
# HTTP basic auth. ANYMAIL_WEBHOOK_SECRET is its "user:password", required when DEBUG is off. In
# development, unset, they are derived from SECRET_KEY (whose default is public): the user "postmark",
# the password the first 32 hex digits of HMAC-SHA256(SECRET_KEY, "anymail-inbound-webhook").
# `manage.py receive_email --webhook-url` prints the URL to paste into Postmark.
_WEBHOOK_SECRET_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_webhook_secret = env.str("ANYMAIL_WEBHOOK_SECRET", default="")
_webhook_user, _, _webhook_password = _webhook_secret.partition(":")
# Characters a URL's user and password parts take as they are: the printed URL works when pasted.
if _webhook_secret and (
    not _webhook_user
    or len(_webhook_password) < 16
    or not set(_webhook_user + _webhook_password) <= _WEBHOOK_SECRET_CHARACTERS
):
    raise ImproperlyConfigured(
        "ANYMAIL_WEBHOOK_SECRET must be user:password, with a password of 16 or more characters, both of "
        "letters, digits and - . _ ~"
    )
if not _webhook_secret:
    if not DEBUG:
        raise ImproperlyConfigured(
            "ANYMAIL_WEBHOOK_SECRET (user:password of the inbound email webhook) must be set when DEBUG is off"
        )
    _webhook_secret = (
        "postmark:" + hmac.new(SECRET_KEY.encode(), b"anymail-inbound-webhook", hashlib.sha256).hexdigest()[:32]
    )
ANYMAIL = {"WEBHOOK_SECRET": _webhook_secret}

# Mail through `receive_email` is tied to an account only when the topmost Authentication-Results
# header of one of these authserv-ids (our own mail server's, which checks SPF/DKIM/DMARC) passed
# for the sender's domain. EMAIL_AUTHSERV_ID: comma-separated; unset, no such mail names an account.
EMAIL_AUTHSERV_IDS = tuple(
    name.strip().lower() for name in env.str("EMAIL_AUTHSERV_ID", default="").split(",") if name.strip()
)
if any(not all(char.isalnum() or char in "-._" for char in name) for name in EMAIL_AUTHSERV_IDS):
    raise ImproperlyConfigured(f"EMAIL_AUTHSERV_ID must be host names separated by commas, not {EMAIL_AUTHSERV_IDS}")

# Redis: Celery broker and cache. Unset: tasks run eagerly in-process, cache in memory.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in {"redis", "rediss"}:
    raise ImproperlyConfigured(f"REDIS_URL must be redis://… or rediss://…, not {REDIS_URL!r}")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"pool_class": "loophole.cache.SharedConnectionPool"},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# OpenAI-compatible model backend; unset: the built-in local assistant.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_MODEL = env.str("OPENAI_MODEL", default="") or "gpt-4o-mini"  # empty counts as unset

# Twilio SMS and voice; unset: webhooks answer 503 and SMS go through SMS_BACKEND.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_PHONE_NUMBER = env.str("TWILIO_PHONE_NUMBER", default="")
TWILIO_CONFIGURED = bool(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER)
_SMS_BACKENDS = {
    "twilio": "channels_io.sms.backends.TwilioBackend",
    "console": "channels_io.sms.backends.ConsoleBackend",
    "locmem": "channels_io.sms.backends.LocmemBackend",
    "file": "channels_io.sms.backends.FileBackend",
}
_sms_backend = env.str("SMS_BACKEND", default="") or ("twilio" if TWILIO_CONFIGURED else "console")
if _sms_backend not in _SMS_BACKENDS and "." not in _sms_backend:
    raise ImproperlyConfigured(
        f"SMS_BACKEND must be one of {', '.join(_SMS_BACKENDS)} or a dotted path, not {_sms_backend!r}"
    )
SMS_BACKEND = _SMS_BACKENDS.get(_sms_backend, _sms_backend)
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / "sms-messages"))
# On the phone, caller ID alone (anyone can fake it) tells whether the caller has open tickets; their
# details need the caller to say the ticket's ID. True: a call whose number the carrier fully attested
# (Twilio's StirVerstat TN-Validation-Passed-A) hears them without. Off by default: A attestation says
# the caller's carrier lets that line use the number, not who holds the phone (a shared or office
# line, a reassigned number), and only US carriers sign calls at all.
VOICE_TRUST_STIR_ATTESTATION = False

# Customers may create accounts at /accounts/signup/ (the address verified by a mailed link). Off: the
# page is a 404 and accounts come from staff, an operator or the host product only.
SIGNUP_ENABLED = _bool("SIGNUP_ENABLED", True)

# The widget on the host product's pages: the origins whose pages may embed it (its frame's
# frame-ancestors), and the HS256 secret with which the product signs its user's identity token
# (POST /chat/identify/). Empty: our own pages only; no secret: no embedded identity.
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-:")


def _origins(name: str) -> tuple[str, ...]:
    origins = []
    for raw in env.str(name, default="").split(","):
        origin = raw.strip()
        if not origin:
            continue
        parts = urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or port == -1
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
            or parts.password is not None
            or not set(parts.hostname) <= _HOST_CHARACTERS  # the origin goes into a CSP header as it is
        ):
            raise ImproperlyConfigured(
                f"{name} must be origins like https://app.example.com[:port] separated by commas, not {origin!r}"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        origins.append(f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else ""))
    return tuple(origins)


WIDGET_ALLOWED_ORIGINS = _origins("WIDGET_ALLOWED_ORIGINS")
WIDGET_JWT_SECRET = env.str("WIDGET_JWT_SECRET", default="")
if WIDGET_JWT_SECRET and len(WIDGET_JWT_SECRET.encode()) < 32:
    raise ImproperlyConfigured("WIDGET_JWT_SECRET must be at least 32 bytes long (HS256 needs a 256-bit key)")
if WIDGET_ALLOWED_ORIGINS and _public.scheme == "https":
    # The widget's frame may sit on another site than the page around it: its session and CSRF
    # cookies must still be sent from inside that frame, which browsers allow for Secure ones only.
    SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

# Product rules.
TICKET_RETENTION_DAYS = 30
PURGE_BATCH_SIZE = 1000

# Open chat event streams: at most this many per customer (one more closes the oldest), each
# checking its session and its place at every heartbeat (a constant, seconds).
CHAT_STREAMS_PER_CUSTOMER = _whole_number("CHAT_STREAMS_PER_CUSTOMER", 10, 1, 1000)
# Seconds after which a staff chat reply the customer was not shown goes by email (0: at once).
CHAT_AWAY_EMAIL_AFTER = _whole_number("CHAT_AWAY_EMAIL_AFTER", 120, 0, 7 * 24 * 3600)
CHAT_STREAM_HEARTBEAT_SECONDS: float = 15

# Abuse limits (constants, not variables). Per client IP (REMOTE_ADDR: the client loophole.proxies
# names), requests a minute: the widget's endpoints, and each inbound webhook (Twilio and mail providers
# call from many addresses; this passes a real provider's burst). Loopback is not counted with DEBUG on
# only: in production a local proxy or process is a client like any other.
RATE_LIMIT_CHAT_PER_IP = 300
RATE_LIMIT_WEBHOOKS_PER_IP = 600
RATE_LIMIT_EXEMPT_IPS = frozenset({"127.0.0.1", "::1"}) if DEBUG else frozenset()
# Log-in lock-out: this many failures for one account, or from one IP, within a window lock it.
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_IP = 20
LOGIN_FAILURE_WINDOW = 15 * 60  # seconds
LOGIN_LOCKOUT_SECONDS = 15 * 60  # not shorter than the window: a lock outlasts the failures behind it
# Account mail (sign-up, password reset, a new verification link): per client IP and per address
# (counted as the log-in lock-out counts accounts) within the window; one more is refused with a 429.
ACCOUNT_MAIL_PER_IP = 20
ACCOUNT_MAIL_PER_ADDRESS = 5
ACCOUNT_MAIL_WINDOW = 60 * 60  # seconds
EMAIL_VERIFICATION_TIMEOUT = 3 * 24 * 60 * 60  # seconds a sign-up's verification link works
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60  # seconds a password reset link works (Django's setting)
# Only our own origin: the widget is one static script, styles are static files, no inline code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _public.scheme == "https"
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer may check over plain HTTP inside the network
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _public.scheme == "https"
    SECURE_HSTS_SECONDS = 31536000 if _public.scheme == "https" else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
    SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "class": "loophole.logs.RedactingFormatter",  # email addresses and phone numbers masked
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "twilio.http_client": {"level": "WARNING"},  # logs request URLs and query strings at INFO
    },
}
