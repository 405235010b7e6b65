"""The hand-written statements of the chat's hot path: each behaves as the ORM code it replaced."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.factories import UserFactory
from tickets import services, statements
from tickets.models import Conversation, Message

pytestmark = pytest.mark.django_db


def chat(customer=None) -> Conversation:
    return services.open_conversation(channel="chat", customer=customer or UserFactory())


def test_an_inserted_message_reads_back_as_written():
    conversation = chat()
    at = timezone.now() - timedelta(minutes=3)
    text = "Ça coûte 5 € — «quoted» 'single' \"double\" \\ 100% \n second line 😀"
    message = statements.insert_message(
        Message(
            conversation=conversation, author="customer", text=text, channel="chat", external_id="x:1", created_at=at
        )
    )
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.author, stored.channel, stored.external_id) == (text, "customer", "chat", "x:1")
    assert stored.created_at == at and stored.handled_at is None and stored.reply_to_id is None
    assert not message._state.adding


def test_a_message_is_claimed_once():
    conversation = chat()
    message, _ = services.store_customer_message(conversation.pk, "hello")
    now = timezone.now()
    assert statements.claim(message.pk, now) is True
    assert statements.claim(message.pk, now + timedelta(seconds=1)) is False
    assert Message.objects.get(pk=message.pk).handled_at == now


def test_the_turns_before_a_message_are_the_last_ones_oldest_first():
    conversation, other = chat(), chat()
    texts = [f"m{i}" for i in range(6)]
    stored = [services.store_customer_message(conversation.pk, t)[0] for t in texts]
    services.store_customer_message(other.pk, "someone else's")
    turns = statements.turns_before(conversation.pk, stored[5].pk, 3)
    assert [text for _author, text, _kind in turns] == ["m2", "m3", "m4"]
    assert statements.turns_before(conversation.pk, stored[0].pk, 3) == []


def test_the_newest_message_is_recorded_on_the_conversation():
    conversation = chat()
    first, _ = services.store_customer_message(conversation.pk, "first")
    second, _ = services.store_customer_message(conversation.pk, "second")
    row = Conversation.objects.get(pk=conversation.pk)
    assert (row.last_message_id, row.last_message_at) == (second.pk, second.created_at)
    assert first.pk < second.pk


def test_the_lock_reads_the_ticket_id_and_the_owner():
    customer = UserFactory()
    conversation = chat(customer)
    services.store_customer_message(conversation.pk, "I was charged twice")
    with transaction.atomic():
        assert services.lock_conversation(conversation.pk).ticket_pk is None
    ticket = services.create_ticket(conversation.pk, title="Charged twice", description="Twice")
    with transaction.atomic():
        locked = services.lock_conversation(conversation.pk, customer=customer, channel="chat")
        assert (locked.pk, locked.ticket_pk, locked.customer) == (conversation.pk, ticket.pk, customer)


@pytest.mark.parametrize(
    ("whose", "channel", "closed", "error"),
    [
        ("stranger", "chat", False, services.NoSuchConversation),
        ("owner", "sms", False, services.NoSuchConversation),
        ("owner", "chat", True, services.ConversationClosed),
        ("missing", "chat", False, services.NoSuchConversation),
    ],
    ids=["someone-elses", "other-channel", "closed", "missing"],
)
def test_a_scoped_store_refuses_and_writes_nothing(whose, channel, closed, error):
    owner = UserFactory()
    conversation = chat(owner)
    if closed:
        Conversation.objects.filter(pk=conversation.pk).update(state="closed")
    customer = UserFactory() if whose == "stranger" else owner
    conversation_id = conversation.pk + 1000 if whose == "missing" else conversation.pk
    with pytest.raises(error):
        services.store_customer_message(conversation_id, "hello", customer=customer, channel=channel)
    assert not Message.objects.exists()
    assert Conversation.objects.get(pk=conversation.pk).last_message_id == 0


def test_a_replayed_external_id_returns_the_stored_message_and_keeps_the_transaction_usable():
    conversation = chat()
    with transaction.atomic():
        first, created = services.store_customer_message(conversation.pk, "hello", external_id="sid-1")
        again, created_again = services.store_customer_message(conversation.pk, "hello", external_id="sid-1")
        after, _ = services.store_customer_message(conversation.pk, "next")  # the transaction goes on
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert Conversation.objects.get(pk=conversation.pk).last_message_id == after.pk
