"""The ASGI application: async views (the widget's event stream and long poll) and static files on
Django's async handler, every other request on a handler whose middleware chain is built for sync code.

Under Django's async handler a sync view pays a thread hop for each method of each sync middleware
(two a middleware, for every one in MIDDLEWARE), one more for the view, two for the request's start
and end signals, and a new thread for each request. The sync handler below runs the whole request
(request_started, middleware, view, request_finished) in one hop to a pooled thread, as a WSGI
server's thread would. Async views stay on the async handler, so an open stream holds no thread.
"""

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
from django.http import FileResponse, HttpResponseBase  # noqa: E402
from django.urls import Resolver404, get_resolver, set_script_prefix  # noqa: E402

from loophole import logs  # noqa: E402

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
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        complete = not (response.streaming and response.is_async)  # an async iterator is read as it is sent
        if response.streaming and complete:
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


application = Application()
logs.private_access_log()
