"""The fault suite's services: throwaway Redis and PostgreSQL servers a test may stop and restart,
and the app's real processes (Celery worker, beat, uvicorn) pointed at them.

The shared PostgreSQL and Redis the rest of the suite uses are never stopped: a case that breaks a
service starts its own instance on a free port and stops it when done. Cases need the test database
to be PostgreSQL (the app's processes share it), and skip with the reason otherwise.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loophole.celery import app as celery_app
from tests.conftest import ROOT, ServiceProcess, _database_url, free_port, wait_until
from tests.environment import PRODUCT_VARIABLES

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PG_BINS = sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
)
ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
AUTH_TOKEN = "faults-auth-token-7c1d"
OUR_NUMBER = "+15555550000"
# Whatever the shell exports for the suite is not the processes' business: they get what a case sets.
DROPPED = PRODUCT_VARIABLES - {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SUPPORT_EMAIL", "SMS_FILE_PATH"} | {
    "DJANGO_ALLOW_ASYNC_UNSAFE"
}


class RedisServer:
    """A redis-server of our own on a free loopback port: stop() and start() again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self.ping, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop it (and everything it held: nothing is saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class PostgresServer:
    """A PostgreSQL cluster of our own (initdb in a temporary directory), run as `postgres` under root."""

    def __init__(self, directory: Path, bin_dir: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.bin = bin_dir
        self.data = directory / "pg"
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgres://loophole@127.0.0.1:{self.port}/loophole"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "loophole", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "loophole", "loophole")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.directory}"
        options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "pg.log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def stop_quietly(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop("immediate")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("needs redis-server: apt-get install redis-server")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    if not PG_BINS or not (PG_BINS[-1] / "initdb").exists():
        pytest.skip("needs PostgreSQL's server binaries: apt-get install postgresql")
    # Not under pytest's temporary directory: its parents are private to root, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="loophole-faults-pg."))
    server = PostgresServer(directory, PG_BINS[-1])
    try:
        server.init()
        yield server
    finally:
        server.stop_quietly()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[Callable[[], None]]:
    """Call it to send this process's tasks to `redis_server` (not run eagerly any more)."""

    def point(url: str) -> None:
        celery_app.conf.broker_url = url
        celery_app._pool = None  # the connection and producer pools are per URL: take new ones
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url

    def connect() -> None:
        point(redis_server.url)
        celery_app.conf.task_always_eager = False

    yield connect
    point(previous)


class Processes:
    """The app's processes on the test database and a case's services; stopped after the test."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.started: list[ServiceProcess] = []

    def _start(self, name: str, args: list[str], ready: str, env: dict[str, str]) -> ServiceProcess:
        service = ServiceProcess(name, args, {**self.env, **env}, self.tmp_path / f"{name}.log")
        self.started.append(service)
        service.wait_for_output(ready, timeout=60)
        return service

    def worker(self, name: str = "worker", *, concurrency: int = 0, **env: str) -> ServiceProcess:
        """`celery worker`: prefork with `concurrency` processes, else the solo pool."""
        args = [sys.executable, "-m", "celery", "-A", "loophole", "worker", "--loglevel=info", "-n", f"{name}@%h"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        args += [f"--concurrency={concurrency}"] if concurrency else ["--pool=solo"]
        return self._start(name, args, "ready.", env)

    def beat(self, **env: str) -> ServiceProcess:
        args = [sys.executable, "-m", "celery", "-A", "loophole", "beat", "--loglevel=info", "--max-interval=1"]
        args += ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
        args += ["--pidfile", str(self.tmp_path / "beat.pid"), "--schedule", str(self.tmp_path / "beat-schedule")]
        return self._start("beat", args, "beat: Starting", env)

    def web(self, **env: str) -> str:
        """uvicorn serving the app on a free port; returns its origin (also its PUBLIC_URL)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "uvicorn", "loophole.asgi:application", "--host", "127.0.0.1"]
        args += ["--port", str(port), "--lifespan", "off", "--timeout-graceful-shutdown", "1", "--log-level", "info"]
        self._start("web", args, "Uvicorn running", {"PUBLIC_URL": url, **env})
        return url

    def stop(self) -> None:
        for service in reversed(self.started):
            for child in children(service.proc.pid):
                kill(child, signal.SIGKILL)
            service.stop()


@pytest.fixture
def processes(
    requires_postgres: None, transactional_db: None, django_db_serialized_rollback: None, tmp_path: Path
) -> Iterator[Processes]:
    """Start the app's processes on the test database (PostgreSQL: they are other processes)."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED}
    env.update(
        DATABASE_URL=_database_url(),
        DJANGO_SETTINGS_MODULE="tests.faults.service_settings",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DEBUG="true",
        ALLOWED_HOSTS="127.0.0.1",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_PHONE_NUMBER=OUR_NUMBER,
        SMS_BACKEND="file",
        SMS_FILE_PATH=str(tmp_path / "sms"),
    )
    started = Processes(env, tmp_path)
    yield started
    started.stop()


def children(pid: int) -> list[int]:
    """The child processes of `pid` (a prefork worker's pool)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class HoldingSMTP:
    """An aiosmtpd handler: holds the first `hold` messages unanswered until release(), refuses the next
    `refuse` with 451, then accepts (and keeps) the rest."""

    def __init__(self, *, hold: int = 0, refuse: int = 0) -> None:
        self.hold, self.refuse = hold, refuse
        self.messages: list[Any] = []
        self.attempts = 0
        self.holding = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.attempts += 1
        if self.hold > 0:
            self.hold -= 1
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait, 60)
            return "451 4.3.0 Held, not accepted"
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Callable[..., tuple[HoldingSMTP, int]]]:
    """Start a real SMTP server with a HoldingSMTP handler; returns (handler, port)."""
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(**script: int) -> tuple[HoldingSMTP, int]:
        handler = HoldingSMTP(**script)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append((controller, handler))
        return handler, controller.port

    yield start
    for controller, handler in controllers:
        handler.release()
        controller.stop()


def log_count(process: ServiceProcess, needle: str) -> int:
    return process.output().count(needle)


def wait_for_log(process: ServiceProcess, needle: str, count: int = 1, timeout: float = 30) -> None:
    wait_until(
        lambda: log_count(process, needle) >= count, timeout=timeout, what=f"{count} x {needle!r} in {process.name}"
    )


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds
