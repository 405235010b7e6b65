"""What loophole/asgi.py relies on from Django's ASGI handler, one test per internal listed at its top:
each fails when a Django release changes what the module was written against."""

import hashlib
import inspect
import io

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, ASGIRequest, get_script_prefix
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from loophole.asgi import SyncStackHandler

# The Django code SyncStackHandler replaces with its own. When one of these changes, compare the new
# code with SyncStackHandler (__init__, __call__, respond), carry the change over, then update the digest.
REPLACED = {
    "ASGIHandler.__init__": (ASGIHandler.__init__, "41379d4f4b69f900"),
    "ASGIHandler.handle": (ASGIHandler.handle, "98faeb5bef800331"),
    "ASGIHandler.run_get_response": (ASGIHandler.run_get_response, "0234ea5fe09a5777"),
}


def scope(path: str = "/healthz", root_path: str = "", query: bytes = b"") -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": root_path,
        "headers": [(b"host", b"127.0.0.1:8000")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


def receiving(*messages: dict):
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return receive


@pytest.mark.parametrize("name", sorted(REPLACED))
def test_the_django_code_the_sync_handler_replaces_is_the_code_it_was_written_against(name):
    function, digest = REPLACED[name]
    assert hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16] == digest, (
        f"Django's {name} changed: re-read loophole.asgi.SyncStackHandler against it"
    )


def test_the_sync_handler_sets_up_everything_djangos_handler_does_with_a_sync_chain():
    ours, django = SyncStackHandler(), ASGIHandler()
    assert set(vars(django)) <= set(vars(ours))
    assert ours._middleware_chain is not None and not inspect.iscoroutinefunction(ours._middleware_chain)
    assert isinstance(ASGIHandler.chunk_size, int) and ASGIHandler.chunk_size > 0


def test_read_body_gives_the_body_as_a_file_at_its_start():
    handler = SyncStackHandler()
    receive = receiving(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    )
    body = async_to_sync(handler.read_body)(receive)
    assert body.read() == b"abcd"


@pytest.mark.parametrize(
    "before", [[], [{"type": "http.request", "body": b"ab", "more_body": True}]], ids=["at-once", "mid-body"]
)
def test_read_body_takes_a_disconnect_as_the_client_gone(before):
    handler = SyncStackHandler()
    with pytest.raises(RequestAborted):
        async_to_sync(handler.read_body)(receiving(*before, {"type": "http.disconnect"}))


def test_djangos_handler_sends_nothing_for_a_request_whose_body_ends_in_a_disconnect():
    """What BodyLimit relies on: it sends its 413 after Django's handler has given up on the request."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    receive = receiving({"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"})
    async_to_sync(ASGIHandler())(scope(), receive, send)
    assert sent == []


def test_create_request_gives_a_request_or_the_response_refusing_it():
    handler = SyncStackHandler()
    request, refusal = handler.create_request(scope(), io.BytesIO())
    assert isinstance(request, ASGIRequest) and refusal is None
    request, refusal = handler.create_request(scope(query=b"q=\xff"), io.BytesIO())  # not UTF-8
    assert request is None and refusal is not None and refusal.status_code == 400


def test_send_response_sends_the_start_then_the_body():
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    response = HttpResponse(b"hello", content_type="text/plain")
    async_to_sync(SyncStackHandler().send_response)(response, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert (b"Content-Type", b"text/plain") in sent[0]["headers"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"hello"
    assert not sent[-1].get("more_body", False)


def test_get_script_prefix_is_the_scopes_root_path(settings):
    settings.FORCE_SCRIPT_NAME = None
    assert get_script_prefix(scope(root_path="/support")) == "/support"
    assert get_script_prefix(scope()) == ""


def test_closing_a_response_sends_request_finished_from_its_handler_class():
    senders: list[object] = []

    def finished(sender, **kwargs):
        senders.append(sender)

    request_finished.disconnect(close_old_connections)  # no database here (as Django's test client does)
    request_finished.connect(finished)
    try:
        response = HttpResponse()
        response._handler_class = SyncStackHandler
        response.close()
    finally:
        request_finished.disconnect(finished)
        request_finished.connect(close_old_connections)
    assert senders == [SyncStackHandler]


def test_a_file_response_reads_in_blocks_of_its_block_size():
    response = FileResponse(io.BytesIO(b"x" * 10))
    response.block_size = 4
    assert [len(chunk) for chunk in response] == [4, 4, 2]


def test_a_streaming_response_given_an_async_iterator_is_async():
    async def chunks():
        yield b"a"

    response = StreamingHttpResponse(iter([b"a"]))
    assert not response.is_async
    response.streaming_content = chunks()
    assert response.is_async
