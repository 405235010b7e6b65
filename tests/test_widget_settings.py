"""WIDGET_ALLOWED_ORIGINS and WIDGET_JWT_SECRET: parsed at start-up, a bad value named."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_settings import NAMES, ROOT, load

SECRET = "s" * 32


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WIDGET_ALLOWED_ORIGINS": "app.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "ftp://app.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.example.com/"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.example.com/app"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://*.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.example.com:99999"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://user:pw@app.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.example.com https://b.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.example.com;script-src"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_ALLOWED_ORIGINS": "https://app.exämple.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"WIDGET_JWT_SECRET": "short"}, "WIDGET_JWT_SECRET"),
    ],
    ids=[
        "no-scheme",
        "ftp",
        "trailing-slash",
        "path",
        "wildcard",
        "bad-port",
        "credentials",
        "space-separated",
        "policy-injection",
        "not-ascii",
        "short-secret",
    ],
)
def test_a_bad_widget_setting_fails_at_start_up_naming_it(env, named):
    result = load(**env)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and named in last


def test_allowed_origins_are_read_as_browsers_write_them():
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean.update(
        DJANGO_SETTINGS_MODULE="loophole.settings",
        WIDGET_ALLOWED_ORIGINS=" https://App.Example.com:443, http://127.0.0.1:8080 ,,https://b.example.com:8443",
        WIDGET_JWT_SECRET=SECRET,
        PUBLIC_URL="https://support.example.com",
    )
    probe = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps("
        "[settings.WIDGET_ALLOWED_ORIGINS, settings.WIDGET_JWT_SECRET, settings.SESSION_COOKIE_SAMESITE,"
        " settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SAMESITE, settings.CSRF_COOKIE_SECURE]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    origins, secret, *cookies = json.loads(result.stdout)
    assert origins == ["https://app.example.com", "http://127.0.0.1:8080", "https://b.example.com:8443"]
    assert secret == SECRET
    assert cookies == ["None", True, "None", True]  # sent from inside the frame on another site


def test_unset_the_widget_is_on_our_own_pages_only():
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean.update(DJANGO_SETTINGS_MODULE="loophole.settings")
    probe = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps("
        "[settings.WIDGET_ALLOWED_ORIGINS, settings.WIDGET_JWT_SECRET, settings.SESSION_COOKIE_SAMESITE]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert json.loads(result.stdout) == [[], "", "Lax"]
