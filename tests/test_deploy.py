"""Production settings: `manage.py check --deploy` is clean with the documented environment, HTTPS is
enforced except for the load balancer's /healthz, and every HTML page carries a Content-Security-Policy
that its markup keeps to (no inline scripts, styles or event handlers)."""

import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests.assistant.helpers import add_articles
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.test_settings import NAMES

ROOT = Path(__file__).resolve().parent.parent


def production_env(**changes: str) -> dict[str, str]:
    """README's production environment, with placeholders for the hosts (nothing is connected to)."""
    env = {k: v for k, v in os.environ.items() if k not in NAMES}
    env.update(
        DJANGO_SETTINGS_MODULE="loophole.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="support.example.com",
        PUBLIC_URL="https://support.example.com",
        DATABASE_URL="postgres://loophole:secret@db.internal:5432/loophole",
        REDIS_URL="redis://redis.internal:6379/0",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.example.com:587",
        SUPPORT_EMAIL="support@example.com",
        ANYMAIL_WEBHOOK_SECRET="postmark:" + secrets.token_urlsafe(24),
        TRUSTED_PROXIES="10.0.0.2",
    )
    env.update(changes)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_reports_nothing_with_the_documented_production_environment():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_the_email_webhooks_own_credentials():
    env = production_env()
    del env["ANYMAIL_WEBHOOK_SECRET"]
    result = run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: ANYMAIL_WEBHOOK_SECRET" in result.stderr.splitlines()[-1]


def test_the_printed_webhook_url_carries_the_webhooks_own_credentials():
    own = "postmark:Zq7-Lk2_Vb9.Xw4~Rt6Yp1"
    result = run(["manage.py", "receive_email", "--webhook-url"], production_env(ANYMAIL_WEBHOOK_SECRET=own))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"https://{own}@support.example.com/anymail/postmark/inbound/"
    assert "SECRET_KEY" not in result.stderr
    development = {k: v for k, v in production_env().items() if k not in NAMES} | {"DEBUG": "true"}
    result = run(["manage.py", "receive_email", "--webhook-url"], development)
    assert result.stdout.startswith("http://postmark:"), result.stderr
    assert "derived from SECRET_KEY" in result.stderr and "ANYMAIL_WEBHOOK_SECRET" in result.stderr


def test_the_readme_documents_that_environment():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Production") :]
    names = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_URL", "DATABASE_URL", "REDIS_URL", "EMAIL_URL")
    for name in (*names, "ANYMAIL_WEBHOOK_SECRET"):
        assert f"{name}=" in section, name
    assert "manage.py check --deploy" in section


PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# The manifest of hashed static names exists after collectstatic only: plain names here.
static = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
override_settings(STORAGES=static).enable()
host = {"HTTP_HOST": "support.example.com"}
page = Client().get("/healthz", **host)
print("healthz", page.status_code)
page = Client().get("/help/", **host)
print("http", page.status_code, page.get("Location"))
page = Client().get("/accounts/login/", secure=True, **host)
print("https", page.status_code, page.get("Strict-Transport-Security"), page.cookies["csrftoken"]["secure"])
print("csp", page.get("Content-Security-Policy"))
"""


def test_https_is_enforced_except_for_the_load_balancers_health_check(tmp_path):
    result = run(["-c", PROBE], production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=""))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["healthz"] == "200"  # plain HTTP, no X-Forwarded-Proto: as a load balancer inside the network
    assert lines["http"] == "301 https://support.example.com/help/"
    assert lines["https"].startswith("200 max-age=31536000") and lines["https"].endswith("True")
    assert "default-src 'self'" in lines["csp"]


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts and styles, style
    attributes and event-handler attributes. JSON data blocks (json_script) are allowed."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f'{tag} {name}="…"' for name in names if name == "style" or name.startswith("on")]


@pytest.mark.django_db
def test_every_html_page_has_a_csp_its_markup_keeps_to(client):
    add_articles()
    customer = UserFactory()
    ticket = make_ticket(customer)
    staff = StaffFactory()
    customer_client, staff_client = Client(), Client()
    customer_client.force_login(customer)
    staff_client.force_login(staff)
    pages = [
        (client, "/"),
        (client, "/help/"),
        (client, "/help/?q=password"),
        (client, "/accounts/login/"),
        (client, "/admin/login/"),
        (customer_client, "/"),  # with the widget
        (staff_client, "/admin/"),
        (staff_client, "/admin/tickets/ticket/"),
        (staff_client, f"/admin/tickets/ticket/{ticket.pk}/change/"),
    ]
    from assistant.models import HelpArticle

    pages.append((client, f"/help/{HelpArticle.objects.first().slug}/"))
    for who, url in pages:
        response = who.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert re.search(r"(^|; )script-src 'self'(;|$)", policy) and re.search(r"(^|; )style-src 'self'(;|$)", policy)
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == [], (url, parser.found)


@pytest.mark.django_db
def test_json_answers_do_not_carry_the_policy(client):
    client.force_login(UserFactory())
    response = client.get("/chat/tickets/")
    assert response.status_code == 200 and "Content-Security-Policy" not in response
