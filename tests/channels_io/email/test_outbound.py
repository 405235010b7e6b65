"""Replies by email through a real SMTP server: sender, threading headers, Auto-Submitted, HTML with
links, exactly-once delivery, and SMTP failures raised for the delivery task to retry."""

import smtplib

import pytest

from channels_io.delivery import deliver
from channels_io.email import adapter
from tests.factories import UserFactory
from tickets import services as ticket_services
from tickets.models import Author, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply(db) -> Message:
    """An assistant reply in an email thread of two customer messages and an earlier reply."""
    customer = UserFactory(email="anna.schmidt@example.com")
    conversation = ticket_services.open_conversation(
        channel="email", customer=customer, sender="anna.schmidt@example.com", thread="<root@mail.example.com>"
    )
    first, _ = ticket_services.store_customer_message(
        conversation.pk, "Subject: Exports\n\nHow do I export my data?", external_id="<root@mail.example.com>"
    )
    earlier = ticket_services.store_reply(conversation, "Open **Settings > Data**.", reply_to=first)
    second, _ = ticket_services.store_customer_message(
        conversation.pk, "Where is the link?", external_id="<second@mail.example.com>"
    )
    latest = ticket_services.store_reply(
        conversation, "See https://loophole.example/help/export-data for <all> the steps.", reply_to=second
    )
    latest.earlier = earlier
    return latest


def test_a_reply_is_sent_from_the_support_address_in_the_customers_thread(reply, smtp_server, settings):
    deliver(reply.pk)
    (sent,) = smtp_server.messages
    assert sent["From"] == settings.DEFAULT_FROM_EMAIL
    assert sent["Reply-To"] == settings.SUPPORT_EMAIL
    assert sent["To"] == "anna.schmidt@example.com"
    assert sent["Subject"] == "Re: Exports"
    assert sent["Message-ID"] == adapter.message_id_of(reply)
    assert sent["Message-ID"].endswith("@loophole.localhost>")
    assert sent["In-Reply-To"].strip() == "<second@mail.example.com>"
    assert sent["References"].split() == [
        "<root@mail.example.com>",
        adapter.message_id_of(reply.earlier),
        "<second@mail.example.com>",
    ]
    assert sent["Auto-Submitted"] == "auto-replied"


def test_the_reply_has_plain_text_and_simple_html_with_links(reply, smtp_server):
    deliver(reply.pk)
    (sent,) = smtp_server.messages
    assert (
        "See https://loophole.example/help/export-data for <all> the steps." in sent.get_body(("plain",)).get_content()
    )
    html = sent.get_body(("html",)).get_content()
    assert '<a href="https://loophole.example/help/export-data" rel="nofollow">' in html
    assert "&lt;all&gt;" in html and "<all>" not in html


def test_a_second_delivery_of_the_same_message_sends_nothing(reply, smtp_server):
    deliver(reply.pk)
    deliver(reply.pk)
    assert len(smtp_server.messages) == 1
    reply.refresh_from_db()
    assert reply.handled_at is not None


def test_an_smtp_refusal_raises_oserror_and_leaves_the_message_undelivered(reply, smtp_server):
    smtp_server.refuse = 1
    with pytest.raises(OSError) as raised:
        adapter.send(reply)
    assert isinstance(raised.value, smtplib.SMTPException)
    assert Message.objects.get(pk=reply.pk).handled_at is None
    deliver(reply.pk)  # the retry
    assert len(smtp_server.messages) == 1


def test_the_message_id_is_the_same_on_every_resend(reply):
    assert adapter.message_id_of(reply) == adapter.message_id_of(Message.objects.get(pk=reply.pk))
    assert adapter.message_id_of(reply) != adapter.message_id_of(reply.earlier)


def test_a_conversation_without_an_address_sends_nothing(reply, smtp_server):
    reply.conversation.sender = ""
    reply.conversation.save()
    deliver(reply.pk)
    assert smtp_server.messages == []


def test_a_thread_with_no_known_subject_gets_a_plain_one(smtp_server):
    conversation = ticket_services.open_conversation(channel="email", customer=None, sender="x@example.com")
    question, _ = ticket_services.store_customer_message(conversation.pk, "Hello?", external_id="<q@example.com>")
    answer = ticket_services.store_reply(conversation, "Hi! How can I help?", reply_to=question)
    deliver(answer.pk)
    (sent,) = smtp_server.messages
    assert sent["Subject"] == "Re: Your message to Loophole support"
    assert Message.objects.get(pk=answer.pk).author == Author.ASSISTANT
