"""Reads scoped to a customer: another customer's ticket is simply not found."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Left

from loophole.models import User
from tickets.models import Author, Message, Ticket
from tickets.reference import parse_reference

REPLY_PREVIEW = 280  # characters of a staff reply shown with a ticket's status


@dataclass(frozen=True)
class LatestReply:
    text: str  # at most REPLY_PREVIEW characters, cut at a word and marked with an ellipsis
    at: datetime


def tickets_for(customer: User) -> QuerySet[Ticket]:
    return Ticket.objects.filter(customer=customer).order_by("-created_at", "-id")


def ticket_for(customer: User, reference: str) -> Ticket | None:
    """The customer's ticket with this reference (typed loosely), with its latest staff reply (see
    with_latest_reply), or None: unknown and foreign alike."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    return with_latest_reply(tickets_for(customer).filter(reference=canonical)).first()


def with_latest_reply(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` with the newest staff message of each one's conversation, read by latest_reply()."""
    newest = Message.objects.filter(conversation_id=OuterRef("conversation_id"), author=Author.STAFF).order_by("-id")
    return tickets.annotate(
        latest_reply_text=Subquery(newest.values(start=Left("text", REPLY_PREVIEW + 1))[:1]),
        latest_reply_at=Subquery(newest.values("created_at")[:1]),
    )


def latest_reply(ticket: Ticket) -> LatestReply | None:
    """The team's latest reply on a ticket read through with_latest_reply, or None: no reply yet."""
    at = ticket.latest_reply_at  # type: ignore[attr-defined]  # annotated by with_latest_reply()
    if at is None:
        return None
    start = ticket.latest_reply_text  # type: ignore[attr-defined]  # annotated by with_latest_reply()
    text = " ".join(start.split())
    if len(start) > REPLY_PREVIEW:  # the database cut it: there is more
        text = text[: REPLY_PREVIEW - 1]
        cut = text.rfind(" ")
        text = text[: cut if cut > REPLY_PREVIEW // 2 else len(text)].rstrip() + "\u2026"
    return LatestReply(text=text, at=at)
