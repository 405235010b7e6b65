"""A conversation's state: every move goes through move(), along tickets.lifecycle.CONVERSATION_TRANSITIONS."""

import logging

from django.db import transaction

from tickets.models import Conversation, ConversationState

logger = logging.getLogger(__name__)


def move(conversation: Conversation, new: ConversationState, *, offer: dict | None = None) -> None:
    """Move a conversation the caller holds locked, and save it. Raises InvalidTransition, with
    nothing changed (in memory or in the database)."""
    old = conversation.state
    conversation.move_to(new, offer=offer)
    conversation.save(update_fields=["state", "offer"])
    logger.info("conversation %s moved %s -> %s", conversation.pk, old, conversation.state)


@transaction.atomic
def close(conversation_id: int) -> bool:
    """Close a conversation (its call ended): it takes no more messages. False if it was closed already.
    Raises Conversation.DoesNotExist if gone."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    if conversation.state == ConversationState.CLOSED:
        return False
    move(conversation, ConversationState.CLOSED)
    return True
