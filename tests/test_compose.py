"""docker-compose.yml and the Dockerfile run real entry points of this project.

No Docker engine runs here: every command the file runs is parsed by the program it names (uvicorn's,
celery's and manage.py's own argument parsers) and resolved against this code; the health checks of the
web and worker services run against real processes, and so does the reverse proxy (the real nginx with
deploy/nginx.conf in front of the real web command); `docker-compose config` checks the file when
docker-compose is installed.
"""

import http.client
import importlib
import inspect
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.beat import Scheduler
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import get_commands, load_command_class
from kombu.utils.imports import symbol_by_name
from uvicorn.main import main as uvicorn_cli

from loophole.celery import app as celery_app
from loophole.proxies import parse_networks
from tests.conftest import ROOT, ServiceProcess, _database_url, free_port, wait_until
from tests.environment import PRODUCT_VARIABLES

OPTIONAL_VARIABLES = {name for name in PRODUCT_VARIABLES if name.startswith(("OPENAI_", "TWILIO_"))}
# What the compose file requires from the shell (or a .env file beside it).
REQUIRED = {"SECRET_KEY": "compose-check", "ANYMAIL_WEBHOOK_SECRET": "postmark:compose-check-webhook"}
MAIL_CATCHER_IMAGES = ("axllent/mailpit",)
# compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME ($$ escapes).
INTERPOLATION = re.compile(
    r"(?<!\$)\$(?:\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_services(compose: dict) -> dict[str, dict]:
    """The services built from this project's Dockerfile."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


def mail_catcher(compose: dict) -> str:
    names = [n for n, s in compose["services"].items() if str(s.get("image", "")).startswith(MAIL_CATCHER_IMAGES)]
    assert len(names) == 1, f"one mail catcher service, found {names}"
    return names[0]


def programs(service: dict) -> list[list[str]]:
    """The programs a service's command runs, in order: `sh -c "a && exec b"` is [a, b]."""
    command = service["command"]
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    if words[:2] not in (["sh", "-c"], ["/bin/sh", "-c"]):
        return [words]
    assert len(words) == 3, words
    steps = []
    for part in words[2].split("&&"):
        step = shlex.split(part)
        steps.append(step[1:] if step[0] == "exec" else step)
    return steps


def dependencies(service: dict) -> dict[str, str]:
    """depends_on as {service: condition} (the short list form means service_started)."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: (rule or {}).get("condition", "service_started") for name, rule in depends_on.items()}


def is_asgi_application(application: object) -> bool:
    if not callable(application):
        return False
    call = application if inspect.isroutine(application) else application.__call__  # an instance: its bound __call__
    return inspect.iscoroutinefunction(call) and len(inspect.signature(call).parameters) == 3


def celery_context() -> CLIContext:
    return CLIContext(app=celery_app, no_color=True, workdir=None, quiet=True)


def run_entry_point_check(words: list[str]) -> str:
    """Check that `words` runs an entry point of this project with options its program accepts; name it."""
    program, *args = words
    if program == "uvicorn":
        params = uvicorn_cli.make_context("uvicorn", args).params  # uvicorn's own parser: unknown options fail
        module, _, attr = params["app"].partition(":")
        application = getattr(importlib.import_module(module), attr)
        assert is_asgi_application(application), f"{params['app']} is not an ASGI application"
        assert params["app"] == ":".join(settings.ASGI_APPLICATION.rsplit(".", 1)), "not settings.ASGI_APPLICATION"
        return "asgi"
    if program == "celery":
        assert args[0] in {"-A", "--app"}, words
        assert isinstance(celery_app, Celery)
        assert find_app(args[1]) is celery_app, f"-A {args[1]} is not loophole.celery.app"
        subcommand, *options = args[2:]
        assert subcommand in {"worker", "beat"}, words
        params = celery_cli.commands[subcommand].make_context(subcommand, options, obj=celery_context()).params
        if params.get("scheduler"):
            assert issubclass(symbol_by_name(params["scheduler"]), Scheduler)
            assert params["scheduler"] == settings.CELERY_BEAT_SCHEDULER
        return subcommand
    if program in {"python", "python3"} and args[0] == "manage.py":
        name, *options = args[1:]
        commands = get_commands()
        assert name in commands, f"manage.py {name} is not a management command"
        load_command_class(commands[name], name).create_parser("manage.py", name).parse_args(options)
        return f"manage.py {name}"
    raise AssertionError(f"not an entry point of this project: {words}")


def option(words: list[str], name: str) -> str:
    for i, word in enumerate(words):
        if word == name:
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {words}")


def with_option(words: list[str], name: str, value: str) -> list[str]:
    i = words.index(name)
    return [*words[: i + 1], value, *words[i + 2 :]]


def interpolate(value: str, shell: dict[str, str]) -> str:
    """A value as compose resolves it against `shell` (an unset required variable fails)."""

    def substitute(match: re.Match) -> str:
        name = match["braced"] or match["bare"]
        op, arg = match["op"] or "", match["arg"] or ""
        is_set = name in shell and (shell[name] != "" or not op.startswith(":"))
        if is_set:
            return shell[name]
        if op.endswith("?"):
            raise LookupError(f"{name}: {arg}")
        return arg if op.endswith("-") else ""

    return INTERPOLATION.sub(substitute, value).replace("$$", "$")


def container_environment(service: dict, shell: dict[str, str]) -> dict[str, str]:
    environment = service["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    resolved = {}
    for name, value in environment.items():
        if value is None:  # passed through from the shell, unset when the shell lacks it
            if name in shell:
                resolved[name] = shell[name]
        else:
            resolved[name] = interpolate(str(value), shell)
    return resolved


def docker_compose() -> str:
    binary = shutil.which("docker-compose") or (
        "/usr/bin/docker-compose" if Path("/usr/bin/docker-compose").exists() else None
    )
    if binary is None:
        pytest.skip("docker-compose not installed")
    return binary


def test_the_compose_file_has_every_service_the_product_needs(compose):
    services = compose["services"]
    assert "version" not in compose, "the Compose specification has no version key"
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    assert {"web", "worker", "beat"} <= set(app_services(compose))
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    ports = " ".join(services[mail_catcher(compose)].get("ports", []))
    assert "1025" in ports and "8025" in ports


def test_every_app_service_builds_from_the_dockerfile(compose):
    for name, service in app_services(compose).items():
        build = service["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile).resolve() == ROOT / "Dockerfile", name


def test_postgres_keeps_its_data_in_a_named_volume(compose):
    mounts = [str(volume) for volume in compose["services"]["postgres"].get("volumes", [])]
    data = [mount.split(":")[0] for mount in mounts if ":/var/lib/postgresql/data" in mount]
    assert data, mounts
    assert data[0] in (compose.get("volumes") or {}), f"{data[0]} is not a named volume"


def test_each_app_service_runs_a_real_entry_point_of_this_project(compose):
    ran = {
        name: [run_entry_point_check(words) for words in programs(service)]
        for name, service in app_services(compose).items()
    }
    assert ran["web"][-1] == "asgi"
    assert ran["worker"] == ["worker"]
    assert ran["beat"] == ["beat"]
    everything = [step for steps in ran.values() for step in steps]
    assert "manage.py migrate" in everything and "manage.py collectstatic" in everything


def test_the_web_server_listens_on_all_interfaces_behind_a_proxy(compose):
    uvicorn = programs(compose["services"]["web"])[-1]
    params = uvicorn_cli.make_context("uvicorn", uvicorn[1:]).params
    # Not uvicorn's own X-Forwarded-For handling: the app's, from TRUSTED_PROXIES (loophole/proxies.py).
    assert (params["host"], params["port"], params["proxy_headers"]) == ("0.0.0.0", 8000, False)  # noqa: S104


def test_the_web_server_starts_only_after_migrate_and_collectstatic(compose):
    services = compose["services"]
    web = [run_entry_point_check(words) for words in programs(services["web"])]
    assert web.index("manage.py collectstatic") < web.index("asgi")
    if "manage.py migrate" in web:
        assert web.index("manage.py migrate") < web.index("asgi")
        return
    # Or a one-shot migrate service that web, worker and beat wait for.
    one_shots = [
        name
        for name, service in app_services(compose).items()
        if [run_entry_point_check(words) for words in programs(service)] == ["manage.py migrate"]
    ]
    assert len(one_shots) == 1, "migrations run in the web command or in one one-shot service"
    for name in ("web", "worker", "beat"):
        assert dependencies(services[name]).get(one_shots[0]) == "service_completed_successfully", name


def test_app_services_wait_for_healthy_postgres_and_redis(compose):
    for name, service in app_services(compose).items():
        for backing in ("postgres", "redis"):
            assert dependencies(service).get(backing) == "service_healthy", f"{name} waits for {backing}"


def test_every_service_the_others_wait_for_has_a_health_check(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in dependencies(service).items():
            if condition == "service_completed_successfully":  # a one-shot job: it finishes, it is not healthy
                assert services[dependency].get("restart") == "no", f"{dependency} is a one-shot job"
                continue
            assert services[dependency].get("healthcheck", {}).get("test"), f"{name} waits for {dependency}"
            assert condition == "service_healthy", f"{name} should wait for {dependency} to be healthy"


def test_the_health_checks_ask_each_program_whether_it_is_ready(compose):
    services = compose["services"]

    def check(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return test if isinstance(test, str) else " ".join(test[1:])

    assert check("postgres").startswith("pg_isready")
    assert check("redis") == "redis-cli ping"
    assert "urllib" in check("web") and "http://127.0.0.1:8000/healthz" in check("web")
    assert check(mail_catcher(compose)) == "/mailpit readyz"
    words = shlex.split(check("worker"))
    assert words[:5] == ["celery", "-A", "loophole", "inspect", "ping"]
    assert find_app(words[2]) is celery_app
    params = celery_cli.commands["inspect"].make_context("inspect", words[4:], obj=celery_context()).params
    # The worker's default node name is celery@<host name>; in a container $HOSTNAME is that host name.
    worker = celery_cli.commands["worker"].make_context(
        "worker", programs(services["worker"])[0][3:], obj=celery_context()
    )
    assert params["destination"] == ["celery@$$HOSTNAME"]
    assert worker.params["hostname"] == f"celery@{socket.gethostname()}"


def test_the_app_is_configured_only_with_the_products_variables(compose):
    settings_source = (ROOT / "loophole" / "settings.py").read_text()
    for name, service in app_services(compose).items():
        assert set(service["environment"]) <= PRODUCT_VARIABLES, (name, set(service["environment"]) - PRODUCT_VARIABLES)
        for variable in service["environment"]:
            assert f'"{variable}"' in settings_source, f"settings.py does not read {variable}"
    text = (ROOT / "docker-compose.yml").read_text()
    used = {match["braced"] or match["bare"] for match in INTERPOLATION.finditer(text)}
    assert used <= PRODUCT_VARIABLES, used - PRODUCT_VARIABLES


def test_every_app_service_gets_the_same_environment(compose):
    for name, service in app_services(compose).items():
        environment = service["environment"]
        assert environment["DATABASE_URL"] == "postgres://loophole:loophole@postgres:5432/loophole", name
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert environment["EMAIL_URL"] == f"smtp://{mail_catcher(compose)}:1025", name
        assert environment["DEBUG"] == "${DEBUG:-false}", name
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
        assert environment["ANYMAIL_WEBHOOK_SECRET"].startswith("${ANYMAIL_WEBHOOK_SECRET:?"), name
        assert {"ALLOWED_HOSTS", "PUBLIC_URL", "SUPPORT_EMAIL"} <= set(environment), name
        for variable in OPTIONAL_VARIABLES:
            assert environment[variable] == f"${{{variable}:-}}", name


def test_the_database_user_matches_the_postgres_service(compose):
    postgres = compose["services"]["postgres"]["environment"]
    url = f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    for name, service in app_services(compose).items():
        assert service["environment"]["DATABASE_URL"] == url, name


def test_the_compose_file_refuses_to_run_without_a_secret_key(compose):
    with pytest.raises(LookupError, match="SECRET_KEY"):
        container_environment(compose["services"]["web"], shell={})


def test_the_compose_file_refuses_to_run_without_the_email_webhooks_credentials(compose):
    for service in app_services(compose).values():
        with pytest.raises(LookupError, match="ANYMAIL_WEBHOOK_SECRET"):
            container_environment(service, {"SECRET_KEY": "compose-check"})
        assert container_environment(service, REQUIRED)["ANYMAIL_WEBHOOK_SECRET"] == REQUIRED["ANYMAIL_WEBHOOK_SECRET"]


def test_the_settings_load_with_the_compose_environment_and_debug_off(compose):
    for name, service in app_services(compose).items():
        env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
        env.update(container_environment(service, REQUIRED))
        env.update(DJANGO_SETTINGS_MODULE="loophole.settings", PYTHONPATH=str(ROOT))
        probe = (
            "import django; from django.conf import settings as s; django.setup(); "
            "print(s.DEBUG, s.CELERY_TASK_ALWAYS_EAGER, s.TWILIO_CONFIGURED, bool(s.OPENAI_API_KEY), s.EMAIL_HOST)"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.split() == ["False", "False", "False", "False", mail_catcher(compose)], name


def test_the_web_health_check_passes_against_a_server_configured_for_production(compose, tmp_path):
    web = compose["services"]["web"]
    port = free_port()
    uvicorn = with_option(with_option(programs(web)[-1], "--host", "127.0.0.1"), "--port", str(port))
    shell = {**REQUIRED, "ALLOWED_HOSTS": "support.example.com"}
    shell["PUBLIC_URL"] = "https://support.example.com"  # with DEBUG off: HTTPS redirect, HSTS, secure cookies
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env.update(container_environment(web, shell), DJANGO_SETTINGS_MODULE="loophole.settings", PYTHONPATH=str(ROOT))
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    del env["REDIS_URL"], env["EMAIL_URL"]  # the hosts of the compose network do not exist here
    server = ServiceProcess("uvicorn", [sys.executable, "-m", *uvicorn], env, tmp_path / "uvicorn.log")
    try:
        server.wait_for_output("Uvicorn running on", timeout=60)
        kind, *command = web["healthcheck"]["test"]
        assert kind == "CMD" and command[0] == "python", command
        code = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")

        def health_check(public_url: str) -> subprocess.CompletedProcess:
            check_env = {**env, "PUBLIC_URL": public_url}
            return subprocess.run(
                [sys.executable, *command[1:-1], code], env=check_env, capture_output=True, timeout=30, check=False
            )

        assert health_check(env["PUBLIC_URL"]).returncode == 0, server.output()[-3000:]
        assert '"GET /healthz HTTP/1.1" 200' in server.output()
        # A server that answers with an error is reported unhealthy.
        assert health_check("https://not-allowed.example.com").returncode != 0
    finally:
        server.stop()


@pytest.mark.redis
@pytest.mark.postgres
def test_the_worker_health_check_gets_a_pong_from_a_running_worker(compose, start_celery, requires_redis):
    start_celery("worker")
    kind, command = compose["services"]["worker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOSTNAME": socket.gethostname(),  # what a container's shell has
        "DATABASE_URL": _database_url(),
        "REDIS_URL": requires_redis,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "loophole.settings",
    }
    command = command.replace("$$", "$")  # compose's escape: the container's shell expands $HOSTNAME
    result = subprocess.run(
        ["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout


def test_the_dockerfile_installs_the_project_and_runs_the_web_server_as_a_user():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(maxsplit=1)
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    by_kind: dict[str, list[str]] = {}
    for kind, argument in instructions:
        by_kind.setdefault(kind.upper(), []).append(argument.strip())
    assert by_kind["FROM"] == ["python:3.11-slim"]
    assert any(re.search(r"\bpip install (--\S+ )*\.(\s|$)", run) for run in by_kind["RUN"])
    assert any(copy.split()[0] == "." for copy in by_kind["COPY"]), "the source tree is copied"
    assert by_kind["USER"][-1] not in {"root", "0"}
    assert by_kind["EXPOSE"] == ["8000"]
    command = json.loads(by_kind["CMD"][-1])
    assert run_entry_point_check(command) == "asgi"
    params = uvicorn_cli.make_context("uvicorn", command[1:]).params
    assert (params["host"], params["port"], params["proxy_headers"]) == ("0.0.0.0", 8000, False)  # noqa: S104


def test_the_dockerfile_installs_the_locked_dependencies_with_their_hashes():
    lines = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text()).splitlines()
    steps = [line.split(maxsplit=1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    copies = [argument.split() for kind, argument in steps if kind == "COPY"]
    assert set(copies[0][:-1]) == {"pyproject.toml", "uv.lock"}, "the lock comes in before the code"
    runs = [shlex.split(argument.replace("&&", ";")) for kind, argument in steps if kind == "RUN"]
    commands = [command for run in runs for command in " ".join(run).split(";")]
    export = next(shlex.split(c) for c in commands if c.split()[:2] == ["uv", "export"])
    assert "--frozen" in export, "the lock as it is, never re-resolved"
    assert not {"--all-extras", "--extra", "--dev"} & set(export), "no test or bench packages in the image"
    installs = [shlex.split(c) for c in commands if c.split()[:2] == ["pip", "install"]]
    from_lock = [c for c in installs if "-r" in c and "--require-hashes" in c]
    assert from_lock, "pip checks every file against the lock's hashes"
    project = [c for c in installs if c[-1] == "."]
    assert project, "the project itself is installed"
    assert all("--no-deps" in c for c in project), "the project adds nothing the lock did not pin"


def test_the_docker_build_leaves_out_local_state_but_not_the_code():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    assert {".venv", ".git", "db.sqlite3", "bench/.data", ".env"} <= set(patterns)
    assert any("__pycache__" in pattern for pattern in patterns)
    needed = ["manage.py", "pyproject.toml", "templates", "static", "help_articles"]
    needed += ["loophole", "tickets", "assistant", "channels_io"]  # pyproject.toml's packages
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not any(fnmatch(path, pattern.lstrip("/")) for pattern in patterns), f".dockerignore drops {path}"


def test_docker_compose_accepts_the_file(tmp_path):
    binary = docker_compose()
    no_env_file = tmp_path / "empty.env"  # a .env beside the compose file must not decide the result
    no_env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}

    def config(extra: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [binary, "-f", "docker-compose.yml", "--env-file", str(no_env_file), "config", "-q"],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    accepted = config(REQUIRED)
    assert accepted.returncode == 0, accepted.stderr
    refused = config({})
    assert refused.returncode != 0
    assert "set SECRET_KEY" in refused.stderr
    refused = config({"SECRET_KEY": "compose-check"})
    assert refused.returncode != 0
    assert "set ANYMAIL_WEBHOOK_SECRET" in refused.stderr


# --- the reverse proxy ---------------------------------------------------------------------------------

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def proxy_service(compose: dict) -> tuple[str, dict]:
    """The one service that runs the proxy image."""
    found = [(n, s) for n, s in compose["services"].items() if str(s.get("image", "")).startswith("nginx:")]
    assert len(found) == 1, f"one nginx service, found {[n for n, _ in found]}"
    return found[0]


def published(service: dict) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_only_the_proxy_publishes_the_sites_port(compose):
    name, proxy = proxy_service(compose)
    assert re.fullmatch(r"nginx:\d+\.\d+[\w.-]*", proxy["image"]), "a pinned image tag"
    assert published(proxy) == ["8000:8000"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert dependencies(proxy) == {"web": "service_healthy"}
    for service_name, service in app_services(compose).items():
        assert published(service) == [], f"{service_name} is reached through {name} only"


def test_the_app_trusts_the_proxys_fixed_address_alone(compose):
    proxy_name, proxy = proxy_service(compose)
    address = ipaddress.ip_address(proxy["networks"]["default"]["ipv4_address"])
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    assert address in ipaddress.ip_network(pool["subnet"])
    assert address not in ipaddress.ip_network(pool["ip_range"]), "another container could be given its address"
    for name, service in app_services(compose).items():
        trusted = parse_networks(container_environment(service, REQUIRED)["TRUSTED_PROXIES"])
        assert [(n.network_address, n.num_addresses) for n in trusted] == [(address, 1)], name
    for name, service in compose["services"].items():
        assert "networks" not in service or name == proxy_name, name  # all on the one default network


def test_the_proxy_config_forwards_to_the_web_service_and_names_the_caller(compose):
    conf = NGINX_CONF.read_text()
    web = uvicorn_cli.make_context("uvicorn", programs(compose["services"]["web"])[-1][1:]).params
    _, proxy = proxy_service(compose)
    assert re.findall(r"^\s*server (\S+);", conf, re.M) == [f"web:{web['port']}"]
    assert re.findall(r"^\s*listen (\S+);", conf, re.M) == [published(proxy)[0].split(":")[-1]]
    headers = dict(re.findall(r"^\s*proxy_set_header (\S+) (.+);", conf, re.M))
    # $proxy_add_x_forwarded_for would pass on what the client wrote.
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["Host"] == "$http_host"


def nginx() -> str:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.skip("nginx not installed")
    return binary


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LoopbackClient:
    """HTTP/1.1 from one loopback address (127.0.0.0/8 is all loopback on Linux), one kept-alive connection."""

    def __init__(self, address: str, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> int:
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        if response.will_close:
            self.connection.close()
        return response.status

    def requests_until_limited(self, limit: int, forwarded_for: Callable[[int], str] | None = None) -> int | None:
        """How many requests to a limited path it takes to get a 429 (None: not within two windows' worth,
        as a fixed window may end on the way)."""
        for i in range(2 * limit + 1):
            headers = {"X-Forwarded-For": forwarded_for(i)} if forwarded_for else {}
            if self.request("GET", "/chat/tickets/", **headers) == 429:
                return i + 1
        return None


@pytest.fixture
def proxied_app(compose, tmp_path) -> Iterator[tuple[int, int, ServiceProcess]]:
    """The real web command on loopback, with deploy/nginx.conf in front of it in a real nginx (only the
    upstream and the listening address rewritten); TRUSTED_PROXIES names loopback's 127.0.0.1, where
    nginx calls from. Yields (proxy port, app port, the app's process)."""
    binary = nginx()
    app_port, proxy_port = free_port(), free_port()
    web = compose["services"]["web"]
    uvicorn = with_option(with_option(programs(web)[-1], "--host", "127.0.0.1"), "--port", str(app_port))
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env.update(container_environment(web, REQUIRED), PYTHONPATH=str(ROOT))
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", TRUSTED_PROXIES="127.0.0.1/32")
    del env["REDIS_URL"], env["EMAIL_URL"]  # the hosts of the compose network do not exist here
    site = NGINX_CONF.read_text()
    for old, new in (("server web:8000;", f"server 127.0.0.1:{app_port};"),
                     ("listen 8000;", f"listen 127.0.0.1:{proxy_port};")):  # fmt: skip
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in kinds)
    main = [
        "user root root;" if os.geteuid() == 0 else "",  # else workers run as nobody, who cannot write tmp_path
        f"daemon off; worker_processes 1; pid {tmp_path / 'nginx.pid'}; error_log stderr;",
        "events { worker_connections 64; }",
        f"http {{ access_log off; {temp_paths} include {tmp_path / 'site.conf'}; }}",
    ]
    (tmp_path / "nginx.conf").write_text("\n".join(main))
    app = ServiceProcess("uvicorn", [sys.executable, "-m", *uvicorn], env, tmp_path / "uvicorn.log")
    proxy_args = [binary, "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    proxy = ServiceProcess("nginx", proxy_args, env, tmp_path / "nginx.log")
    try:
        app.wait_for_output("Uvicorn running on", timeout=60)
        wait_until(lambda: listening(proxy_port) or proxy.proc.poll() is not None, timeout=20, what="nginx")
        assert proxy.proc.poll() is None, proxy.output()
        yield proxy_port, app_port, app
    finally:
        proxy.stop()
        app.stop()


def counted_clients(log: str) -> set[str]:
    """The client of each request in uvicorn's access log."""
    return set(re.findall(r"(\S+):\d+ - \"[A-Z]+ /", log))


def test_behind_the_proxy_each_client_is_counted_as_itself_whatever_it_claims(proxied_app):
    proxy_port, app_port, app = proxied_app
    limit = settings.RATE_LIMIT_CHAT_PER_IP

    def spoofed(i: int) -> str:  # loopback (once exempt), another client's address, a new address each time
        return ("127.0.0.1", "127.0.0.3", f"198.51.100.{i % 250}, 203.0.113.{i % 250}")[i % 3]

    # Through the proxy: whatever X-Forwarded-For says, the client is the address the proxy saw.
    spoofer = LoopbackClient("127.0.0.2", proxy_port)
    assert spoofer.requests_until_limited(limit, spoofed) is not None
    # The proxy is not the client: another client through it is not held back.
    neighbour = LoopbackClient("127.0.0.3", proxy_port)
    assert neighbour.request("GET", "/chat/tickets/") != 429
    # Straight to the app port, past the proxy: an untrusted peer's header is ignored.
    direct = LoopbackClient("127.0.0.4", app_port)
    assert direct.requests_until_limited(limit, spoofed) is not None
    assert neighbour.request("GET", "/chat/tickets/") != 429
    # With DEBUG off the machine itself (the proxy's address here) is limited like any client.
    assert LoopbackClient("127.0.0.1", app_port).requests_until_limited(limit) is not None
    # The server's access log names the clients the limits counted.
    assert counted_clients(app.output()) == {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}


def test_the_proxy_takes_an_inbound_email_webhooks_large_body_and_refuses_larger_elsewhere(proxied_app):
    proxy_port, _, app = proxied_app
    client = LoopbackClient("127.0.0.5", proxy_port)
    body = b"{" + b" " * (5 * 1024 * 1024) + b"}"  # past Django's 2.5 MB, within the webhook's 40 MB
    status = client.request("POST", "/anymail/postmark/inbound/", body, **{"Content-Type": "application/json"})
    assert status != 413
    app.wait_for_output(f'"POST /anymail/postmark/inbound/ HTTP/1.1" {status}')
    assert client.request("POST", "/chat/conversations/", body, **{"Content-Type": "application/json"}) == 413
    assert '"POST /chat/conversations/' not in app.output()  # refused by the proxy
