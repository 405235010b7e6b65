"""Inbound mail kept as it arrived, then read by a worker.

The webhook keeps the provider's bytes (`keep`: one row, after a linear check of size and MIME
nesting) and answers at once; a worker reads them within a time budget (`read_and_file`, run by the
`channels_io.file_email` task) and hands them to handle_inbound, which stores and answers. A mail
that is refused, or not read in time, stays kept and marked, and its sender, when one can be read
cheaply, gets a short reply (`notify_sender`). A mail is tried at most MAX_ATTEMPTS times.
"""

import hashlib
import json
import logging
import re
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.utils import timezone

from channels_io.email import adapter, ids, views
from channels_io.email.inbound import handle_inbound
from channels_io.email.parsing import OverBudget, RefusedEmail, budget, check_raw, is_autoreply, is_bounce
from channels_io.models import InboundEmail
from loophole.celery import enqueue_on_commit

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a worker killed while reading (memory, hard time limit) does not retry it for ever
HEAD_READ = 64 * 1024  # of a kept raw message, read for the sender of a reply
NOT_READ = (
    "We received your email but could not read it, so it has not reached our support team. "
    "Please send your question again as a short plain-text email."
)
REFUSED = "We could not take your email: {detail}"

Status = InboundEmail.Status
Source = InboundEmail.Source

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_ANGLE_ADDRESS = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
_BARE_ADDRESS = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def keep(payload: bytes, *, source: str = Source.RFC822, **context: Any) -> int | None:
    """Keep one inbound mail for a worker and queue its reading: the row's id, or None when these bytes
    are kept already (a redelivery). Raises RefusedEmail, with nothing stored, for a mail that could
    never be read: empty, over MAX_RAW, or past the MIME limits (TooDeeplyNested).

    `context` holds handle_inbound's keyword arguments (envelope_sender, …), passed on as they are.
    """
    check_raw(payload)
    row, created = InboundEmail.objects.get_or_create(
        digest=hashlib.sha256(payload).hexdigest(),
        defaults={"source": source, "payload": payload, "context": context},
    )
    if not created:
        logger.info("inbound email %s delivered again", row.pk)
        return None
    enqueue_on_commit(file_email, row.pk)
    logger.info("inbound email kept as %s", row.pk)
    return row.pk


@shared_task(
    name="channels_io.file_email",
    # Backing the parse budget the reading steps check (a prefork worker enforces these; eager runs don't).
    soft_time_limit=settings.INBOUND_EMAIL_PARSE_SECONDS + 5,
    time_limit=settings.INBOUND_EMAIL_PARSE_SECONDS + 30,
)
def file_email(inbound_id: int) -> None:
    """Read one kept mail and file it (read_and_file), or set it aside. Safe twice."""
    try:
        read_and_file(inbound_id)
    except DatabaseError:
        raise  # the row stays pending: the sweeper queues it again
    except Exception:
        logger.exception("inbound email %s could not be read", inbound_id)
        set_aside(inbound_id, InboundEmail.Status.FAILED, "It could not be read.")


@shared_task(
    name="channels_io.send_inbound_notice",
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def send_inbound_notice(inbound_id: int) -> None:
    """Tell the sender of a kept mail we did not take why, once."""
    notify_sender(inbound_id)


def read_and_file(inbound_id: int) -> None:
    """Read one kept mail within the budget and hand it to handle_inbound; the row goes once that is
    done. A refused mail, or one not read in time, is set aside. Safe twice."""
    with transaction.atomic():
        row = InboundEmail.objects.select_for_update().filter(pk=inbound_id, status=Status.PENDING).first()
        if row is None:
            return  # filed already, or set aside
        row.attempts += 1
        row.save(update_fields=["attempts"])  # committed first: a worker killed while reading still counts
    if row.attempts > MAX_ATTEMPTS:
        set_aside(inbound_id, Status.FAILED, f"Not read in {MAX_ATTEMPTS} attempts.")
        return
    try:
        with budget(settings.INBOUND_EMAIL_PARSE_SECONDS):
            outcome = handle_inbound(message_bytes(row), **row.context)
    except RefusedEmail as exc:
        set_aside(inbound_id, Status.REFUSED, str(exc))
        return
    except (OverBudget, SoftTimeLimitExceeded):
        set_aside(inbound_id, Status.FAILED, "Not read within the time allowed.")
        return
    InboundEmail.objects.filter(pk=inbound_id).delete()
    logger.info("inbound email %s filed: %s", inbound_id, outcome.result)


def message_bytes(row: InboundEmail) -> bytes:
    """The raw message of a kept mail (rebuilt from Postmark's fields when it came without RawEmail).
    Raises RefusedEmail when those fields cannot make a message."""
    payload = bytes(row.payload)
    if row.source == Source.RFC822:
        return payload
    try:
        event = json.loads(payload)
    except ValueError:
        raise RefusedEmail("The message is not in Postmark's inbound form.") from None
    return views.postmark_message(event)


def set_aside(inbound_id: int, status: str, detail: str) -> None:
    """Mark a pending kept mail refused or failed, and queue the reply to its sender. Idempotent."""
    with transaction.atomic():
        marked = InboundEmail.objects.filter(pk=inbound_id, status=Status.PENDING).update(
            status=status, detail=detail[: InboundEmail._meta.get_field("detail").max_length]
        )
        if marked:
            enqueue_on_commit(send_inbound_notice, inbound_id)
    if marked:
        logger.warning("inbound email %s %s: %s", inbound_id, status, detail)


def notify_sender(inbound_id: int) -> None:
    """Tell the sender of a kept mail that was refused or not read why, once. The row stays locked
    while the reply is sent, and is marked answered after (also when there is no one to tell)."""
    with transaction.atomic():
        row = (
            InboundEmail.objects.select_for_update()
            .filter(pk=inbound_id, answered_at=None)
            .exclude(status=Status.PENDING)
            .first()
        )
        if row is None:
            return  # told already
        head = _head(row)
        address = reply_address(head, row.context.get("envelope_sender"))
        if address:
            text = NOT_READ if row.status == Status.FAILED else REFUSED.format(detail=row.detail)
            found = ids.MSG_ID.findall(str(head.get("Message-ID", ""))[:998])
            adapter.build_notice(address, text, in_reply_to=found[0] if found else "").send(fail_silently=False)
        row.answered_at = timezone.now()
        row.save(update_fields=["answered_at"])
    logger.info("inbound email %s: %s", inbound_id, "its sender told" if address else "no one to tell")


def _head(row: InboundEmail) -> Message:
    """The top headers of a kept mail, unparsed (compat32 keeps header values as text)."""
    payload = bytes(row.payload)
    if row.source == Source.RFC822:
        head = payload[:HEAD_READ]
        end = _HEAD_END.search(head)
        return BytesHeaderParser(policy=policy.compat32).parsebytes(head[: end.start() if end else len(head)])
    message = Message()
    try:
        event = json.loads(payload)
        sender = event.get("FromFull", {}).get("Email") or event.get("From") or ""
        message["From"] = str(sender)
        message["Subject"] = str(event.get("Subject") or "")
        for header in event.get("Headers") or []:
            message[str(header["Name"])] = str(header["Value"])
    except (ValueError, TypeError, LookupError, AttributeError):
        pass  # what was read so far is what there is
    return message


def reply_address(head: Message, envelope_sender: str | None = None) -> str:
    """The From address to answer, lower-cased, or "" when there is none to read cheaply or it must not
    be answered: our own address or mail, a bounce, an auto-responder."""
    value = " ".join(str(head.get("From", ""))[:998].split())
    angled = _ANGLE_ADDRESS.findall(value)
    if len(angled) == 1:
        address = angled[0]
    elif not angled and _BARE_ADDRESS.fullmatch(value):
        address = value
    else:
        return ""
    address = address.lower()
    try:
        validate_email(address)
    except ValidationError:
        return ""
    message_ids = ids.MSG_ID.findall(str(head.get("Message-ID", ""))[:998])
    if address == settings.SUPPORT_EMAIL.lower() or address.startswith(_BOUNCE_SENDERS):
        return ""
    if (message_ids and ids.is_ours(message_ids[0])) or is_bounce(head, address, envelope_sender):
        return ""
    subject = " ".join(str(head.get("Subject", ""))[:998].split())
    return "" if is_autoreply(head, subject) else address
