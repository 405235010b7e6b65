"""Replying to an away email (staff chat replies mailed while the customer was away): through both
inbound paths the reply continues the chat conversation, checked against the account like any
threaded email; a forged stamp, another sender or an unvouched one does not get in."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from channels_io.chat import away
from channels_io.email import ids
from tests.channels_io.email.conftest import PLACEHOLDER, eml
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Author, Conversation, EventKind, Message

pytestmark = pytest.mark.django_db

QUESTION = "How do I export my data?"  # gmail_reply's text


@pytest.fixture
def chat(anna):
    return make_ticket(anna, title="Refund for duplicate charge")


@pytest.fixture
def emailed(chat, smtp_server, settings, django_capture_on_commit_callbacks) -> Message:
    """A staff chat reply Anna never saw, mailed to her by the sweeper."""
    settings.CHAT_AWAY_EMAIL_AFTER = 60
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.add_staff_reply(chat.pk, staff=StaffFactory(), text="We refunded INV-1000.")
    due = timezone.now() + timedelta(seconds=61)
    with time_machine.travel(due, tick=False), django_capture_on_commit_callbacks(execute=True):
        away.sweep_away_replies()
    assert [m["Subject"] for m in smtp_server.messages].count(f"Re: [{chat.reference}] {chat.title}") == 1
    return reply


def stamped(reply: Message) -> bytes:
    return ids.outbound_id(reply.conversation_id, reply.pk, reply.created_at.isoformat()).encode()


def answering(reply: Message, *, sender: bytes = b"anna.schmidt@example.com", msg_id: bytes | None = None) -> bytes:
    raw = eml("gmail_reply").replace(PLACEHOLDER, msg_id or stamped(reply))
    return raw.replace(b"anna.schmidt@example.com", sender)


def customer_texts(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, author=Author.CUSTOMER).values_list("text", flat=True)
    )


def test_replying_to_an_away_email_continues_the_chat_conversation(anna, chat, emailed, deliver_mail):
    deliver_mail(answering(emailed))
    (stored,) = [m for m in Message.objects.filter(conversation_id=chat.conversation_id) if QUESTION in m.text]
    assert stored.author == Author.CUSTOMER and stored.channel == "chat"
    assert Conversation.objects.get(pk=chat.conversation_id).channel == "chat"
    assert not Conversation.objects.filter(channel="email").exists()
    assert chat.events.filter(kind=EventKind.CUSTOMER_REPLY).exists()  # staff see it on the ticket
    client = Client()
    client.force_login(anna)
    shown = client.get(f"/chat/conversations/{chat.conversation_id}/messages/?after={emailed.pk}").json()
    assert any(QUESTION in m["text"] for m in shown["messages"])  # and the widget shows it

    deliver_mail(answering(emailed))  # a redelivery is stored once
    assert sum(QUESTION in text for text in customer_texts(chat.conversation_id)) == 1


def forged(reply: Message) -> bytes:
    good = stamped(reply).decode()
    stamp = good.split("@")[0].rsplit(".", 1)[1]
    return good.replace(stamp, ("0" if stamp[0] != "0" else "1") + stamp[1:]).encode()


@pytest.mark.parametrize(
    "make",
    [
        lambda reply: answering(reply, msg_id=forged(reply)),
        lambda reply: answering(reply, sender=b"mallory@example.com"),
        lambda reply: answering(reply, msg_id=stamped(reply).replace(b"loophole.", b"loophole.9", 1)),
    ],
    ids=["forged-stamp", "another-account", "another-conversation"],
)
def test_a_forged_or_foreign_reply_does_not_enter_the_chat(anna, chat, emailed, deliver_mail, make):
    UserFactory(email="mallory@example.com")
    deliver_mail(make(emailed))
    assert not any(QUESTION in text for text in customer_texts(chat.conversation_id))
    assert Conversation.objects.filter(channel="email").count() == 1  # a new email thread instead


def test_an_unvouched_reply_does_not_enter_the_chat(anna, chat, emailed, django_capture_on_commit_callbacks):
    # Straight to the pipe, with no Authentication-Results from our mail server: nobody vouched for From.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("receive_email", stdin=io.BytesIO(answering(emailed)), stdout=io.StringIO())
    assert not any(QUESTION in text for text in customer_texts(chat.conversation_id))


def test_a_reply_from_an_account_deactivated_since_does_not_enter_the_chat(anna, chat, emailed, deliver_mail):
    type(anna).objects.filter(pk=anna.pk).update(is_active=False)
    deliver_mail(answering(emailed))
    assert not any(QUESTION in text for text in customer_texts(chat.conversation_id))


def test_a_stamped_chat_reply_of_another_customer_does_not_enter_their_chat(anna, emailed, deliver_mail):
    bob = UserFactory(email="bob@example.com")
    bobs = make_ticket(bob)
    theirs = ticket_services.add_staff_reply(bobs.pk, staff=StaffFactory(), text="Hello Bob.")
    deliver_mail(answering(theirs))  # Anna names Bob's reply, with its genuine stamp
    assert not any(QUESTION in text for text in customer_texts(bobs.conversation_id))
