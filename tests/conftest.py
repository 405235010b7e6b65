"""Shared fixtures: eager Celery by default, a real SMTP server, and real worker/beat processes.

Tests that need PostgreSQL, Redis or Chromium skip with the reason when those are missing; with
`--fail-on-skip` (as .ci/run passes) any skip fails the run.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from loophole.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fail-on-skip", action="store_true", help="A skipped test fails the run (CI).")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if session.config.getoption("--fail-on-skip") and reporter and reporter.stats.get("skipped"):
        reporter.write_line(f"--fail-on-skip: {len(reporter.stats['skipped'])} test(s) skipped", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Connections opened by worker threads and server processes would keep PostgreSQL from dropping
    the test database: end them before it is dropped."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Rate-limit counters live in the cache (Redis in CI): every test starts from zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_help_index() -> None:
    """Each test sees its own articles at once (a rolled-back test leaves no save signal behind)."""
    from assistant.retrieval import forget_index

    forget_index()


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Tasks run in-process unless a test asks for a real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def redis_url() -> str:
    return settings.REDIS_URL


@pytest.fixture
def requires_redis() -> str:
    url = settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis: set REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis: {url} does not answer ({exc})")
    return url


@pytest.fixture
def requires_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")


def bench_module(name: str) -> types.ModuleType:
    """bench/<name>.py, loaded from its file (bench/ is scripts, not a package; they import `_common`)."""
    bench = str(ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name.lstrip('_')}", ROOT / "bench" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(bench)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The URL of the database the tests run on (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class ServiceProcess:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not print {needle!r}:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


@pytest.fixture
def start_celery(
    requires_redis: str,
    requires_postgres: None,
    transactional_db: None,
    django_db_serialized_rollback: None,
    tmp_path: Path,
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start real `celery worker` / `celery beat` processes on Redis and the test database."""
    started: list[ServiceProcess] = []
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": requires_redis,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "loophole.settings",
    }
    celery_app.conf.task_always_eager = False
    # Drop tasks earlier tests left on the queue.
    celery_app.control.purge()

    def start(kind: str, *extra: str) -> ServiceProcess:
        args = [sys.executable, "-m", "celery", "-A", "loophole", kind, "--loglevel=info", *extra]
        if kind == "worker":
            args += ["--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if kind == "beat":
            args += ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval=1"]
            args += ["--pidfile", str(tmp_path / "beat.pid"), "--schedule", str(tmp_path / "beat-schedule")]
        service = ServiceProcess(kind, args, env, tmp_path / f"{kind}.log")
        started.append(service)
        service.wait_for_output("ready." if kind == "worker" else "beat: Starting", timeout=60)
        return service

    yield start
    for service in started:
        service.stop()


def wait_until(predicate: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    """Poll `predicate` until it holds or the deadline passes (for work done by other processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class SMTPRecorder:
    """An aiosmtpd handler keeping what it received; `refuse` answers 451 that many times first."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = 0
        self.refused = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server(settings) -> Iterator[SMTPRecorder]:
    """A real SMTP server on loopback; Django's SMTP backend is pointed at it."""
    from aiosmtpd.controller import Controller

    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield recorder
    controller.stop()


@pytest.fixture
def browser(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """browser(ip): a test client from that address whose POSTs run the work they queue on commit (mail
    tasks), as a real commit would."""
    from django.test import Client

    class Browser(Client):
        def post(self, *args: Any, **kwargs: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return super().post(*args, **kwargs)

    def make(ip: str = "198.51.100.7") -> Client:
        return Browser(REMOTE_ADDR=ip)

    return make


@pytest.fixture
def hour() -> Iterator[Any]:
    """A clock stopped at the start of an hour: the account mail limits count per hour-long window."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    start = timezone.now().replace(minute=0, second=1, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False) as clock:
        yield clock
