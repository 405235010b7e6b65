"""Middleware of our own."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from loophole import ratelimit

logger = logging.getLogger(__name__)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, async-capable: under the ASGI server a sync-only middleware would pin a thread for
    the whole of every request, an open event stream included."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self._is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
            if response.streaming and not response.is_async:
                # The file's chunks are read off the event loop: an async server would otherwise
                # consume the sync iterator itself, and warn about it on every file served.
                response.streaming_content = _read_in_thread(iter(response.streaming_content))
            return response
        return await self.get_response(request)


class _DualMiddleware:
    """A middleware that runs in either handler without an adapter's thread hop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        raise NotImplementedError


class ContentSecurityPolicyMiddleware(_DualMiddleware):
    """settings.CONTENT_SECURITY_POLICY on every HTML response (pages, admin, login). Django's own
    debug error pages (DEBUG on, 4xx/5xx) are left without it: they carry inline styles and scripts."""

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self._is_async:
            return self.__acall__(request)
        return self._add(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self._add(await self.get_response(request))

    @staticmethod
    def _add(response: HttpResponse) -> HttpResponse:
        if "Content-Security-Policy" in response or not response.get("Content-Type", "").startswith("text/html"):
            return response
        if settings.DEBUG and response.status_code >= 400:
            return response
        response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


TOO_MANY_CHAT = "You're sending too many requests. Please wait a moment."
TOO_MANY_WEBHOOKS = "Too many requests from this address."
TOO_MANY_SMS = '<?xml version="1.0" encoding="UTF-8"?><Response />'  # no text back: a reply would cost money
TOO_MANY_CALLS = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US">Sorry, we can\'t take your call '
    "right now. Please try again in a few minutes.</Say><Hangup /></Response>"
)


def _too_many(kind: str, retry_after: int) -> HttpResponse:
    if kind == "sms":
        response: HttpResponse = HttpResponse(TOO_MANY_SMS, status=429, content_type="text/xml")
    elif kind == "voice":
        response = HttpResponse(TOO_MANY_CALLS, status=429, content_type="text/xml")
    else:
        response = JsonResponse({"error": TOO_MANY_CHAT if kind == "chat" else TOO_MANY_WEBHOOKS}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware(_DualMiddleware):
    """Per-client-IP limits (requests a minute, settings.RATE_LIMIT_*) on the widget's endpoints and
    the inbound webhooks: over the limit, a 429 with Retry-After before any view runs, so nothing is
    stored. One cache increment per limited request; every other path pays a prefix check.

    With DEBUG on, loopback clients (settings.RATE_LIMIT_EXEMPT_IPS: a developer's own machine) are
    not counted.
    """

    RULES = (  # path prefix, bucket (and the kind of 429 answer), settings name of the limit
        ("/chat/", "chat", "RATE_LIMIT_CHAT_PER_IP"),
        ("/channels/sms/", "sms", "RATE_LIMIT_WEBHOOKS_PER_IP"),
        ("/channels/voice/", "voice", "RATE_LIMIT_WEBHOOKS_PER_IP"),
        ("/anymail/", "email", "RATE_LIMIT_WEBHOOKS_PER_IP"),
    )
    WINDOW = 60

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self._is_async:
            return self.__acall__(request)
        rule = self._rule(request)
        refused = self._count(request, *rule) if rule is not None else None
        return refused if refused is not None else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        rule = self._rule(request)
        if rule is not None:
            refused = await sync_to_async(self._count, thread_sensitive=False)(request, *rule)
            if refused is not None:
                return refused
        return await self.get_response(request)

    def _rule(self, request: HttpRequest) -> tuple[str, int] | None:
        path = request.path_info
        for prefix, bucket, setting in self.RULES:
            if path.startswith(prefix):
                if request.META.get("REMOTE_ADDR") in settings.RATE_LIMIT_EXEMPT_IPS:
                    return None
                return bucket, getattr(settings, setting)
        return None

    def _count(self, request: HttpRequest, bucket: str, limit: int) -> HttpResponse | None:
        ip = ratelimit.client_ip(request)
        count, retry_after = ratelimit.hit(f"ip-{bucket}", ip, self.WINDOW)
        if count <= limit:
            return None
        if count == limit + 1:  # once a window, not once per refused request
            logger.warning("rate limit: %s went over %s %s requests a minute", ip, limit, bucket)
        return _too_many(bucket, retry_after)


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


async def _read_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(_next_chunk, thread_sensitive=False)
    while (chunk := await read(chunks)) is not None:
        yield chunk
