"""Twilio's REST API (the Messages resource) as a scripted HTTP server on loopback.

The real twilio client is pointed at it (settings.TWILIO_API_BASE_URL). Each POST to
`/2010-04-01/Accounts/<sid>/Messages.json` takes the next scripted answer, or by default creates a
message like Twilio (201, a JSON Message resource with a fresh SM… sid). Requests are kept, form-decoded.
"""

import base64
import itertools
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twilio"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


@dataclass(frozen=True)
class Received:
    path: str
    form: dict[str, str]
    auth: tuple[str, str]


class FakeTwilio:
    def __init__(self) -> None:
        self.requests: list[Received] = []  # every request, refused ones included
        self.sent: list[dict[str, str]] = []  # the messages created: the form posted, and "sid"
        self._script: deque[tuple[int, bytes]] = deque()
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def push_error(self, fixture: str, *, times: int = 1) -> None:
        """Answer the next request(s) with an API error from tests/fixtures/twilio/<fixture>.json."""
        body = (FIXTURES / f"{fixture}.json").read_bytes()
        status = json.loads(body)["status"]
        with self._lock:
            self._script.extend([(status, body)] * times)

    def _created(self, account_sid: str, form: dict[str, str]) -> tuple[int, bytes]:
        sid = f"SM{next(self._sids):032x}"
        resource = json.loads((FIXTURES / "api_message_created.json").read_text())
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
        resource.update(sid=sid, body=form.get("Body", ""), to=form.get("To", ""), uri=uri)
        resource["subresource_uris"]["media"] = uri.replace(".json", "/Media.json")
        self.sent.append({**form, "sid": sid})
        return 201, json.dumps(resource).encode()

    def _answer(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        match = MESSAGES_PATH.match(path)
        if match is None:
            return 404, b'{"code": 20404, "message": "The requested resource was not found", "status": 404}'
        with self._lock:
            if self._script:
                return self._script.popleft()
            return self._created(match.group(1), form)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                _scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
                user, _, password = base64.b64decode(credentials or b"").decode().partition(":")
                with server._lock:
                    server.requests.append(Received(self.path, form, (user, password)))
                status, body = server._answer(self.path, form)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
