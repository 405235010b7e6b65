"""Live push to open widgets: a poke per conversation, carried by Redis pub/sub across processes.

A poke may carry news: the messages a transaction stored, each with the id of the message before
it, and the state the transaction left the conversation in. A widget's stream shows them without
reading the database when they follow on from what it has shown (and the state is unchanged);
otherwise, and for a bare poke, it reads the database (the truth), so nothing a poke could lose or
reorder is lost. With REDIS_URL unset, pokes stay inside this process.

Each web process keeps ONE Redis subscription (a pattern over all conversations) and fans pokes out
to the asyncio queues of its open widgets: a widget costs a queue, not a Redis connection. The same
subscription carries notices to a customer's open streams (see `Notice`), and to staff's ticket
lists the ids of changed tickets (see `poke_desk`).
"""

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TypedDict, cast

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "loophole:chat:"
CUSTOMER_PREFIX = f"{CHANNEL_PREFIX}customer:"  # inside the one subscription's pattern
DESK_CHANNEL = f"{CHANNEL_PREFIX}desk"  # likewise
DESK = 0  # the key of staff's ticket lists among the conversations' (whose ids start at 1)
BARE = b"1"  # a poke without news: read the database
NOTICES = frozenset({"check", "logout", "evict"})


class NewMessage(TypedDict):
    id: int
    previous_id: int  # the conversation's message before this one (0: none, or not known)
    author: str
    text: str
    created_at: str


class News(TypedDict):
    state: str  # the conversation's state as the transaction left it
    messages: list[NewMessage]


class Notice(TypedDict):
    """Word to one customer's open streams: `check` their session now; `logout`: the streams of the
    sessions in `about` (their digests) end; `evict`: the streams in `about` (their tokens) end."""

    notice: str
    about: list[str]


class Change(TypedDict):
    """Word to staff's ticket lists: this ticket changed (they read it themselves)."""

    ticket: int


Item = News | Notice | Change | None
Waiters = dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Item]]]]

_lock = threading.Lock()
_waiters: Waiters = defaultdict(set)
_customer_waiters: Waiters = defaultdict(set)
_listener: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_publishers: dict[str, redis.Redis] = {}
_held: contextvars.ContextVar[dict[int, list[News | None]] | None] = contextvars.ContextVar("push_held", default=None)


def news_of(shown: dict[str, Any], previous_id: int, state: str) -> News:
    """The news of one stored message: `shown`, the message as the widget shows it, with the id of
    the message before it."""
    message = cast(NewMessage, {**shown, "previous_id": previous_id})  # shown: chat.stream.message_json()
    return {"state": state, "messages": [message]}


def redis_client() -> redis.Redis:
    """This process's client of REDIS_URL (thread-safe, short timeouts)."""
    url = settings.REDIS_URL
    client = _publishers.get(url)
    if client is None:
        client = _publishers[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return client


def _deliver_locally(key: int, item: Item, waiters_of: Waiters = _waiters) -> None:
    """To this process's widgets of conversation `key` (or, with `_customer_waiters`, of customer `key`)."""
    with _lock:
        waiters = list(waiters_of.get(key, ()))
    for loop, queue in waiters:
        with contextlib.suppress(RuntimeError):  # that loop has closed: its widget is gone
            loop.call_soon_threadsafe(queue.put_nowait, item)


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
    present = [news for news in items if news is not None]
    if not items or len(present) < len(items):
        return None
    return {"state": present[-1]["state"], "messages": [m for news in present for m in news["messages"]]}


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
            redis_client().publish(f"{CHANNEL_PREFIX}{conversation_id}", payload)
            return
        except redis.RedisError:
            logger.warning("push: Redis unavailable, poking this process only")
    _deliver_locally(conversation_id, news)


def poke_desk(ticket_id: int) -> None:
    """Tell every open ticket list of staff, in any process, that this ticket changed."""
    change: Change = {"ticket": ticket_id}
    if settings.REDIS_URL:
        try:
            redis_client().publish(DESK_CHANNEL, json.dumps(change).encode())
            return
        except redis.RedisError:
            logger.warning("push: Redis unavailable, poking this process's ticket lists only")
    _deliver_locally(DESK, change)


def changed_tickets(items: list[Item]) -> list[int]:
    """The ids of the tickets the `Change`s among a subscription's items name, each once, in order."""
    return list(dict.fromkeys(item["ticket"] for item in items if item is not None and "ticket" in item))  # type: ignore[typeddict-item]  # `"ticket" in item` picks Change out of Item; mypy narrows only @final TypedDicts


def notify(customer_id: int, notice: Notice) -> None:
    """Tell every open stream of this customer, in any process (in the order of pokes sent after it)."""
    if settings.REDIS_URL:
        try:
            redis_client().publish(f"{CUSTOMER_PREFIX}{customer_id}", json.dumps(notice).encode())
            return
        except redis.RedisError:
            logger.warning("push: Redis unavailable, telling this process's streams only")
    _deliver_locally(customer_id, notice, _customer_waiters)


def split(items: list[Item]) -> tuple[list[News | None], list[Notice]]:
    """The pokes and the notices among a subscription's items, each in their order (a `Change` counts
    as a bare poke)."""
    pokes: list[News | None] = []
    notices: list[Notice] = []
    for item in items:
        if item is not None and "notice" in item:
            notices.append(cast(Notice, item))
        elif item is not None and "ticket" in item:
            pokes.append(None)
        else:
            pokes.append(item)
    return pokes, notices


def _parse(payload: bytes) -> News | None:
    if payload == BARE:
        return None
    try:
        news = json.loads(payload)
    except ValueError:
        return None
    return cast(News, news) if isinstance(news, dict) and isinstance(news.get("messages"), list) else None


def _parse_notice(payload: bytes) -> Notice | None:
    try:
        notice = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(notice, dict) or notice.get("notice") not in NOTICES or not isinstance(notice.get("about"), list):
        return None
    return {"notice": notice["notice"], "about": [str(x) for x in notice["about"]]}


def _parse_change(payload: bytes) -> Change | None:
    try:
        change = json.loads(payload)
    except ValueError:
        return None
    ticket = change.get("ticket") if isinstance(change, dict) else None
    return {"ticket": ticket} if type(ticket) is int else None


def _route(channel: str, payload: bytes) -> None:
    """Hand a message of the subscription to this process's streams of its conversation or customer,
    or to its ticket lists."""
    if channel == DESK_CHANNEL:
        change = _parse_change(payload)
        if change is not None:
            _deliver_locally(DESK, change)
        return
    if channel.startswith(CUSTOMER_PREFIX):
        notice = _parse_notice(payload)
        if notice is not None:
            with contextlib.suppress(ValueError):
                _deliver_locally(int(channel.removeprefix(CUSTOMER_PREFIX)), notice, _customer_waiters)
        return
    with contextlib.suppress(ValueError):
        _deliver_locally(int(channel.removeprefix(CHANNEL_PREFIX)), _parse(payload))


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
                _route(channel, item["data"])
        except (redis.RedisError, OSError):
            logger.warning("push: Redis subscription lost, retrying")
            await asyncio.sleep(1)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(_close(client, pubsub)), 2)
    raise asyncio.CancelledError


async def _close(client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> None:
    await pubsub.aclose()
    await client.aclose()


class Subscription:
    """`async with Subscription(cid) as sub: await sub.wait(timeout)` -> True when poked;
    `await sub.next(timeout)` -> the pokes since the last call (None: a bare poke), or None on timeout.
    With `customer_id`, the customer's notices come in the same queue, in order with the pokes."""

    def __init__(self, conversation_id: int, customer_id: int | None = None) -> None:
        self.conversation_id = conversation_id
        self.customer_id = customer_id
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    async def __aenter__(self) -> "Subscription":
        with _lock:
            _waiters[self.conversation_id].add((self.loop, self.queue))
            if self.customer_id is not None:
                _customer_waiters[self.customer_id].add((self.loop, self.queue))
        if settings.REDIS_URL:
            task = _listener.get(self.loop)
            if task is None or task.done():
                _listener[self.loop] = self.loop.create_task(_listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        with _lock:
            _discard(_waiters, self.conversation_id, (self.loop, self.queue))
            if self.customer_id is not None:
                _discard(_customer_waiters, self.customer_id, (self.loop, self.queue))

    async def next(self, timeout: float) -> list[Item] | None:
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


def _discard(waiters_of: Waiters, key: int, entry: tuple[asyncio.AbstractEventLoop, asyncio.Queue[Item]]) -> None:
    waiters = waiters_of.get(key)
    if waiters is not None:
        waiters.discard(entry)
        if not waiters:
            del waiters_of[key]


def open_widgets() -> int:
    with _lock:
        return sum(len(w) for w in _waiters.values())
