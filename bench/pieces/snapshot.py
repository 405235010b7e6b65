"""snapshot off: the widget's view read through the ORM, as it was before the one statement: the
conversation with its ticket, then its messages after an id (two statements, each built by the ORM
on every poke)."""

from typing import Any

from channels_io.chat.stream import PAGE, ticket_json
from tickets.models import Conversation, Message

TARGET = "channels_io/chat/stream.py"


def snapshot(conversation_id: int, after: int) -> dict[str, Any] | None:
    """State, ticket and the messages after `after` of one conversation (the widget's whole view);
    None once the conversation is gone (purged)."""
    conversation = Conversation.objects.select_related("ticket").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    rows = (
        Message.objects.filter(conversation_id=conversation_id, id__gt=after)
        .order_by("id")
        .values_list("id", "author", "text", "created_at")[:PAGE]
    )
    return {
        "state": conversation.state,
        "ticket": ticket_json(getattr(conversation, "ticket", None)),
        "messages": [
            {"id": pk, "author": author, "text": text, "created_at": created_at.isoformat()}
            for pk, author, text, created_at in rows
        ],
    }
