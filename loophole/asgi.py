"""The ASGI application: async views (the widget's event stream and long poll) and static files on
Django's async handler, every other request on a handler whose middleware chain is built for sync code.

Under Django's async handler a sync view pays a thread hop for each method of each sync middleware
(two a middleware, for every one in MIDDLEWARE) and one more for the view. The sync handler below runs the whole
request, middleware and view, in one hop to the request's thread, as WSGI would. Async views stay on
the async handler, so an open stream holds no thread.
"""

import os
from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loophole.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers import base  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.http import HttpRequest, HttpResponseBase  # noqa: E402
from django.urls import Resolver404, get_resolver  # noqa: E402

Scope = dict[str, Any]


class SyncStackHandler(ASGIHandler):
    """Django's ASGI handler running the sync middleware chain and a sync view in one thread hop."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the request's own thread, where Django also closes the response (and with it
        # the request's database connection).
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


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
