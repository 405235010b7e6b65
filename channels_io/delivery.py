"""Delivering assistant and staff messages to the customer on their channel, exactly once."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from channels_io import registry
from tickets.models import Author, Message

logger = logging.getLogger(__name__)


@shared_task(
    name="channels_io.deliver", autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=600, max_retries=10
)
def deliver(message_id: int) -> None:
    """Send one outbound message through its channel's sender; marks it delivered (handled_at).

    The row stays locked while it is sent, so two workers never both send it; a crash between the
    send and the commit may repeat one send but never loses one.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(pk=message_id, handled_at=None, author__in=[Author.ASSISTANT, Author.STAFF])
            .first()
        )
        if message is None:
            return  # delivered already, or purged meanwhile
        channel = registry.get(message.channel)
        if channel.sender is not None:
            import_string(channel.sender)(message)
        message.handled_at = timezone.now()
        message.save(update_fields=["handled_at"])
    logger.info("delivered message %s on %s", message_id, message.channel)
