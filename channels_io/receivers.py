"""Receivers of tickets' signals: they only poke or enqueue, never block."""

from typing import Any

from django.dispatch import receiver

from channels_io import push, registry
from channels_io.chat.stream import message_json
from channels_io.delivery import deliver
from loophole.celery import enqueue_on_commit
from tickets import signals


@receiver(signals.message_stored)
def poke_on_message(
    sender: Any, conversation_id: int, message_id: int, message: Any, previous_id: int, state: str, **kwargs: Any
) -> None:
    push.poke(conversation_id, push.news_of(message_json(message), previous_id, state))


@receiver(signals.ticket_changed)
def poke_on_ticket(sender: Any, ticket_id: int, conversation_id: int, **kwargs: Any) -> None:
    push.poke(conversation_id)


@receiver(signals.staff_replied)
def deliver_staff_reply(sender: Any, message_id: int, channel: str, **kwargs: Any) -> None:
    if registry.get(channel).sender is not None:  # a chat reply reaches the widget by the push alone
        enqueue_on_commit(deliver, message_id)
