"""Live push to an open widget: server-sent events with resume, and the long-poll fallback.

Runs the real ASGI handler in-process; with REDIS_URL set the pokes travel through Redis pub/sub.
"""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from tests.channels_io.sse import events
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@sync_to_async
def handed_off_chat():
    customer = UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer)
    ticket_services.store_customer_message(conversation.pk, "I was charged twice")
    ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice")
    return customer, conversation, ticket


async def test_a_staff_reply_reaches_an_open_event_stream_within_two_seconds():
    customer, conversation, ticket = await handed_off_chat()
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    first = await events(response, 2)
    assert [name for name, _data, _id in first] == ["message", "state"]
    assert first[1][1]["ticket"]["id"] == ticket.reference

    started = time.monotonic()
    staff = await sync_to_async(StaffFactory)()
    await sync_to_async(ticket_services.add_staff_reply)(ticket.pk, staff=staff, text="Hi, Sam from Loophole here.")
    pushed = await events(response, 2, timeout=2.0)
    assert time.monotonic() - started < 2.0
    message = next(data for name, data, _id in pushed if name == "message")
    assert (message["author"], message["text"]) == ("staff", "Hi, Sam from Loophole here.")
    state = next(data for name, data, _id in pushed if name == "state")
    assert state["ticket"]["status"] == "in_progress"


async def test_last_event_id_resumes_after_the_last_message_seen():
    customer, conversation, ticket = await handed_off_chat()
    staff = await sync_to_async(StaffFactory)()
    seen = await sync_to_async(ticket_services.add_staff_reply)(ticket.pk, staff=staff, text="first")
    await sync_to_async(ticket_services.add_staff_reply)(ticket.pk, staff=staff, text="second")
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    response = await client.get(
        f"/chat/conversations/{conversation.pk}/events/", headers={"Last-Event-ID": str(seen.pk)}
    )
    got = await events(response, 1)
    assert got[0][0] == "message" and got[0][1]["text"] == "second" and int(got[0][2]) > seen.pk


async def test_a_long_poll_returns_as_soon_as_a_message_arrives():
    customer, conversation, ticket = await handed_off_chat()
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    latest = await sync_to_async(lambda: conversation.messages.order_by("-id").first().pk)()
    staff = await sync_to_async(StaffFactory)()

    async def reply_soon():
        await asyncio.sleep(0.3)
        await sync_to_async(ticket_services.add_staff_reply)(ticket.pk, staff=staff, text="polled")

    task = asyncio.ensure_future(reply_soon())
    started = time.monotonic()
    response = await client.get(f"/chat/conversations/{conversation.pk}/poll/?after={latest}&wait=10")
    await task
    assert time.monotonic() - started < 5
    assert [m["text"] for m in response.json()["messages"]] == ["polled"]


async def test_a_stranger_cannot_open_the_event_stream():
    _customer, conversation, _ticket = await handed_off_chat()
    client = AsyncClient()
    await sync_to_async(client.force_login)(await sync_to_async(UserFactory)())
    response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    assert response.status_code == 404
    anonymous = await AsyncClient().get(f"/chat/conversations/{conversation.pk}/events/")
    assert anonymous.status_code == 401


async def test_static_files_are_served_on_the_async_path_too():
    response = await AsyncClient().get("/static/css/site.css")
    assert response.status_code == 200
    content = response.streaming_content
    chunks = [chunk async for chunk in content] if hasattr(content, "__aiter__") else list(content)
    assert b"--brand" in b"".join(chunks)


async def test_an_idle_stream_heartbeats_and_ends_once_its_conversation_is_purged(settings):
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 0.05
    customer, conversation, _ticket = await handed_off_chat()
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    await events(response, 2)  # the message and the state
    await sync_to_async(conversation.delete)()  # purged without a poke: found at a later re-read
    assert [name for name, _data, _id in await events(response, 1)] == ["gone"]


async def test_the_redis_listener_ends_whenever_it_is_cancelled(requires_redis):
    """redis-py can swallow a cancellation that lands inside a read; the listener must end anyway,
    or a server shutting down (and the test runner's loop) waits on it for ever."""
    from channels_io import push

    loop = asyncio.get_running_loop()
    for attempt in range(60):
        listener = loop.create_task(push._listen())
        await asyncio.sleep(0.001 + (attempt % 10) * 0.0002)  # while it connects, subscribes, reads
        listener.cancel()
        done, _pending = await asyncio.wait({listener}, timeout=3)
        assert done, f"attempt {attempt}: the cancelled listener is still running"
        assert listener.cancelled()
