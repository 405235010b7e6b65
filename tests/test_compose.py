"""docker-compose.yml runs real entry points of this project (no Docker engine runs here)."""

import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands

from tests.test_settings import NAMES

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_VARIABLES = set(NAMES)
APP_SERVICES = {"migrate", "web", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service["command"]
    if isinstance(command, str):
        return shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2])
    return list(command)


def test_every_part_of_the_service_is_there(compose):
    services = compose["services"]
    assert APP_SERVICES | {"postgres", "redis", "mailpit"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


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
                    path = words[words.index("--scheduler") + 1]
                    module, attr = path.split(":")
                    assert hasattr(importlib.import_module(module), attr)
            if word == "manage.py":
                assert words[i + 1] in get_commands(), words[i + 1]
                seen.add(words[i + 1])
    assert {"asgi", "worker", "beat", "migrate", "collectstatic"} <= seen


def test_services_others_wait_for_have_health_checks(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}"
    assert "healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_app_reads_only_the_products_variables(compose):
    for name in APP_SERVICES:
        assert set(compose["services"][name]["environment"]) <= PRODUCT_VARIABLES
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= PRODUCT_VARIABLES


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
