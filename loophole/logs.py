"""A last line of defence for the logs: email addresses and phone numbers are masked in every line our
handlers (and the Celery worker's) write, tracebacks included.

Our own log calls name ids and outcomes only (tests/test_private_logs.py checks that). The formatter
catches what other libraries write: Celery logs a retried task's exception, an SMTP refusal names
the recipient, a Twilio error the phone number.
"""

import logging
import re
from typing import Any

EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+\d[\d ().-]{6,}\d")


def redact(text: str) -> str:
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


class RedactingFormatter(logging.Formatter):
    """Formats as logging.Formatter does (or as the `inner` formatter it wraps), then masks addresses
    and numbers in the text. Only the output changes: other handlers see the record as it was."""

    def __init__(self, *args: Any, inner: logging.Formatter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record) if self.inner is not None else super().format(record))


def redact_handlers(logger: logging.Logger) -> None:
    """Wrap the formatter of each of `logger`'s handlers (for the handlers Celery's worker installs)."""
    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(inner=handler.formatter or logging.Formatter()))


class AccessLogFilter(logging.Filter):
    """uvicorn's access log without query strings: a help search's line would hold whatever was typed."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs (client, method, path with its query, HTTP version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


def private_access_log() -> None:
    """Give uvicorn's access log, which it configures before it loads the app, the same care as ours:
    no query strings, addresses and numbers masked."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    redact_handlers(access)
