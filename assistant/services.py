"""receive() and respond(): the one entry point every channel talks to, and the ticket gate.

The gate is code: a ticket is created only in respond(), only while the conversation is in
`ticket_offered`, only for a customer message that came after the offer, and only when
language.confirmation() reads that message as a plain yes. Engines can propose an offer; they can
never create a ticket. The conversation row is locked while the gate runs, the customer message is
marked handled in the same transaction, and the database allows one ticket per conversation.
"""

import logging
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assistant import language, wording
from assistant.engines.base import (
    FALLBACK_ENGINE,
    Decision,
    Engine,
    Kind,
    Link,
    Outcome,
    Request,
    TicketDraft,
    Turn,
)
from assistant.engines.local import LocalEngine
from assistant.tools import CustomerTools, known_customer, tools_for
from loophole.models import User
from tickets import conversations, statements
from tickets import services as ticket_services
from tickets.models import REOPENED, Author, Conversation, ConversationState, Message, Ticket

logger = logging.getLogger(__name__)

HISTORY = 20


_OUTCOME_OF = {
    Kind.ANSWER: Outcome.ANSWERED,
    Kind.CLARIFY: Outcome.CLARIFIED,
    Kind.OFFER: Outcome.OFFERED,
    Kind.STATUS: Outcome.STATUS,
    Kind.SMALLTALK: Outcome.SMALLTALK,
    Kind.FALLBACK: Outcome.FALLBACK,
}


@dataclass(frozen=True)
class Reply:
    """What to tell the customer (empty when handed off) and what happened."""

    outcome: Outcome
    text: str
    links: tuple[Link, ...] = ()
    message_id: int | None = None
    ticket_reference: str = ""


def get_engine() -> Engine:
    if settings.OPENAI_API_KEY:
        from assistant.engines.openai_backend import OpenAIEngine

        return OpenAIEngine()
    return LocalEngine()


def answers_now() -> bool:
    """Whether a channel answers a customer message where it stored it (the request of a chat message
    or a call's turn, the task that files a text or an email) rather than queue the answer for a worker.
    Every channel asks this: now with an engine that answers in milliseconds (the local assistant),
    queued with a model, which may take longer than a request or a filing task should wait."""
    return get_engine().answers_inline


def receive(
    conversation_id: int,
    text: str,
    *,
    external_id: str = "",
    customer: User | None = None,
    channel: str = "",
) -> Message:
    """Store a customer's message first (once per external id); the caller then answers it with respond().

    With `customer` and `channel`, only that customer's open conversation on the channel takes it.
    Raises tickets.services.TicketError for an empty or oversized message (and NoSuchConversation or
    ConversationClosed when scoped).
    """
    message, _created = ticket_services.store_customer_message(
        conversation_id, text, external_id=external_id, customer=customer, channel=channel
    )
    return message


def _history(message: Message) -> tuple[Turn, ...]:
    earlier = statements.turns_before(message.conversation_id, message.pk, HISTORY)
    return tuple(Turn(author, text, kind) for author, text, kind in earlier)


def _existing_reply(message: Message) -> Reply:
    reply = Message.objects.filter(reply_to=message).first()
    if reply is None:
        return Reply(Outcome.HANDED_OFF, "")
    outcome = Outcome(reply.kind) if reply.kind in set(Outcome) else Outcome.ANSWERED
    return Reply(outcome, reply.text, message_id=reply.pk)


def _with_links(text: str, links: tuple[Link, ...]) -> str:
    if not links:
        return text
    return text + "\n\n" + "\n".join(f"Read more: {link.title} {link.url}" for link in links)


def _store(
    conversation: Conversation, message: Message, outcome: Outcome, text: str, links=(), kind: str = "", **extra
) -> Reply:
    stored = ticket_services.store_reply(
        conversation,
        _with_links(text, links),
        kind=kind or outcome,
        reply_to=message,
        mark_handled=message.handled_at is None,  # else claimed (or answered before a fallback) already
    )
    return Reply(outcome, text, links=tuple(links), message_id=stored.pk, **extra)


def _lock(conversation_id: int) -> Conversation:
    """The conversation, locked, with `ticket_pk` (its ticket's id, or None)."""
    return ticket_services.lock_conversation(conversation_id)


def _lock_with_message(message_id: int, conversation_id: int) -> tuple[Message, Conversation]:
    conversation = _lock(conversation_id)
    return Message.objects.get(pk=message_id), conversation


def _claim(message: Message) -> bool:
    """Mark the unanswered message handled, under the conversation's lock; False if it was answered
    meanwhile. Whatever follows in the transaction stores its reply (or hands it off)."""
    now = timezone.now()
    if not statements.claim(message.pk, now):
        return False
    message.handled_at = now
    return True


def _has_ticket(conversation: Conversation) -> bool:
    """For a conversation locked by _lock (which read its ticket's id): no query."""
    return conversation.ticket_pk is not None  # type: ignore[attr-defined]  # set by tickets.services.lock_conversation()


def respond(
    message_id: int, *, hands_off: bool = False, engine: Engine | None = None, stored: Message | None = None
) -> Reply:
    """Answer one stored customer message, exactly once. Safe to call twice: the second call returns
    the first reply. `hands_off` says whether this channel hands the chat to staff after a ticket.

    A reply made while the model failed (marked Outcome.FALLBACK) is the exception: a later call asks
    the engine again, and once it answers, that answer replaces the fallback as the message's reply
    (the fallback stays in the conversation). While the model still fails nothing new is stored.

    The engine runs with no lock held; what it decided is applied under the conversation's lock, after
    checking again that the message is unanswered and the conversation still takes an answer. A caller
    that has just stored the message passes it as `stored` (with its conversation and customer) to
    save reading it again; like that read, it is checked again under the lock.
    """
    if stored is not None and stored.pk == message_id:
        message = stored
    else:
        message = Message.objects.select_related("conversation__customer").get(pk=message_id)
    conversation = message.conversation
    if message.author != Author.CUSTOMER:
        raise ValueError(f"message {message_id} is not a customer message")
    customer_known = known_customer(conversation) is not None  # read with the message: no query
    again = message.handled_at is not None
    preface = ""
    if again:
        existing = _existing_reply(message)
        if existing.outcome != Outcome.FALLBACK or not _can_answer_again(message, conversation, hands_off=hands_off):
            return existing
    elif conversation.state != ConversationState.ASSISTANT:
        with transaction.atomic():  # an offer to answer, a hand-off: decided by code, under the lock
            message, conversation = _lock_with_message(message_id, conversation.pk)
            if message.handled_at is not None:
                return _existing_reply(message)
            offered = conversation.state == ConversationState.TICKET_OFFERED
            gated = _gate(message, conversation, hands_off=hands_off)
            if gated is not None:
                return gated
            if offered and language.confirmation(message.text) == language.Answer.NO:
                preface = wording.DECLINED_BRIEF  # a no with a question: both are answered
    request = Request(
        text=message.text,
        history=_history(message),
        channel=conversation.channel,
        customer_known=customer_known,
    )
    said = [turn.text for turn in request.history if turn.author == Author.CUSTOMER] + [message.text]
    decision = _decide(engine or get_engine(), request, tools_for(conversation, said))
    if again and _degraded(decision):
        return existing  # still failing: the fallback stands, and the sweeper asks again later

    with transaction.atomic():
        if again:
            message, conversation = _lock_with_message(message_id, conversation.pk)
            fallback = Message.objects.filter(reply_to=message, kind=Outcome.FALLBACK).first()
            if fallback is None or not _can_answer_again(message, conversation, hands_off=hands_off):
                return _existing_reply(message)  # answered again meanwhile, or the conversation moved on
            Message.objects.filter(pk=fallback.pk).update(reply_to=None)
            logger.info("message %s answered again after a fallback (%s)", message_id, decision.engine)
            return _apply(decision, message, conversation, customer_known=customer_known)
        conversation = _lock(conversation.pk)
        if not _claim(message):
            return _existing_reply(message)
        if conversation.state != ConversationState.ASSISTANT or (hands_off and _has_ticket(conversation)):
            # The conversation moved on while the engine worked (an offer, a ticket): gate again.
            gated = _gate(message, conversation, hands_off=hands_off)
            if gated is not None:
                return gated
        return _apply(decision, message, conversation, customer_known=customer_known, preface=preface)


def _degraded(decision: Decision) -> bool:
    """Whether the decision was made without the model (it timed out, failed or answered garbage)."""
    return decision.kind == Kind.FALLBACK or decision.engine == FALLBACK_ENGINE


def _can_answer_again(message: Message, conversation: Conversation, *, hands_off: bool) -> bool:
    """A fallback is replaced only while the conversation has not moved on: no offer or hand-off since,
    and no later customer message (whose answer sees this one in its history)."""
    if conversation.state != ConversationState.ASSISTANT:
        return False
    if hands_off and Ticket.objects.filter(conversation=conversation).exists():
        return False
    return not Message.objects.filter(
        conversation_id=conversation.pk, author=Author.CUSTOMER, pk__gt=message.pk
    ).exists()


def _decide(engine: Engine, request: Request, tools: CustomerTools) -> Decision:
    try:
        return engine.decide(request, tools)
    except Exception:
        # The engine's own fallbacks failed too: never lose the message, answer gracefully.
        logger.exception("assistant engine failed")
        return Decision(Kind.FALLBACK, wording.FALLBACK)


def _gate(message: Message, conversation: Conversation, *, hands_off: bool) -> Reply | None:
    """Replies decided by code alone: hand-off, and the answer to an offer. None: ask the engine.
    The conversation is locked (by _lock, with its ticket)."""
    if hands_off and _has_ticket(conversation):
        if message.kind == REOPENED:
            return _store(conversation, message, Outcome.REOPENED, _reopened(conversation))
        Message.objects.filter(pk=message.pk).update(handled_at=message.created_at)
        return Reply(Outcome.HANDED_OFF, "")
    if conversation.state != ConversationState.TICKET_OFFERED:
        return None
    offer = conversation.offer or {}
    if message.pk <= offer.get("offer_message_id", 0):
        return None  # written before the offer was made: it cannot answer it
    answer = language.confirmation(message.text)
    if answer != language.Answer.YES:
        # Anything but a plain yes ends the offer: a no is declined, and whatever else the message says
        # (a new question, more detail) is answered as a new message. Nobody is asked "yes or no?" twice.
        conversations.move(conversation, ConversationState.ASSISTANT)
        declined = answer == language.Answer.NO
        logger.info("ticket offer %s in conversation %s", "declined" if declined else "lapsed", conversation.pk)
        if declined and not language.says_more_than_no(message.text):
            return _store(conversation, message, Outcome.DECLINED, wording.DECLINED)
        return None
    draft = TicketDraft(**offer["draft"])
    ticket = ticket_services.create_ticket(
        conversation.pk, title=draft.title, description=draft.description, summary=draft.summary, hand_off=hands_off
    )
    conversation.refresh_from_db()
    text = wording.created_text(ticket.reference, ticket.title, ticket.summary, hands_off)
    return _store(conversation, message, Outcome.CREATED, text, ticket_reference=ticket.reference)


def _reopened(conversation: Conversation) -> str:
    """What the customer is told when their message reopened the conversation's ticket."""
    ticket_id = conversation.ticket_pk  # type: ignore[attr-defined]  # set by tickets.services.lock_conversation()
    reference = Ticket.objects.values_list("reference", flat=True).get(pk=ticket_id)
    return wording.reopened_text(reference, conversation.channel)


def _apply(
    decision: Decision, message: Message, conversation: Conversation, *, customer_known: bool, preface: str = ""
) -> Reply:
    """Store the engine's decision. `customer_known`: the conversation's customer is a verified account
    (an offer to anyone else is answered with how to get one)."""
    if not decision.text.replace("\x00", "").strip() and decision.kind != Kind.OFFER:
        logger.warning("engine %s gave an empty reply in conversation %s", decision.engine, conversation.pk)
        decision = Decision(Kind.FALLBACK, wording.FALLBACK)
    if message.kind == REOPENED and decision.kind != Kind.OFFER:
        preface = f"{_reopened(conversation)} {preface}".strip()  # and the engine's answer follows
    if preface and decision.kind != Kind.OFFER:
        decision = replace(decision, text=f"{preface} {decision.text.strip()}".strip())
    outcome = _OUTCOME_OF[decision.kind]
    if decision.kind != Kind.OFFER:
        # Made without the model: stored as a fallback, which the sweeper has the model answer later.
        kind = Outcome.FALLBACK if _degraded(decision) else outcome
        return _store(conversation, message, outcome, decision.text, decision.links, kind=kind)
    if not customer_known:
        return _store(conversation, message, Outcome.ANSWERED, wording.NO_ACCOUNT_OFFER)
    existing = Ticket.objects.get(pk=conversation.ticket_pk) if _has_ticket(conversation) else None  # type: ignore[attr-defined]  # set by tickets.services.lock_conversation()
    if existing is not None:
        text = (
            f"Your ticket {existing.reference} from this conversation is already with the Loophole team, and "
            "they can see this message."
        )
        if message.kind == REOPENED:
            text = wording.reopened_text(existing.reference, conversation.channel)
        return _store(
            conversation, message, Outcome.ANSWERED, f"{text} For a different topic, start a new conversation."
        )
    if not conversation.can_move_to(ConversationState.TICKET_OFFERED):
        # Closed while the engine worked (the call ended): nothing can be offered, or accepted, in it.
        return _store(conversation, message, Outcome.ANSWERED, wording.ENDED_OFFER)
    draft = _valid_draft(decision.draft) or _valid_draft(_fallback_draft(message))
    reply = _store(conversation, message, Outcome.OFFERED, decision.text.strip() or wording.offer_text(decision.reason))
    offer = {"offer_message_id": reply.message_id, "reason": decision.reason, "draft": draft.__dict__}
    conversations.move(conversation, ConversationState.TICKET_OFFERED, offer=offer)
    logger.info("ticket offered in conversation %s (%s)", conversation.pk, decision.engine)
    return reply


def _fallback_draft(message: Message) -> TicketDraft:
    from assistant import drafting

    return drafting.draft(_history(message), message.text, "unresolved", message.channel)


def _valid_draft(draft: TicketDraft | None) -> TicketDraft | None:
    """A draft that passes the ticket checks (title of 1-80 characters on one line, a description)."""
    if draft is None:
        return None
    title = " ".join((draft.title or "").replace("\x00", "").split())
    description = (draft.description or "").replace("\x00", "").strip()
    if not title or len(title) > ticket_services.TITLE_MAX or not description:
        return None
    return TicketDraft(
        title=title, description=description[:8000], summary=(draft.summary or "").replace("\x00", "")[:1000]
    )
