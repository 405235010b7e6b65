"""Answering stored customer messages, and delivering replies on their channel."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from assistant import services as assistant
from channels_io import registry
from channels_io.delivery import deliver
from tickets.models import Author, Message

logger = logging.getLogger(__name__)


@shared_task(name="channels_io.answer", acks_late=True)
def answer(message_id: int) -> None:
    """Let the assistant answer one stored customer message. Safe twice: respond() answers once."""
    message = Message.objects.filter(pk=message_id, author=Author.CUSTOMER).only("channel").first()
    if message is None:
        return  # purged meanwhile
    channel = registry.get(message.channel)
    reply = assistant.respond(message_id, hands_off=channel.hands_off_after_ticket)
    if reply.message_id is not None and channel.sender is not None:
        deliver.delay(reply.message_id)  # a channel without a sender (chat) is reached by the push alone


@shared_task(name="channels_io.sweep_unanswered")
def sweep_unanswered() -> int:
    """Re-queue customer messages still unanswered, and replies still undelivered, after a minute
    (broker down, worker lost)."""
    since = timezone.now() - timedelta(hours=24)
    stale = timezone.now() - timedelta(minutes=1)
    ids = list(
        Message.objects.filter(author=Author.CUSTOMER, handled_at=None, created_at__range=(since, stale))
        .values_list("pk", flat=True)
        .order_by("pk")[:500]
    )
    for message_id in ids:
        answer.delay(message_id)
    undelivered = list(
        Message.objects.filter(
            author__in=[Author.ASSISTANT, Author.STAFF],
            handled_at=None,
            created_at__range=(since, stale),
            channel__in=[slug for slug, channel in registry.CHANNELS.items() if channel.sender],
        )
        .values_list("pk", flat=True)
        .order_by("pk")[:500]
    )
    for message_id in undelivered:
        deliver.delay(message_id)
    if ids or undelivered:
        logger.warning("re-queued %s unanswered and %s undelivered messages", len(ids), len(undelivered))
    return len(ids) + len(undelivered)
