"""Answering stored customer messages, and delivering replies on their channel."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from assistant import services as assistant
from assistant.engines.base import Outcome
from channels_io import registry
from channels_io.delivery import deliver
from channels_io.models import InboundText
from channels_io.sms import adapter as sms
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


@shared_task(name="channels_io.receive_text", acks_late=True)
def receive_text(inbound_id: int, sid: str) -> None:
    """File one inbound text into its conversation, then answer it in the same task. Safe twice."""
    message = sms.file_text(inbound_id) or Message.objects.filter(channel=sms.CHANNEL, external_id=sid).first()
    if message is not None and message.handled_at is None:
        answer(message.pk)


@shared_task(name="channels_io.sweep_unanswered")
def sweep_unanswered() -> int:
    """Re-queue customer messages still unanswered, replies still undelivered and inbound texts still
    unfiled, after a minute (broker down, worker lost)."""
    since = timezone.now() - timedelta(hours=24)
    stale = timezone.now() - timedelta(minutes=1)
    ids = list(
        Message.objects.filter(author=Author.CUSTOMER, handled_at=None, created_at__range=(since, stale))
        .values_list("pk", flat=True)
        .order_by("pk")[:500]
    )
    # Answered while the model failed (a fallback reply): asked again until the model answers.
    ids += list(
        Message.objects.filter(author=Author.CUSTOMER, reply__kind=Outcome.FALLBACK, created_at__range=(since, stale))
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
    kept = list(InboundText.objects.filter(received_at__lt=stale).order_by("pk").values_list("pk", "sid")[:500])
    for inbound_id, sid in kept:
        receive_text.delay(inbound_id, sid)
    if ids or undelivered or kept:
        logger.warning(
            "re-queued %s unanswered and %s undelivered messages, %s unfiled texts",
            len(ids),
            len(undelivered),
            len(kept),
        )
    return len(ids) + len(undelivered) + len(kept)
