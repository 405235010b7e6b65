"""The widget's view of a conversation, read in two statements: the same as the models say."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_io.chat import stream
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Status, Ticket

pytestmark = pytest.mark.django_db


def expected(conversation_id: int, after: int) -> dict:
    conversation = Conversation.objects.get(pk=conversation_id)
    ticket = Ticket.objects.filter(conversation=conversation).first()
    rows = Message.objects.filter(conversation=conversation, pk__gt=after).order_by("pk")[: stream.PAGE]
    return {
        "state": conversation.state,
        "ticket": stream.ticket_json(ticket),
        "messages": [stream.message_json(m) for m in rows],
    }


def test_a_handed_off_conversation_with_a_resolved_ticket_reads_as_the_models_say():
    customer = UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer)
    first, _ = ticket_services.store_customer_message(conversation.pk, "I was charged twice")
    ticket = ticket_services.create_ticket(conversation.pk, title="Charged <twice>", description="Charged twice")
    staff = StaffFactory()
    ticket_services.add_staff_reply(ticket.pk, staff=staff, text="Refunded.")
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded the second charge.")

    with CaptureQueriesContext(connection) as queries:
        whole = stream.snapshot(conversation.pk, 0)
    assert len(queries) == 2  # the conversation with its ticket, then its messages
    assert whole == expected(conversation.pk, 0)
    assert whole["ticket"]["status"] == "resolved" and whole["ticket"]["resolved_at"]
    assert whole["ticket"]["action_taken"] == "Refunded the second charge."
    assert [m["author"] for m in whole["messages"]][:1] == ["customer"]
    later = stream.snapshot(conversation.pk, first.pk)
    assert later == expected(conversation.pk, first.pk)
    assert first.pk not in [m["id"] for m in later["messages"]]


def test_a_conversation_without_messages_or_ticket_and_a_purged_one():
    conversation = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    assert stream.snapshot(conversation.pk, 0) == {"state": "assistant", "ticket": None, "messages": []}
    assert stream.snapshot(conversation.pk, 10**9) == expected(conversation.pk, 10**9)
    conversation.delete()
    assert stream.snapshot(conversation.pk, 0) is None


def test_a_long_conversation_comes_a_page_at_a_time_in_order():
    conversation = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    now = timezone.now()
    Message.objects.bulk_create(
        Message(conversation=conversation, author="customer", text=f"m{i}", channel="chat", created_at=now)
        for i in range(stream.PAGE + 5)
    )
    page = stream.snapshot(conversation.pk, 0)
    assert page == expected(conversation.pk, 0)
    assert len(page["messages"]) == stream.PAGE
    rest = stream.snapshot(conversation.pk, page["messages"][-1]["id"])
    assert [m["text"] for m in rest["messages"]] == [f"m{i}" for i in range(stream.PAGE, stream.PAGE + 5)]
