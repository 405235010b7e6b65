"""Settings come from PRODUCT.md's environment variables; bad values stop start-up with their name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import PRODUCT_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(PRODUCT_VARIABLES)
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({k: str(getattr(settings, k)) for k in ("
    "'DEBUG', 'CELERY_TASK_ALWAYS_EAGER', 'EMAIL_BACKEND', 'SMS_BACKEND', 'PUBLIC_URL', 'DEFAULT_FROM_EMAIL',"
    "'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_USE_TLS', 'CELERY_BROKER_URL')} | "
    "{'WEBHOOK_SECRET': settings.ANYMAIL['WEBHOOK_SECRET']} | "
    "{'ENGINE': settings.DATABASES['default']['ENGINE'], 'NAME': str(settings.DATABASES['default']['NAME']),"
    " 'CACHE': settings.CACHES['default']['BACKEND']}))"
)


def load(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean.update(env, DJANGO_SETTINGS_MODULE="loophole.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_with_no_environment_the_embedded_defaults_apply():
    result = load()
    assert result.returncode == 0, result.stderr
    cfg = json.loads(result.stdout)
    assert cfg["ENGINE"] == "django.db.backends.sqlite3"
    assert cfg["NAME"] == str(ROOT / "db.sqlite3")
    assert cfg["CELERY_TASK_ALWAYS_EAGER"] == "True"
    assert cfg["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert cfg["SMS_BACKEND"] == "channels_io.sms.backends.ConsoleBackend"
    assert cfg["PUBLIC_URL"] == "http://127.0.0.1:8000"
    assert cfg["DEFAULT_FROM_EMAIL"].endswith("<support@loophole.localhost>")
    assert cfg["CACHE"].endswith("LocMemCache")
    assert cfg["DEBUG"] == "True"


def test_real_services_take_over_by_environment():
    result = load(
        DATABASE_URL="postgres://u:p@db.internal:5433/support",
        REDIS_URL="redis://cache.internal:6379/1",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.internal:587",
        SUPPORT_EMAIL="help@example.com",
        TWILIO_ACCOUNT_SID="AC123",
        TWILIO_AUTH_TOKEN="token",
        TWILIO_PHONE_NUMBER="+15555550000",
    )
    assert result.returncode == 0, result.stderr
    cfg = json.loads(result.stdout)
    assert cfg["ENGINE"] == "django.db.backends.postgresql" and cfg["NAME"] == "support"
    assert cfg["CELERY_TASK_ALWAYS_EAGER"] == "False"
    assert cfg["CELERY_BROKER_URL"] == "redis://cache.internal:6379/1"
    assert cfg["CACHE"].endswith("RedisCache")
    assert cfg["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (cfg["EMAIL_HOST"], cfg["EMAIL_PORT"], cfg["EMAIL_USE_TLS"]) == ("smtp.internal", "587", "True")
    assert cfg["DEFAULT_FROM_EMAIL"].endswith("<help@example.com>")
    assert cfg["SMS_BACKEND"] == "channels_io.sms.backends.TwilioBackend"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"EMAIL_URL": "carrier://pigeon"}, "EMAIL_URL"),
        ({"SMS_BACKEND": "pigeon"}, "SMS_BACKEND"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"PUBLIC_URL": "support.example.com"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "https://support.example.com/app"}, "PUBLIC_URL"),
        ({"SUPPORT_EMAIL": "support"}, "SUPPORT_EMAIL"),
        ({"DEBUG": "false"}, "SECRET_KEY"),
        ({"EMAIL_AUTHSERV_ID": "mx.example.com; dkim=pass"}, "EMAIL_AUTHSERV_ID"),
        ({"DEBUG": "false", "SECRET_KEY": "s" * 50}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"ANYMAIL_WEBHOOK_SECRET": "postmark"}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"ANYMAIL_WEBHOOK_SECRET": ":" + "p" * 32}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"ANYMAIL_WEBHOOK_SECRET": "postmark:" + "p" * 15}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"ANYMAIL_WEBHOOK_SECRET": "postmark:p@ss/word#with?url=parts"}, "ANYMAIL_WEBHOOK_SECRET"),
    ],
    ids=[
        "mysql",
        "garbage-db",
        "redis-scheme",
        "email-scheme",
        "sms",
        "debug",
        "origin",
        "path",
        "email",
        "secret",
        "authserv-id",
        "webhook-secret-unset",
        "webhook-secret-no-password",
        "webhook-secret-no-user",
        "webhook-secret-short",
        "webhook-secret-url-parts",
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_variable(env, named):
    result = load(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


def test_the_email_webhooks_credentials_are_its_own_not_derived_from_the_secret_key():
    own = "postmark:Zq7-Lk2_Vb9.Xw4~Rt6Yp1"
    production = json.loads(load(DEBUG="false", SECRET_KEY="s" * 50, ANYMAIL_WEBHOOK_SECRET=own).stdout)
    development = json.loads(load(ANYMAIL_WEBHOOK_SECRET=own).stdout)
    assert production["WEBHOOK_SECRET"] == development["WEBHOOK_SECRET"] == own
    # Unset in development only: derived from SECRET_KEY, so that the demo runs with no configuration.
    derived = json.loads(load(SECRET_KEY="s" * 50).stdout)["WEBHOOK_SECRET"]
    assert derived.startswith("postmark:") and derived != own


def test_only_products_variables_are_read():
    source = (ROOT / "loophole" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env\.(?:str|bool|list|db|email_url)\(\s*"([A-Z_]+)"', source))
    read |= set(re.findall(r'_(?:bool|whole_number)\("([A-Z_]+)"', source))
    assert read <= set(NAMES), read - set(NAMES)
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or path.parts[-3:-1] == ("tests",) or "bench" in path.parts:
            continue
        if path.name != "settings.py" and "tests" not in path.parts:
            assert "os.environ[" not in path.read_text() and "os.getenv" not in path.read_text(), path


@pytest.mark.parametrize(
    "raw", ["0", "-3", "ten", "2.5", " 5", "\u0661\u0660", "1001", "9" * 30], ids=lambda raw: repr(raw)[1:-1]
)
def test_a_bad_streams_per_customer_fails_at_start_up_naming_it(raw):
    result = load(CHAT_STREAMS_PER_CUSTOMER=raw)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "CHAT_STREAMS_PER_CUSTOMER" in last and "1 to 1000" in last


@pytest.mark.parametrize(("raw", "expected"), [("", 10), ("1", 1), ("1000", 1000)], ids=["unset", "one", "most"])
def test_streams_per_customer_comes_from_the_environment(raw, expected):
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean.update(CHAT_STREAMS_PER_CUSTOMER=raw, DJANGO_SETTINGS_MODULE="loophole.settings")
    probe = "import django; from django.conf import settings; django.setup(); print(settings.CHAT_STREAMS_PER_CUSTOMER)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 120), ("0", 0), ("604800", 604800)], ids=["unset", "at-once", "most"]
)
def test_chat_away_email_after_comes_from_the_environment(raw, expected):
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean.update(CHAT_AWAY_EMAIL_AFTER=raw, DJANGO_SETTINGS_MODULE="loophole.settings")
    probe = "import django; from django.conf import settings; django.setup(); print(settings.CHAT_AWAY_EMAIL_AFTER)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == expected


@pytest.mark.parametrize("raw", ["-1", "two", "1.5", " 5", "604801", "9" * 30], ids=lambda raw: repr(raw)[1:-1])
def test_a_bad_chat_away_email_after_fails_at_start_up_naming_it(raw):
    result = load(CHAT_AWAY_EMAIL_AFTER=raw)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "CHAT_AWAY_EMAIL_AFTER" in last and "0 to 604800" in last
