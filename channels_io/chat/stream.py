"""What an open widget is shown: its conversation read in two statements, and the event stream that
keeps it live from pokes (their news when it follows on, the database otherwise) for as long as its
session logs the customer in and newer streams of the customer leave it open (see leases)."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, overload

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from channels_io import push
from channels_io.chat import away, leases
from tickets import selectors
from tickets.models import Conversation, Message, Ticket

logger = logging.getLogger(__name__)

REREAD_HEARTBEATS = 4  # an idle stream reads the conversation once a minute, not at every heartbeat
PAGE = 200
LOGGED_OUT, EVICTED = "logged out", "evicted"
# An evicted widget comes back (EventSource reconnects by itself) only after this: a customer with
# more widgets open than the limit sees them take turns slowly, not evict each other every few seconds.
ENDINGS = {LOGGED_OUT: ": logged out\n\n", EVICTED: "retry: 30000\n: closed by a newer stream\n\n"}


HEARTBEAT = ": heartbeat\n\n"
GONE = "event: gone\ndata: {}\n\n"


def opening() -> str:
    """A stream's first lines: reconnect after 3 s, and when it opened."""
    return f"retry: 3000\n: open {timezone.now().isoformat()}\n\n"


def event(name: str, data: Any, event_id: int | None = None) -> str:
    """One server-sent event; `data` as JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n"


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": message.author,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }


@overload
def ticket_json(ticket: Ticket) -> dict[str, Any]: ...
@overload
def ticket_json(ticket: Ticket | None) -> dict[str, Any] | None: ...
def ticket_json(ticket: Ticket | None) -> dict[str, Any] | None:
    if ticket is None:
        return None
    return {
        "id": ticket.reference,
        "reference": ticket.reference,
        "title": ticket.title,
        "status": ticket.status,
        "status_label": ticket.get_status_display(),
        "summary": ticket.summary,
        "created_at": ticket.created_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        "action_taken": ticket.action_taken if ticket.resolved_at else "",
    }


def reply_json(ticket: Ticket) -> dict[str, str] | None:
    """The team's latest reply on a ticket read with selectors.with_latest_reply (trimmed), or None."""
    reply = selectors.latest_reply(ticket)
    return None if reply is None else {"text": reply.text, "created_at": reply.at.isoformat()}


def snapshot(conversation_id: int, after: int) -> dict[str, Any] | None:
    """State, ticket and the messages after `after` of one conversation (the widget's whole view);
    None once the conversation is gone (purged). Two statements: the conversation with its ticket, then
    its messages."""
    conversation = Conversation.objects.select_related("ticket").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    messages = (
        Message.objects.filter(conversation_id=conversation_id, id__gt=after)
        .order_by("id")
        .values_list("id", "author", "text", "created_at")[:PAGE]
    )
    return {
        "state": conversation.state,
        "ticket": ticket_json(getattr(conversation, "ticket", None)),
        "messages": [
            {"id": pk, "author": author, "text": text, "created_at": created_at.isoformat()}
            for pk, author, text, created_at in messages
        ],
    }


def in_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ORM work off the event loop on a pooled connection, returned at once (no thread is held)."""

    def run(*args: Any) -> Any:
        close_old_connections()
        try:
            return fn(*args)
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


def standing(lease: leases.Lease, conversation_id: int, after: int | None) -> tuple[str | None, dict | None]:
    """Why the stream must end now (None: it goes on) and, with `after`, the conversation's view then."""
    if not leases.logged_in(lease.session_key, lease.customer_id):
        return LOGGED_OUT, None
    if not leases.hold(lease):
        return EVICTED, None
    return None, None if after is None else snapshot(conversation_id, after)


def ended_by(notices: list[push.Notice], lease: leases.Lease) -> str | None:
    for notice in notices:
        if notice["notice"] == "logout" and lease.session in notice["about"]:
            return LOGGED_OUT
        if notice["notice"] == "evict" and lease.token in notice["about"]:
            return EVICTED
    return None


async def event_stream(conversation_id: int, after: int, lease: leases.Lease) -> AsyncIterator[str]:
    """The widget's events. Its session and its place among the customer's streams are checked at
    every heartbeat, and before anything is sent once a heartbeat has passed since the last check;
    a notice (a logout, an eviction, a changed account) acts at once, before the pokes behind it."""
    heartbeat = settings.CHAT_STREAM_HEARTBEAT_SECONDS
    check = in_thread(standing)
    read = in_thread(snapshot)
    mark_seen = in_thread(away.mark_seen)
    loop = asyncio.get_running_loop()
    last_state: tuple[str, Any] | None = None
    quiet = 0  # heartbeats since the last read
    async with push.Subscription(conversation_id, lease.customer_id) as subscription:
        try:
            yield opening()
            ended, data = await check(lease, conversation_id, after)
            checked_at = loop.time()
            while True:
                if ended:
                    logger.info("chat: a stream of customer %s ended: %s", lease.customer_id, ended)
                    yield ENDINGS[ended]
                    return
                if data is None:
                    yield GONE
                    return
                for message in data["messages"]:
                    after = message["id"]
                    yield event("message", message, after)
                seen = away.newest_staff(data["messages"])
                if seen:  # written to the widget: not mailed as an away reply
                    await mark_seen(conversation_id, seen)
                state = (data["state"], data["ticket"])
                if state != last_state:
                    last_state = state
                    yield event("state", {"state": data["state"], "ticket": data["ticket"]})
                while True:
                    items = await subscription.next(heartbeat)
                    if items is None:
                        quiet += 1
                        # read now and then unpoked: a conversation purged meanwhile ends its stream
                        reread = quiet % REREAD_HEARTBEATS == 0
                        ended, data = await check(lease, conversation_id, after if reread else None)
                        checked_at = loop.time()
                        if ended or reread:
                            break
                        yield HEARTBEAT
                        continue
                    pokes, notices = push.split(items)
                    ended = ended_by(notices, lease)
                    if ended:
                        break
                    view = following_on(pokes, after, last_state) if pokes else None
                    if loop.time() - checked_at >= heartbeat or any(n["notice"] == "check" for n in notices):
                        need = after if pokes and view is None else None
                        ended, data = await check(lease, conversation_id, need)
                        checked_at = loop.time()
                        if ended:
                            break
                        data = view or data
                    elif pokes:
                        data = view or await read(conversation_id, after)
                    if pokes:
                        break
        finally:
            await sync_to_async(leases.release, thread_sensitive=False)(lease)


def following_on(pokes: list[push.News | None], after: int, last_state: tuple[str, Any] | None) -> dict | None:
    """The widget's view after these pokes, from their news alone: only when every poke has news, the
    new messages follow on one by one from `after` (none missed), and the state is unchanged and has
    no ticket (whose card comes from the rows). None: read the database."""
    if last_state is None or last_state[1] is not None:
        return None
    state, messages = last_state[0], []
    for news in pokes:
        if news is None:
            return None
        fresh = [m for m in news["messages"] if m["id"] > after]
        if not fresh:
            continue  # told already (by a read that came first)
        for message in fresh:
            if message["previous_id"] != after:
                return None  # one in between is not in the news
            after = message["id"]
            messages.append({k: v for k, v in message.items() if k != "previous_id"})
        state = news["state"]
    if state != last_state[0]:
        return None
    return {"state": state, "ticket": None, "messages": messages}
