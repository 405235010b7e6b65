"""handle_inbound: the one function both inbound paths (webhook, `receive_email`) call.

Store first, then act: the customer's message is committed before anything answers it; a
redelivery (same Message-ID) is stored once and answered once.
"""

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from assistant import services as assistant
from channels_io.answering import answer_when_stored
from channels_io.email import identity, ids
from channels_io.email.parsing import TEXT_MAX, Kind, ParsedEmail, RefusedEmail, parse
from tickets import services as ticket_services
from tickets.models import Author, Conversation, ConversationState, Message, Status

logger = logging.getLogger(__name__)

CHANNEL = "email"
AWAY_CHANNEL = "chat"  # a reply to an away email continues the chat its replies came from
SUBJECT_PREFIX = "Subject: "
MAX_REFERENCES = 50  # the newest ids of a References header looked at
OUR_AUTHORS = (Author.ASSISTANT, Author.STAFF, Author.SYSTEM)


class Result(enum.StrEnum):
    STORED = "stored"  # stored, to be answered once committed (channels_io.answering.answer_when_stored)
    STORED_UNANSWERED = "stored_unanswered"  # an auto-reply kept in its thread, never answered
    DUPLICATE = "duplicate"  # this Message-ID is stored already
    IGNORED = "ignored"  # a bounce, our own mail, or an auto-reply to no thread of ours


@dataclass(frozen=True)
class Outcome:
    result: Result
    detail: str
    message_id: int | None = None
    conversation_id: int | None = None


def handle_inbound(
    raw: bytes, *, envelope_sender: str | None = None, vouched_domains: Sequence[str] | None = None
) -> Outcome:
    """Parse one raw message and store it in its conversation (a new one for a new thread), to be
    answered once committed. Idempotent per Message-ID. Raises RefusedEmail with nothing stored.

    `vouched_domains`: the domains the receiving provider's SPF/DKIM checks passed for (the
    webhook's); None reads them from our own mail server's Authentication-Results header. A sender
    whose domain is not among them is an unknown sender, whatever address the From header names.
    """
    parsed = parse(raw, envelope_sender=envelope_sender)
    if parsed.kind in (Kind.BOUNCE, Kind.OWN):
        logger.info("inbound email ignored: %s", parsed.kind)
        return Outcome(Result.IGNORED, f"not stored: {parsed.kind}")
    stored = Message.objects.filter(channel=CHANNEL, external_id=parsed.external_id).first()
    if stored is not None:
        logger.info("inbound email is a redelivery of message %s", stored.pk)
        return Outcome(Result.DUPLICATE, "stored already", stored.pk, stored.conversation_id)
    if not parsed.text and not parsed.subject:
        raise RefusedEmail("The message has no text to read.")
    if vouched_domains is None:
        vouched_domains = identity.mta_domains(raw)
    vouched = identity.aligned(parsed.sender, vouched_domains)
    try:
        with transaction.atomic():
            return _store(parsed, vouched=vouched)
    except IntegrityError:
        # The same Message-ID committed by a concurrent delivery meanwhile.
        stored = Message.objects.filter(channel=CHANNEL, external_id=parsed.external_id).first()
        if stored is None:
            raise
        return Outcome(Result.DUPLICATE, "stored already", stored.pk, stored.conversation_id)
    except ticket_services.TicketError as exc:
        raise RefusedEmail(f"The message cannot be stored: {exc}.") from None


def _store(parsed: ParsedEmail, *, vouched: bool) -> Outcome:
    customer = customer_for(parsed.sender) if vouched else None
    conversation = thread_conversation(parsed, customer) if vouched else None
    if parsed.kind == Kind.AUTOREPLY:
        if conversation is None:
            logger.info("auto-reply to no conversation of ours ignored")
            return Outcome(Result.IGNORED, "not stored: an auto-reply outside any conversation")
        message, _created = ticket_services.store_customer_message(
            conversation.pk, parsed.text, external_id=parsed.external_id, automatic=True
        )
        logger.info("auto-reply stored as message %s, not answered", message.pk)
        return Outcome(Result.STORED_UNANSWERED, "stored, not answered: an auto-reply", message.pk, conversation.pk)
    text = parsed.text
    if conversation is None:  # a new thread
        conversation = ticket_services.open_conversation(
            channel=CHANNEL,
            customer=customer,
            sender=parsed.sender,
            thread=(parsed.references[0] if parsed.references else parsed.message_id)[:255],
        )
        text = with_subject(parsed.subject, text)
        logger.info(
            "email conversation %s started (%s sender)",
            conversation.pk,
            "known" if customer else "unknown" if vouched else "unverified",
        )
    message = assistant.receive(conversation.pk, text, external_id=parsed.external_id)
    if message.handled_at is None:
        answer_when_stored(message.pk)
    logger.info("inbound email stored as message %s in conversation %s", message.pk, conversation.pk)
    return Outcome(Result.STORED, "stored, to be answered", message.pk, conversation.pk)


def customer_for(address: str):
    """The active account with this email address (stored lower-cased), once that is verified; or None."""
    users = get_user_model().objects.filter(email_verified_at__isnull=False)
    return users.filter(email=address.lower(), is_active=True).first()


def thread_conversation(parsed: ParsedEmail, customer) -> Conversation | None:
    """The open email conversation of this sender that one of our replies named in the message's
    In-Reply-To/References belongs to, the reply's stamp checked. None: a new thread.

    Only the sender's own conversations can match, whatever the headers say, and only through an id
    we gave: a customer's own Message-IDs travel in copies and quotes, ours carry a keyed stamp.
    A reply on a resolved ticket's thread continues it (and reopens the ticket) within the retention
    window; a thread past it, or whose sender has been tied to an account since, starts a new
    conversation. A reply to an away email continues the chat conversation it came from, when that
    is the (vouched) sender's account's.
    """
    claims = ids.claimed(parsed.references[-MAX_REFERENCES:])
    if not claims:
        return None
    replies = Message.objects.filter(pk__in=claims, author__in=OUR_AUTHORS).only("pk", "conversation_id", "created_at")
    ours = [
        reply.conversation_id
        for reply in replies
        if claims[reply.pk][0] == reply.conversation_id
        and ids.verifies(reply.conversation_id, reply.pk, reply.created_at.isoformat(), claims[reply.pk][1])
    ]
    if not ours:
        return None
    conversation = (
        Conversation.objects.filter(channel=CHANNEL, sender=parsed.sender, pk__in=ours)
        .exclude(state=ConversationState.CLOSED)
        .exclude(ticket__status=Status.RESOLVED, ticket__resolved_at__lte=ticket_services.purge_cutoff())
        .order_by("-last_message_at", "-pk")
        .first()
    )
    if conversation is None:
        # A reply to an away email continues the account's chat conversation (the channel stays chat).
        return _replied_chat(customer, ours)
    if conversation.customer_id != (customer.pk if customer else None):
        return None
    return conversation


def _replied_chat(customer: Any, conversation_ids: list[int]) -> Conversation | None:
    """The open chat conversation of `customer` among those our stamped Message-IDs named (checked by
    the caller): only away emails give chat replies an id. None otherwise, or past retention."""
    if customer is None or not conversation_ids:
        return None
    return (
        Conversation.objects.filter(pk__in=conversation_ids, channel=AWAY_CHANNEL, customer=customer)
        .exclude(state=ConversationState.CLOSED)
        .exclude(ticket__status=Status.RESOLVED, ticket__resolved_at__lte=ticket_services.purge_cutoff())
        .order_by("-last_message_at", "-pk")
        .first()
    )


def with_subject(subject: str, text: str) -> str:
    """The first message of a thread keeps its subject (often the question itself) when it fits."""
    if not subject:
        return text
    if not text:
        return f"{SUBJECT_PREFIX}{subject}"
    prefixed = f"{SUBJECT_PREFIX}{subject}\n\n{text}"
    return prefixed if len(prefixed) <= TEXT_MAX else text


def subject_of(conversation_id: int) -> str:
    """The subject the thread started with ("" when unknown)."""
    first = (
        Message.objects.filter(conversation_id=conversation_id, author=Author.CUSTOMER)
        .order_by("pk")
        .only("text")
        .first()
    )
    if first is None or not first.text.startswith(SUBJECT_PREFIX):
        return ""
    return first.text[len(SUBJECT_PREFIX) :].split("\n", 1)[0].strip()
