"""Email after a ticket is resolved: a reply on its thread within the retention window continues the
conversation and reopens the ticket; past it, a new conversation. The status answer by email carries the
team's latest reply."""

from datetime import timedelta

import pytest
from django.utils import timezone
from time_machine import travel

from tests.channels_io.email.conftest import eml
from tests.channels_io.email.test_conversations import answering
from tests.factories import StaffFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Conversation, EventKind, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

COMING_BACK = b"Re: Refund"  # the customer's reply to the team's last email of the ticket


def resolved_by_email(deliver_mail, capture) -> Ticket:
    """Anna's refund ticket opened by email, answered by staff (a mail in the thread) and resolved."""
    deliver_mail(eml("refund_request"))
    deliver_mail(answering("refund_yes"))
    ticket = Ticket.objects.get()
    staff = StaffFactory(notify_by_email=False)  # the customer's mail only
    with capture(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=staff, text="Refunded INV-2231.")
        ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded INV-2231.")
    return ticket


def test_a_reply_on_a_resolved_tickets_thread_reopens_it_in_the_same_conversation(
    anna, deliver_mail, smtp_server, django_capture_on_commit_callbacks
):
    ticket = resolved_by_email(deliver_mail, django_capture_on_commit_callbacks)
    smtp_server.messages.clear()

    deliver_mail(answering("gmail_reply").replace(b"Re: Password reset", COMING_BACK))

    assert Conversation.objects.count() == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at) == (Status.IN_PROGRESS, None)
    event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STATUS).latest("id")
    assert (event.old_status, event.new_status, event.actor) == (Status.RESOLVED, Status.IN_PROGRESS, anna)
    (sent,) = smtp_server.messages
    body = sent.get_body(("plain",)).get_content()
    assert body.startswith(f"Your ticket {ticket.reference} is open again; our team will reply here.")
    assert "Export" in body  # and the question it carried is answered


def test_past_the_retention_window_a_reply_on_the_thread_starts_a_new_conversation(
    anna, deliver_mail, smtp_server, django_capture_on_commit_callbacks
):
    resolved_again_at = timezone.now() - timedelta(days=30, seconds=1)
    with travel(resolved_again_at - timedelta(days=1), tick=False):
        ticket = resolved_by_email(deliver_mail, django_capture_on_commit_callbacks)
    with travel(resolved_again_at, tick=False):
        deliver_mail(answering("gmail_reply").replace(b"Re: Password reset", COMING_BACK))  # a day on: reopened
        assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
        with django_capture_on_commit_callbacks(execute=True):
            ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")
    smtp_server.messages.clear()

    later = answering("gmail_reply").replace(b"Re: Password reset", COMING_BACK)
    deliver_mail(later.replace(b"<CAHx7KqZ0d4Jx9m1", b"<CAHx7KqZ0d4Jx9m2"))  # a new Message-ID

    assert Conversation.objects.count() == 2
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    (sent,) = smtp_server.messages
    assert "open again" not in sent.get_body(("plain",)).get_content()


@pytest.mark.parametrize("answered", [False, True], ids=["not-yet", "answered"])
def test_has_anyone_answered_my_ticket_by_email_gets_the_latest_staff_reply_or_not_yet(
    anna, deliver_mail, smtp_server, answered
):
    ticket = make_ticket(anna, title="Refund for duplicate charge")
    if answered:
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="We refunded the second charge.")
    smtp_server.messages.clear()

    deliver_mail(
        eml("status_lookup").replace(b"what's the status of my ticket LH-REFERENCE?", b"Has anyone answered my ticket?")
    )

    (sent,) = smtp_server.messages
    body = " ".join(sent.get_body(("plain",)).get_content().split())
    assert ticket.reference in body
    assert ("We refunded the second charge." in body) is answered
    assert ("Nobody from the team has replied yet." in body) is not answered
