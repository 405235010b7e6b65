"""Reading one raw RFC 822 message: who sent it, its Message-ID, what kind of mail it is, its text.

Pure functions over bytes (no database): `parse(raw)` returns a ParsedEmail or raises RefusedEmail
with a message fit for a mail server's log or an operator's terminal. Every step is linear in the
message's size: the MIME tree is measured before the stdlib parses it, the stdlib's header parsers
see a bounded part of each header, and the text is read by `text`.
"""

import enum
import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from email import message_from_bytes
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from channels_io.email import ids, mime
from channels_io.email.text import html_to_text, latest_reply

logger = logging.getLogger(__name__)

MAX_RAW = 10 * 1024 * 1024
TEXT_MAX = 4000  # tickets.services.MESSAGE_MAX: what one customer message may hold
ATTACHMENTS_LISTED = 5
MAX_MIME_DEPTH = 20  # multiparts and attached messages inside one another
MAX_MIME_PARTS = 500
HEADER_READ = 2048  # characters of one header given to the stdlib's (superlinear) structured parsers


class RefusedEmail(Exception):
    """The message cannot be taken (the text says why); nothing was stored."""


class TooDeeplyNested(RefusedEmail):
    """The MIME tree is nested deeper than MAX_MIME_DEPTH, or has more than MAX_MIME_PARTS parts."""


class OverBudget(Exception):
    """Parsing ran past the time set with `budget()`."""


class Kind(enum.StrEnum):
    CUSTOMER = "customer"  # a person wrote: store and answer
    AUTOREPLY = "autoreply"  # an auto-responder: store in its thread, never answer
    BOUNCE = "bounce"  # a delivery report: neither stored nor answered
    OWN = "own"  # our own mail come back (a loop): neither stored nor answered


@dataclass(frozen=True)
class ParsedEmail:
    sender: str  # the From address, lower-cased
    external_id: str  # the Message-ID, or a hash of the raw bytes when it has none
    message_id: str  # the Message-ID as sent ("" when missing)
    references: tuple[str, ...]  # In-Reply-To and References, oldest first
    subject: str
    text: str  # the new text only; "" for bounces and our own mail
    kind: Kind


_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|abwesenheit"
    r"|r[ée]ponse automatique|respuesta autom[áa]tica|away from (my|the) (desk|office)|on vacation)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
# What the stdlib raises on headers or MIME too broken to read (it parses them lazily, on access);
# its address parser recurses once per nested comment.
_BROKEN = (ValueError, TypeError, IndexError, AttributeError, KeyError, MessageError, RecursionError)
_deadline: ContextVar[float | None] = ContextVar("email_parse_deadline", default=None)


class _BoundedPolicy(EmailPolicy):
    """policy.default, except that a header's structured parser (slow and superlinear on long address
    lists, parameter lists and comments) is given only its first HEADER_READ characters."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and len(value) > HEADER_READ:
            value = value[:HEADER_READ]
        return super().header_fetch_parse(name, value)


POLICY = _BoundedPolicy()


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Within the block, parse() raises OverBudget once `seconds` have passed (checked between steps)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _within_budget() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise OverBudget


def check_raw(raw: bytes) -> None:
    """Raise RefusedEmail for a message that can never be read: empty, over MAX_RAW, or a MIME tree past
    MAX_MIME_DEPTH or MAX_MIME_PARTS (TooDeeplyNested). One pass over the bytes; nothing is parsed."""
    _check_size(raw)
    found = mime.shape(raw, max_depth=MAX_MIME_DEPTH, max_parts=MAX_MIME_PARTS)
    _refuse_shape(found.depth, found.parts)


def _check_size(raw: bytes) -> None:
    if not raw or raw.isspace():
        raise RefusedEmail("The message is empty.")
    if len(raw) > MAX_RAW:
        raise RefusedEmail(f"The message is {len(raw)} bytes; at most {MAX_RAW} are accepted.")


def _refuse_shape(depth: int, parts: int) -> None:
    if depth > MAX_MIME_DEPTH:
        raise TooDeeplyNested(f"The message's MIME parts are nested more than {MAX_MIME_DEPTH} levels deep.")
    if parts > MAX_MIME_PARTS:
        raise TooDeeplyNested(f"The message has more than {MAX_MIME_PARTS} MIME parts.")


def parse(raw: bytes, *, envelope_sender: str | None = None) -> ParsedEmail:
    """Parse and classify one message. Raises RefusedEmail for oversized, empty or malformed mail.

    `envelope_sender` is the SMTP MAIL FROM when the caller knows it ("" is the null sender of a bounce).
    """
    _check_size(raw)
    found = mime.shape(raw, max_depth=MAX_MIME_DEPTH, max_parts=MAX_MIME_PARTS)
    _refuse_shape(found.depth, found.parts)
    if found.long_headers:
        raise RefusedEmail(f"The message's headers are longer than {mime.HEADERS_MAX} bytes.")
    try:
        msg = message_from_bytes(found.bounded, policy=POLICY)  # headers, and the start of text bodies
    except RecursionError:
        raise RefusedEmail("The message's MIME structure could not be read.") from None
    if not isinstance(msg, EmailMessage):
        raise RefusedEmail("The message could not be parsed.")
    _refuse_shape(*_shape(msg))
    _within_budget()
    sender = _sender(msg)
    message_id = _message_id(msg)
    external_id = message_id if 0 < len(message_id) <= 255 else "sha256:" + hashlib.sha256(raw).hexdigest()
    references = tuple(ids.referenced(_header(msg, "References"), _header(msg, "In-Reply-To")))
    subject = " ".join(_header(msg, "Subject").split())[:200]
    kind = _kind(msg, sender, message_id, subject, envelope_sender)
    _within_budget()
    text = "" if kind in (Kind.BOUNCE, Kind.OWN) else _text(msg)
    return ParsedEmail(sender, external_id, message_id, references, subject, text, kind)


def _shape(msg: Message) -> tuple[int, int]:
    """(depth, parts) of the parsed tree, walked without recursion: the check behind check_structure."""
    depth = parts = 0
    stack = [(msg, 0)]
    while stack:
        part, level = stack.pop()
        if part.is_multipart() and part.get_content_type() != "message/delivery-status":
            children = part.get_payload()
            if not isinstance(children, list):  # a multipart payload is its list of parts
                continue
            depth = max(depth, level + 1)
            parts += len(children) if part.get_content_maintype() == "multipart" else 0
            stack.extend((child, level + 1) for child in children if isinstance(child, Message))
    return depth, parts


def _header(msg: Message, name: str) -> str:
    """A header's value as text; a header too broken to read counts as absent."""
    try:
        value = msg.get(name)
    except _BROKEN:
        return ""
    return str(value or "").replace("\x00", "").strip()


def _sender(msg: EmailMessage) -> str:
    if "From" not in msg:
        raise RefusedEmail("The message has no From header, so there is no one to answer.")
    try:
        addresses: tuple[Address, ...] = tuple(getattr(msg.get("From"), "addresses", ()) or ())
    except _BROKEN:
        addresses = ()
    if len(addresses) != 1:
        raise RefusedEmail("The From header must name exactly one address.")
    address = (addresses[0].addr_spec or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise RefusedEmail("The From header is not a valid email address.") from None
    return address


def _message_id(msg: Message) -> str:
    found = ids.MSG_ID.findall(_header(msg, "Message-ID"))
    return found[0] if found else ""


def _kind(msg: Message, sender: str, message_id: str, subject: str, envelope_sender: str | None) -> Kind:
    if sender == settings.SUPPORT_EMAIL.lower() or (message_id and ids.is_ours(message_id)):
        return Kind.OWN
    if is_bounce(msg, sender, envelope_sender):
        return Kind.BOUNCE
    if is_autoreply(msg, subject):
        return Kind.AUTOREPLY
    return Kind.CUSTOMER


def is_bounce(msg: Message, sender: str, envelope_sender: str | None = None) -> bool:
    """A delivery status notification: a multipart/report, a mailer daemon, or the null sender."""
    if _content_type(msg) == "multipart/report":
        return True  # delivery-status (a bounce) or disposition-notification (a read receipt)
    if sender.split("@", 1)[0] in _BOUNCE_SENDERS:
        return True
    return_path = _header(msg, "Return-Path") if envelope_sender is None else envelope_sender
    if (envelope_sender is not None or "Return-Path" in msg) and return_path.strip("<> ") == "":
        return True
    return bool(_header(msg, "X-Failed-Recipients"))


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except _BROKEN:
        return "application/octet-stream"


def is_autoreply(msg: Message, subject: str = "") -> bool:
    """Mail from an auto-responder or a list (RFC 3834 Auto-Submitted, Precedence, vendor headers)."""
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if _header(msg, "Precedence").lower() in {"bulk", "list", "junk", "auto_reply"}:
        return True
    if any(_header(msg, name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "List-Id")):
        return True
    if _header(msg, "List-Unsubscribe"):
        return True
    suppress = {token.strip().lower() for token in _header(msg, "X-Auto-Response-Suppress").split(",")}
    if suppress & {"oof", "autoreply", "all"}:
        return True
    return bool(_AUTO_SUBJECT.match(subject))


def _decoded(part: EmailMessage) -> str:
    """A text part's content; an unknown or lying charset falls back to Latin-1 (every byte is a
    character), so a customer's accents never make the whole mail unreadable."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        try:
            payload = part.get_payload(decode=True)
        except _BROKEN:
            payload = b""
        content = payload.decode("latin-1", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _text(msg: EmailMessage) -> str:
    """The new text the customer wrote, with a line per attachment. Raises RefusedEmail when there
    is none or when it is longer than a message may be (it is never cut silently)."""
    try:
        plain = msg.get_body(preferencelist=("plain",))
        html = None if plain is not None else msg.get_body(preferencelist=("html",))
    except _BROKEN:
        raise RefusedEmail("The message's MIME structure could not be read.") from None
    if plain is not None:
        body = _decoded(plain)  # type: ignore[arg-type]  # parts of a policy.default message are EmailMessage; typeshed says Message
    elif html is not None:
        body = _decoded(html)  # type: ignore[arg-type]  # as above
        _within_budget()
        body = html_to_text(body)
    else:
        body = ""
    _within_budget()
    text = latest_reply(body.replace("\x00", "")) if body.strip() else ""
    _within_budget()
    names = [_attachment_name(part) for part in _attachments(msg)]
    if names:
        listed = [f"[attachment: {name}]" for name in names[:ATTACHMENTS_LISTED]]
        if len(names) > ATTACHMENTS_LISTED:
            listed.append(f"[and {len(names) - ATTACHMENTS_LISTED} more attachments]")
        text = (text + "\n\n" + "\n".join(listed)).strip()
    if len(text) > TEXT_MAX:
        raise RefusedEmail(
            f"The new text of the message is {len(text)} characters; at most {TEXT_MAX} are accepted. "
            "Please send a shorter message."
        )
    return text


def _attachments(msg: EmailMessage) -> list[EmailMessage]:
    try:
        return list(msg.iter_attachments()) if msg.is_multipart() else []
    except _BROKEN:
        return []


def _attachment_name(part: EmailMessage) -> str:
    try:
        name = part.get_filename() or ""
    except _BROKEN:
        name = ""
    name = " ".join(name.replace("\x00", "").split())[:100]
    return name or _content_type(part)
