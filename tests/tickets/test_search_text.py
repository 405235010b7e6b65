"""A ticket's search text follows its conversation: every message, on every channel and by every
author, is in it once it is stored; migration 0022 writes the same for the tickets made before it."""

import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from assistant import services as assistant
from tests.factories import StaffFactory, make_ticket
from tickets import search_text, services
from tickets.models import Conversation, Message, Ticket

pytestmark = pytest.mark.django_db

CHANNELS = ["chat", "sms", "email", "voice"]


def assert_current(ticket: Ticket) -> str:
    """Every message of the ticket's conversation is in its search text, which holds nothing else."""
    text = Ticket.objects.get(pk=ticket.pk).search_text
    messages = list(Message.objects.filter(conversation_id=ticket.conversation_id).values_list("text", flat=True))
    assert messages
    for message in messages:
        assert message in text
    for line in text.split(search_text.SEPARATOR):
        assert any(line in message for message in messages), line
    return text


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_messages_before_the_ticket_are_in_it_from_the_start(channel):
    ticket = make_ticket(channel=channel, messages=3)
    assert "INV-1002" in assert_current(ticket)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_customer_message_and_the_assistants_answer_after_the_ticket_are_in_it(channel):
    ticket = make_ticket(channel=channel)
    message = assistant.receive(ticket.conversation_id, "Any news on the xylophone order?", external_id=f"{channel}-1")
    assistant.respond(message.pk, hands_off=channel == "chat")
    text = assert_current(ticket)
    assert "xylophone" in text
    if channel != "chat":  # the assistant answers on the other channels
        assert Message.objects.filter(conversation_id=ticket.conversation_id, author="assistant").exists()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_staff_reply_is_in_it(channel):
    ticket = make_ticket(channel=channel)
    services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="The quokka firmware fixes it.")
    assert "quokka" in assert_current(ticket)


def test_a_chat_message_sent_from_the_widget_after_the_hand_off_is_in_it():
    ticket = make_ticket(channel="chat")
    client = Client()
    client.force_login(ticket.customer)
    response = client.post(
        f"/chat/conversations/{ticket.conversation_id}/messages/",
        data=json.dumps({"text": "Still waiting for the walrus adapter."}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert "walrus" in assert_current(ticket)


def test_a_reply_stored_on_a_conversation_read_without_its_ticket_is_in_it():
    """The chat's "answer comes later" notice is stored on a conversation loaded plainly."""
    ticket = make_ticket(channel="chat")
    services.store_reply(Conversation.objects.get(pk=ticket.conversation_id), "We answer as soon as we can.")
    assert "answer as soon" in assert_current(ticket)


def test_a_text_already_in_it_is_not_added_twice_and_a_conversation_without_ticket_writes_nothing():
    ticket = make_ticket(channel="sms")
    before = assert_current(ticket)
    services.store_customer_message(ticket.conversation_id, "I was charged twice for invoice INV-1000.")
    services.store_customer_message(ticket.conversation_id, "charged twice")  # a part of a stored text
    assert assert_current(ticket) == before
    lonely = services.open_conversation(channel="sms", customer=ticket.customer)
    services.store_customer_message(lonely.pk, "No ticket here.")
    assert Ticket.objects.get(pk=ticket.pk).search_text == before


@pytest.mark.parametrize(
    "text",
    ["100% sure_thing \\ back", "Ünïcödé Straße 東京 🙂", "line one\nline two", "'; DROP TABLE tickets_ticket; --"],
    ids=["wildcards", "unicode", "newline", "sql"],
)
def test_any_text_is_kept_as_written(text):
    ticket = make_ticket(channel="email")
    services.store_customer_message(ticket.conversation_id, text)
    assert text in assert_current(ticket)


def test_the_migration_writes_the_search_text_the_services_keep():
    fill = importlib.import_module("tickets.migrations.0022_fill_search_text_and_status_counts").fill_search_text
    tickets = [make_ticket(channel=c, messages=2) for c in CHANNELS]
    services.add_staff_reply(tickets[0].pk, staff=StaffFactory(), text="Zebra crossing fixed.")
    kept = {t.pk: Ticket.objects.get(pk=t.pk).search_text for t in tickets}
    Ticket.objects.update(search_text=None)
    editor = SimpleNamespace(connection=connection)  # all the migration reads of it
    fill(apps, editor)
    fill(apps, editor)  # again: nothing changes
    for ticket in tickets:
        written = assert_current(ticket)
        texts = Message.objects.filter(conversation_id=ticket.conversation_id).values_list("text", flat=True)
        assert written == search_text.of(texts)
        assert set(written.split("\n")) == set(kept[ticket.pk].split("\n"))
