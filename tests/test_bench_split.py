"""The benches' split server (bench/_common.py): nginx sends every stream to uvicorn and nothing else."""

import re

import pytest
from asgiref.sync import iscoroutinefunction
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import bench_module

STREAMS = [re.compile(location.removeprefix("~ ")) for location in bench_module("_common").STREAM_LOCATIONS]


def routes(patterns: list, prefix: str = "/") -> list[tuple[str, object]]:
    """(path, view) of every URL pattern, each path converter filled with 7."""
    found = []
    for pattern in patterns:
        here = prefix + re.sub(r"<(?:\w+:)?\w+>", "7", str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            found += routes(pattern.url_patterns, here)
        elif isinstance(pattern, URLPattern):
            found.append((here, pattern.callback))
    return found


def streamed(path: str) -> bool:
    return any(location.match(path) for location in STREAMS)


def test_every_async_view_and_the_desks_streams_go_to_uvicorn():
    views = routes(get_resolver().url_patterns)
    # the desk's views are sync and answer with an async iterator: a WSGI server cannot send it
    streams = [path for path, view in views if iscoroutinefunction(view) or view.__module__ == "channels_io.desk"]
    assert {"/chat/conversations/7/events/", "/chat/conversations/7/poll/", "/admin/tickets/ticket/7/events/",
            "/admin/tickets/ticket/events/"} <= set(streams)  # fmt: skip
    assert [path for path in streams if not streamed(path)] == []


@pytest.mark.parametrize(
    "path",
    ["/chat/conversations/7/messages/", "/chat/conversations/", "/chat/tickets/", "/channels/sms/inbound", "/healthz",
     "/admin/tickets/ticket/7/change/", "/chat/conversations/7/events/x", "/x/chat/conversations/7/events/",
     "/chat/conversations/seven/events/"],
    ids=["messages", "conversations", "tickets", "sms", "healthz", "admin-change", "suffix", "prefix", "not-an-id"],
)  # fmt: skip
def test_plain_views_go_to_gunicorn(path):
    assert not streamed(path)
