"""The ASGI application: async views on Django's async handler, the rest in one thread hop; the
cache's Redis connections shared by all requests of a process."""

import json

import pytest
import redis
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache

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
