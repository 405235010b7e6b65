"""statements off: the chat message's statements built by the ORM on every call, as they were before
they were written by hand (same signatures and results)."""

from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.sql.constants import SINGLE

from tickets.models import Conversation, Message

TARGET = "tickets/statements.py"


def lock_conversation(conversation_id: int, customer_id: int | None, channel: str) -> tuple | None:
    """SELECT ... FOR UPDATE the conversation (with `customer_id`: only theirs, on `channel`): its
    row, the concrete columns in field order then its ticket's id or NULL; or None. The ORM builds
    the query; its row comes back unconverted, as the caller turns it into the instance."""
    conversations = Conversation.objects.select_for_update(of=("self",)).annotate(ticket_pk=F("ticket__id"))
    if customer_id is None:
        conversations = conversations.filter(pk=conversation_id)
    else:
        conversations = conversations.filter(pk=conversation_id, customer_id=customer_id, channel=channel)
    return conversations.query.get_compiler(connection.alias).execute_sql(SINGLE)


def insert_message(message: Message, *, once: bool = False) -> Message | None:
    """INSERT an unsaved message; sets its id. `once`: a message whose channel and external id are
    stored already is not inserted, and None returned (in a savepoint, so the transaction goes on)."""
    if not once:
        message.save(force_insert=True)
        return message
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        if Message.objects.filter(channel=message.channel, external_id=message.external_id).exists():
            return None
        raise
    return message


def mark_newest(conversation_id: int, message_id: int, at: datetime) -> None:
    """UPDATE the conversation's newest message (its id and time)."""
    Conversation.objects.filter(pk=conversation_id).update(last_message_at=at, last_message_id=message_id)


def claim(message_id: int, at: datetime) -> bool:
    """UPDATE an unhandled message as handled at `at`; False if it was handled already."""
    return Message.objects.filter(pk=message_id, handled_at=None).update(handled_at=at) == 1


def turns_before(conversation_id: int, message_id: int, limit: int) -> list[tuple[str, str, str]]:
    """(author, text, kind) of the conversation's last `limit` messages before this one, oldest first."""
    earlier = (
        Message.objects.filter(conversation_id=conversation_id, id__lt=message_id)
        .order_by("-id")
        .values_list("author", "text", "kind")[:limit]
    )
    return list(earlier)[::-1]
