"""News on a poke: a widget's stream shows the messages a poke carries without reading the database
only when they follow on from what it has shown; anything else is read from the rows."""

import pytest
from asgiref.sync import sync_to_async
from django.dispatch import receiver
from django.test import AsyncClient
from django.utils import timezone

from channels_io import push
from channels_io.chat.stream import following_on, message_json
from tests.channels_io.sse import events
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services
from tickets import signals
from tickets.models import Conversation, Message


def news(state: str = "assistant", *messages: tuple[int, int]) -> push.News:
    """News of messages given as (id, previous_id)."""
    return {
        "state": state,
        "messages": [
            {
                "id": mid,
                "previous_id": prev,
                "author": "assistant",
                "text": f"m{mid}",
                "created_at": "2026-01-01T00:00:00+00:00",
            }
            for mid, prev in messages
        ],
    }


PLAIN = ("assistant", None)


@pytest.mark.parametrize(
    ("pokes", "after", "last_state", "shown"),
    [
        ([news("assistant", (11, 10), (12, 11))], 10, PLAIN, [11, 12]),
        ([news("assistant", (11, 10)), news("assistant", (12, 11))], 10, PLAIN, [11, 12]),
        ([news("assistant", (9, 8), (10, 9))], 10, PLAIN, []),  # told already by a read
        ([news("assistant", (10, 9), (11, 10))], 10, PLAIN, [11]),  # partly told already
        ([news("handed_off", (9, 8))], 10, PLAIN, []),  # a stale state with stale messages changes nothing
    ],
    ids=["one-poke", "two-pokes", "all-seen", "partly-seen", "stale-state"],
)
def test_news_that_follows_on_is_shown_as_it_is(pokes, after, last_state, shown):
    view = following_on(pokes, after, last_state)
    assert view is not None
    assert [m["id"] for m in view["messages"]] == shown
    assert view["state"] == "assistant" and view["ticket"] is None
    assert all(set(m) == {"id", "author", "text", "created_at"} for m in view["messages"])


@pytest.mark.parametrize(
    ("pokes", "after", "last_state"),
    [
        ([news("assistant", (12, 11))], 10, PLAIN),  # 11 is not in the news
        ([news("assistant", (12, 11)), news("assistant", (11, 10))], 10, PLAIN),  # arrived out of order
        ([news("assistant", (11, 10)), None], 10, PLAIN),  # a bare poke: something without news changed
        ([news("ticket_offered", (11, 10))], 10, PLAIN),  # the state changed
        ([news("handed_off", (11, 10))], 10, ("handed_off", {"reference": "LH-1"})),  # the ticket card is read
        ([news("assistant", (11, 10))], 10, None),  # nothing shown yet
        ([news("assistant", (11, 0))], 10, PLAIN),  # the previous message is not known
    ],
    ids=["gap", "out-of-order", "bare-poke", "state-changed", "has-ticket", "no-state-yet", "previous-unknown"],
)
def test_anything_else_is_read_from_the_database(pokes, after, last_state):
    assert following_on(pokes, after, last_state) is None


@pytest.mark.django_db
def test_each_stored_message_knows_the_one_before_it(django_capture_on_commit_callbacks):
    stored: list[tuple[int, int, str]] = []

    @receiver(signals.message_stored, weak=False)
    def record(sender, message_id, previous_id, state, **kwargs):
        stored.append((message_id, previous_id, state))

    try:
        customer = UserFactory()
        conversation = ticket_services.open_conversation(channel="chat", customer=customer)
        with django_capture_on_commit_callbacks(execute=True):
            first, _ = ticket_services.store_customer_message(conversation.pk, "I was charged twice")
            locked = Conversation.objects.get(pk=conversation.pk)
            reply = ticket_services.store_reply(locked, "Sorry to hear that.", reply_to=first)
            ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Twice")
            staff_reply = ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="On it.")
    finally:
        signals.message_stored.disconnect(record)
    assert [(m, p) for m, p, _ in stored] == [(first.pk, 0), (reply.pk, first.pk), (staff_reply.pk, reply.pk)]
    assert stored[-1][2] == "handed_off"
    assert Conversation.objects.get(pk=conversation.pk).last_message_id == staff_reply.pk
    assert Message.objects.filter(conversation=conversation).latest("pk").pk == staff_reply.pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_news_that_skips_a_message_is_not_shown_and_the_rows_are(anyio_backend):
    customer = await sync_to_async(UserFactory)()
    conversation = await sync_to_async(ticket_services.open_conversation)(channel="chat", customer=customer)
    first, _ = await sync_to_async(ticket_services.store_customer_message)(conversation.pk, "hello")
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    opened = await events(response, 2)
    assert [name for name, _data, _id in opened] == ["message", "state"]

    # News claiming a message after one the widget has not seen: the stream must check the rows.
    forged = news("assistant", (first.pk + 1000, first.pk + 999))
    forged["messages"][0]["text"] = "forged"
    await sync_to_async(push.poke)(conversation.pk, forged)
    real, _ = await sync_to_async(ticket_services.store_customer_message)(conversation.pk, "second")
    shown = await events(response, 1)
    assert [(name, data["id"], data["text"]) for name, data, _id in shown] == [("message", real.pk, "second")]
    await response.streaming_content.aclose()


def test_news_of_a_message_has_the_widgets_shape():
    message = Message(pk=7, author="assistant", text="Hi", created_at=timezone.now())
    assert push.news_of(message_json(message), 6, "assistant")["messages"][0] == {
        "id": 7,
        "previous_id": 6,
        "author": "assistant",
        "text": "Hi",
        "created_at": message.created_at.isoformat(),
    }
