"""Live ticket pages for staff: event streams fed by the same pokes as the widget's.

A ticket's page follows its conversation (new messages, the ticket's status and assignee); the ticket
list follows every ticket's changes (their ids only). A stream is open only to staff who may view
tickets, and goes on only while that holds: the session, the account being active and staff, and the
permission are checked again at every heartbeat, and at once when the account changes or logs out.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from channels_io import push
from channels_io.chat import leases
from channels_io.chat.stream import GONE, HEARTBEAT, event, in_thread, opening
from loophole.http import account
from loophole.models import User
from tickets.models import Message, Ticket
from tickets.services import MAX_ID

logger = logging.getLogger(__name__)

PAGE = 200
CLOSED = ": closed\n\n"


@dataclass(frozen=True)
class Watcher:
    """One staff member's open stream, on one session."""

    user_id: int
    session_key: str

    @property
    def session(self) -> str:
        return leases.session_digest(self.session_key)


def may_watch(watcher: Watcher) -> bool:
    """Whether the session still logs in an active staff member who may view tickets."""
    if not leases.logged_in(watcher.session_key, watcher.user_id):
        return False
    user = get_user_model().objects.filter(pk=watcher.user_id).first()  # a fresh read: no cached permissions
    if user is None or not user.is_staff:
        return False
    return admin.site.get_model_admin(Ticket).has_view_permission(_request_of(user))


def _request_of(user: User) -> HttpRequest:
    """A request of `user`, for ModelAdmin's permission checks (which read only its user)."""
    request = HttpRequest()
    request.user = user
    return request


def ticket_view(ticket_id: int, after: int) -> dict[str, Any] | None:
    """The ticket's status and assignee and its conversation's messages after `after`; None once gone."""
    ticket = Ticket.objects.select_related("assignee").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    rows = Message.objects.filter(conversation_id=ticket.conversation_id, pk__gt=after).select_related("staff")
    messages = [
        {
            "id": m.pk,
            "author": m.author,
            "by": m.staff.get_full_name() if m.staff else m.get_author_display(),
            "text": m.text,
            "at": m.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        for m in rows.order_by("pk")[:PAGE]
    ]
    assignee = ticket.assignee
    shown = {
        "status": ticket.status,
        "status_label": ticket.get_status_display(),
        "assignee": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "assignee_id": str(assignee.pk) if assignee else "",  # as the form's select names them
    }
    return {"ticket": shown, "messages": messages}


def _ended_by(notices: list[push.Notice], watcher: Watcher) -> bool | None:
    """True: a logout of this session ended the stream; None: check again now; False: nothing to do."""
    if any(n["notice"] == "logout" and watcher.session in n["about"] for n in notices):
        return True
    return None if any(n["notice"] == "check" for n in notices) else False


async def _events(key: int, watcher: Watcher) -> AsyncIterator[list[push.Item] | None]:
    """Yields the pokes to act on (None first, to read at once) while the watcher may watch; ends
    when they may not."""
    heartbeat = settings.CHAT_STREAM_HEARTBEAT_SECONDS
    check = in_thread(may_watch)
    loop = asyncio.get_running_loop()
    async with push.Subscription(key, watcher.user_id) as subscription:
        if not await check(watcher):
            return
        checked_at = loop.time()
        yield None
        while True:
            items = await subscription.next(heartbeat)
            pokes, notices = push.split(items or [])
            ended = _ended_by(notices, watcher)
            if ended:
                return
            if items is None or ended is None or loop.time() - checked_at >= heartbeat:
                if not await check(watcher):
                    return
                checked_at = loop.time()
            yield items if pokes else []


async def ticket_stream(ticket_id: int, conversation_id: int, after: int, watcher: Watcher) -> AsyncIterator[str]:
    """`message` per new message (its id is the event id), `ticket` with the status and assignee at
    first and whenever they change, `gone` once the ticket is deleted."""
    read = in_thread(ticket_view)
    shown: dict[str, Any] | None = None
    yield opening()
    async for items in _events(conversation_id, watcher):
        if items == []:
            yield HEARTBEAT
            continue
        data = await read(ticket_id, after)
        if data is None:
            yield GONE
            return
        for message in data["messages"]:
            after = message["id"]
            yield event("message", message, after)
        if data["ticket"] != shown:
            shown = data["ticket"]
            yield event("ticket", shown)
    logger.info("desk: a stream of staff member %s on ticket %s ended", watcher.user_id, ticket_id)
    yield CLOSED


async def list_stream(watcher: Watcher) -> AsyncIterator[str]:
    """`changed` with the ids of the tickets that changed since the last event."""
    async for items in _events(push.DESK, watcher):
        if items is None:  # subscribed: from here on no change is missed
            yield opening()
            continue
        changed = push.changed_tickets(items or [])
        if changed:
            yield event("changed", {"tickets": changed})
        elif items == []:
            yield HEARTBEAT
    logger.info("desk: a ticket list stream of staff member %s ended", watcher.user_id)
    yield CLOSED


def _watcher(request: HttpRequest) -> Watcher:
    """The staff member, allowed to view tickets (PermissionDenied otherwise)."""
    if not admin.site.get_model_admin(Ticket).has_view_permission(request):
        raise PermissionDenied("You may not view tickets.")
    return Watcher(user_id=account(request).pk, session_key=request.session.session_key or "")


def _release_connections() -> None:
    """A stream open for minutes must not keep the connection the checks took from the pool."""
    for conn in connections.all(initialized_only=True):
        conn.close()


def _streaming(events: AsyncIterator[str]) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        events, content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def ticket_events(request: HttpRequest, pk: int) -> HttpResponseBase:
    """GET: the ticket page's stream, from the message after `?after=` (or Last-Event-ID)."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    after = 0
    for raw in (request.GET.get("after"), request.headers.get("Last-Event-ID")):
        if raw and raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID:
            after = max(after, int(raw))
    try:
        watcher = _watcher(request)
        ticket = Ticket.objects.filter(pk=pk).values("pk", "conversation_id").first() if pk <= MAX_ID else None
    finally:
        _release_connections()
    if ticket is None:
        raise Http404("No such ticket.")
    return _streaming(ticket_stream(ticket["pk"], ticket["conversation_id"], after, watcher))


def list_events(request: HttpRequest) -> HttpResponseBase:
    """GET: the ticket list's stream."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    try:
        watcher = _watcher(request)
    finally:
        _release_connections()
    return _streaming(list_stream(watcher))
