"""The look-ups engines may make, bound to one customer: they can see that customer's tickets only."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse

from assistant.engines.base import TicketView
from assistant.retrieval import Hit, search_articles
from tickets import selectors
from tickets.models import Ticket


def ticket_view(ticket: Ticket) -> TicketView:
    return TicketView(
        reference=ticket.reference,
        title=ticket.title,
        status=ticket.get_status_display(),
        created_at=f"{ticket.created_at:%Y-%m-%d}",
        resolved_at=f"{ticket.resolved_at:%Y-%m-%d}" if ticket.resolved_at else "",
        action_taken=ticket.action_taken if ticket.resolved_at else "",
    )


class CustomerTools:
    def __init__(self, customer: AbstractBaseUser | None) -> None:
        self._customer = customer

    def search_help(self, query: str, limit: int = 5) -> list[Hit]:
        return search_articles(query[:1000], limit=limit)

    def my_tickets(self) -> list[TicketView] | None:
        if self._customer is None:
            return None
        return [ticket_view(t) for t in selectors.tickets_for(self._customer)[:10]]

    def ticket(self, reference: str) -> TicketView | None:
        if self._customer is None:
            return None
        ticket = selectors.ticket_for(self._customer, reference)
        return ticket_view(ticket) if ticket else None

    def article_url(self, slug: str) -> str:
        return settings.PUBLIC_URL + reverse("help:article", args=[slug])
