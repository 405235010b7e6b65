"""Whole phone calls walked as TwiML: each response is parsed and its <Gather> or <Redirect> followed."""

import itertools
from xml.etree import ElementTree

import pytest
from django.core import mail

from assistant import wording
from channels_io.voice import adapter, views
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import PUBLIC_URL, STRANGER_NUMBER, payload, post, sign
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.fakes.openai_server import FakeOpenAI
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Ticket

pytestmark = pytest.mark.django_db

_calls = itertools.count(1)
DIGITS = "zero one two three four five six seven eight nine".split()


class Call:
    """One caller on the line: posts what Twilio would and follows the TwiML it gets back."""

    def __init__(self, client, capture, caller: str) -> None:
        self.client, self.capture = client, capture
        self.form = payload("voice_inbound", From=caller, Caller=caller, CallSid=f"CA{next(_calls):032x}")
        self.twiml: ElementTree.Element | None = None

    def _post(self, url: str, **fields: str) -> ElementTree.Element:
        with self.capture(execute=True):
            response = post(self.client, url.removeprefix(PUBLIC_URL), {**self.form, **fields})
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/xml"
        self.twiml = ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML
        return self.twiml

    def start(self) -> ElementTree.Element:
        return self._post("/channels/voice/inbound", CallStatus="ringing")

    @property
    def gather(self) -> ElementTree.Element:
        gather = self.twiml.find("Gather")
        assert gather is not None, ElementTree.tostring(self.twiml)
        return gather

    def say(self, speech: str, confidence: str = "0.93") -> ElementTree.Element:
        """Speak into the current <Gather>, and follow <Redirect>s (the slow path) to the answer."""
        twiml = self._post(self.gather.get("action"), CallStatus="in-progress", SpeechResult=speech,
                           Confidence=confidence, Language="en-US")  # fmt: skip
        while (redirect := twiml.find("Redirect")) is not None:
            twiml = self._post(redirect.text, CallStatus="in-progress")
        return twiml

    def silence(self) -> ElementTree.Element:
        return self._post(self.gather.get("action"), CallStatus="in-progress")

    def hang_up(self, status: str = "completed"):
        form = {**payload("voice_status_completed"), "CallSid": self.form["CallSid"], "CallStatus": status}
        return post(self.client, "/channels/voice/status", form)

    @property
    def spoken(self) -> str:
        return " ".join(say.text or "" for say in self.twiml.iter("Say"))

    @property
    def conversation(self) -> Conversation:
        return Conversation.objects.get(channel="voice", thread=self.form["CallSid"])


@pytest.fixture
def call(client, twilio, django_capture_on_commit_callbacks):
    def start(caller: str = "+15555550100") -> Call:
        call = Call(client, django_capture_on_commit_callbacks, caller)
        call.start()
        return call

    return start


def spoken_reference(reference: str) -> str:
    """A reference as a caller says it: "L H seven K three M …"."""
    return " ".join(DIGITS[int(c)] if c.isdigit() else c for c in reference.replace("-", ""))


def test_the_call_is_greeted_and_listened_to_with_a_speech_gather(call, customer):
    twiml = call().twiml
    gather = twiml.find("Gather")
    assert gather.get("input") == "speech"
    assert gather.get("speechTimeout") == "auto" and gather.get("actionOnEmptyResult") == "true"
    assert gather.get("action") == f"{PUBLIC_URL}/channels/voice/turn?n=1&quiet=0"
    assert gather.find("Say").text.startswith("Hi, this is Loophole AI")


def test_a_question_is_stored_answered_and_spoken_without_links(call, customer):
    add_articles()
    caller = call()
    caller.say("How do I reset my password?")
    assert "Forgot password" in caller.spoken
    assert "http" not in caller.spoken and "**" not in caller.spoken
    assert caller.gather.get("action").endswith("turn?n=2&quiet=0")
    messages = list(caller.conversation.messages.values_list("author", "external_id"))
    assert messages == [("customer", f"{caller.form['CallSid']}:1"), ("assistant", "")]
    assert caller.conversation.customer == customer


def test_a_status_look_up_by_a_spoken_reference_reads_it_back_character_by_character(call, customer):
    ticket = make_ticket(customer, title="Refund for duplicate charge")
    caller = call()
    caller.say(f"what's the status of ticket {spoken_reference(ticket.reference)}")
    assert adapter.spell(ticket.reference) in caller.spoken
    assert ticket.reference not in caller.spoken
    assert "Submitted" in caller.spoken


def test_an_offer_and_a_spoken_yes_open_a_ticket_and_email_the_confirmation(call, customer):
    caller = call()
    caller.say("I was charged twice and I want a refund for my annual plan")
    assert "open a support ticket" in caller.spoken
    caller.say("yes please")
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.customer) == ("voice", customer)
    assert adapter.spell(ticket.reference) in caller.spoken
    (email,) = mail.outbox
    assert email.to == ["dana@example.com"] and ticket.reference in email.subject + email.body


def test_an_offer_declined_opens_nothing(call, customer):
    caller = call()
    caller.say("I want a refund for my annual plan")
    caller.say("no thanks")
    assert wording.DECLINED in caller.spoken
    assert not Ticket.objects.exists()


def test_an_unknown_caller_gets_general_help_but_no_ticket_data(call):
    add_articles()
    other = make_ticket(UserFactory(), title="Someone else's secret")
    caller = call(STRANGER_NUMBER)
    caller.say("How do I reset my password?")
    assert "Forgot password" in caller.spoken
    caller.say(f"status of {spoken_reference(other.reference)}")
    assert "account" in caller.spoken and "secret" not in caller.spoken
    assert caller.conversation.customer is None


def test_a_withheld_number_is_an_unknown_caller(call):
    caller = call("Anonymous")
    caller.say("show me my tickets")
    assert "account" in caller.spoken
    assert caller.conversation.sender == ""


def test_silence_is_asked_about_once_and_then_the_call_ends_politely(call, customer):
    caller = call()
    caller.silence()
    assert caller.spoken == views.SILENCE
    assert caller.gather.get("action").endswith("turn?n=1&quiet=1")
    twiml = caller.silence()
    assert caller.spoken == views.GOODBYE
    assert twiml[-1].tag == "Hangup"
    assert not Message.objects.exists()


def test_speech_after_one_silence_starts_the_count_again(call, customer):
    caller = call()
    caller.silence()
    caller.say("hello")
    caller.silence()
    assert caller.spoken == views.SILENCE


@pytest.mark.parametrize("confidence", ["0.12", "0.39"])
def test_low_confidence_asks_the_caller_to_repeat_and_stores_nothing(call, customer, confidence):
    caller = call()
    caller.say("refund", confidence=confidence)
    assert caller.spoken == views.REPEAT
    assert caller.gather.get("action").endswith("turn?n=1&quiet=0")
    assert not Message.objects.exists()


def test_a_retried_turn_is_stored_once_and_answered_the_same(call, customer):
    add_articles()
    caller = call()
    action = caller.gather.get("action")
    first = caller.say("How do I reset my password?")
    caller._post(action, SpeechResult="How do I reset my password?", Confidence="0.9")
    assert ElementTree.tostring(caller.twiml) == ElementTree.tostring(first)
    assert Message.objects.filter(author="customer").count() == 1
    assert Message.objects.filter(author="assistant").count() == 1


def test_goodbye_ends_the_call(call, customer):
    caller = call()
    twiml = caller.say("bye")
    assert twiml[-1].tag == "Hangup" and "great day" in caller.spoken


@pytest.mark.parametrize("status", ["completed", "busy", "no-answer", "failed", "canceled"])
def test_a_call_that_ends_closes_its_conversation(call, customer, status):
    caller = call()
    response = caller.hang_up(status)
    assert response.status_code == 204
    assert caller.conversation.state == "closed"


def test_a_call_in_progress_stays_open(call, customer):
    caller = call()
    caller.hang_up("in-progress")
    assert caller.conversation.state == "assistant"


def test_the_assistants_spoken_replies_are_not_texted_too(call, customer, outbox):
    add_articles()
    call().say("How do I reset my password?")
    assert outbox == []
    assert Message.objects.get(author="assistant").handled_at is not None


@pytest.mark.parametrize(
    "path", ["/channels/voice/inbound", "/channels/voice/turn?n=1&quiet=0", "/channels/voice/status"]
)
def test_unsigned_or_wrongly_signed_voice_webhooks_are_refused(client, twilio, path):
    form = payload("voice_gather_speech")
    assert post(client, path, form, signature="").status_code == 403
    assert post(client, path, form, signature=sign(path, form, token="wrong")).status_code == 403
    tampered_turn = sign(path.replace("n=1", "n=2"), form) if "n=1" in path else sign(path + "?x=1", form)
    assert post(client, path, form, signature=tampered_turn).status_code == 403
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_voice_webhooks_answer_503_when_twilio_is_not_configured(client, twilio, settings):
    settings.TWILIO_CONFIGURED = False
    assert post(client, "/channels/voice/inbound", payload("voice_inbound")).status_code == 503


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("/channels/voice/inbound", {"CallSid": ""}),
        ("/channels/voice/turn?n=1&quiet=0", {"CallSid": "CA-bad"}),
        ("/channels/voice/turn?n=x&quiet=0", {}),
        ("/channels/voice/status", {"CallSid": ""}),
    ],
    ids=["inbound-no-call", "turn-bad-call", "turn-bad-number", "status-no-call"],
)
def test_malformed_voice_webhooks_are_refused_with_nothing_stored(client, twilio, path, changes):
    response = post(client, path, payload("voice_gather_speech", **changes))
    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_an_overlong_utterance_is_asked_again_briefly(call, customer):
    caller = call()
    caller.say("refund " * 700)
    assert caller.spoken == views.TOO_LONG
    assert not Message.objects.exists()


# A model that may be slow: the caller is held with a pause and a redirect ----------------------


def test_with_a_model_the_caller_is_held_until_the_answer_is_stored(client, twilio, settings, customer,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    with FakeOpenAI(model="gpt-test") as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_MODEL = "gpt-test"
        server.push_text("You can reset it from the login page: click Forgot password.")
        caller = Call(client, django_capture_on_commit_callbacks, "+15555550100")
        caller.start()
        twiml = caller._post(caller.gather.get("action"), SpeechResult="I forgot my password", Confidence="0.9")
        assert [child.tag for child in twiml] == ["Say", "Pause", "Redirect"]
        assert caller.spoken == views.ONE_MOMENT
        redirect = twiml.find("Redirect")
        assert redirect.get("method") == "POST" and "/channels/voice/wait?" in redirect.text
        caller._post(redirect.text)
        assert caller.spoken == "You can reset it from the login page: click Forgot password."
        assert caller.gather.get("action").endswith("turn?n=2&quiet=0")


def test_a_slow_answer_is_polled_then_apologised_for(call, customer, settings):
    caller = call()
    message = ticket_services.store_customer_message(caller.conversation.pk, "hello", external_id="x")[0]
    url = f"/channels/voice/wait?n=1&m={message.pk}&poll=1"
    twiml = caller._post(url)
    assert [child.tag for child in twiml] == ["Pause", "Redirect"]
    assert twiml.find("Redirect").text.endswith(f"m={message.pk}&poll=2")
    caller._post(f"/channels/voice/wait?n=1&m={message.pk}&poll={views.POLLS}")
    assert caller.spoken == views.TOO_SLOW


def test_a_poll_for_another_calls_turn_is_refused(call, customer):
    mine, theirs = call(), call(STRANGER_NUMBER)
    message = ticket_services.store_customer_message(theirs.conversation.pk, "secret", external_id="y")[0]
    path = f"/channels/voice/wait?n=1&m={message.pk}&poll=1"
    assert post(mine.client, path, mine.form).status_code == 404


# Staff replies to phone tickets ------------------------------------------------------------------


def _phone_ticket(call) -> Ticket:
    caller = call()
    caller.say("I want a refund for my annual plan")
    caller.say("yes")
    caller.hang_up()
    mail.outbox.clear()
    return Ticket.objects.get()


def test_a_staff_reply_to_a_phone_ticket_is_texted_to_the_callers_number(
    call, customer, outbox, django_capture_on_commit_callbacks
):
    ticket = _phone_ticket(call)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded USD 120.")
    assert outbox == [{"to": "+15555550100", "body": f"Loophole team, ticket {ticket.reference}:\nRefunded USD 120."}]
    assert mail.outbox == []


def test_a_staff_reply_goes_by_email_when_the_number_takes_no_texts(
    call, customer, fake_twilio, django_capture_on_commit_callbacks
):
    ticket = _phone_ticket(call)
    fake_twilio.push_error("api_error_21614")  # a landline
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded USD 120.")
    assert fake_twilio.sent == []
    (email,) = mail.outbox
    assert email.to == ["dana@example.com"] and email.from_email == settings_from()
    assert ticket.reference in email.subject and "Refunded USD 120." in email.body


def test_a_staff_reply_goes_by_email_when_the_number_opted_out_of_texts(
    call, customer, outbox, django_capture_on_commit_callbacks
):
    from channels_io.sms import adapter as sms

    ticket = _phone_ticket(call)
    sms.opt_out("+15555550100")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded USD 120.")
    assert outbox == []
    assert [m.to for m in mail.outbox] == [["dana@example.com"]]


def settings_from() -> str:
    from django.conf import settings

    return settings.DEFAULT_FROM_EMAIL
