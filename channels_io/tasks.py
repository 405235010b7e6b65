"""Answering stored customer messages, and delivering replies on their channel."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from assistant import services as assistant
from channels_io import registry
from tickets.models import Author, Message

logger = logging.getLogger(__name__)


@shared_task(name="channels_io.answer", acks_late=True)
def answer(message_id: int) -> None:
    """Let the assistant answer one stored customer message. Safe twice: respond() answers once."""
    message = Message.objects.filter(pk=message_id, author=Author.CUSTOMER).only("channel").first()
    if message is None:
        return  # purged meanwhile
    assistant.respond(message_id, hands_off=registry.get(message.channel).hands_off_after_ticket)


@shared_task(name="channels_io.sweep_unanswered")
def sweep_unanswered() -> int:
    """Re-queue customer messages still unanswered after a minute (broker down, worker lost)."""
    since = timezone.now() - timedelta(hours=24)
    stale = timezone.now() - timedelta(minutes=1)
    ids = list(
        Message.objects.filter(author=Author.CUSTOMER, handled_at=None, created_at__range=(since, stale))
        .values_list("pk", flat=True)
        .order_by("pk")[:500]
    )
    for message_id in ids:
        answer.delay(message_id)
    if ids:
        logger.warning("re-queued %s unanswered customer messages", len(ids))
    return len(ids)
