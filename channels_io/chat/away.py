"""Away replies: staff chat replies the customer was not shown within CHAT_AWAY_EMAIL_AFTER go by email.

The conversation row is the truth. An open widget marks the newest staff reply it was shown
(`seen_up_to`); the beat sweeper (every minute) finds the conversations with a staff reply past both
that and `away_emailed_up_to` older than the delay, and claims them: in one transaction it advances
`away_emailed_up_to` and writes an AwayEmail row, and the send is queued on commit. The send task
marks the row sent; the sweeper re-queues rows a lost task left behind. A crash after the mail left
but before the mark repeats it with the same Message-ID (that of its newest reply), which mail
programs show once; nothing claimed is lost, and no reply is claimed twice.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.utils import timezone

from channels_io.chat import conversation_link
from channels_io.email import ids
from channels_io.models import AwayEmail
from loophole.celery import RetryOptions, enqueue_on_commit
from tickets.models import Author, Conversation, Message, Ticket

logger = logging.getLogger(__name__)

CHANNEL = "chat"
BATCH = 100  # conversations claimed per transaction
MAX_REPLIES = 20  # replies in one email; more wait for the next one
STALE = timedelta(minutes=1)  # an unsent email older than this lost its task
KEEP_SENT = timedelta(days=7)
# SMTPException is an OSError: refused connections, timeouts and 4xx replies are all retried.
RETRY: RetryOptions = {"autoretry_for": (OSError,), "retry_backoff": 5, "retry_backoff_max": 600, "max_retries": 10}


def newest_staff(messages: list[dict[str, Any]]) -> int:
    """The id of the newest staff reply among messages a widget was shown (0: none)."""
    return max((m["id"] for m in messages if m["author"] == Author.STAFF), default=0)


def mark_seen(conversation_id: int, message_id: int) -> None:
    """An open widget was shown the staff replies up to `message_id`: they are not mailed.
    One UPDATE, which writes only when the mark advances."""
    if message_id:
        Conversation.objects.filter(pk=conversation_id, seen_up_to__lt=message_id).update(seen_up_to=message_id)


def due(now: datetime | None = None) -> QuerySet[Conversation]:
    """Chat conversations of verified, active customers with a staff reply neither shown nor mailed,
    and older than CHAT_AWAY_EMAIL_AFTER. One query."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.CHAT_AWAY_EMAIL_AFTER)
    mark = Greatest(OuterRef("seen_up_to"), OuterRef("away_emailed_up_to"))
    unseen = Message.objects.filter(
        conversation=OuterRef("pk"), author=Author.STAFF, pk__gt=mark, created_at__lte=cutoff
    )
    return Conversation.objects.filter(
        Exists(unseen),
        channel=CHANNEL,
        last_message_id__gt=Greatest("seen_up_to", "away_emailed_up_to"),  # cheap before the subquery
        customer__is_active=True,
        customer__email_verified_at__isnull=False,
    )


def claim(conversation_id: int | None = None, now: datetime | None = None) -> list[int]:
    """Claim the due replies of up to BATCH conversations (or of one), one AwayEmail each, and queue
    their sends on commit. Rows another transaction holds are skipped (the next sweep takes them).
    Returns the AwayEmail ids."""
    claimed = []
    with transaction.atomic():
        rows = due(now)
        if conversation_id is not None:
            rows = rows.filter(pk=conversation_id)
        locked = rows.select_for_update(skip_locked=True, of=("self",)).only("pk", "seen_up_to", "away_emailed_up_to")
        for conversation in locked[:BATCH]:
            mark = max(conversation.seen_up_to, conversation.away_emailed_up_to)
            replies = list(
                Message.objects.filter(conversation_id=conversation.pk, author=Author.STAFF, pk__gt=mark)
                .order_by("pk")
                .values_list("pk", flat=True)[:MAX_REPLIES]
            )
            if not replies:
                continue
            email = AwayEmail.objects.create(
                conversation_id=conversation.pk, first_reply_id=replies[0], last_reply_id=replies[-1]
            )
            Conversation.objects.filter(pk=conversation.pk).update(away_emailed_up_to=replies[-1])
            enqueue_on_commit(send_away_email, email.pk)
            claimed.append(email.pk)
    if claimed:
        logger.info("claimed %s away emails", len(claimed))
    return claimed


def build(email: AwayEmail, ticket: Ticket, replies: list[Message]) -> EmailMultiAlternatives:
    customer = ticket.customer
    newest = replies[-1]
    context = {
        "ticket": ticket,
        "customer": customer,
        "replies": replies,
        "link": conversation_link(email.conversation_id),
        "public_url": settings.PUBLIC_URL,
    }
    message = EmailMultiAlternatives(
        subject=f"Re: [{ticket.reference}] {ticket.title}",
        body=render_to_string("emails/away_reply.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
        reply_to=[settings.SUPPORT_EMAIL],
        headers={
            "Message-ID": ids.outbound_id(newest.conversation_id, newest.pk, newest.created_at.isoformat()),
            "X-Loophole-Ticket": ticket.reference,
        },
    )
    message.attach_alternative(render_to_string("emails/away_reply.html", context), "text/html")
    return message


@shared_task(name="channels_io.send_away_email", acks_late=True, **RETRY)
def send_away_email(email_id: int) -> None:
    """Send one AwayEmail at most once: the row stays locked while the mail goes out, so two workers
    never both send it. A customer no longer verified or active, or a purged conversation: dropped."""
    with transaction.atomic():
        email = AwayEmail.objects.select_for_update().filter(pk=email_id, sent_at=None).first()
        if email is None:
            return  # sent already
        ticket = (
            Ticket.objects.select_related("customer")
            .filter(conversation_id=email.conversation_id, conversation__channel=CHANNEL)
            .first()
        )
        replies = list(
            Message.objects.filter(
                conversation_id=email.conversation_id,
                author=Author.STAFF,
                pk__gte=email.first_reply_id,
                pk__lte=email.last_reply_id,
            ).order_by("pk")
        )
        if ticket is None or not replies or not _reachable(ticket.customer):
            logger.info("away email %s dropped: its conversation or account is gone", email.pk)
            email.delete()
            return
        build(email, ticket, replies).send(fail_silently=False)
        email.sent_at = timezone.now()
        email.save(update_fields=["sent_at"])
    logger.info("sent away email %s for ticket %s (%s replies)", email.pk, ticket.pk, len(replies))


def _reachable(customer: Any) -> bool:
    return bool(customer.is_active and customer.email_verified_at is not None and customer.email)


@shared_task(name="channels_io.claim_away_reply")
def claim_away_reply(message_id: int) -> None:
    """CHAT_AWAY_EMAIL_AFTER=0: claim a staff reply's conversation at once (the sweeper does it otherwise)."""
    conversation_id = Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
    if conversation_id is not None:
        claim(conversation_id)


@shared_task(name="channels_io.sweep_away_replies")
def sweep_away_replies() -> int:
    """Beat, every minute: claim what is due, re-queue unsent emails whose task was lost, and forget
    sent ones after a week."""
    claimed = claim()
    now = timezone.now()
    lost = list(AwayEmail.objects.filter(sent_at=None, created_at__lte=now - STALE).values_list("pk", flat=True)[:500])
    for email_id in lost:
        send_away_email.delay(email_id)
    if lost:
        logger.warning("re-queued %s unsent away emails", len(lost))
    AwayEmail.objects.filter(sent_at__lte=now - KEEP_SENT).delete()
    return len(claimed) + len(lost)
