"""Twilio Messaging webhooks: /channels/sms/inbound and /channels/sms/status (both signed).

Inbound keeps the text first (one row per MessageSid: channels_io.models.InboundText), answers Twilio
at once with TwiML, and queues `channels_io.receive_text`, which files the text into its sender's
conversation and lets the assistant answer; the reply leaves from the delivery task through
SMS_BACKEND. Keyword replies (HELP) and the note about an empty text are decided here and go back in
the TwiML itself.
"""

import logging
import re

from django.http import HttpRequest, HttpResponse
from twilio.twiml.messaging_response import MessagingResponse

from assistant import wording
from channels_io.sms import adapter
from channels_io.sms.decorators import error, twilio_signed
from channels_io.sms.tasks import receive_text
from loophole.celery import enqueue_on_commit
from loophole.models import normalize_phone
from tickets import services as ticket_services
from tickets.models import Message

logger = logging.getLogger(__name__)

MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
EMPTY_TEXT = "Loophole support can only read text. Please write your question in words."
FAILED = frozenset({"failed", "undelivered"})


def twiml(reply: str = "") -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


@twilio_signed
def inbound(request: HttpRequest) -> HttpResponse:
    """A text from a customer: 200 with TwiML, or 400/413 with nothing stored."""
    sid = request.POST.get("MessageSid", "")
    if not MESSAGE_SID.match(sid):
        return error("MessageSid is missing or malformed.", 400)
    try:
        number = normalize_phone(request.POST.get("From", ""))
    except ValueError:
        logger.warning("refused an sms from a sender that is not a phone number")
        return error("From must be a phone number in E.164 form, like +15555550100.", 400)
    body = request.POST.get("Body", "").strip()
    if len(body) > ticket_services.MESSAGE_MAX:
        return error(f"The message is too long: at most {ticket_services.MESSAGE_MAX} characters.", 413)
    if "\x00" in body:
        return error("The message contains a NUL character.", 400)
    word = request.POST.get("OptOutType", "").lower() or adapter.keyword(body)
    if word and Message.objects.filter(channel=adapter.CHANNEL, external_id=sid).exists():
        return twiml()  # a redelivery: stored and answered already (other texts: stored once below)
    if word == "stop":
        adapter.opt_out(number)  # Twilio confirms the opt-out itself; we must not text after STOP
        return twiml()
    if word == "start":
        adapter.opt_in(number)  # Twilio confirms the opt-in itself
        return twiml()
    if word == "help":
        return twiml(adapter.HELP_TEXT)  # answered even after STOP, as carriers require
    if not body:
        logger.warning("an sms without text (%s media) was not stored", request.POST.get("NumMedia", "0"))
        return twiml("" if adapter.is_opted_out(number) else EMPTY_TEXT)

    inbound_id = adapter.accept(sid, number, body)
    if inbound_id is None:
        return twiml()  # a redelivery of a text still waiting to be filed
    held: list[int] = []
    enqueue_on_commit(receive_text, inbound_id, sid, on_failure=lambda: held.append(inbound_id))
    if held:
        # The worker cannot be reached (Redis down): file the text here, so it is stored in its
        # conversation now; the beat sweeper answers it when the worker is back.
        adapter.file_text(inbound_id)
        return twiml(wording.FALLBACK)
    return twiml()


@twilio_signed
def status(request: HttpRequest) -> HttpResponse:
    """Twilio's delivery report of a text we sent: logged (failures at warning), 204."""
    sid = request.POST.get("MessageSid", "")
    state = request.POST.get("MessageStatus", "") or request.POST.get("SmsStatus", "")
    if not MESSAGE_SID.match(sid) or not state:
        return error("MessageSid and MessageStatus are required.", 400)
    if state in FAILED:
        logger.warning("sms %s %s (error code %s)", sid, state, request.POST.get("ErrorCode", "none"))
    else:
        logger.info("sms %s %s", sid, state)
    return HttpResponse(status=204)
