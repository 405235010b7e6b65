"""Phone calls: the conversation of a call, replies turned into speech, and staff replies afterwards.

The assistant's replies are spoken on the call. A staff reply to a phone ticket goes by SMS to the
caller's number when it is on the customer's account and takes texts; otherwise (a landline Twilio
refuses to text, an opted-out or unknown number) by email to the account's address.
"""

import logging
import re

from django.conf import settings
from django.core.mail import send_mail

from channels_io.sms import adapter as sms
from loophole.models import PhoneNumber, normalize_phone
from tickets import services as ticket_services
from tickets.models import Author, Conversation, Message, Ticket

logger = logging.getLogger(__name__)

CHANNEL = "voice"
# Twilio's StirVerstat when the caller's carrier signed the call with full (A) attestation and the
# signature checked out: the carrier knows the caller and lets them use the number.
FULL_ATTESTATION = "TN-Validation-Passed-A"
REFERENCE = re.compile(r"\bLH-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
URL = re.compile(r"\(?\bhttps?://\S+")


def call_conversation(call_sid: str, caller: str, verstat: str = "") -> Conversation:
    """The conversation of one call (its CallSid is the thread), opened on the first webhook. `verstat`
    (Twilio's StirVerstat, sent with the incoming call) says whether the caller's number was attested."""
    conversation = Conversation.objects.filter(channel=CHANNEL, thread=call_sid).first()
    if conversation is not None:
        return conversation
    try:
        number = normalize_phone(caller)
    except ValueError:
        number = ""  # a withheld or anonymous caller: general help only
    customer = sms.customer_for(number) if number else None
    conversation = ticket_services.open_conversation(
        channel=CHANNEL, customer=customer, sender=number, thread=call_sid, sender_attested=verstat == FULL_ATTESTATION
    )
    logger.info("call started conversation %s", conversation.pk)
    return conversation


def spell(reference: str) -> str:
    """A ticket reference read slowly, character by character: "L. H. 7. K. 3. M. Q. X. 9. P"."""
    return ". ".join(reference.replace("-", ""))


def spoken(text: str) -> str:
    """A written reply as speech: no links or markup, list lines as sentences, references spelled."""
    sentences = []
    for line in text.replace("**", "").splitlines():
        line = line.strip().lstrip("-•").strip()
        if not line or line.startswith("Read more:"):
            continue
        line = URL.sub("", line).strip()
        sentences.append(line if line[-1:] in ".!?:" else line + ".")
    speech = " ".join(sentences)
    speech = REFERENCE.sub(lambda match: spell(match.group(0)), speech)
    return re.sub(r"\s+", " ", speech).strip()


def send(message: Message) -> None:
    """The phone channel's sender: staff replies by SMS or email; assistant replies were spoken."""
    if message.author != Author.STAFF:
        return
    conversation = message.conversation
    customer = conversation.customer
    if customer is None:
        logger.warning("staff message %s not sent: the caller has no account", message.pk)
        return
    number = conversation.sender
    if number and PhoneNumber.objects.filter(user=customer, number=number).exists():
        sid = sms.send_text(number, sms.text_for(message))
        if sid:
            logger.info("staff message %s sent by sms as %s", message.pk, sid)
            return
    ticket = Ticket.objects.filter(conversation=conversation).only("reference").first()
    about = f" (ticket {ticket.reference})" if ticket else ""
    body = (
        f"Hello,\n\nA member of the Loophole team replied about your call to Loophole support{about}:\n\n"
        f"{message.text}\n\nTo answer, reply to this email or call us again and mention your ticket ID.\n\n"
        "Loophole support\n"
    )
    send_mail(f"Re: your call to Loophole support{about}", body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    logger.info("staff message %s sent by email", message.pk)
