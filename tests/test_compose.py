"""docker-compose.yml runs real entry points of this project (no Docker engine runs here)."""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
# PRODUCT.md's fixed environment: the only names the app may be configured with.
PRODUCT_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER", "SMS_BACKEND", "SMS_FILE_PATH", "EMAIL_URL", "PUBLIC_URL",
    "SUPPORT_EMAIL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
}  # fmt: skip
APP_SERVICES = ("migrate", "web", "worker", "beat")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service["command"]
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2])
    return list(command)


def container_environment(service: dict) -> dict[str, str]:
    """The service's environment as compose resolves it with only SECRET_KEY in the shell."""
    shell = {"SECRET_KEY": "compose-check"}
    resolved = {}
    for name, value in service["environment"].items():
        if value is None:  # passed through from the shell, unset when the shell lacks it
            if name in shell:
                resolved[name] = shell[name]
            continue

        def substitute(match: re.Match) -> str:
            if match["name"] in shell:
                return shell[match["name"]]
            assert match["op"] != "?", f"{match['name']} is required"
            return match["arg"] or ""

        resolved[name] = INTERPOLATION.sub(substitute, str(value))
    return resolved


def test_every_part_of_the_service_is_there(compose):
    services = compose["services"]
    assert "version" not in compose
    assert {*APP_SERVICES, "postgres", "redis", "mailpit"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    for name in APP_SERVICES:
        assert services[name]["build"] == "."


def test_each_app_service_runs_a_real_entry_point(compose):
    seen = set()
    for name in APP_SERVICES:
        words = command_words(compose["services"][name])
        for i, word in enumerate(words):
            if word == "uvicorn":
                module, attr = words[i + 1].split(":")
                assert callable(getattr(importlib.import_module(module), attr))
                seen.add("asgi")
            if word == "celery":
                assert words[i + 1 : i + 3] == ["-A", "loophole"]
                assert isinstance(importlib.import_module("loophole.celery").app, Celery)
                assert words[i + 3] in {"worker", "beat"}
                seen.add(words[i + 3])
                if "--scheduler" in words:
                    module, attr = words[words.index("--scheduler") + 1].split(":")
                    assert isinstance(getattr(importlib.import_module(module), attr), type)
            if word == "manage.py":
                assert words[i + 1] in get_commands(), words[i + 1]
                seen.add(words[i + 1])
    assert {"asgi", "worker", "beat", "migrate", "collectstatic"} <= seen


def test_the_app_starts_only_after_migrations_and_healthy_backing_services(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for name in APP_SERVICES:
        for backing in ("postgres", "redis"):
            assert services[name]["depends_on"][backing] == {"condition": "service_healthy"}, name


def test_services_others_wait_for_have_health_checks(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}"
    assert "http://127.0.0.1:8000/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_the_app_reads_only_the_products_variables(compose):
    for name in APP_SERVICES:
        assert set(compose["services"][name]["environment"]) <= PRODUCT_VARIABLES, name
    used = {m["name"] for m in INTERPOLATION.finditer((ROOT / "docker-compose.yml").read_text())}
    assert used <= PRODUCT_VARIABLES, used - PRODUCT_VARIABLES


def test_the_settings_load_with_the_compose_environment(compose):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env.update(container_environment(compose["services"]["web"]), DJANGO_SETTINGS_MODULE="loophole.settings")
    probe = "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_docker_compose_accepts_the_file():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed")
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "compose-check"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
