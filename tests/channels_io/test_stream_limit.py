"""At most CHAT_STREAMS_PER_CUSTOMER open event streams per customer: one more closes the oldest, in
this process (no Redis) and across web processes (Redis); a stream that died without a word stops
counting; with Redis down the streams keep working."""

import http.client
import logging
import os
import sys
import time

import pytest
import redis
import time_machine
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import AsyncClient, Client

from channels_io.chat import leases
from tests.channels_io.sse import event_names, events, rest
from tests.conftest import ROOT, ServiceProcess, _database_url, free_port
from tests.environment import PRODUCT_VARIABLES
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LIMIT = 10  # the embedded default


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
def registry(request, settings):
    """Where the streams are counted: this process's memory (REDIS_URL unset), or Redis."""
    if request.param == "memory":
        settings.REDIS_URL = ""
    else:
        request.getfixturevalue("requires_redis")
    return request.param


def handed_off_chat(customer=None):
    customer = customer or UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer)
    ticket_services.store_customer_message(conversation.pk, "I was charged twice")
    ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice")
    return customer, conversation, ticket


async def open_streams(customer, conversation, count: int) -> list:
    """`count` widgets of one customer (one session each), opened one after another."""
    responses = []
    for _ in range(count):
        client = AsyncClient()
        await sync_to_async(client.force_login)(customer)
        response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
        assert response.status_code == 200
        assert [name for name, _data, _id in await events(response, 2)] == ["message", "state"]
        responses.append(response)
    return responses


async def reply(ticket, text: str) -> None:
    await sync_to_async(ticket_services.add_staff_reply)(
        ticket.pk, staff=await sync_to_async(StaffFactory)(), text=text
    )


async def received(response) -> list[str]:
    return [data["text"] for name, data, _id in await events(response, 1) if name == "message"]


@pytest.mark.anyio
async def test_one_stream_more_than_the_limit_closes_the_oldest_and_the_newest_keep_receiving(registry):
    customer, conversation, ticket = await sync_to_async(handed_off_chat)()
    oldest, *newest = await open_streams(customer, conversation, LIMIT + 1)
    sent = await rest(oldest)
    assert "retry: 30000" in sent and not event_names(sent)  # closed, told to come back slowly
    _stranger, theirs, _their_ticket = await sync_to_async(handed_off_chat)()
    await open_streams(_stranger, theirs, 1)  # another customer's streams count apart

    await reply(ticket, "to every open widget")
    for response in newest:
        assert await received(response) == ["to every open widget"]


@pytest.mark.anyio
async def test_a_limit_from_the_setting_is_kept(registry, settings):
    settings.CHAT_STREAMS_PER_CUSTOMER = 2
    customer, conversation, ticket = await sync_to_async(handed_off_chat)()
    first, second, third = await open_streams(customer, conversation, 3)
    await rest(first)
    await reply(ticket, "two left")
    assert [await received(second), await received(third)] == [["two left"], ["two left"]]


@pytest.mark.anyio
async def test_streams_that_died_without_a_word_stop_counting(registry):
    """Widgets of a crashed process never say goodbye; once stale they must not push out live ones."""
    customer, conversation, ticket = await sync_to_async(handed_off_chat)()
    live = await open_streams(customer, conversation, LIMIT // 2)
    long_ago = time.time() - 3600
    for _ in range(LIMIT // 2):  # opened after the live ones, heard of last an hour ago
        lease = leases.Lease(customer_id=customer.pk, session_key="x" * 32)
        with time_machine.travel(long_ago, tick=False):
            await sync_to_async(leases.hold)(lease)
    newer = await open_streams(customer, conversation, LIMIT // 2)
    await reply(ticket, "nobody was pushed out")
    for response in live + newer:
        assert await received(response) == ["nobody was pushed out"]


@pytest.mark.anyio
async def test_with_redis_down_streams_still_work_and_it_is_logged_once(settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    customer, conversation, ticket = await sync_to_async(handed_off_chat)()
    with caplog.at_level(logging.WARNING, logger="channels_io.chat.leases"):
        streams = await open_streams(customer, conversation, LIMIT + 2)  # not limited: fail open
        await reply(ticket, "despite Redis")
        for response in streams:
            assert await received(response) == ["despite Redis"]
    warnings = [r for r in caplog.records if r.name == "channels_io.chat.leases"]
    assert len(warnings) == 1 and "not limited" in warnings[0].getMessage()


class Stream:
    """An SSE stream read over HTTP from a real server."""

    def __init__(self, origin: str, path: str, cookie: str) -> None:
        host, port = origin.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        self.connection.request("GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()[:500]

    def read_until(self, needle: str) -> str:
        """What arrives until `needle` has, or until the stream closes (then ending in "<closed>")."""
        text = ""
        while needle not in text:
            line = self.response.readline()
            if not line:
                return text + "<closed>"
            text += line.decode()
        return text

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def web(requires_postgres, requires_redis, tmp_path):
    """Start uvicorn processes on the test database and Redis; returns their origins."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=requires_redis,
        SECRET_KEY=django_settings.SECRET_KEY,  # signs the sessions the test writes
        DEBUG="true",
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="loophole.settings",
        PYTHONPATH=str(ROOT),
    )
    started = []

    def start(count: int) -> list[str]:
        origins = []
        for n in range(count):
            port = free_port()
            args = [sys.executable, "-m", "uvicorn", "loophole.asgi:application", "--host", "127.0.0.1"]
            args += ["--port", str(port), "--lifespan", "off", "--timeout-graceful-shutdown", "1"]
            started.append(ServiceProcess(f"web{n}", args, env, tmp_path / f"web{n}.log"))
            origins.append(f"http://127.0.0.1:{port}")
        for service in started:
            service.wait_for_output("Uvicorn running")
        return origins

    yield start
    for service in started:
        service.stop()


def session_cookie(customer) -> str:
    client = Client()
    client.force_login(customer)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"


def test_across_web_processes_one_stream_more_closes_the_oldest_and_a_logout_closes_its_stream(web):
    first, second = web(2)
    customer, conversation, ticket = handed_off_chat()
    path = f"/chat/conversations/{conversation.pk}/events/"
    cookies = [session_cookie(customer) for _ in range(LIMIT + 1)]
    streams = []
    try:
        for n, cookie in enumerate(cookies):  # the oldest on the first server, the one too many on the second
            streams.append(Stream(first if n % 2 == 0 else second, path, cookie))
            streams[-1].read_until("event: state")
        assert streams[0].read_until("<closed>").endswith("retry: 30000\n: closed by a newer stream\n\n<closed>")

        # A logout through the second server closes that session's stream on the first.
        logout = http.client.HTTPConnection("127.0.0.1", int(second.rsplit(":", 1)[1]), timeout=10)
        logout.request(
            "POST",
            "/accounts/logout/",
            headers={"Cookie": f"{cookies[2]}; csrftoken={'c' * 32}", "X-CSRFToken": "c" * 32},
        )
        assert logout.getresponse().status == 302
        assert streams[2].read_until("<closed>").endswith(": logged out\n\n<closed>")

        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="across processes")
        for stream in streams[1:2] + streams[3:]:
            assert '"across processes"' in stream.read_until("across processes")
    finally:
        for stream in streams:
            stream.close()


def test_a_stream_of_another_customer_is_never_counted_against_this_one(registry):
    customer, stranger = UserFactory(), UserFactory()
    mine = [leases.Lease(customer_id=customer.pk, session_key="a" * 32) for _ in range(LIMIT)]
    assert all(leases.hold(lease) for lease in mine)
    assert leases.hold(leases.Lease(customer_id=stranger.pk, session_key="b" * 32))
    assert all(leases.hold(lease) for lease in mine)  # still among the customer's newest
    if registry == "redis":
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        assert client.zcard(f"{leases.KEY_PREFIX}:{customer.pk}:opened") == LIMIT
