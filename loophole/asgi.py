"""The ASGI application: async views (the widget's event stream and long poll) and static files on
Django's async handler, every other request on a handler whose middleware chain is built for sync code.

Under Django's async handler a sync view pays a thread hop for each method of each sync middleware
(two a middleware, for every one in MIDDLEWARE), one more for the view, two for the request's start
and end signals, and a new thread for each request. The sync handler below runs the whole request
(request_started, middleware, view, request_finished) in one hop to a pooled thread, as a WSGI
server's thread would. Async views stay on the async handler, so an open stream holds no thread.

Django internals relied on (each pinned by tests/test_asgi_django_internals.py; re-read on upgrade):
- SyncStackHandler replaces `ASGIHandler.__init__` (BaseHandler.__init__ and load_middleware), and
  `ASGIHandler.handle` / `run_get_response` (request_started sent with `scope`; `_handler_class` and
  `FileResponse.block_size = chunk_size` set on the response) by code of its own in the same steps.
- It calls `ASGIHandler.read_body(receive)` (the body as a file at its start; `RequestAborted` on
  `http.disconnect`), `create_request(scope, body_file)` (a request and None, or None and the
  response refusing it), `send_response(response, send)` and `get_script_prefix(scope)`.
- `HttpResponseBase._handler_class` (private): `close()` sends request_finished with it as the sender.
- `StreamingHttpResponse.is_async` follows `streaming_content` when it is set again.
- BodyLimit: Django's handler takes `http.disconnect` while reading the body as the client gone and
  sends nothing, so the refusal can be sent after it.
"""

import json
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import IO, Any

from asgiref.sync import iscoroutinefunction, sync_to_async

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loophole.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers import base  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse  # noqa: E402
from django.urls import Resolver404, get_resolver, set_script_prefix  # noqa: E402

from loophole import logs, proxies  # noqa: E402
from loophole.limits import INBOUND_EMAIL_MAX_PAYLOAD, TWILIO_MAX_BODY  # noqa: E402

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
# Sync requests one process serves at once. Requests here are short (a model's answer waits in the
# worker, not in a request) and share one GIL: more threads only take turns at it, and the switching
# cost throughput (bench/chat.py, 2026-12-06: 16 threads 98 msg/s, 6: 109, 4: 125, 3: 118). A stream
# holds no thread. The database pool (20 connections) stays larger than this.
REQUEST_THREADS = 4


class SyncStackHandler(ASGIHandler):
    """Django's ASGI handler serving a sync middleware chain and a sync view in one hop to a pooled thread."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="request")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        in_thread = sync_to_async(self.respond, thread_sensitive=False, executor=self.threads)
        try:
            response, closed = await in_thread(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if not closed:  # an async iterator, closed once it has been sent
                    await sync_to_async(response.close, thread_sensitive=False, executor=self.threads)()
        finally:
            body_file.close()

    def respond(self, scope: Scope, body_file: IO[bytes]) -> tuple[HttpResponseBase, bool]:
        """The whole request in this thread; the response, and whether it is closed. A response whose
        content is complete is closed here, before it is sent: request_finished then gives this
        thread's database connection back."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, refusal = self.create_request(scope, body_file)
        if request is None:
            assert refusal is not None  # create_request gives a request or the response refusing one
            response = refusal
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]  # Django's handlers set it; not in django-stubs
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        # an async iterator is read as it is sent
        complete = not (isinstance(response, StreamingHttpResponse) and response.is_async)
        if isinstance(response, StreamingHttpResponse) and complete:
            # An async server cannot iterate a sync iterator: Django's own handler reads it whole in a
            # thread too. It is read here, in the thread and on the connection its view used.
            response.streaming_content = _replay(list(response))
        if complete:
            response.close()
        return response, complete


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@lru_cache(maxsize=4096)
def is_async_path(path_info: str) -> bool:
    """Whether the view at this path is a coroutine function (unknown paths are not). Static files go
    to the async handler too, where the static files middleware streams them without a thread."""
    if path_info.startswith(settings.STATIC_URL):
        return True
    try:
        match = get_resolver().resolve(path_info)
    except Resolver404:
        return False
    return iscoroutinefunction(match.func)


class Application:
    """Dispatches each HTTP request to the async or the sync handler by its view."""

    def __init__(self) -> None:
        self.async_handler = ASGIHandler()
        self.sync_handler = SyncStackHandler()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path_info = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
            if not is_async_path(path_info):
                return await self.sync_handler(scope, receive, send)
        return await self.async_handler(scope, receive, send)


TOO_LARGE = json.dumps({"error": "The request is too large."}).encode()
# Request bodies by path prefix, first match: the most bytes, and the refusal (the route's own 413).
# Anything else may send up to DATA_UPLOAD_MAX_MEMORY_SIZE (no file uploads are taken anywhere).
BODY_LIMITS = (
    ("/anymail/", INBOUND_EMAIL_MAX_PAYLOAD, "text/plain", b"The payload is too large."),
    ("/channels/sms/", TWILIO_MAX_BODY, "application/json", TOO_LARGE),
    ("/channels/voice/", TWILIO_MAX_BODY, "application/json", TOO_LARGE),
)


def body_limit(path_info: str) -> tuple[int | None, str, bytes]:
    """The most bytes a request body to this path may have (None: no limit), and the refusal's type and text."""
    for prefix, limit, content_type, refusal in BODY_LIMITS:
        if path_info.startswith(prefix):
            return limit, content_type, refusal
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "application/json", TOO_LARGE


class BodyLimit:
    """Refuses a request body over its route's limit with a 413 before reading it whole: at once when
    Content-Length says so, else (chunked) as soon as the bytes received pass the limit, without waiting
    for the rest. Django's ASGI handler reads every body whole (spooled to disk) before any middleware or
    view can look at its size; the application here never receives more than the limit."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path_info = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        limit, content_type, refusal = body_limit(path_info)
        if limit is None:
            return await self.app(scope, receive, send)
        if _content_length(scope) > limit:
            return await self.refuse(send, path_info, content_type, refusal)
        received = 0
        over = False

        async def counted() -> dict[str, Any]:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django's handler takes this as the client gone: it drops what it read and answers nothing.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
        if over:  # the body is read before any view runs: nothing has been sent yet
            await self.refuse(send, path_info, content_type, refusal)

    @staticmethod
    async def refuse(send: Any, path_info: str, content_type: str, refusal: bytes) -> None:
        logger.warning("refused an oversized request body on %s", path_info)
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(refusal)).encode()),
            (b"connection", b"close"),  # the rest of the body is never read
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": refusal})


def _content_length(scope: Scope) -> int:
    """The declared body size; 0 when absent (chunked) or unreadable (the server refuses a bad one)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class ClientAddress:
    """Names the client of each request (loophole.proxies) before anything reads it, the server's
    access log included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        proxies.set_client(scope, settings.TRUSTED_PROXIES)
        return await self.app(scope, receive, send)


application = ClientAddress(BodyLimit(Application()))
logs.private_access_log()
