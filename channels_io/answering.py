"""Answering stored customer messages, on every channel: here when the engine answers now, else by a
worker; a reply for a channel with a sender leaves by the delivery task."""

import logging
from functools import partial

from celery import shared_task
from django.db import transaction

from assistant import services as assistant
from channels_io import registry
from channels_io.delivery import deliver
from loophole.celery import enqueue_on_commit
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


def answer_when_stored(message_id: int) -> None:
    """Have a stored customer message answered once its transaction commits: here when the engine
    answers now (assistant.answers_now), else by a worker. Should either fail, the sweeper answers it."""
    if assistant.answers_now():
        transaction.on_commit(partial(_answer_here, message_id))
    else:
        enqueue_on_commit(answer, message_id)


def _answer_here(message_id: int) -> None:
    try:
        answer(message_id)
    except Exception:
        # The message is committed and is the truth: the sweeper answers it.
        logger.exception("answering message %s where it was stored failed; the sweeper will", message_id)
