"""Live push to open widgets: a poke per conversation, carried by Redis pub/sub across processes.

A poke carries no data: the listener reads the database (the truth) for what is new, so nothing a
poke could lose is lost. With REDIS_URL unset, pokes stay inside this process.

Each web process keeps ONE Redis subscription (a pattern over all conversations) and fans pokes out
to the asyncio queues of its open widgets: a widget costs a queue, not a Redis connection.
"""

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "loophole:chat:"

_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[None]]]] = defaultdict(set)
_listener: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_publisher: redis.Redis | None = None
_held: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("push_held", default=None)


def _redis_publisher() -> redis.Redis:
    global _publisher
    if _publisher is None:
        _publisher = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _publisher


def _deliver_locally(conversation_id: int) -> None:
    with _lock:
        waiters = list(_waiters.get(conversation_id, ()))
    for loop, queue in waiters:
        with contextlib.suppress(RuntimeError):  # that loop has closed: its widget is gone
            loop.call_soon_threadsafe(queue.put_nowait, None)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Pokes made inside go out at the end, once per conversation: a message answered in the same
    request reaches its widget together with its answer, in one read of the database."""
    pending: set[int] = set()
    token = _held.set(pending)
    try:
        yield
    finally:
        _held.reset(token)
        for conversation_id in sorted(pending):
            poke(conversation_id)


def poke(conversation_id: int) -> None:
    """Tell every open widget of this conversation, in any process, that something changed."""
    pending = _held.get()
    if pending is not None:
        pending.add(conversation_id)
        return
    if settings.REDIS_URL:
        try:
            _redis_publisher().publish(f"{CHANNEL_PREFIX}{conversation_id}", b"1")
            return
        except redis.RedisError:
            logger.warning("push: Redis unavailable, poking this process only")
    _deliver_locally(conversation_id)


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
                    _deliver_locally(int(channel.removeprefix(CHANNEL_PREFIX)))
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
    """`async with Subscription(cid) as sub: await sub.wait(timeout)` -> True when poked."""

    def __init__(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.queue: asyncio.Queue[None] = asyncio.Queue()
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

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return False
        while not self.queue.empty():  # several pokes at once read the database once
            self.queue.get_nowait()
        return True


def open_widgets() -> int:
    with _lock:
        return sum(len(w) for w in _waiters.values())
