"""Answering stored customer messages, and delivering replies on their channel."""

import logging
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from assistant import services as assistant
from assistant.engines.base import Outcome
from channels_io import registry
from channels_io.delivery import deliver
from channels_io.models import InboundEmail, InboundText
from channels_io.sms import adapter as sms
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


@shared_task(name="channels_io.receive_text", acks_late=True)
def receive_text(inbound_id: int, sid: str) -> None:
    """File one inbound text into its conversation, then answer it here when the engine answers now
    (assistant.answers_now), else queue its answer. Safe twice."""
    message = sms.file_text(inbound_id) or Message.objects.filter(channel=sms.CHANNEL, external_id=sid).first()
    if message is None or message.handled_at is not None:
        return
    if assistant.answers_now():
        answer(message.pk)
    else:
        enqueue_on_commit(answer, message.pk)


@shared_task(
    name="channels_io.file_email",
    # Backing the parse budget the reading steps check (a prefork worker enforces these; eager runs don't).
    soft_time_limit=settings.INBOUND_EMAIL_PARSE_SECONDS + 5,
    time_limit=settings.INBOUND_EMAIL_PARSE_SECONDS + 30,
)
def file_email(inbound_id: int) -> None:
    """Read one kept inbound mail and file it (handle_inbound), or set it aside. Safe twice."""
    from channels_io.email import intake  # it reaches `answer` above through handle_inbound

    try:
        intake.file_email(inbound_id)
    except DatabaseError:
        raise  # the row stays pending: the sweeper queues it again
    except Exception:
        logger.exception("inbound email %s could not be read", inbound_id)
        intake.set_aside(inbound_id, InboundEmail.Status.FAILED, "It could not be read.")


@shared_task(
    name="channels_io.send_inbound_notice",
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def send_inbound_notice(inbound_id: int) -> None:
    """Tell the sender of a kept mail we did not take why, once."""
    from channels_io.email import intake

    intake.notify_sender(inbound_id)


@shared_task(name="channels_io.sweep_unanswered")
def sweep_unanswered() -> int:
    """Re-queue customer messages still unanswered, replies still undelivered, inbound texts and mails
    still unfiled and refusals still untold, after a minute (broker down, worker lost)."""
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
    # Every pending mail, however old: each run counts an attempt, so none is tried for ever.
    mails = list(
        InboundEmail.objects.filter(status=InboundEmail.Status.PENDING, received_at__lt=stale)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for inbound_id in mails:
        file_email.delay(inbound_id)
    untold = list(
        InboundEmail.objects.exclude(status=InboundEmail.Status.PENDING)
        .filter(answered_at=None, received_at__range=(since, stale))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for inbound_id in untold:
        send_inbound_notice.delay(inbound_id)
    forgotten = forget_kept_inbound()
    if ids or undelivered or kept or mails or untold:
        logger.warning(
            "re-queued %s unanswered and %s undelivered messages, %s unfiled texts, %s unfiled mails, %s untold",
            len(ids),
            len(undelivered),
            len(kept),
            len(mails),
            len(untold),
        )
    return len(ids) + len(undelivered) + len(kept) + len(mails) + len(untold) + forgotten


def forget_kept_inbound() -> int:
    """Delete mails kept as refused or unread, and texts never filed, once as old as a closed ticket
    may get (settings.TICKET_RETENTION_DAYS): they hold senders' addresses, numbers and words."""
    cutoff = timezone.now() - timedelta(days=settings.TICKET_RETENTION_DAYS)
    mails = list(
        InboundEmail.objects.exclude(status=InboundEmail.Status.PENDING)
        .filter(received_at__lt=cutoff)
        .values_list("pk", flat=True)[:500]
    )
    texts = list(InboundText.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:500])
    deleted = (
        InboundEmail.objects.filter(pk__in=mails).delete()[0] + InboundText.objects.filter(pk__in=texts).delete()[0]
    )
    if deleted:
        logger.info("deleted %s inbound mails and texts kept past the retention period", deleted)
    return deleted
