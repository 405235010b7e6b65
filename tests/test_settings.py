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
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_variable(env, named):
    result = load(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


def test_only_products_variables_are_read():
    source = (ROOT / "loophole" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env\.(?:str|bool|list|db|email_url)\(\s*"([A-Z_]+)"', source))
    read |= set(re.findall(r'_bool\("([A-Z_]+)"', source))
    assert read <= set(NAMES), read - set(NAMES)
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or path.parts[-3:-1] == ("tests",) or "bench" in path.parts:
            continue
        if path.name != "settings.py" and "tests" not in path.parts:
            assert "os.environ[" not in path.read_text() and "os.getenv" not in path.read_text(), path
