"""Outbound SMS backends, chosen by settings.SMS_BACKEND like Django's EMAIL_BACKEND.

`send(to, body, *, status_callback=None)` sends one text and returns the provider's id. Transient
failures (Twilio busy or unreachable) raise SmsTransientError, an OSError, so the delivery task
retries them with backoff; a message Twilio refuses for good raises SmsRejected, which is not retried.
"""

import itertools
import json
import re
import sys
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_MAX = 1600  # Twilio refuses a body longer than this (it is 10 concatenated segments)
TWILIO_API = "https://api.twilio.com"
TIMEOUT = 15.0  # seconds per request to Twilio

# A module-level list, like django.core.mail.outbox: what LocmemBackend "sent", as {"to", "body"}.
outbox: list[dict[str, str]] = []


class SmsError(Exception):
    """An SMS could not be sent."""


class SmsTransientError(SmsError, OSError):
    """Twilio is rate limiting, failing or unreachable: try again later (the task retries OSError)."""


class SmsRejected(SmsError):
    """Twilio refused the message for good (an invalid or opted-out number, …): do not retry."""

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class BaseBackend:
    def send(self, to: str, body: str, *, status_callback: str | None = None) -> str:
        """Send `body` to the E.164 number `to`; returns the provider's message id."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Prints each message (development without Twilio)."""

    _ids = itertools.count(1)

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> str:
        sid = f"console-{next(self._ids)}"
        self.stream.write(f"SMS {sid} to {to}:\n{body}\n{'-' * 40}\n")
        self.stream.flush()
        return sid


class LocmemBackend(BaseBackend):
    """Keeps messages in `outbox` (tests)."""

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> str:
        outbox.append({"to": to, "body": body})
        return f"locmem-{len(outbox)}"


class FileBackend(BaseBackend):
    """Writes one JSON file per message, with "to" and "body", into SMS_FILE_PATH."""

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> str:
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        sid = uuid.uuid4().hex
        path = directory / f"{sid}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"to": to, "body": body}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a file
        return sid


class _HttpClient(TwilioHttpClient):
    """Twilio's own HTTP client (the library's documented extension point), with a timeout and,
    for a mock of the REST API, another origin than api.twilio.com."""

    def __init__(self, origin: str) -> None:
        super().__init__(timeout=TIMEOUT)
        self.origin = urlsplit(origin)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (self.origin.scheme, self.origin.netloc):
            url = urlunsplit((self.origin.scheme, self.origin.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, origin: str) -> Client:
    """One client (and connection pool) per account, shared by the tasks of a worker."""
    return Client(account_sid, auth_token, http_client=_HttpClient(origin))


def status_callback_url() -> str:
    return settings.PUBLIC_URL + reverse("sms:status")


class TwilioBackend(BaseBackend):
    """Sends through Twilio's REST API with the real twilio client.

    Bodies over 1,600 characters go as several numbered messages, split between sentences or words.
    The API origin is api.twilio.com; the Django setting TWILIO_API_BASE_URL (no environment
    variable) points it at a mock server.
    """

    def __init__(self) -> None:
        origin = getattr(settings, "TWILIO_API_BASE_URL", "") or TWILIO_API
        self.client = _client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, origin.rstrip("/"))
        self.sender = settings.TWILIO_PHONE_NUMBER

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> str:
        callback = status_callback or status_callback_url()
        return ",".join(self._send_one(to, part, callback) for part in split(body, TWILIO_MAX))

    def _send_one(self, to: str, body: str, status_callback: str) -> str:
        # A Messaging Service SID (MG…) lets Twilio pick the number; otherwise send from ours.
        sender = {"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender}
        try:
            message = self.client.messages.create(to=to, body=body, status_callback=status_callback, **sender)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise SmsTransientError(f"Twilio answered {exc.status} (code {exc.code})") from exc
            raise SmsRejected(
                f"Twilio refused the message: {exc.status} (code {exc.code})", status=exc.status, code=exc.code
            ) from exc
        except requests.RequestException as exc:
            raise SmsTransientError(f"Twilio is unreachable: {type(exc).__name__}") from exc
        return str(message.sid)


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, numbered "(1/3) " when there are several.

    Cuts between sentences where it can, else between words, else inside a word.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text]
    room = limit - len("(99/99) ")
    parts: list[str] = []
    rest = text
    while rest:
        if len(rest) <= room:
            parts.append(rest)
            break
        window = rest[: room + 1]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.start() > room // 2), default=0)
        if not cut:
            space = window.rfind(" ", room // 2)
            cut = space + 1 if space > 0 else room
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [f"({i}/{len(parts)}) {part}" for i, part in enumerate(parts, 1)]


def get_backend() -> BaseBackend:
    """An instance of settings.SMS_BACKEND."""
    return import_string(settings.SMS_BACKEND)()
