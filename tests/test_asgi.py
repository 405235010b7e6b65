"""The ASGI application: async views on Django's async handler, the rest in one thread hop; the
cache's Redis connections shared by all requests of a process."""

import json
import threading

import pytest
import redis
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path as route

from loophole.asgi import application, is_async_path
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/chat/conversations/7/events/", True),
        ("/chat/conversations/7/poll/", True),
        ("/chat/conversations/7/messages/", False),
        ("/chat/conversations/", False),
        ("/channels/sms/inbound", False),
        ("/healthz", False),
        ("/no/such/page/", False),
        ("/static/js/widget.js", True),
    ],
    ids=["events", "poll", "messages", "conversations", "sms", "healthz", "unknown", "static"],
)
def test_requests_go_to_the_handler_their_view_needs(path, expected):
    assert is_async_path(path) is expected


async def asgi_request(
    method: str, path: str, body: bytes = b"", headers: list | None = None
) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *(headers or [])], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(10)
    chunks = []
    while True:
        message = await communicator.receive_output(10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, b"".join(chunks)


async def test_a_sync_view_answers_through_the_application():
    status, _headers, body = await asgi_request("GET", "/healthz")
    assert status == 200 and body


async def test_a_chat_message_posted_through_the_application_is_stored_with_session_and_csrf(settings):
    from django.test import Client

    customer = await sync_to_async(UserFactory)()
    client = Client()
    await sync_to_async(client.force_login)(customer)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    token = "t" * 32
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={token}".encode()
    base = [(b"cookie", cookie), (b"x-csrftoken", token.encode()), (b"content-type", b"application/json")]
    status, _, body = await asgi_request("POST", "/chat/conversations/", headers=base)
    assert status == 201, body
    conversation_id = json.loads(body)["id"]
    message = json.dumps({"text": "how do I reset my password?"}).encode()
    path = f"/chat/conversations/{conversation_id}/messages/"
    status, _, body = await asgi_request("POST", path, message, base)
    assert status == 201, body
    assert json.loads(body)["text"] == "how do I reset my password?"
    status, _, body = await asgi_request("POST", path, message, [h for h in base if h[0] != b"x-csrftoken"])
    assert status == 403 and json.loads(body)["error"]  # no CSRF token: refused, as JSON


def test_cache_clients_of_every_request_share_one_redis_pool(requires_redis, settings):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    first = RedisCache(settings.CACHES["default"]["LOCATION"], settings.CACHES["default"])
    second = RedisCache(settings.CACHES["default"]["LOCATION"], settings.CACHES["default"])
    first.set("shared-pool", 1)
    assert second.get("shared-pool") == 1
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)
    assert isinstance(caches["default"], RedisCache)


async def test_many_requests_open_few_redis_connections(requires_redis):
    await sync_to_async(cache.set)("warm", 1)
    admin = redis.Redis.from_url(requires_redis)
    before = admin.info("stats")["total_connections_received"]
    customer = await sync_to_async(UserFactory)()
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(customer)
    from django.conf import settings

    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={'t' * 32}"
    headers = [(b"cookie", cookie.encode()), (b"x-csrftoken", b"t" * 32), (b"content-type", b"application/json")]
    status, _, body = await asgi_request("POST", "/chat/conversations/", headers=headers)
    conversation_id = json.loads(body)["id"]
    for n in range(20):
        body = json.dumps({"text": f"question {n}"}).encode()
        status, _, _ = await asgi_request("POST", f"/chat/conversations/{conversation_id}/messages/", body, headers)
        assert status == 201
    opened = admin.info("stats")["total_connections_received"] - before
    assert opened < 10, f"{opened} Redis connections for 20 requests"


# Sync views of this module's own (ROOT_URLCONF = this module), each noting the thread it ran in.
seen: list[tuple[str, int]] = []


def plain_view(request):
    seen.append(("view", threading.get_ident()))
    return HttpResponse(str(connection.cursor().connection is not None))


def streaming_view(request):
    def chunks():
        for n in range(3):
            with connection.cursor() as cursor:  # the database, read while the response is being sent
                cursor.execute("SELECT %s", [n])
                yield f"{cursor.fetchone()[0]},"
        seen.append(("streamed", threading.get_ident()))

    return StreamingHttpResponse(chunks())


def broken_view(request):
    raise RuntimeError("boom")


urlpatterns = [route("plain/", plain_view), route("streaming/", streaming_view), route("broken/", broken_view)]


@pytest.fixture
def signals_seen(settings):
    settings.ROOT_URLCONF = __name__
    seen.clear()

    def started(**_kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**_kwargs):  # after Django's own receiver, which closes the thread's connection
        seen.append(("finished", threading.get_ident()))
        in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()  # SQLite's is never closed
        seen.append(("connection given back", int(connection.connection is None or in_memory)))

    request_started.connect(started)
    request_finished.connect(finished)
    yield seen
    request_started.disconnect(started)
    request_finished.disconnect(finished)


async def test_a_sync_request_runs_start_view_and_finish_in_one_thread_and_gives_its_connection_back(signals_seen):
    for _ in range(3):
        signals_seen.clear()
        status, _, body = await asgi_request("GET", "/plain/")
        assert (status, body) == (200, b"True")
        assert signals_seen.pop() == ("connection given back", 1)  # to the pool, not kept by an idle thread
        assert [name for name, _ in signals_seen] == ["started", "view", "finished"]
        assert len({thread for _, thread in signals_seen}) == 1


@pytest.mark.filterwarnings("error::Warning")  # Django's warning about reading a sync iterator elsewhere
async def test_a_streaming_sync_response_is_read_in_its_request_thread_then_closed(signals_seen):
    status, _, body = await asgi_request("GET", "/streaming/")
    assert (status, body) == (200, b"0,1,2,")
    names = [name for name, _ in signals_seen]
    assert names == ["started", "streamed", "finished", "connection given back"]  # closed after it was read
    threads = {thread for name, thread in signals_seen if name != "connection given back"}
    assert len(threads) == 1  # on the view's own thread, and so its own database connection


async def test_a_failing_sync_view_answers_500_and_still_finishes_the_request(signals_seen, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    status, _, _ = await asgi_request("GET", "/broken/")
    assert status == 500
    assert [name for name, _ in signals_seen] == ["started", "finished", "connection given back"]
