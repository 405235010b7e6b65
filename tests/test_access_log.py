"""uvicorn's access log, as the server really writes it: paths without query strings, nothing personal."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, ServiceProcess, free_port
from tests.environment import PRODUCT_VARIABLES

SEARCH = "/help/?q=bob%40example.com+%2B15551234567+reset+password"


def test_the_access_log_has_no_query_string_address_or_number(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = ServiceProcess(
        "web",
        [sys.executable, "-m", "uvicorn", "loophole.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--lifespan", "off", "--log-level", "info"],
        env,
        tmp_path / "web.log",
    )  # fmt: skip
    try:
        server.wait_for_output("Uvicorn running")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{SEARCH}", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?me=bob@example.com", timeout=10) as response:
            assert response.status == 200
        server.wait_for_output('"GET /healthz?')
    finally:
        server.stop()
    log = server.output()
    assert '"GET /help/?' in log, log  # the request is logged, its query is not
    for secret in ("bob", "example.com", "%40", "5551234567", "reset"):
        assert secret not in log, log
