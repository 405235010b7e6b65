"""Beat's sweeper: whatever a lost task left undone (an answer, a delivery, a kept text or mail) is
queued again. The tasks themselves live with their work: `answering`, `delivery`, `sms.tasks`,
`email.intake`; importing them here registers them with the worker."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from assistant.engines.base import Outcome
from channels_io import registry
from channels_io.answering import answer
from channels_io.delivery import deliver
from channels_io.email.intake import file_email, send_inbound_notice
from channels_io.models import InboundEmail, InboundText
from channels_io.sms.tasks import receive_text
from tickets.models import Author, Message

logger = logging.getLogger(__name__)


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
