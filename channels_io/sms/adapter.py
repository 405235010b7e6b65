"""SMS in and out: who a number is, which conversation a text continues, opt-outs, and sending.

A conversation continues per number until it is closed, silent for 24 hours (its ticket's last
activity, a resolution say, counts), or its ticket is past the retention window; then the next text
starts a new one. A text on a resolved ticket's conversation reopens the ticket. Numbers that
texted STOP get nothing from us until they text START (Twilio also blocks them, and answers STOP and
START itself).
"""

import logging
import re
from datetime import timedelta
from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone

from channels_io.models import InboundText, SmsOptOut
from channels_io.sms import backends
from loophole import rows
from loophole.models import PhoneNumber, User, normalize_phone
from tickets import services as ticket_services
from tickets.models import Author, Conversation, ConversationState, Message, Ticket

logger = logging.getLogger(__name__)

CHANNEL = "sms"
SILENCE = timedelta(hours=24)
ASSISTANT_MAX = 600  # assistant replies stay one short text; staff replies go in full

# Twilio's standard opt-out keywords (a message that is exactly one of them). YES is one of Twilio's
# opt-in words, but here it confirms a ticket offer, so it is not taken as START.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
HELP_TEXT = (
    "Loophole support: text your question and Loophole AI will answer. Ask for a person and it will offer "
    "to open a ticket. Reply STOP to opt out. Msg & data rates may apply."
)


def keyword(body: str) -> str:
    """ "stop", "start" or "help" when the whole text is one of Twilio's keywords, else ""."""
    word = re.sub(r"[\s.!]+", "", body or "").upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return ""


def is_opted_out(number: str) -> bool:
    return SmsOptOut.objects.filter(number=number).exists()


def opt_out(number: str) -> None:
    """Idempotent."""
    SmsOptOut.objects.get_or_create(number=number)
    logger.info("sms opt-out recorded")


def opt_in(number: str) -> None:
    """Idempotent."""
    SmsOptOut.objects.filter(number=number).delete()
    logger.info("sms opt-out cleared")


def accept(sid: str, number: str, body: str) -> int | None:
    """Keep an inbound text until a worker files it: its row id, or None when this MessageSid is
    already waiting (a redelivery). One statement, so the webhook answers Twilio at once."""
    with connection.cursor() as cursor:
        cursor.execute(_accept_sql(connection.vendor), [sid, number, body, timezone.now()])
        row = cursor.fetchone()
    return row[0] if row else None


@lru_cache(maxsize=2)
def _accept_sql(vendor: str) -> str:
    """The INSERT of accept(), its names from the model's metadata."""
    table = connection.ops.quote_name(InboundText._meta.db_table)
    sid, sender, body, received_at, pk = (
        rows.column(InboundText, n) for n in ("sid", "sender", "body", "received_at", "id")
    )
    return (
        f"INSERT INTO {table} ({sid}, {sender}, {body}, {received_at}) VALUES (%s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({sid}) DO NOTHING RETURNING {pk}"
    )


def file_text(inbound_id: int) -> Message | None:
    """Store a kept text in its sender's conversation and drop the kept row, in one transaction.

    Returns the stored message (also when filed before: safe twice), or None when it cannot be
    found or stored. A text from a number that opted out is stored as handled: it is never answered.
    """
    with transaction.atomic():
        inbound = InboundText.objects.select_for_update().filter(pk=inbound_id).first()
        if inbound is None:
            return None  # filed already: the caller finds the message by its MessageSid
        inbound.delete()
        try:
            conversation = conversation_for(inbound.sender)
            message, created = ticket_services.store_customer_message(
                conversation.pk, inbound.body, external_id=inbound.sid, handled=is_opted_out(inbound.sender)
            )
        except ticket_services.TicketError:
            logger.warning("inbound text %s could not be stored and was dropped", inbound_id)
            return None
    if created:
        logger.info("sms message %s stored in conversation %s", message.pk, conversation.pk)
    return message


def customer_for(number: str) -> User | None:
    """The account whose phone numbers include `number` (E.164), or None for an unknown sender (an
    account whose email address is not verified yet included)."""
    phone = (
        PhoneNumber.objects.select_related("user")
        .filter(number=number, user__is_active=True, user__email_verified_at__isnull=False)
        .first()
    )
    return phone.user if phone else None


def conversation_for(number: str) -> Conversation:
    """The SMS conversation a text from `number` continues, or a new one."""
    customer = customer_for(number)
    latest = (
        Conversation.objects.filter(channel=CHANNEL, sender=number)
        .select_related("ticket")
        .order_by("-last_message_at", "-pk")
        .first()
    )
    if latest is not None and _continues(latest, customer):
        return latest
    return ticket_services.open_conversation(channel=CHANNEL, customer=customer, sender=number)


def _continues(conversation: Conversation, customer: User | None) -> bool:
    if conversation.state == ConversationState.CLOSED:
        return False
    ticket = getattr(conversation, "ticket", None)
    latest = conversation.last_message_at
    if ticket is not None:
        latest = max(latest, ticket.last_activity_at)  # an answer to the team's move continues it
    if latest < timezone.now() - SILENCE:
        return False
    if conversation.customer_id != (customer.pk if customer else None):
        return False  # the number was tied to (or removed from) an account meanwhile
    return ticket is None or not ticket_services.past_retention(ticket)


def text_for(message: Message) -> str:
    """What goes by SMS: an assistant reply shortened to one text with at most one link; a staff
    reply in full, marked as coming from the team."""
    if message.author == Author.STAFF:
        ticket = Ticket.objects.filter(conversation_id=message.conversation_id).only("reference").first()
        lead = f"Loophole team, ticket {ticket.reference}:" if ticket else "Loophole team:"
        return f"{lead}\n{message.text}"
    lines = message.text.replace("**", "").splitlines()
    links = [line.rsplit(" ", 1)[-1] for line in lines if line.startswith("Read more:")]
    text = "\n".join(line for line in lines if not line.startswith("Read more:")).strip()
    more = f"\nMore: {links[0]}" if links else ""
    return shorten(text, ASSISTANT_MAX - len(more)) + more


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a sentence end (or a word), marked with an ellipsis."""
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("\n"))
    if cut < limit // 2:
        cut = window.rfind(" ")
    return window[: cut + 1 if cut > 0 else limit - 1].rstrip() + "…"


def send_text(number: str, text: str) -> str:
    """Send `text` to `number` unless it opted out; returns the provider id ("" when not sent).

    Raises SmsTransientError (an OSError: retried by the delivery task); a permanent refusal is
    logged and swallowed, so the sweeper does not send it again every minute.
    """
    if is_opted_out(number):
        logger.info("sms not sent: the number opted out")
        return ""
    try:
        return backends.get_backend().send(number, text, status_callback=backends.status_callback_url())
    except backends.SmsRejected as exc:
        logger.error("sms refused by the provider for good (status %s, code %s)", exc.status, exc.code)
        return ""


def send(message: Message) -> None:
    """The SMS channel's sender: one assistant or staff message to the conversation's number."""
    try:
        number = normalize_phone(message.conversation.sender)
    except ValueError:
        logger.warning("sms message %s not sent: its conversation has no phone number", message.pk)
        return
    sid = send_text(number, text_for(message))
    if sid:
        logger.info("sms message %s sent as %s", message.pk, sid)
