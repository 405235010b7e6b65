"""Browser tests: the real app under uvicorn, driven by Playwright in the system's Chromium.

The server is a separate process, so it must reach the test database: PostgreSQL as it is, and
SQLite only as a file. When these tests are collected on SQLite, the session's test database is
therefore a file (on tmpfs where there is one) instead of pytest-django's in-memory default.
"""

import importlib.util
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import ROOT, ServiceProcess, SMTPRecorder, _database_url, free_port
from tests.environment import PRODUCT_VARIABLES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# `make screenshots` names docs/screenshots/ here to refresh the README's pictures; tests write to tmp_path.
SCREENSHOTS_DIR = "SCREENSHOTS_DIR"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The server's environment: only what these tests choose (no Redis, no OpenAI, no Twilio).
SERVER_ENV_DROPPED = {n for n in PRODUCT_VARIABLES if n.startswith(("OPENAI_", "TWILIO_"))} | {
    "REDIS_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def screenshot_dir(environ: Mapping[str, str], default: Path) -> Path:
    """$SCREENSHOTS_DIR (a relative path is taken from the project root) when set, else `default`."""
    value = environ.get(SCREENSHOTS_DIR, "").strip()
    return ROOT / value if value else default


def _missing() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package: pip install -e '.[dev]'"
    if not Path(CHROMIUM).exists():
        return "needs Chromium: apt-get install chromium"
    return ""


MISSING = _missing()
_sqlite_dir: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Register the `screenshots` mark; give SQLite a file test database the server process can open too."""
    global _sqlite_dir
    config.addinivalue_line("markers", "screenshots: takes screenshots for the README (make screenshots)")
    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    if MISSING or db["ENGINE"] != "django.db.backends.sqlite3" or test.get("NAME") not in (None, "", ":memory:"):
        return
    _sqlite_dir = tempfile.mkdtemp(prefix="loophole-browser-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    test["NAME"] = str(Path(_sqlite_dir) / "test.sqlite3")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _sqlite_dir:
        shutil.rmtree(_sqlite_dir, ignore_errors=True)


@pytest.fixture
def browser(transactional_db: None) -> Iterator["object"]:
    """Chromium for one test. Playwright's sync API runs an asyncio loop on this thread, so it stops
    before the database is flushed (Django refuses blocking calls while a loop runs)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an asyncio loop on this thread; the ORM calls made here between
    # browser steps are plain blocking calls, which Django would otherwise refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class Server:
    url: str
    mail: SMTPRecorder
    process: ServiceProcess


@pytest.fixture
def server(transactional_db: None, smtp_server: SMTPRecorder, settings, tmp_path: Path) -> Iterator[Server]:
    """uvicorn serving the app on a free loopback port, on the test database, mailing to smtp_server."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        name = str(settings.DATABASES["default"]["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            pytest.skip("the server process cannot open an in-memory SQLite test database")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key not in SERVER_ENV_DROPPED}
    env.update(
        DATABASE_URL=_database_url(),
        EMAIL_URL=f"smtp://127.0.0.1:{settings.EMAIL_PORT}",
        SMS_BACKEND="locmem",
        PUBLIC_URL=url,
        ALLOWED_HOSTS="127.0.0.1",
        DEBUG="true",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="loophole.settings",
    )
    args = [sys.executable, "-m", "uvicorn", "loophole.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--lifespan", "off", "--timeout-graceful-shutdown", "2", "--log-level", "warning"]
    process = ServiceProcess("uvicorn", args, env, tmp_path / "uvicorn.log")
    try:
        _wait_until_healthy(process, url)
        yield Server(url=url, mail=smtp_server, process=process)
    finally:
        process.stop()


def _wait_until_healthy(process: ServiceProcess, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"uvicorn did not come up on {url}:\n{process.output()[-4000:]}")


@pytest.fixture
def dialogs() -> list[str]:
    """Every alert/confirm/prompt any page opened (there should be none)."""
    return []


@pytest.fixture
def new_page(browser, server: Server, dialogs: list[str]) -> Iterator[Callable[..., "object"]]:
    """A page in a fresh browser context (its own cookies and storage) on the server, UTC, British English."""
    contexts = []

    def make(width: int = 1180, height: int = 800, **options):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            timezone_id="UTC",
            locale="en-GB",
            base_url=server.url,
            **options,
        )
        contexts.append(context)
        page = context.new_page()

        def on_dialog(dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def _fast_passwords() -> None:
    """Keep the real password hashers: the server process checks the passwords stored here."""


@pytest.fixture
def shot(tmp_path: Path) -> Callable[..., Path]:
    """shot(page or locator, "name.png", **options): a screenshot into tmp_path/screenshots, or into
    the folder $SCREENSHOTS_DIR names; checked to be a PNG with a size. Returns its path."""

    def take(target: Any, name: str, **options: Any) -> Path:
        folder = screenshot_dir(os.environ, tmp_path / "screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        target.screenshot(path=str(path), animations="disabled", caret="hide", **options)
        header = path.read_bytes()[:24]
        assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert width > 0 and height > 0, f"{path} is empty"
        return path

    return take


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that take screenshots carry the `screenshots` mark: `make screenshots` runs those."""
    for item in items:
        if "shot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.screenshots)
