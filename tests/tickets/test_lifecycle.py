"""The status lifecycle: every allowed and every refused move, automatic moves, and the event log."""

import itertools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services
from tickets.models import TRANSITIONS, EventKind, InvalidTransition, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

ALLOWED = {
    (Status.SUBMITTED, Status.IN_PROGRESS),
    (Status.SUBMITTED, Status.WAITING_ON_CUSTOMER),
    (Status.SUBMITTED, Status.RESOLVED),
    (Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
    (Status.IN_PROGRESS, Status.RESOLVED),
    (Status.WAITING_ON_CUSTOMER, Status.IN_PROGRESS),
    (Status.WAITING_ON_CUSTOMER, Status.RESOLVED),
    (Status.RESOLVED, Status.IN_PROGRESS),
}
ALL_PAIRS = list(itertools.product(Status, Status))

# How to bring a fresh (Submitted) ticket into each status through the services.
PATH_TO = {
    Status.SUBMITTED: [],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.WAITING_ON_CUSTOMER: [Status.WAITING_ON_CUSTOMER],
    Status.RESOLVED: [Status.RESOLVED],
}


def ticket_in(status: Status, actor) -> Ticket:
    ticket = make_ticket()
    for step in PATH_TO[status]:
        services.change_status(ticket.pk, step, actor=actor, action_taken="Refunded the duplicate charge.")
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


def test_the_transition_table_is_exactly_the_products():
    assert {(old, new) for old, targets in TRANSITIONS.items() for new in targets} == ALLOWED


@pytest.mark.parametrize(("old", "new"), [p for p in ALL_PAIRS if p in ALLOWED], ids=lambda s: s.value)
def test_allowed_move_changes_status_and_is_logged_with_its_actor(old, new):
    staff = StaffFactory()
    ticket = ticket_in(old, staff)
    events_before = TicketEvent.objects.filter(ticket=ticket).count()

    services.change_status(ticket.pk, new, actor=staff, action_taken="Refunded the duplicate charge.")

    ticket.refresh_from_db()
    assert ticket.status == new
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.kind, event.old_status, event.new_status, event.actor) == (EventKind.STATUS, old, new, staff)
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before + 1
    assert (ticket.resolved_at is not None) == (new == Status.RESOLVED)


@pytest.mark.parametrize(("old", "new"), [p for p in ALL_PAIRS if p not in ALLOWED], ids=lambda s: s.value)
def test_refused_move_raises_a_clear_error_and_writes_nothing(old, new):
    staff = StaffFactory()
    ticket = ticket_in(old, staff)
    events_before = TicketEvent.objects.filter(ticket=ticket).count()

    with pytest.raises(InvalidTransition, match=r"not allowed|already"):
        services.change_status(ticket.pk, new, actor=staff, action_taken="Something")

    ticket.refresh_from_db()
    assert ticket.status == old
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


@pytest.mark.parametrize("action", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_resolving_without_the_action_taken_is_refused(action):
    ticket = make_ticket()
    with pytest.raises(InvalidTransition, match="action taken"):
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken=action)
    ticket.refresh_from_db()
    assert ticket.status == Status.SUBMITTED
    assert ticket.resolved_at is None


def test_reopening_clears_the_retention_clock_and_keeps_the_last_action():
    staff = StaffFactory()
    ticket = make_ticket()
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded USD 120.")
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None

    services.change_status(ticket.pk, Status.IN_PROGRESS, actor=staff)

    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.resolved_at is None
    assert ticket.action_taken == "Refunded USD 120."


def test_staff_picking_up_a_submitted_ticket_moves_it_to_in_progress():
    staff = StaffFactory()
    ticket = make_ticket()

    services.assign(ticket.pk, staff=staff, actor=staff)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.IN_PROGRESS, staff)
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "new_status", "actor"))
    assert kinds[-2:] == [(EventKind.ASSIGNED, "", staff.pk), (EventKind.STATUS, Status.IN_PROGRESS, staff.pk)]


def test_assigning_a_ticket_already_in_progress_does_not_move_it():
    staff, other = StaffFactory(), StaffFactory()
    ticket = ticket_in(Status.WAITING_ON_CUSTOMER, staff)
    services.assign(ticket.pk, staff=other, actor=staff)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.WAITING_ON_CUSTOMER, other)


def test_tickets_cannot_be_assigned_to_a_customer():
    ticket = make_ticket()
    with pytest.raises(services.TicketError, match="staff"):
        services.assign(ticket.pk, staff=UserFactory(), actor=StaffFactory())
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_a_staff_reply_to_a_submitted_ticket_moves_it_to_in_progress():
    staff = StaffFactory()
    ticket = make_ticket()

    message = services.add_staff_reply(ticket.pk, staff=staff, text="We're looking into the charge now.")

    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert (message.author, message.staff, message.conversation_id) == ("staff", staff, ticket.conversation_id)
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STAFF_REPLY, actor=staff).count() == 1


def test_a_staff_reply_while_waiting_leaves_the_status_alone():
    staff = StaffFactory()
    ticket = ticket_in(Status.WAITING_ON_CUSTOMER, staff)
    services.add_staff_reply(ticket.pk, staff=staff, text="Any news on the invoice number?")
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CUSTOMER


def test_a_customer_reply_while_waiting_moves_the_ticket_back_to_in_progress():
    staff = StaffFactory()
    ticket = ticket_in(Status.WAITING_ON_CUSTOMER, staff)

    services.store_customer_message(ticket.conversation_id, "The invoice number is INV-2231.")

    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STATUS).latest("id")
    assert (event.old_status, event.new_status, event.actor) == (
        Status.WAITING_ON_CUSTOMER,
        Status.IN_PROGRESS,
        ticket.customer,
    )


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.IN_PROGRESS], ids=lambda s: s.value)
def test_a_customer_reply_in_other_open_statuses_only_counts_as_activity(status):
    staff = StaffFactory()
    ticket = ticket_in(status, staff)
    before = ticket.last_activity_at

    services.store_customer_message(ticket.conversation_id, "Just checking in.")

    ticket.refresh_from_db()
    assert ticket.status == status
    assert ticket.last_activity_at > before


def test_a_redelivered_customer_message_is_stored_once():
    ticket = make_ticket(channel="sms")
    first, created = services.store_customer_message(ticket.conversation_id, "Hello?", external_id="SM123")
    again, created_again = services.store_customer_message(ticket.conversation_id, "Hello?", external_id="SM123")
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert ticket.conversation.messages.filter(external_id="SM123").count() == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [("", "empty"), ("   \n", "empty"), ("x" * 4001, "at most 4000"), ("nul\x00byte", "NUL")],
    ids=["empty", "blank", "oversized", "nul"],
)
def test_bad_customer_messages_are_refused_and_nothing_is_stored(text, error):
    ticket = make_ticket()
    count = ticket.conversation.messages.count()
    with pytest.raises(services.TicketError, match=error):
        services.store_customer_message(ticket.conversation_id, text)
    assert ticket.conversation.messages.count() == count


def test_creating_a_ticket_hands_the_conversation_off_and_logs_the_creation():
    ticket = make_ticket()
    ticket.conversation.refresh_from_db()
    assert ticket.conversation.state == "handed_off"
    assert ticket.status == Status.SUBMITTED
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.kind, event.new_status, event.email) == (EventKind.CREATED, Status.SUBMITTED, "created")


def test_a_conversation_gets_at_most_one_ticket():
    ticket = make_ticket()
    with pytest.raises(services.TicketAlreadyExists):
        services.create_ticket(ticket.conversation_id, title="Second", description="Again")
    assert Ticket.objects.filter(conversation_id=ticket.conversation_id).count() == 1


@pytest.mark.parametrize(
    ("title", "description", "error"),
    [
        ("", "Something broke", "title is empty"),
        ("x" * 81, "Something broke", "at most 80"),
        ("Two\nlines", "Something broke", "single line"),
        ("Export fails", "  ", "description is empty"),
    ],
    ids=["no-title", "long-title", "multiline-title", "no-description"],
)
def test_bad_ticket_content_is_refused_and_nothing_is_written(title, description, error):
    from tests.factories import ConversationFactory

    conversation = ConversationFactory()
    with pytest.raises(services.TicketError, match=error):
        services.create_ticket(conversation.pk, title=title, description=description)
    conversation.refresh_from_db()
    assert conversation.state == "assistant"
    assert not Ticket.objects.exists()


def test_a_conversation_without_an_account_gets_no_ticket():
    from tests.factories import ConversationFactory

    conversation = ConversationFactory(customer=None, channel="sms", sender="+15555550199")
    with pytest.raises(services.TicketError, match="customer account"):
        services.create_ticket(conversation.pk, title="Help", description="Please help")
    assert not Ticket.objects.exists()


def test_move_to_is_the_only_way_status_changes_and_it_refuses_bad_moves_in_memory():
    ticket = make_ticket()
    with pytest.raises(InvalidTransition):
        ticket.move_to(Status.SUBMITTED)
    ticket.move_to(Status.RESOLVED, action_taken="Done")
    assert ticket.resolved_at is not None and ticket.resolved_at <= timezone.now()


def test_the_database_refuses_a_resolved_ticket_without_resolution_details():
    ticket = make_ticket()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)


def test_an_automatic_reply_while_waiting_moves_nothing():
    staff = StaffFactory()
    ticket = ticket_in(Status.WAITING_ON_CUSTOMER, staff)
    events = TicketEvent.objects.filter(ticket=ticket).count()

    message, _ = services.store_customer_message(ticket.conversation_id, "I am out of office.", automatic=True)

    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CUSTOMER
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
    assert message.handled_at is not None
