"""Live chat after a ticket is resolved: writing in its conversation reopens it (and the assistant says
so), and "My tickets" and the assistant's status answer carry the team's latest reply."""

from datetime import timedelta

import pytest
from django.utils import timezone
from time_machine import travel

from tests.channels_io import test_chat_api as chat_api
from tests.channels_io.test_chat_api import read, send, start
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import selectors
from tickets import services as ticket_services
from tickets.models import EventKind, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REOPENED = "Your ticket {} is open again; our team will reply here."
api, customer = chat_api.api, chat_api.customer  # the widget API fixtures, as a logged-in customer


def resolved(customer, *, ago: timedelta = timedelta(0), reply: str = "") -> Ticket:
    """A chat ticket of `customer` resolved `ago`, with a staff reply first when `reply` is given."""
    with travel(timezone.now() - ago, tick=False):
        ticket = make_ticket(customer)
        staff = StaffFactory()
        if reply:
            ticket_services.add_staff_reply(ticket.pk, staff=staff, text=reply)
        ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded USD 120.")
    return ticket


def test_a_message_on_a_resolved_chat_ticket_reopens_it_and_the_assistant_says_so(
    api, customer, django_capture_on_commit_callbacks
):
    ticket = resolved(customer, ago=timedelta(days=3), reply="Refunded, sorry!")
    theirs = resolved(UserFactory())
    before = read(api, ticket.conversation_id).json()["messages"][-1]["id"]

    with django_capture_on_commit_callbacks(execute=True):
        assert send(api, theirs.conversation_id, {"text": "reopen this"}).status_code == 404
        response = send(api, ticket.conversation_id, {"text": "The second charge is back on my card."})

    assert response.status_code == 201
    assert Ticket.objects.get(pk=theirs.pk).status == Status.RESOLVED  # another customer's: untouched
    data = read(api, ticket.conversation_id, after=before).json()
    assert [(m["author"], m["text"]) for m in data["messages"]] == [
        ("customer", "The second charge is back on my card."),
        ("assistant", REOPENED.format(ticket.reference)),
    ]
    assert (data["state"], data["ticket"]["status"], data["ticket"]["resolved_at"]) == (
        "handed_off",
        "in_progress",
        None,
    )
    event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STATUS).latest("id")
    assert (event.old_status, event.new_status, event.actor) == (Status.RESOLVED, Status.IN_PROGRESS, customer)
    with django_capture_on_commit_callbacks(execute=True):
        send(api, ticket.conversation_id, {"text": "It is 120 dollars again."})
    assert read(api, ticket.conversation_id).json()["messages"][-1]["author"] == "customer"  # to staff, unanswered


def test_past_the_retention_window_a_chat_message_is_refused_and_reopens_nothing(api, customer):
    ticket = resolved(customer, ago=timedelta(days=30, seconds=1))
    count = Message.objects.count()

    response = send(api, ticket.conversation_id, {"text": "Hello again?", "client_id": "late"})

    assert response.status_code == 409 and "new conversation" in response.json()["error"]
    assert Message.objects.count() == count
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_my_tickets_gives_each_tickets_latest_staff_reply_or_null(api, customer):
    answered = make_ticket(customer, title="Refund")
    staff = StaffFactory()
    ticket_services.add_staff_reply(answered.pk, staff=staff, text="Looking into it.")
    newest = ticket_services.add_staff_reply(answered.pk, staff=staff, text="Refunded\n\nUSD 120, sorry!")
    ticket_services.store_customer_message(answered.conversation_id, "Thanks, got it.")  # not the team's
    waiting = make_ticket(customer, title="Export fails")
    long = make_ticket(customer, title="Long answer")
    ticket_services.add_staff_reply(long.pk, staff=staff, text="word " * 400)
    stranger = make_ticket(UserFactory(), title="Not yours")
    ticket_services.add_staff_reply(stranger.pk, staff=staff, text="Their secret reply")

    response = api("get", "/chat/tickets/")

    tickets = {t["id"]: t for t in response.json()["tickets"]}
    assert set(tickets) == {answered.reference, waiting.reference, long.reference}
    assert tickets[answered.reference]["latest_reply"] == {
        "text": "Refunded USD 120, sorry!",
        "created_at": newest.created_at.isoformat(),
    }
    assert tickets[waiting.reference]["latest_reply"] is None
    trimmed = tickets[long.reference]["latest_reply"]["text"]
    assert len(trimmed) <= selectors.REPLY_PREVIEW and trimmed.endswith("word…")
    assert "secret" not in response.content.decode()


def test_the_assistant_answers_has_anyone_answered_my_ticket_with_the_latest_reply_or_not_yet(
    api, customer, django_capture_on_commit_callbacks
):
    ticket = make_ticket(customer, title="Refund for duplicate charge")
    cid = start(api)

    def ask() -> str:
        with django_capture_on_commit_callbacks(execute=True):
            assert send(api, cid, {"text": "Has anyone answered my ticket?"}).status_code == 201
        return read(api, cid).json()["messages"][-1]["text"]

    before = ask()
    assert ticket.reference in before and "Nobody from the team has replied yet." in before
    ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="We refunded the second charge today.")
    after = ask()
    assert ticket.reference in after and "We refunded the second charge today." in after
    assert "Nobody from the team" not in after
