"""Whole SMS exchanges through the signed webhook, the answer task and the SMS backend (locmem)."""

import itertools
from xml.etree import ElementTree

import pytest
from django.core import mail
from django.utils import timezone

from assistant import wording
from channels_io.models import SmsOptOut
from channels_io.sms import adapter
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER, STRANGER_NUMBER, payload, post
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

INBOUND = "/channels/sms/inbound"
_sids = itertools.count(1)


@pytest.fixture
def text(client, outbox, django_capture_on_commit_callbacks):
    """Text `body` from `number` as Twilio would; returns the reply texted back ("" when none)."""

    def send(body: str, number: str = CUSTOMER_NUMBER, **extra: str) -> str:
        before = len(outbox)
        form = payload("sms_inbound", Body=body, From=number, MessageSid=f"SM{next(_sids):032x}", **extra)
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, INBOUND, form)
        assert response.status_code == 200, response.content
        send.twiml = response.content.decode()
        replies = outbox[before:]
        assert all(r["to"] == number for r in replies)
        return "\n".join(r["body"] for r in replies)

    return send


def test_a_help_question_gets_a_short_answer_with_one_link(text, customer):
    add_articles()
    reply = text("how do I reset my password?")
    assert "Forgot password" in reply and "**" not in reply
    assert reply.count("https://support.example.com/help/") == 1
    assert "Read more:" not in reply and len(reply) <= adapter.ASSISTANT_MAX


def test_a_status_look_up_by_reference(text, customer):
    ticket = make_ticket(customer, title="Refund for duplicate charge")
    reply = text(f"status of {ticket.reference.lower()}?")
    assert ticket.reference in reply and "Submitted" in reply


def test_an_offer_declined_creates_no_ticket(text, customer):
    assert wording.OFFER_QUESTION in text("I want a refund for my annual plan")
    assert text("no thanks") == wording.DECLINED
    assert not Ticket.objects.exists()
    assert Conversation.objects.get().state == "assistant"


def test_an_offer_accepted_opens_one_ticket_and_emails_the_account_address(text, customer):
    text("I was charged twice for my annual plan, I want a refund")
    reply = text("yes")
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.customer) == ("sms", customer)
    assert ticket.reference in reply
    (email,) = mail.outbox
    assert email.to == ["dana@example.com"] and ticket.reference in email.subject + email.body


def test_the_assistant_keeps_answering_after_a_ticket(text, customer):
    add_articles()
    text("I want a refund for my annual plan")
    text("yes")
    assert "Forgot password" in text("how do I reset my password?")
    assert Ticket.objects.count() == 1
    assert Conversation.objects.count() == 1  # the same conversation: the ticket's


def test_an_unknown_number_gets_general_help_but_no_ticket_data_and_no_ticket(text):
    add_articles()
    other = make_ticket(UserFactory(), title="Someone else's secret")
    assert "Forgot password" in text("how do I reset my password?", STRANGER_NUMBER)
    status = text(f"status of {other.reference}", STRANGER_NUMBER)
    assert other.reference not in status and "secret" not in status and "account" in status
    text("I want a refund", STRANGER_NUMBER)
    text("yes", STRANGER_NUMBER)
    assert list(Ticket.objects.all()) == [other]


def test_a_staff_reply_to_an_sms_ticket_is_texted_to_the_customer(
    text, outbox, customer, django_capture_on_commit_callbacks
):
    text("I want a refund for my annual plan")
    text("yes")
    ticket = Ticket.objects.get()
    outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded USD 120, sorry!")
    assert outbox == [
        {"to": CUSTOMER_NUMBER, "body": f"Loophole team, ticket {ticket.reference}:\nRefunded USD 120, sorry!"}
    ]
    assert Message.objects.get(author="staff").handled_at is not None


def test_a_conversation_continues_per_number_and_restarts_after_24_hours_of_silence(text, customer, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    text("hi")
    text("how do I export my data?")
    text("hi", STRANGER_NUMBER)
    assert Conversation.objects.filter(sender=CUSTOMER_NUMBER).count() == 1
    time_machine.shift(23 * 3600)
    text("hello again")
    assert Conversation.objects.filter(sender=CUSTOMER_NUMBER).count() == 1
    time_machine.shift(24 * 3600 + 1)
    text("hello after a day")
    assert Conversation.objects.filter(sender=CUSTOMER_NUMBER).count() == 2


def test_a_text_on_a_resolved_ticket_reopens_it_and_the_reply_says_so(text, customer):
    text("I want a refund for my annual plan")
    text("yes")
    ticket = Ticket.objects.get()
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")

    reply = text("the refund has not arrived")

    assert reply.startswith(f"Your ticket {ticket.reference} is open again; our team will reply here.")
    assert Conversation.objects.count() == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at) == (Status.IN_PROGRESS, None)
    event = TicketEvent.objects.filter(ticket=ticket, kind="status").latest("id")
    assert (event.old_status, event.actor) == (Status.RESOLVED, customer)
    assert "open again" not in text("how long does a refund take?")  # said once, on the reopening


def test_a_text_within_a_day_of_the_resolution_continues_the_ticket_after_days_of_silence(text, customer, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    text("I want a refund for my annual plan")
    text("yes")
    ticket = Ticket.objects.get()
    time_machine.shift(5 * 24 * 3600)
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")
    time_machine.shift(23 * 3600)

    assert ticket.reference in text("still not refunded")

    assert Conversation.objects.count() == 1
    assert Ticket.objects.get().status == Status.IN_PROGRESS


def test_past_the_retention_window_or_in_a_closed_conversation_a_text_starts_a_new_one(text, customer, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    text("I want a refund for my annual plan")
    text("yes")
    ticket = Ticket.objects.get()
    staff = StaffFactory()
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
    text("not refunded yet")  # within the window: reopened
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded again.")
    assert Conversation.objects.count() == 1
    time_machine.shift(30 * 24 * 3600 + 1)
    ticket_services.add_staff_reply(ticket.pk, staff=staff, text="One more note on the refund.")  # not silent

    assert "open again" not in text("thanks!")

    assert Conversation.objects.count() == 2
    assert Ticket.objects.get().status == Status.RESOLVED
    Conversation.objects.update(state="closed")
    text("one more question")
    assert Conversation.objects.count() == 3


@pytest.mark.parametrize("answered", [False, True], ids=["not-yet", "answered"])
def test_has_anyone_answered_my_ticket_gets_the_latest_staff_reply_or_not_yet(text, customer, answered):
    ticket = make_ticket(customer, title="Refund for duplicate charge")
    if answered:
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="We refunded the second charge.")
    reply = text("Has anyone answered my ticket?")
    assert ticket.reference in reply
    assert ("We refunded the second charge." in reply) is answered
    assert ("Nobody from the team has replied yet." in reply) is not answered


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "CANCEL", "end", "QUIT", "STOPALL", " Stop. "])
def test_stop_words_opt_the_number_out_and_it_gets_nothing_more(text, outbox, customer, word):
    assert text(word) == ""
    assert SmsOptOut.objects.filter(number=CUSTOMER_NUMBER).exists()
    assert text("how do I reset my password?") == ""
    message = Message.objects.get(text="how do I reset my password?")
    assert message.handled_at is not None  # kept for the team, never answered
    assert not Message.objects.filter(author="assistant").exists()
    assert outbox == []


def test_a_staff_reply_is_not_texted_to_an_opted_out_number(text, outbox, customer, django_capture_on_commit_callbacks):
    text("I want a refund for my annual plan")
    text("yes")
    text("STOP")
    outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_staff_reply(Ticket.objects.get().pk, staff=StaffFactory(), text="Refunded.")
    assert outbox == []
    message.refresh_from_db()
    assert message.handled_at is not None  # dealt with: the sweeper does not try again


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_start_opts_the_number_back_in(text, customer, word):
    text("STOP")
    assert text(word) == ""
    assert not SmsOptOut.objects.exists()
    assert text("hi") == wording.SMALLTALK["greeting"]


def test_yes_is_a_ticket_confirmation_not_a_start_keyword(text, customer):
    text("STOP")
    assert text("YES") == ""
    assert SmsOptOut.objects.exists()


def test_twilios_opt_out_type_is_honoured(text, customer):
    text("Stop texting me please", OptOutType="STOP")
    assert SmsOptOut.objects.exists()


@pytest.mark.parametrize("opted_out", [False, True], ids=["subscribed", "opted-out"])
def test_help_is_answered_in_the_twiml_even_after_stop(text, customer, opted_out):
    if opted_out:
        text("STOP")
    assert text("HELP") == ""
    assert [m.text for m in ElementTree.fromstring(text.twiml).iter("Message")] == [adapter.HELP_TEXT]  # noqa: S314 - our TwiML
    assert not Message.objects.exists()


def test_keywords_are_idempotent_when_redelivered(client, twilio):
    form = payload("sms_inbound", Body="STOP")
    for _ in range(2):
        assert post(client, INBOUND, form).status_code == 200
    assert SmsOptOut.objects.count() == 1
