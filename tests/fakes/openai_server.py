"""A scripted, OpenAI-compatible HTTP server on loopback for the assistant's OpenAI engine.

Tests push the responses the "model" gives, in order, and read back what the client sent. Each
request to `POST /v1/chat/completions` takes the next scripted response; an unscripted request gets
a 500 whose body says so, which shows up in a test as the engine's fallback. Nothing here sleeps: a
scripted hang waits on an event that stop() sets.
"""

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to hold the request before answering (a timeout, for the client)


class FakeOpenAI:
    """The server and its script. Use as `with FakeOpenAI() as server:` or start()/stop()."""

    def __init__(self, model: str = "gpt-test") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []  # the JSON bodies received, in order
        self.headers: list[dict[str, str]] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # let any scripted hang return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # The script -----------------------------------------------------------------------------

    def push_text(self, text: str, *, finish_reason: str = "stop") -> None:
        """The model answers with `text`."""
        self._push_message({"role": "assistant", "content": text, "refusal": None}, finish_reason)

    def push_tool_call(self, name: str, arguments: dict[str, Any] | str, *, content: str | None = None) -> None:
        """The model calls one tool; `arguments` as a dict (sent as JSON) or as the raw argument string."""
        self.push_tool_calls([(name, arguments)], content=content)

    def push_tool_calls(self, calls: list[tuple[str, dict[str, Any] | str]], *, content: str | None = None) -> None:
        """The model calls several tools in one round."""
        tool_calls = [
            {
                "id": f"call_{next(self._ids):06d}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for name, args in calls
        ]
        message = {"role": "assistant", "content": content, "refusal": None, "tool_calls": tool_calls}
        self._push_message(message, "tool_calls")

    def push_completion(self, body: dict[str, Any]) -> None:
        """A whole completion body as given (for shapes the helpers do not make, like no choices)."""
        self._push(Scripted(body=json.dumps(body).encode()))

    def push_status(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """An API error like OpenAI's (500, 429, …); `times` > 1 to fail the client's retries too."""
        kinds = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded"}
        error = {
            "message": f"fake error {status}",
            "type": kinds.get(status, "server_error"),
            "param": None,
            "code": None,
        }
        for _ in range(times):
            self._push(Scripted(status=status, body=json.dumps({"error": error}).encode(), headers=headers or {}))

    def push_hang(self, seconds: float, *, times: int = 1) -> None:
        """Hold the request `seconds` (released early by stop()), then answer with a plain text."""
        for _ in range(times):
            self._push(Scripted(body=self._completion({"role": "assistant", "content": "late"}, "stop"), hang=seconds))

    def push_raw(self, body: bytes, *, status: int = 200, content_type: str = "application/json") -> None:
        """Any bytes as the response body (malformed JSON, HTML from a proxy, …)."""
        self._push(Scripted(status=status, body=body, headers={"Content-Type": content_type}))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def tool_messages(self, request_index: int = -1) -> list[dict[str, Any]]:
        """The `tool` messages (tool results) the client sent in one request."""
        return [m for m in self.requests[request_index]["messages"] if m.get("role") == "tool"]

    def tool_results(self, request_index: int = -1) -> list[Any]:
        """The tool results of one request, decoded from their JSON strings."""
        return [json.loads(m["content"]) for m in self.tool_messages(request_index)]

    def offered_tools(self, request_index: int = 0) -> list[str]:
        return [t["function"]["name"] for t in self.requests[request_index].get("tools", [])]

    # Internals --------------------------------------------------------------------------------

    def _push(self, scripted: Scripted) -> None:
        with self._lock:
            self._script.append(scripted)

    def _push_message(self, message: dict[str, Any], finish_reason: str) -> None:
        self._push(Scripted(body=self._completion(message, finish_reason)))

    def _completion(self, message: dict[str, Any], finish_reason: str) -> bytes:
        body = {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "system_fingerprint": "fp_fake",
        }
        return json.dumps(body).encode()

    def _next(self) -> Scripted:
        with self._lock:
            if self._script:
                return self._script.popleft()
        error = {"message": "fake server: no scripted response left", "type": "server_error"}
        return Scripted(status=500, body=json.dumps({"error": error}).encode())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != COMPLETIONS_PATH:
                    self._send(Scripted(status=404, body=b'{"error": {"message": "not found"}}'))
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode(errors="replace")}
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                scripted = server._next()
                if scripted.hang and server._released.wait(scripted.hang):
                    self.close_connection = True
                    return
                self._send(scripted)

            def _send(self, scripted: Scripted) -> None:
                try:
                    self.send_response(scripted.status)
                    headers = {"Content-Type": "application/json", **scripted.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(scripted.body)))
                    self.end_headers()
                    self.wfile.write(scripted.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): that is the point of a hang

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
