"""What operators rely on: /healthz, seed_demo, and logging in with the account email."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from loophole.models import PhoneNumber

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path):
    probe = "import django; django.setup(); from django.test import Client; print(Client().get('/healthz').status_code)"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    env["DJANGO_SETTINGS_MODULE"] = "loophole.settings"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "503", result.stderr


@pytest.fixture
def debug(settings):
    settings.DEBUG = True  # the test runner turns it off; seed_demo only runs with it on


def test_seed_demo_is_idempotent_and_prints_how_to_log_in(debug, capsys, client):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "demo@loophole.localhost" in out and "staff@loophole.localhost" in out
    users = get_user_model().objects
    assert users.filter(email="demo@loophole.localhost").count() == 1
    assert PhoneNumber.objects.get(number="+15555550100").user.email == "demo@loophole.localhost"
    staff = users.get(email="staff@loophole.localhost")
    assert staff.is_staff and not staff.is_superuser and staff.has_perm("tickets.change_ticket")

    response = client.post("/accounts/login/", {"username": "Demo@Loophole.localhost", "password": "demo-password"})
    assert response.status_code == 302
    assert client.get("/admin/tickets/ticket/").status_code == 302  # a customer is sent to the admin login

    client.logout()
    client.post("/admin/login/", {"username": "staff@loophole.localhost", "password": "staff-password"})
    assert client.get("/admin/tickets/ticket/").status_code == 200


def test_seed_demo_refuses_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(email="demo@loophole.localhost").exists()


@pytest.mark.parametrize(
    ("username", "password"),
    [("demo@loophole.localhost", "wrong"), ("nobody@loophole.localhost", "demo-password"), ("", "")],
    ids=["wrong-password", "unknown-email", "empty"],
)
def test_a_bad_login_is_refused_with_the_form(debug, client, username, password):
    call_command("seed_demo")
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_login_page_has_the_fixed_fields(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'name="username"' in html and 'name="password"' in html and "csrfmiddlewaretoken" in html
