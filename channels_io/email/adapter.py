"""The email channel's sender: one assistant or staff message to the conversation's address, in
the customer's thread (In-Reply-To/References), from DEFAULT_FROM_EMAIL (SUPPORT_EMAIL)."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils.html import linebreaks, urlize

from channels_io.email import ids
from channels_io.email.inbound import subject_of
from tickets.models import Author, Message, Ticket

logger = logging.getLogger(__name__)

REFERENCES_KEPT = 20
DEFAULT_SUBJECT = "Your message to Loophole support"


def message_id_of(message: Message) -> str:
    """The Message-ID one of our replies goes out with (the same on every resend)."""
    return ids.outbound_id(message.conversation_id, message.pk, message.created_at.isoformat())


def _thread_ids(message: Message) -> list[str]:
    """Message-IDs of the thread up to `message`, oldest first: the root, then each earlier mail."""
    conversation = message.conversation
    earlier = Message.objects.filter(conversation_id=conversation.pk, pk__lt=message.pk).order_by("pk")
    found = [conversation.thread] if conversation.thread.startswith("<") else []
    for row in earlier.only("pk", "author", "external_id", "created_at", "conversation_id"):
        if row.author == Author.CUSTOMER:
            msg_id = row.external_id if row.external_id.startswith("<") else ""
        elif row.author in (Author.ASSISTANT, Author.STAFF):
            msg_id = message_id_of(row)
        else:
            msg_id = ""
        if msg_id and msg_id not in found:
            found.append(msg_id)
    return found


def _in_reply_to(message: Message) -> str:
    """The customer's latest mail before `message`: what this reply answers."""
    latest = (
        Message.objects.filter(conversation_id=message.conversation_id, author=Author.CUSTOMER, pk__lt=message.pk)
        .exclude(external_id="")
        .order_by("-pk")
        .values_list("external_id", flat=True)
        .first()
    )
    return latest if latest and latest.startswith("<") else ""


def _subject(message: Message) -> str:
    subject = subject_of(message.conversation_id) or DEFAULT_SUBJECT
    if message.author == Author.STAFF:
        ticket = Ticket.objects.filter(conversation_id=message.conversation_id).only("reference").first()
        if ticket is not None and ticket.reference not in subject:
            subject = f"[{ticket.reference}] {subject}"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _body(message: Message) -> str:
    text = message.text.replace("**", "").strip()
    if message.author == Author.STAFF:
        name = message.staff.get_short_name() if message.staff else "The Loophole team"
        return f"{text}\n\n{name}\nLoophole support"
    return f"{text}\n\nLoophole AI, Loophole support\n(An automatic answer: reply to this email to continue.)"


def build(message: Message) -> EmailMultiAlternatives:
    """The email for one outbound message (not sent)."""
    headers = {"Message-ID": message_id_of(message)}
    in_reply_to = _in_reply_to(message)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    thread = _thread_ids(message)
    if thread:
        headers["References"] = " ".join(thread[:1] + thread[1:][-(REFERENCES_KEPT - 1) :])
    if message.author == Author.ASSISTANT:
        headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: other auto-responders must not answer it
    text = _body(message)
    email = EmailMultiAlternatives(
        subject=_subject(message),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.conversation.sender],
        reply_to=[settings.SUPPORT_EMAIL],
        headers=headers,
    )
    html = linebreaks(urlize(text, nofollow=True, autoescape=True), autoescape=False)
    email.attach_alternative(f'<div style="font-family: sans-serif; line-height: 1.5">{html}</div>', "text/html")
    return email


def build_notice(address: str, text: str, *, in_reply_to: str = "") -> EmailMessage:
    """A short automatic reply to a mail we did not take, in its thread (not sent)."""
    headers = {"Auto-Submitted": "auto-replied"}  # RFC 3834: other auto-responders must not answer it
    if in_reply_to:
        headers["In-Reply-To"] = headers["References"] = in_reply_to
    return EmailMessage(
        subject=f"Re: {DEFAULT_SUBJECT}",
        body=f"{text}\n\nLoophole support\n(An automatic answer.)",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        reply_to=[settings.SUPPORT_EMAIL],
        headers=headers,
    )


def send(message: Message) -> None:
    """Send one assistant or staff message by email. Raises OSError (SMTPException is one) for the
    delivery task to retry; a conversation without a valid address is logged and skipped."""
    address = message.conversation.sender
    try:
        validate_email(address)
    except ValidationError:
        logger.warning("email message %s not sent: its conversation has no valid address", message.pk)
        return
    build(message).send(fail_silently=False)
    logger.info("email message %s sent", message.pk)
