"""The database refuses rows the code must never write, whatever path they come from."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from loophole.models import PhoneNumber
from tests.factories import ConversationFactory, UserFactory, make_ticket
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def refused(**changes) -> None:
    ticket = make_ticket()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "closed"},
        {"status": "resolved"},
        {"status": "resolved", "resolved_at": timezone.now()},
        {"resolved_at": timezone.now()},
        {"reference": "LH-0000-0000"},
        {"reference": "12345"},
        {"title": ""},
        {"description": ""},
    ],
    ids=[
        "unknown-status",
        "resolved-without-time",
        "resolved-without-action",
        "open-with-resolved-time",
        "reference-confusable",
        "reference-format",
        "empty-title",
        "empty-description",
    ],
)
def test_bad_ticket_rows_are_refused(changes):
    refused(**changes)


def test_references_are_unique():
    a, b = make_ticket(), make_ticket()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=b.pk).update(reference=a.reference)


def test_one_ticket_per_conversation():
    ticket = make_ticket()
    other = make_ticket()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=other.pk).update(conversation=ticket.conversation)


def test_a_channel_external_id_is_stored_once_but_empty_ids_repeat():
    conversation = ConversationFactory(channel="sms")
    Message.objects.create(conversation=conversation, author="customer", text="a", channel="sms", external_id="SM1")
    Message.objects.create(conversation=conversation, author="customer", text="b", channel="sms")
    Message.objects.create(conversation=conversation, author="customer", text="c", channel="sms")
    Message.objects.create(conversation=conversation, author="customer", text="d", channel="email", external_id="SM1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(conversation=conversation, author="customer", text="e", channel="sms", external_id="SM1")


@pytest.mark.parametrize(
    "fields", [{"author": "robot", "text": "hi"}, {"author": "customer", "text": ""}], ids=["author", "empty-text"]
)
def test_bad_messages_are_refused(fields):
    conversation = ConversationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(conversation=conversation, channel="chat", **fields)


def test_bad_conversation_state_and_event_kind_are_refused():
    conversation = ConversationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(conversation).objects.filter(pk=conversation.pk).update(state="lost")
    ticket = make_ticket()
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketEvent.objects.create(ticket=ticket, kind="deleted")
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketEvent.objects.create(ticket=ticket, kind="status", email="spam")


def test_phone_numbers_are_e164_and_belong_to_one_account():
    a, b = UserFactory(), UserFactory()
    PhoneNumber.objects.create(user=a, number="+15555550123")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(user=b, number="+15555550123")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(user=b, number="555-0123")


def test_account_emails_are_unique_whatever_their_case():
    UserFactory(email="Dana@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="dana@example.COM")
