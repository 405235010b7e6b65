"""The widget's JSON endpoints and its live push (server-sent events, long polling as a fallback).

Every endpoint is the logged-in customer's own: another customer's conversation is a 404.
"""

import json
import logging
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assistant import services as assistant
from assistant import wording
from channels_io import push, registry
from channels_io.answering import answer
from channels_io.chat import away, leases, stream
from channels_io.chat.stream import message_json, reply_json, snapshot, ticket_json
from loophole import ratelimit
from loophole.celery import enqueue_on_commit
from loophole.http import AuthenticatedRequest
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import Author, Conversation, Message

logger = logging.getLogger(__name__)

CHANNEL = "chat"
MAX_BODY = 16 * 1024
MAX_TEXT = ticket_services.MESSAGE_MAX
RATE_LIMIT = 30  # messages per customer per minute
LONG_POLL_MAX = 25
HANDS_OFF = registry.get(CHANNEL).hands_off_after_ticket  # a ticket hands the chat to staff (promise 5)


def error(message: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def customer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error("Log in to chat with Loophole AI.", 401)
        return view(request, *args, **kwargs)

    return wrapper


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "state": conversation.state,
        "created_at": conversation.created_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
    }


def recent_conversations(user: Any, limit: int = 10) -> list[dict[str, Any]]:
    """The customer's latest chats, newest first, each with its ticket and last message: what any
    device needs to list and reopen them. Two queries."""
    recent = list(
        Conversation.objects.filter(customer=user, channel=CHANNEL)
        .select_related("ticket")
        .order_by("-last_message_at", "-pk")[:limit]
    )
    last = Message.objects.in_bulk([c.last_message_id for c in recent if c.last_message_id])
    listed = []
    for conversation in recent:
        message = last.get(conversation.last_message_id)
        listed.append(
            conversation_json(conversation)
            | {
                "ticket": ticket_json(getattr(conversation, "ticket", None)),
                "last_message": message_json(message) if message is not None else None,
            }
        )
    return listed


def _own_conversation(user: Any, conversation_id: int) -> Conversation | None:
    return Conversation.objects.filter(pk=conversation_id, customer=user, channel=CHANNEL).first()


@require_http_methods(["GET", "POST"])
@customer_required
def conversations(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the customer's recent chats (to restore the widget). POST: start a new one (201)."""
    if request.method == "GET":
        return JsonResponse({"conversations": recent_conversations(request.user)})
    conversation = ticket_services.open_conversation(channel=CHANNEL, customer=request.user, sender=request.user.email)
    logger.info("chat conversation %s started", conversation.pk)
    return JsonResponse(conversation_json(conversation), status=201)


def _parse_message(request: HttpRequest) -> tuple[str, str] | JsonResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY or len(request.body) > MAX_BODY:
        return error(f"The message is too long: at most {MAX_TEXT} characters.", 413)
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return error('Send JSON like {"text": "…"}.', 400)
    if not isinstance(data, dict):
        return error('Send JSON like {"text": "…"}.', 400)
    confirm = data.get("confirm")
    if confirm is not None:
        if not isinstance(confirm, bool):
            return error('"confirm" must be true or false.', 400)
        text = "Yes" if confirm else "No"  # the Yes/No buttons: read by the same gate as typed text
    else:
        typed = data.get("text")
        if not isinstance(typed, str):
            return error('"text" must be a string.', 400)
        text = typed.strip()
        if not text:
            return error("The message is empty.", 400)
        if len(text) > MAX_TEXT:
            return error(f"The message is too long: at most {MAX_TEXT} characters.", 413)
    client_id = data.get("client_id", "")
    if not isinstance(client_id, str) or len(client_id) > 64:
        return error('"client_id" must be a string of at most 64 characters.', 400)
    return text, client_id


def _rate_limited(user_id: int) -> int:
    """Seconds to wait if this customer is over the limit, else 0 (counts this message). With Redis
    down nothing is counted: the message must still be stored, and is answered when Redis is back."""
    count, retry_after = ratelimit.hit("chat-customer", str(user_id), 60)
    return retry_after if count > RATE_LIMIT else 0


@require_POST
@customer_required
def post_message(request: AuthenticatedRequest, conversation_id: int) -> HttpResponse:
    """Store the customer's message first, then answer it (201, the stored message): here when the
    assistant answers in milliseconds (the local one), else queued for the worker (a model).

    A `client_id` makes a replayed POST return the same message instead of storing it twice. The
    conversation's owner is checked on the row the store locks (another customer's is a 404).
    """
    parsed = _parse_message(request)
    if isinstance(parsed, JsonResponse):
        return parsed
    text, client_id = parsed
    external_id = f"{conversation_id}:{client_id}" if client_id else ""
    wait = _rate_limited(request.user.pk)
    if wait:
        stored = _stored_before(request.user, external_id)
        if stored is not None:
            return JsonResponse(message_json(stored), status=201)  # a retry of a message stored before the limit
        logger.warning("chat rate limit hit by customer %s", request.user.pk)
        return error("You're sending messages too quickly. Please wait a moment.", 429, **{"Retry-After": str(wait)})
    with push.held():  # the widget reads the message and its answer at once
        try:
            message = assistant.receive(
                conversation_id, text, external_id=external_id, customer=request.user, channel=CHANNEL
            )
        except ticket_services.NoSuchConversation as exc:
            return error(str(exc), 404)
        except ticket_services.ConversationClosed as exc:
            return error(str(exc), 409)
        except ticket_services.TicketError as exc:
            return error(str(exc), 400)
        if message.handled_at is None:
            if assistant.answers_now():
                _answer_here(message, request.user)
            else:
                _queue_answer(message.pk, conversation_id)
    return JsonResponse(message_json(message), status=201)


def _stored_before(customer: Any, external_id: str) -> Message | None:
    """The customer's own message stored under this client id, if any (a retried POST)."""
    if not external_id:
        return None
    return Message.objects.filter(
        channel=CHANNEL, external_id=external_id, conversation__customer=customer, author=Author.CUSTOMER
    ).first()


def _answer_here(message: Message, customer: Any) -> None:
    """Answer in this request, the message being stored and committed already. Should that fail,
    the worker answers it as it would a model's (and beat's sweeper if the queue is down too)."""
    message.conversation.customer = customer  # the logged-in owner, checked above
    try:
        assistant.respond(message.pk, hands_off=HANDS_OFF, stored=message)
    except Exception:
        logger.exception("chat: answering message %s in the request failed; queued", message.pk)
        _queue_answer(message.pk, message.conversation_id)


def _queue_answer(message_id: int, conversation_id: int) -> None:
    enqueue_on_commit(answer, message_id, on_failure=partial(_answer_comes_later, conversation_id))


def _answer_comes_later(conversation_id: int) -> None:
    """The answer could not be queued (Redis down): say so in the chat; the beat sweeper answers later."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        ticket_services.store_reply(conversation, wording.FALLBACK, author=Author.SYSTEM)


@require_GET
@customer_required
def tickets(request: AuthenticatedRequest) -> HttpResponse:
    """The customer's tickets, newest first, each with the team's latest reply ("latest_reply": null
    when nobody has replied yet)."""
    if not request.user.has_verified_email:
        return error("Confirm your email address to see your tickets: follow the link we sent you.", 403)
    listed = selectors.with_latest_reply(selectors.tickets_for(request.user))[:50]
    return JsonResponse({"tickets": [ticket_json(t) | {"latest_reply": reply_json(t)} for t in listed]})


def _after(request: HttpRequest) -> int | None:
    """The last message id the client has: the larger of `?after=` and a reconnecting browser's
    Last-Event-ID (which is newer than the `after` its stream was first opened with)."""
    values = []
    for raw in (request.GET.get("after"), request.headers.get("Last-Event-ID")):
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            return None
        if not 0 <= value <= ticket_services.MAX_ID:
            return None
        values.append(value)
    return max(values, default=0)


def _release_connections() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()


async def _auth_conversation(request: HttpRequest, conversation_id: int) -> Conversation | JsonResponse:
    """The customer's conversation, or the error to answer. Gives back the database connection the
    session lookup took in the request's thread: a stream open for minutes must not keep it from the pool."""
    try:
        user = await request.auser()
    finally:
        await sync_to_async(_release_connections)()  # in the request's thread, which opened it
    if not user.is_authenticated:
        return error("Log in to chat with Loophole AI.", 401)
    conversation = await stream.in_thread(_own_conversation)(user, conversation_id)
    if conversation is None:
        return error("No such conversation.", 404)
    return conversation


@require_GET
@customer_required
def messages(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET …/messages/?after=<id>: the messages after that id, the state and the ticket. With `wait`
    (the long poll of older widgets) it redirects to …/poll/, which waits without holding a thread."""
    if "wait" in request.GET:
        poll_url = reverse("chat:poll", args=[conversation_id])
        return HttpResponseRedirect(f"{poll_url}?{request.GET.urlencode()}", status=307)
    if _own_conversation(request.user, conversation_id) is None:
        return error("No such conversation.", 404)
    after = _after(request)
    if after is None:
        return error('"after" must be a message id.', 400)
    data = snapshot(conversation_id, after)
    if data is None:
        return error("No such conversation.", 404)
    away.mark_seen(conversation_id, away.newest_staff(data["messages"]))
    return JsonResponse(data)


async def _open_read(
    request: HttpRequest, conversation_id: int, bad_after: str
) -> tuple[Conversation, int] | JsonResponse:
    """The customer's conversation and the last message id they have, or the error to answer."""
    if request.method != "GET":
        return error("Use GET.", 405)
    conversation = await _auth_conversation(request, conversation_id)
    if isinstance(conversation, JsonResponse):
        return conversation
    after = _after(request)
    if after is None:
        return error(bad_after, 400)
    return conversation, after


async def poll(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET …/poll/?after=<id>&wait=<seconds>: like …/messages/, but waits up to `wait` seconds (25 at
    most) for a new message: the long-poll fallback of the event stream."""
    opened = await _open_read(request, conversation_id, '"after" must be a message id.')
    if isinstance(opened, JsonResponse):
        return opened
    conversation, after = opened
    try:
        wait = min(max(float(request.GET.get("wait", 0)), 0.0), LONG_POLL_MAX)
    except ValueError:
        return error('"wait" must be a number of seconds.', 400)
    read = stream.in_thread(snapshot)
    async with push.Subscription(conversation.pk) as subscription:
        data = await read(conversation.pk, after)
        if data is not None and not data["messages"] and wait:
            await subscription.wait(wait)
            data = await read(conversation.pk, after)
    if data is None:
        return error("No such conversation.", 404)
    seen = away.newest_staff(data["messages"])
    if seen:
        await stream.in_thread(away.mark_seen)(conversation.pk, seen)
    return JsonResponse(data)


async def events(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    """Server-sent events: `message` per new message (its id is the event id, so Last-Event-ID
    resumes), `state` when the state or ticket changes, and a heartbeat comment every 15 s. The
    stream closes once its session no longer logs the customer in, or newer streams push it out."""
    opened = await _open_read(request, conversation_id, '"Last-Event-ID" must be a message id.')
    if isinstance(opened, JsonResponse):
        return opened
    conversation, after = opened
    if conversation.customer_id is None:  # _open_read gives only the customer's own
        return error("No such conversation.", 404)
    lease = leases.Lease(customer_id=conversation.customer_id, session_key=request.session.session_key or "")
    return StreamingHttpResponse(
        stream.event_stream(conversation.pk, after, lease),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@require_http_methods(["GET", "POST"])
def messages_endpoint(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """POST sends a message; GET reads the messages after `?after=`."""
    if request.method == "POST":
        return post_message(request, conversation_id)
    return messages(request, conversation_id)
