"""Every write on tickets and conversations that has side effects.

Each service validates, writes in one transaction, records a TicketEvent, and says what must happen
next (emails, delivery of staff replies) with tickets.signals; the receivers queue it on commit.
"""

import logging
from functools import partial
from typing import Literal, overload

from django.db import IntegrityError, transaction
from django.utils import timezone

from loophole import rows
from loophole.models import User
from tickets import conversations, search_text, signals, statements, status_counts
from tickets.models import (
    REOPENED,
    Author,
    Conversation,
    ConversationState,
    CustomerEmail,
    EventKind,
    InvalidTransition,
    Message,
    StaffEvent,
    StaffNotification,
    Status,
    Ticket,
    TicketEvent,
    TicketNote,
)

# Re-exported: callers know the purge as a ticket service.
from tickets.purge import PurgeResult, due_for_purge, past_retention, purge_closed_tickets, purge_cutoff  # noqa: F401
from tickets.reference import new_reference

logger = logging.getLogger(__name__)

TITLE_MAX = 80
MESSAGE_MAX = 4000
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number names no row (and SQLite cannot even bind it)


class TicketError(Exception):
    """A ticket cannot be written as asked (the message says why)."""


class TicketAlreadyExists(TicketError):
    pass


class NoSuchConversation(TicketError):
    """Not one of this customer's conversations on this channel (or gone)."""


class ConversationClosed(TicketError):
    """The conversation takes no more messages: the customer starts a new one."""


def _notify_changed(ticket: Ticket) -> None:
    transaction.on_commit(
        partial(signals.ticket_changed.send, sender=Ticket, ticket_id=ticket.pk, conversation_id=ticket.conversation_id)
    )


@overload
def _add_message(conversation: Conversation, *, once: Literal[False] = False, **fields: object) -> Message: ...
@overload
def _add_message(conversation: Conversation, *, once: bool, **fields: object) -> Message | None: ...
def _add_message(conversation: Conversation, *, once: bool = False, **fields: object) -> Message | None:
    """Insert a message and make it the conversation's newest; the caller holds the conversation's lock
    (which makes message ids rise in commit order within a conversation). `once`: None, and nothing
    written, if its channel's external id is stored already."""
    previous_id = conversation.last_message_id
    message = Message(conversation=conversation, channel=conversation.channel, **fields)
    if statements.insert_message(message, once=once) is None:
        return None
    statements.mark_newest(conversation.pk, message.pk, message.created_at)
    search_text.add(conversation, message.text)
    conversation.last_message_at, conversation.last_message_id = message.created_at, message.pk
    transaction.on_commit(partial(_message_stored, message, conversation, previous_id))
    return message


def _message_stored(message: Message, conversation: Conversation, previous_id: int) -> None:
    # Sent after commit: `state` is the conversation's as the transaction left it.
    signals.message_stored.send(
        sender=Message,
        conversation_id=message.conversation_id,
        message_id=message.pk,
        message=message,
        previous_id=previous_id,
        state=conversation.state,
    )


def _event(ticket: Ticket, kind: EventKind, actor: User | None, **fields: str) -> TicketEvent:
    event = TicketEvent.objects.create(ticket=ticket, kind=kind, actor=actor, **fields)
    if event.email:
        signals.customer_email_due.send(sender=TicketEvent, event_id=event.pk)
    return event


def _notify_staff(ticket: Ticket, event: StaffEvent, message: Message | None = None) -> None:
    """Write the staff notification of an event in the event's transaction; its task runs after commit."""
    notification = StaffNotification.objects.create(ticket=ticket, event=event, message=message)
    signals.staff_notification_due.send(sender=StaffNotification, notification_id=notification.pk)


def _check_text(name: str, value: str, *, limit: int | None = None, single_line: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        raise TicketError(f"The {name} is empty")
    if "\x00" in value:
        raise TicketError(f"The {name} contains a NUL character")
    if limit is not None and len(value) > limit:
        raise TicketError(f"The {name} is {len(value)} characters; at most {limit} are allowed")
    if single_line and ("\n" in value or "\r" in value):
        raise TicketError(f"The {name} must be a single line")
    return value


@transaction.atomic
def create_ticket(
    conversation_id: int, *, title: str, description: str, summary: str = "", hand_off: bool = True
) -> Ticket:
    """Create the ticket of a conversation. Raises TicketError.

    Called by the assistant's confirm gate inside its own transaction; one ticket per conversation
    (TicketAlreadyExists otherwise). With `hand_off` (live chat) the conversation's later messages go
    to staff. Queues the "created" email. InvalidTransition for a closed conversation.
    """
    title = _check_text("title", title, limit=TITLE_MAX, single_line=True)
    description = _check_text("description", description)
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    customer = conversation.customer
    if customer is None or customer.email_verified_at is None:
        raise TicketError("A ticket needs a customer account with a verified email address")
    if Ticket.objects.filter(conversation=conversation).exists():
        raise TicketAlreadyExists(f"Conversation {conversation_id} already has a ticket")
    searchable = search_text.of_conversation(conversation.pk)
    now = timezone.now()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                ticket = Ticket.objects.create(
                    reference=new_reference(),
                    title=title,
                    description=description,
                    summary=(summary or "").strip(),
                    customer=customer,
                    conversation=conversation,
                    channel=conversation.channel,
                    created_at=now,
                    last_activity_at=now,
                    **searchable,
                )
            break
        except IntegrityError:
            if not Ticket.objects.filter(conversation=conversation).exists():
                continue  # a reference collision (about 1 in 10^12): draw again
            raise TicketAlreadyExists(f"Conversation {conversation_id} already has a ticket") from None
    else:
        raise TicketError("Could not draw a free ticket reference")
    conversation.ticket_pk = ticket.pk  # type: ignore[attr-defined]  # as lock_conversation() sets it
    status_counts.record({Status.SUBMITTED: 1})
    settled = ConversationState.HANDED_OFF if hand_off else ConversationState.ASSISTANT
    if conversation.state != settled:
        conversations.move(conversation, settled)  # a closed conversation takes no ticket: InvalidTransition
    _event(ticket, EventKind.CREATED, None, new_status=Status.SUBMITTED, email=CustomerEmail.CREATED)
    _notify_staff(ticket, StaffEvent.CREATED)
    _notify_changed(ticket)
    logger.info("ticket %s created from conversation %s", ticket.pk, conversation_id)
    return ticket


def _move(ticket: Ticket, new: Status, actor: User | None, *, action_taken: str = "", detail: str = "") -> None:
    old = ticket.status
    ticket.move_to(new, action_taken=action_taken)
    ticket.last_activity_at = timezone.now()
    ticket.save(
        update_fields=["status", "action_taken", "resolved_at", "resolution_time", "last_activity_at", "updated_at"]
    )
    status_counts.record({old: -1, new: 1})
    email = {Status.RESOLVED: CustomerEmail.RESOLVED, Status.WAITING_ON_CUSTOMER: CustomerEmail.WAITING}.get(new, "")
    _event(ticket, EventKind.STATUS, actor, old_status=old, new_status=new, email=email, detail=detail)
    _notify_changed(ticket)
    logger.info("ticket %s moved %s -> %s", ticket.pk, old, new)


@transaction.atomic
def change_status(ticket_id: int, new: Status, *, actor: User | None, action_taken: str = "") -> Ticket:
    """Move a ticket to `new`, log it, and queue the customer email it calls for.

    Raises InvalidTransition for a move the lifecycle does not allow, Ticket.DoesNotExist if gone.
    """
    ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
    if Status(new) == ticket.status:
        raise InvalidTransition(f"The ticket is already {Status(new).label}")
    _move(ticket, Status(new), actor, action_taken=action_taken)
    return ticket


@transaction.atomic
def assign(ticket_id: int, *, staff: User | None, actor: User) -> Ticket:
    """Assign a ticket (None unassigns). Picking up a Submitted ticket moves it to In Progress."""
    if staff is not None and not staff.is_staff:
        raise TicketError("Tickets can only be assigned to staff")
    ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
    if ticket.assignee_id == (staff.pk if staff else None):
        return ticket
    ticket.assignee = staff
    ticket.save(update_fields=["assignee", "updated_at"])
    _event(ticket, EventKind.ASSIGNED, actor, detail=f"assigned to {staff.get_username()}" if staff else "unassigned")
    if staff is not None and ticket.status == Status.SUBMITTED:
        _move(ticket, Status.IN_PROGRESS, actor, detail="picked up")
    _notify_changed(ticket)
    return ticket


@transaction.atomic
def add_staff_reply(ticket_id: int, *, staff: User, text: str) -> Message:
    """Store a staff reply in the ticket's conversation and send it on the ticket's channel.

    A reply to a Submitted ticket moves it to In Progress; the first reply sets its first response
    time. Delivery leaves after commit.
    """
    text = _check_text("reply", text, limit=MESSAGE_MAX)
    ticket = Ticket.objects.select_for_update().select_related("conversation").get(pk=ticket_id)
    ticket.conversation.ticket_pk = ticket.pk  # type: ignore[attr-defined]  # as lock_conversation() sets it
    now = timezone.now()
    message = _add_message(ticket.conversation, author=Author.STAFF, staff=staff, text=text, created_at=now)
    _event(ticket, EventKind.STAFF_REPLY, staff)
    if ticket.first_response_time is None:
        ticket.first_response_time = now - ticket.created_at
        Ticket.objects.filter(pk=ticket.pk).update(first_response_time=ticket.first_response_time)
    if ticket.status == Status.SUBMITTED:
        _move(ticket, Status.IN_PROGRESS, staff, detail="replied")
    else:
        Ticket.objects.filter(pk=ticket.pk).update(last_activity_at=now)
        _notify_changed(ticket)
    transaction.on_commit(
        partial(signals.staff_replied.send, sender=Message, message_id=message.pk, channel=message.channel)
    )
    return message


def add_internal_note(ticket_id: int, *, staff: User, text: str) -> TicketNote:
    """Keep a staff member's note on a ticket. Nothing is sent and the customer never sees it.

    Raises TicketError for an empty or over-long note, Ticket.DoesNotExist if gone."""
    text = _check_text("note", text, limit=MESSAGE_MAX)
    ticket = Ticket.objects.only("pk").get(pk=ticket_id)
    note = TicketNote.objects.create(ticket=ticket, author=staff, text=text)
    logger.info("note %s added to ticket %s", note.pk, ticket_id)
    return note


def store_customer_message(
    conversation_id: int,
    text: str,
    *,
    external_id: str = "",
    handled: bool = False,
    automatic: bool = False,
    customer: User | None = None,
    channel: str = "",
) -> tuple[Message, bool]:
    """Store a customer's message once (by the channel's external id); returns (message, created).

    With `customer` and `channel` (a customer writing in their own channel, the chat), the message
    is taken only by that customer's open conversation on it: NoSuchConversation or ConversationClosed
    otherwise, with nothing written. The check is made on the locked row, so it costs no extra read.

    An `automatic` message (an out-of-office reply) is stored as handled and is not a customer
    reply: it moves no ticket.

    On a conversation with a ticket it counts as activity: a reply while Waiting on Customer moves the
    ticket back to In Progress, and one on a Resolved ticket reopens it (In Progress, the purge clock
    stopped, the message marked REOPENED for the assistant to say so). A conversation whose ticket is
    past the retention window takes no more messages: ConversationClosed, nothing written.
    """
    text = _check_text("message", text, limit=MESSAGE_MAX)
    # No savepoint: the message, the conversation and the ticket are written all or nothing, and a
    # caller's transaction fails with them.
    with transaction.atomic(savepoint=False):
        try:
            conversation = lock_conversation(conversation_id, customer=customer, channel=channel)
            ticket = _lock_ticket(conversation)
        except (NoSuchConversation, ConversationClosed) as exc:
            refused = exc  # raised outside the block: nothing is written, and a caller's transaction goes on
        else:
            return _store_customer_message(
                conversation, ticket, text, external_id, handled=handled, automatic=automatic
            )
    raise refused


def _lock_ticket(conversation: Conversation) -> Ticket | None:
    """The conversation's ticket, locked (None: most have none). Raises ConversationClosed when it is
    past the retention window: the customer's message starts a new conversation instead."""
    if conversation.ticket_pk is None:  # type: ignore[attr-defined]  # set by lock_conversation(), not a field
        return None
    ticket = Ticket.objects.select_for_update().get(pk=conversation.ticket_pk)  # type: ignore[attr-defined]  # set by lock_conversation(), not a field
    if past_retention(ticket):
        raise ConversationClosed("This conversation is closed. Start a new conversation.")
    return ticket


def lock_conversation(conversation_id: int, *, customer: User | None = None, channel: str = "") -> Conversation:
    """The conversation, locked until the transaction ends, with `ticket_pk` set to its ticket's id (or
    None: most have none). With `customer`, only their open conversation on `channel`: raises
    NoSuchConversation or ConversationClosed otherwise; without, Conversation.DoesNotExist if gone.

    One hand-written statement: every chat message takes this lock twice (stored, answered), and the
    ORM's building of the joined, locked query cost several times the query itself."""
    row = None
    if 0 < conversation_id <= MAX_ID:
        row = statements.lock_conversation(conversation_id, None if customer is None else customer.pk, channel)
    if row is None:
        if customer is not None:
            raise NoSuchConversation("No such conversation.")
        raise Conversation.DoesNotExist(f"conversation {conversation_id} does not exist")
    conversation = rows.instance(Conversation, row)
    conversation.ticket_pk = row[-1]  # type: ignore[attr-defined]  # an extra attribute, as .annotate() adds
    if customer is not None:
        if conversation.state == ConversationState.CLOSED:
            raise ConversationClosed("This conversation is closed. Start a new conversation.")
        conversation.customer = customer  # the row says so: spares the caller reading it again
    return conversation


def _store_customer_message(
    conversation: Conversation, ticket: Ticket | None, text: str, external_id: str, *, handled: bool, automatic: bool
) -> tuple[Message, bool]:
    now = timezone.now()
    reopens = ticket is not None and not automatic and ticket.status == Status.RESOLVED
    fields = {
        "author": Author.CUSTOMER,
        "text": text,
        "external_id": external_id,
        "created_at": now,
        "handled_at": now if handled or automatic else None,
        "kind": REOPENED if reopens else "",
    }
    message = _add_message(conversation, once=bool(external_id), **fields)
    if message is None:  # a replay: told by the unique constraint as it happens, not by a read first
        existing = Message.objects.filter(channel=conversation.channel, external_id=external_id).first()
        if existing is None:
            raise IntegrityError(f"message {external_id!r} was neither stored nor found")
        return existing, False
    if ticket is not None and not automatic:
        _event(ticket, EventKind.CUSTOMER_REPLY, conversation.customer)
        _notify_staff(ticket, StaffEvent.REOPENED if reopens else StaffEvent.CUSTOMER_REPLY, message)
        if reopens:
            _move(ticket, Status.IN_PROGRESS, conversation.customer, detail="reopened by the customer")
            logger.info("ticket %s reopened by the customer's message %s", ticket.pk, message.pk)
        elif ticket.status == Status.WAITING_ON_CUSTOMER:
            _move(ticket, Status.IN_PROGRESS, conversation.customer, detail="customer replied")
        else:
            Ticket.objects.filter(pk=ticket.pk).update(last_activity_at=now)
            _notify_changed(ticket)
    return message, True


def open_conversation(
    *,
    channel: str,
    customer: User | None,
    sender: str = "",
    thread: str = "",
    sender_attested: bool = False,
) -> Conversation:
    """A new conversation with a customer (or an unknown sender) on a channel."""
    return Conversation.objects.create(
        customer=customer, channel=channel, sender=sender, thread=thread, sender_attested=sender_attested
    )


def store_reply(
    conversation: Conversation,
    text: str,
    *,
    author: Author = Author.ASSISTANT,
    kind: str = "",
    reply_to: Message | None = None,
    mark_handled: bool = True,
) -> Message:
    """Store the assistant's (or the system's) reply; the caller holds the conversation's lock.
    `reply_to` is marked handled unless the caller has done so (`mark_handled=False`)."""
    text = text.replace("\x00", "")  # generated text: no database stores NUL in text
    now = timezone.now()
    message = _add_message(
        conversation, author=author, text=text[: MESSAGE_MAX * 2], kind=kind, reply_to=reply_to, created_at=now
    )
    if reply_to is not None and mark_handled:
        Message.objects.filter(pk=reply_to.pk).update(handled_at=now)
    return message
