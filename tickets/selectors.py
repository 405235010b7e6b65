"""Reads scoped to a customer: another customer's ticket is simply not found."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from tickets.models import Ticket
from tickets.reference import parse_reference


def tickets_for(customer: AbstractBaseUser) -> QuerySet[Ticket]:
    return Ticket.objects.filter(customer=customer).order_by("-created_at", "-id")


def ticket_for(customer: AbstractBaseUser, reference: str) -> Ticket | None:
    """The customer's ticket with this reference (typed loosely), or None: unknown and foreign alike."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    return tickets_for(customer).filter(reference=canonical).first()
