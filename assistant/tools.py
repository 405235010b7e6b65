"""The look-ups engines may make, bound to one customer: they can see that customer's tickets only.

This is also where a reply's ticket data is limited: a caller known by caller ID alone, which anyone can
fake, hears how many tickets are open, and the details only of a ticket they name by its ID.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from assistant import references
from assistant.engines.base import TicketView
from assistant.passages import Hit
from assistant.retrieval import current_index, search_articles
from loophole.models import User
from tickets import selectors
from tickets.models import Conversation, Status, Ticket

# Channels whose sender is known only by an address anyone can fake: caller ID.
CALLER_ID_CHANNELS = frozenset({"voice"})


def ticket_view(ticket: Ticket) -> TicketView:
    """The engines' view of a ticket read with selectors.with_latest_reply."""
    reply = selectors.latest_reply(ticket)
    return TicketView(
        reference=ticket.reference,
        title=ticket.title,
        status=ticket.get_status_display(),
        created_at=f"{ticket.created_at:%Y-%m-%d}",
        resolved_at=f"{ticket.resolved_at:%Y-%m-%d}" if ticket.resolved_at else "",
        action_taken=ticket.action_taken if ticket.resolved_at else "",
        latest_reply=reply.text if reply else "",
        latest_reply_at=f"{reply.at:%Y-%m-%d}" if reply else "",
    )


@dataclass(frozen=True)
class NamedOnly:
    """Of the customer's tickets, only those named by ID in this conversation, or opened in it, may be told."""

    conversation_id: int
    named: frozenset[str]  # canonical references

    def readable(self) -> Q:
        return Q(reference__in=sorted(self.named)) | Q(conversation_id=self.conversation_id)

    def allows(self, ticket: Ticket) -> bool:
        return ticket.reference in self.named or ticket.conversation_id == self.conversation_id


class CustomerTools:
    def __init__(self, customer: User | None, limit: NamedOnly | None = None) -> None:
        self._customer = customer
        self._limit = limit

    def search_help(self, query: str, limit: int = 5) -> list[Hit]:
        return search_articles(query[:1000], limit=limit)

    def my_tickets(self) -> list[TicketView] | None:
        if self._customer is None:
            return None
        tickets = selectors.tickets_for(self._customer)
        if self._limit is not None:
            tickets = tickets.filter(self._limit.readable())
        return [ticket_view(t) for t in selectors.with_latest_reply(tickets)[:10]]

    def withheld_tickets(self) -> int | None:
        """None when my_tickets() is the customer's whole list; else how many open tickets it leaves out."""
        if self._customer is None or self._limit is None:
            return None
        tickets = selectors.tickets_for(self._customer).exclude(status=Status.RESOLVED)
        return tickets.exclude(self._limit.readable()).count()

    def ticket(self, reference: str) -> TicketView | None:
        if self._customer is None:
            return None
        ticket = selectors.ticket_for(self._customer, reference)
        if ticket is None or (self._limit is not None and not self._limit.allows(ticket)):
            return None  # not named in this call: as unknown as another customer's
        return ticket_view(ticket)

    def article_url(self, slug: str) -> str:
        return settings.PUBLIC_URL + reverse("help:article", args=[slug])

    def product_nouns(self) -> frozenset[str]:
        return current_index().product_nouns


def known_customer(conversation: Conversation) -> User | None:
    """The conversation's customer, once their email address is verified; else None, an unknown sender:
    general help only, no ticket data and no ticket. No query when the customer was read with it."""
    customer = conversation.customer
    if customer is None or getattr(customer, "email_verified_at", None) is None:
        return None
    return customer


def tools_for(conversation: Conversation, said: Iterable[str]) -> CustomerTools:
    """The look-ups for a reply in `conversation`, whose customer has said `said` in it so far."""
    customer = known_customer(conversation)
    if conversation.channel in CALLER_ID_CHANNELS and not (
        conversation.sender_attested and settings.VOICE_TRUST_STIR_ATTESTATION
    ):
        named = frozenset(reference for text in said for reference in references.find_references(text))
        return CustomerTools(customer, NamedOnly(conversation.pk, named))
    return CustomerTools(customer)
