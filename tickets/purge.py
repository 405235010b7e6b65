"""Deleting tickets: the retention purge (what is due, deleted in locked batches; Celery beat runs it
daily) and staff deleting tickets from the admin."""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from tickets import status_counts
from tickets.models import Conversation, Message, Status, Ticket, TicketEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeResult:
    tickets: int
    conversations: int  # every one deleted: the tickets' own and those without a ticket
    ticketless_conversations: int
    messages: int
    events: int
    log_entries: int  # admin log entries naming a deleted ticket or conversation


def purge_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.TICKET_RETENTION_DAYS)


def past_retention(ticket: Ticket, now: datetime | None = None) -> bool:
    """Whether the ticket is resolved and due for the purge: a customer's message no longer reopens it."""
    return (
        ticket.status == Status.RESOLVED and ticket.resolved_at is not None and ticket.resolved_at <= purge_cutoff(now)
    )


def due_for_purge(now: datetime | None = None) -> QuerySet[Ticket]:
    """The tickets the retention job deletes: resolved at least 30 days ago."""
    return Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=purge_cutoff(now))


def ticketless_due_for_purge(now: datetime | None = None) -> QuerySet[Conversation]:
    """The conversations without a ticket the retention job deletes: last message at least 30 days ago.
    A conversation in use is never due; one with a ticket goes only with its ticket."""
    return Conversation.objects.filter(last_message_at__lte=purge_cutoff(now)).filter(
        ~Exists(Ticket.objects.filter(conversation=OuterRef("pk")))
    )


def _log_entries(tickets: list[str] | QuerySet, conversations: list[str] | QuerySet) -> QuerySet[LogEntry]:
    """Admin log entries naming these tickets or conversations: ids as LogEntry keeps them (text), given
    as a list or a query of one text column."""
    kinds = ContentType.objects.get_for_models(Ticket, Conversation)
    return LogEntry.objects.filter(
        Q(content_type=kinds[Ticket], object_id__in=tickets)
        | Q(content_type=kinds[Conversation], object_id__in=conversations)
    )


def _as_text(rows: QuerySet[Ticket] | QuerySet[Conversation], field: str) -> QuerySet:
    return rows.annotate(key=Cast(field, TextField())).values("key")


def _delete_conversations(conversation_ids: list[int], ticket_ids: list[int]) -> dict[str, int]:
    """Delete conversations with their messages (and ticket, and its events), and the admin log entries
    naming them; the caller's transaction holds their locks."""
    _total, per_model = Conversation.objects.filter(pk__in=conversation_ids).delete()
    names = _log_entries([str(pk) for pk in ticket_ids], [str(pk) for pk in conversation_ids])
    log_entries, _per_model = names.delete()
    return {
        "tickets": per_model.get(Ticket._meta.label, 0),
        "conversations": per_model.get(Conversation._meta.label, 0),
        "messages": per_model.get(Message._meta.label, 0),
        "events": per_model.get(TicketEvent._meta.label, 0),
        "log_entries": log_entries,
    }


def _count_due(due: QuerySet[Ticket], ticketless: QuerySet[Conversation]) -> PurgeResult:
    tickets, lonely = due.count(), ticketless.count()
    return PurgeResult(
        tickets=tickets,
        conversations=tickets + lonely,
        ticketless_conversations=lonely,
        # Counted apart and added: the two sets of conversations never overlap.
        messages=Message.objects.filter(conversation_id__in=due.values("conversation_id")).count()
        + Message.objects.filter(conversation_id__in=ticketless.values("pk")).count(),
        events=TicketEvent.objects.filter(ticket__in=due.values("pk")).count(),
        log_entries=_log_entries(_as_text(due, "pk"), _as_text(due, "conversation_id")).count()
        + _log_entries([], _as_text(ticketless, "pk")).count(),
    )


def purge_closed_tickets(
    *, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None
) -> PurgeResult:
    """Delete what the retention rules say is done with: tickets resolved at least 30 days ago, with
    their conversation, messages and events; conversations without a ticket whose last message is at
    least 30 days old, with their messages (an unknown sender's number or address is kept nowhere
    else: SMS opt-outs stay, see SmsOptOut); and the admin log entries naming any of them.
    `dry_run` counts the same rows and deletes nothing.

    Works in batches, each in its own transaction with its rows locked: a ticket being reopened, or a
    conversation taking a message, meanwhile is skipped, and one changed before its batch no longer
    matches. Idempotent.
    """
    due, ticketless = due_for_purge(now), ticketless_due_for_purge(now)
    if dry_run:
        return _count_due(due, ticketless)
    batch_size = batch_size or settings.PURGE_BATCH_SIZE
    totals = dict.fromkeys(["tickets", "conversations", "messages", "events", "log_entries"], 0)
    while True:
        with transaction.atomic():
            # No ORDER BY: the partial index on resolved_at serves the filter; ordering by id would
            # walk every open ticket on each batch.
            picked = list(due.select_for_update(skip_locked=True).values_list("pk", "conversation_id")[:batch_size])
            if not picked:
                break
            counts = _delete_conversations([c for _t, c in picked], [t for t, _c in picked])
            status_counts.record({Status.RESOLVED: -counts["tickets"]})  # due tickets are resolved ones
        totals = {kind: totals[kind] + counts[kind] for kind in totals}
    tickets_conversations, after = totals["conversations"], 0
    old = Conversation.objects.filter(last_message_at__lte=purge_cutoff(now)).order_by("pk")
    # The conversations are walked once by id, in batches of old ones: no index serves "without a
    # ticket", and asking for it in the walk made PostgreSQL read the tickets' index from its start on
    # every batch. Rows skipped (locked, or written to meanwhile) are not looked at again in this run.
    while candidates := list(old.filter(pk__gt=after).values_list("pk", flat=True)[:batch_size]):
        after = candidates[-1]
        with transaction.atomic():
            locked = ticketless.filter(pk__in=candidates).select_for_update(skip_locked=True)
            locked_ids = list(locked.values_list("pk", flat=True))
            if not locked_ids:
                continue
            # Read again under the lock: a message (or a ticket) committed after the pick began moved the
            # conversation on, and it is kept.
            counts = _delete_conversations(list(ticketless.filter(pk__in=locked_ids).values_list("pk", flat=True)), [])
        totals = {kind: totals[kind] + counts[kind] for kind in totals}
    result = PurgeResult(ticketless_conversations=totals["conversations"] - tickets_conversations, **totals)
    logger.info(
        "purged %s tickets, %s conversations without a ticket, %s messages, %s events, %s admin log entries",
        result.tickets,
        result.ticketless_conversations,
        result.messages,
        result.events,
        result.log_entries,
    )
    return result


@transaction.atomic
def delete_tickets(ticket_ids: list[int]) -> int:
    """Delete tickets (staff, from the admin) with their events and notes; their conversations stay.
    Returns how many were deleted."""
    statuses = Counter(Ticket.objects.select_for_update().filter(pk__in=ticket_ids).values_list("status", flat=True))
    Ticket.objects.filter(pk__in=ticket_ids).delete()
    status_counts.record({status: -n for status, n in statuses.items()})
    logger.info("%s tickets deleted by staff", statuses.total())
    return statuses.total()
