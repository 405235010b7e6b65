"""Twilio Voice webhooks (all signed), answering with TwiML and a speech <Gather>.

- /channels/voice/inbound greets the caller and listens.
- /channels/voice/turn?n=<turn>&quiet=<silences> gets each SpeechResult. The turn number in the
  action URL makes `CallSid:n` the message's external id, so a retried turn is stored and answered once.
  Silence is asked about once, then the call ends politely; low confidence asks the caller to repeat
  and stores nothing.
- When the engine answers now (assistant.answers_now: the built-in local engine, in milliseconds) the
  reply is computed in the request. With a model, which may take longer than the 15 s Twilio waits, the
  turn queues the answer and keeps the caller with a short <Pause> and <Redirect> to
  /channels/voice/wait until it is stored.
- /channels/voice/status, the call's status callback, closes the conversation when the call ends.
"""

import logging
import re
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from assistant import language
from assistant import services as assistant
from channels_io.answering import answer
from channels_io.delivery import deliver
from channels_io.sms.decorators import error, twilio_signed
from channels_io.voice import adapter
from loophole.celery import enqueue_on_commit
from tickets import conversations
from tickets import services as ticket_services
from tickets.models import Conversation, ConversationState, Message

logger = logging.getLogger(__name__)

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
LANGUAGE = "en-US"
LOW_CONFIDENCE = 0.4
POLLS = 12  # slow answers: about 12 one-second pauses before we apologise
ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})

GREETING = "Hi, this is Loophole AI, the Loophole support assistant. How can I help you today?"
SILENCE = "Sorry, I didn't hear anything. What can I help you with?"
GOODBYE = "I still can't hear anything, so I'll end the call now. Thanks for calling Loophole support. Goodbye!"
REPEAT = "Sorry, could you say that again?"
ONE_MOMENT = "One moment, please."
TOO_SLOW = "Sorry, I'm having trouble answering right now. Could you ask me again?"
TOO_LONG = "Sorry, that was too long for me. Could you say it more briefly?"


def twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _url(name: str, **query: int) -> str:
    return f"{settings.PUBLIC_URL}{reverse(name)}?{urlencode(query)}"


def listen(say: str, *, turn: int, quiet: int = 0) -> HttpResponse:
    """Say `say` (the caller may talk over it) and listen for the next turn."""
    response = VoiceResponse()
    gather = response.gather(
        input="speech",
        action=_url("voice:turn", n=turn, quiet=quiet),
        method="POST",
        speech_timeout="auto",
        action_on_empty_result=True,
        language=LANGUAGE,
    )
    gather.say(say, language=LANGUAGE)
    return twiml(response)


def goodbye(say: str) -> HttpResponse:
    response = VoiceResponse()
    response.say(say, language=LANGUAGE)
    response.hangup()
    return twiml(response)


def hold(*, turn: int, message_id: int, poll: int, say: str = "") -> HttpResponse:
    """Keep the caller on the line while the answer is computed elsewhere."""
    response = VoiceResponse()
    if say:
        response.say(say, language=LANGUAGE)
    response.pause(length=1)
    response.redirect(_url("voice:wait", n=turn, m=message_id, poll=poll), method="POST")
    return twiml(response)


def speak_reply(speech: str, reply_text: str, *, turn: int) -> HttpResponse:
    text = adapter.spoken(reply_text)
    if language.smalltalk(speech) == "bye":
        return goodbye(text)
    return listen(text, turn=turn + 1)


def _query_int(request: HttpRequest, name: str, default: int) -> int | None:
    raw = request.GET.get(name, str(default))
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


def _call(request: HttpRequest) -> Conversation | HttpResponse:
    call_sid = request.POST.get("CallSid", "")
    if not CALL_SID.match(call_sid):
        return error("CallSid is missing or malformed.", 400)
    return adapter.call_conversation(call_sid, request.POST.get("From", ""), request.POST.get("StirVerstat", ""))


@twilio_signed
def inbound(request: HttpRequest) -> HttpResponse:
    conversation = _call(request)
    if isinstance(conversation, HttpResponse):
        return conversation
    return listen(GREETING, turn=1)


def _confidence(request: HttpRequest) -> float:
    try:
        return float(request.POST.get("Confidence", "1"))
    except ValueError:
        return 1.0  # some speech models send none: judge by the words


@twilio_signed
def turn(request: HttpRequest) -> HttpResponse:
    """One thing the caller said: stored, answered, spoken; then listen again."""
    number, quiet = _query_int(request, "n", 1), _query_int(request, "quiet", 0)
    if number is None or quiet is None:
        return error("n and quiet must be numbers.", 400)
    conversation = _call(request)
    if isinstance(conversation, HttpResponse):
        return conversation
    speech = " ".join(request.POST.get("SpeechResult", "").split())
    if not speech:
        return goodbye(GOODBYE) if quiet else listen(SILENCE, turn=number, quiet=1)
    if _confidence(request) < LOW_CONFIDENCE:
        return listen(REPEAT, turn=number)
    try:
        message = assistant.receive(conversation.pk, speech, external_id=f"{conversation.thread}:{number}")
    except ticket_services.TicketError:
        return listen(TOO_LONG, turn=number)
    if not assistant.answers_now():
        # A model may take longer than Twilio waits for this response: answer in a task, and poll.
        enqueue_on_commit(answer, message.pk)
        return hold(turn=number, message_id=message.pk, poll=1, say=ONE_MOMENT)
    reply = assistant.respond(message.pk, hands_off=False)
    if reply.message_id is not None:
        enqueue_on_commit(deliver, reply.message_id)  # spoken here: marks it delivered
    return speak_reply(speech, reply.text, turn=number)


@twilio_signed
def wait(request: HttpRequest) -> HttpResponse:
    """The slow path's poll: speak the answer once it is stored, else pause and come back."""
    number, message_id, poll = (_query_int(request, name, 0) for name in ("n", "m", "poll"))
    if not number or not message_id or poll is None:
        return error("n, m and poll must be numbers.", 400)
    message = Message.objects.filter(
        pk=message_id, channel=adapter.CHANNEL, conversation__thread=request.POST.get("CallSid", "") or "-"
    ).first()
    if message is None:
        return error("No such turn in this call.", 404)
    reply = Message.objects.filter(reply_to=message).first()
    if reply is not None:
        return speak_reply(message.text, reply.text, turn=number)
    if poll >= POLLS:
        logger.warning("the answer to voice message %s took too long", message.pk)
        return listen(TOO_SLOW, turn=number + 1)
    return hold(turn=number, message_id=message.pk, poll=poll + 1)


@twilio_signed
def status(request: HttpRequest) -> HttpResponse:
    """The call's status callback: an ended call (hung up, busy, …) closes its conversation. 204."""
    call_sid = request.POST.get("CallSid", "")
    if not CALL_SID.match(call_sid):
        return error("CallSid is missing or malformed.", 400)
    if request.POST.get("CallStatus", "") in ENDED:
        open_ids = (
            Conversation.objects.filter(channel=adapter.CHANNEL, thread=call_sid)
            .exclude(state=ConversationState.CLOSED)
            .values_list("pk", flat=True)
        )
        for conversation_id in open_ids:
            if conversations.close(conversation_id):
                logger.info("call ended (%s): conversation %s closed", request.POST["CallStatus"], conversation_id)
    return HttpResponse(status=204)
