"""Live push to open widgets: a poke per conversation, carried by Redis pub/sub across processes.

A poke may carry news: the messages a transaction stored, each with the id of the message before
it, and the state the transaction left the conversation in. A widget's stream shows them without
reading the database when they follow on from what it has shown (and the state is unchanged);
otherwise, and for a bare poke, it reads the database (the truth), so nothing a poke could lose or
reorder is lost. With REDIS_URL unset, pokes stay inside this process.

Each web process keeps ONE Redis subscription (a pattern over all conversations) and fans pokes out
to the asyncio queues of its open widgets: a widget costs a queue, not a Redis connection.
"""

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TypedDict

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "loophole:chat:"
BARE = b"1"  # a poke without news: read the database


class NewMessage(TypedDict):
    id: int
    previous_id: int  # the conversation's message before this one (0: none, or not known)
    author: str
    text: str
    created_at: str


class News(TypedDict):
    state: str  # the conversation's state as the transaction left it
    messages: list[NewMessage]


_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[News | None]]]] = defaultdict(set)
_listener: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_publisher: redis.Redis | None = None
_held: contextvars.ContextVar[dict[int, list[News | None]] | None] = contextvars.ContextVar("push_held", default=None)


def news_of(shown: dict[str, Any], previous_id: int, state: str) -> News:
    """The news of one stored message: `shown`, the message as the widget shows it, with the id of
    the message before it."""
    return {"state": state, "messages": [{**shown, "previous_id": previous_id}]}  # type: ignore[list-item]


def _redis_publisher() -> redis.Redis:
    global _publisher
    if _publisher is None:
        _publisher = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _publisher


def _deliver_locally(conversation_id: int, news: News | None) -> None:
    with _lock:
        waiters = list(_waiters.get(conversation_id, ()))
    for loop, queue in waiters:
        with contextlib.suppress(RuntimeError):  # that loop has closed: its widget is gone
            loop.call_soon_threadsafe(queue.put_nowait, news)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Pokes made inside go out at the end, one per conversation: a message answered in the same
    request reaches its widget together with its answer."""
    pending: dict[int, list[News | None]] = {}
    token = _held.set(pending)
    try:
        yield
    finally:
        _held.reset(token)
        for conversation_id in sorted(pending):
            poke(conversation_id, _merged(pending[conversation_id]))


def _merged(items: list[News | None]) -> News | None:
    if not items or any(news is None for news in items):
        return None
    return {"state": items[-1]["state"], "messages": [m for news in items for m in news["messages"]]}  # type: ignore[index]


def poke(conversation_id: int, news: News | None = None) -> None:
    """Tell every open widget of this conversation, in any process, that something changed (and, with
    `news`, what)."""
    pending = _held.get()
    if pending is not None:
        pending.setdefault(conversation_id, []).append(news)
        return
    if settings.REDIS_URL:
        try:
            payload = BARE if news is None else json.dumps(news).encode()
            _redis_publisher().publish(f"{CHANNEL_PREFIX}{conversation_id}", payload)
            return
        except redis.RedisError:
            logger.warning("push: Redis unavailable, poking this process only")
    _deliver_locally(conversation_id, news)


def _parse(payload: bytes) -> News | None:
    if payload == BARE:
        return None
    try:
        news = json.loads(payload)
    except ValueError:
        return None
    return news if isinstance(news, dict) and isinstance(news.get("messages"), list) else None


async def _listen() -> None:
    """The process's one subscription, kept alive across Redis restarts.

    redis-py can turn a cancellation inside a read into a connection error or swallow it, so the
    loops ask the task itself whether it is being cancelled: a cancelled listener always ends.
    """
    task = asyncio.current_task()
    assert task is not None
    while not task.cancelling():
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
            while not task.cancelling():
                # Short reads rather than listen(): the task stays cancellable between them.
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if item is None or item.get("type") != "pmessage":
                    continue
                channel = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
                with contextlib.suppress(ValueError):
                    _deliver_locally(int(channel.removeprefix(CHANNEL_PREFIX)), _parse(item["data"]))
        except (redis.RedisError, OSError):
            logger.warning("push: Redis subscription lost, retrying")
            await asyncio.sleep(1)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(_close(client, pubsub)), 2)
    raise asyncio.CancelledError


async def _close(client: aioredis.Redis, pubsub: object) -> None:
    await pubsub.aclose()  # type: ignore[attr-defined]
    await client.aclose()


class Subscription:
    """`async with Subscription(cid) as sub: await sub.wait(timeout)` -> True when poked;
    `await sub.next(timeout)` -> the pokes since the last call (None: a bare poke), or None on timeout."""

    def __init__(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.queue: asyncio.Queue[News | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    async def __aenter__(self) -> "Subscription":
        with _lock:
            _waiters[self.conversation_id].add((self.loop, self.queue))
        if settings.REDIS_URL:
            task = _listener.get(self.loop)
            if task is None or task.done():
                _listener[self.loop] = self.loop.create_task(_listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        with _lock:
            waiters = _waiters.get(self.conversation_id)
            if waiters is not None:
                waiters.discard((self.loop, self.queue))
                if not waiters:
                    del _waiters[self.conversation_id]

    async def next(self, timeout: float) -> list[News | None] | None:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        items = [first]
        while not self.queue.empty():  # several pokes at once are handled together
            items.append(self.queue.get_nowait())
        return items

    async def wait(self, timeout: float) -> bool:
        return await self.next(timeout) is not None


def open_widgets() -> int:
    with _lock:
        return sum(len(w) for w in _waiters.values())
