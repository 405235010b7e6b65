"""A customer writing on a resolved ticket's conversation reopens it, within the retention window only:
logged as the customer's move, the purge clock stopped, the ticket back at the top of the staff queue."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from time_machine import travel

from tests.factories import StaffFactory, make_ticket
from tickets import services
from tickets.models import REOPENED, EventKind, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

ACTION = "Refunded the duplicate charge."


@pytest.fixture
def now(time_machine):
    moment = timezone.now().replace(microsecond=0)
    time_machine.move_to(moment, tick=False)
    return moment


def resolved_ago(age: timedelta, *, channel: str = "sms") -> Ticket:
    """A ticket resolved `age` ago by a staff member, built by travelling back and resolving it then."""
    with travel(timezone.now() - age, tick=False):
        ticket = make_ticket(channel=channel)
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken=ACTION)
    ticket.refresh_from_db()
    return ticket


def reopenings(ticket: Ticket):
    return TicketEvent.objects.filter(
        ticket=ticket, kind=EventKind.STATUS, old_status=Status.RESOLVED, new_status=Status.IN_PROGRESS
    )


def test_a_customer_message_on_a_resolved_ticket_reopens_it_as_the_customers_move(now):
    ticket = resolved_ago(timedelta(days=10))

    message, created = services.store_customer_message(ticket.conversation_id, "It is charging me twice again.")

    ticket.refresh_from_db()
    assert created and message.kind == REOPENED
    assert (ticket.status, ticket.resolved_at, ticket.last_activity_at) == (Status.IN_PROGRESS, None, now)
    assert ticket.action_taken == ACTION  # the earlier resolution stays on record
    (event,) = reopenings(ticket)
    assert (event.actor, event.detail, event.email) == (ticket.customer, "reopened by the customer", "")
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CUSTOMER_REPLY, actor=ticket.customer).exists()


def test_only_a_resolved_ticket_is_reopened_and_only_a_waiting_one_otherwise_moves():
    staff = StaffFactory()
    after = {
        Status.SUBMITTED: Status.SUBMITTED,
        Status.IN_PROGRESS: Status.IN_PROGRESS,
        Status.WAITING_ON_CUSTOMER: Status.IN_PROGRESS,
        Status.RESOLVED: Status.IN_PROGRESS,
    }
    for status, expected in after.items():
        ticket = make_ticket()
        if status != Status.SUBMITTED:
            services.change_status(ticket.pk, status, actor=staff, action_taken=ACTION)
        message, _created = services.store_customer_message(ticket.conversation_id, "Any news?")
        ticket.refresh_from_db()
        assert ticket.status == expected, status
        assert (message.kind == REOPENED) is (status == Status.RESOLVED), status
        assert reopenings(ticket).count() == (status == Status.RESOLVED), status


def test_the_purge_clock_stops_when_the_customer_reopens_the_ticket(now, time_machine):
    ticket = resolved_ago(timedelta(days=29, hours=23))
    services.store_customer_message(ticket.conversation_id, "Still broken, sorry.")

    time_machine.shift(timedelta(days=5))

    assert not services.due_for_purge().exists()
    assert services.purge_closed_tickets().tickets == 0
    assert Ticket.objects.filter(pk=ticket.pk, status=Status.IN_PROGRESS).exists()


def test_past_the_retention_window_the_conversation_takes_no_message_and_the_ticket_stays_resolved(now):
    ticket = resolved_ago(timedelta(days=30, seconds=1))
    count = Message.objects.filter(conversation_id=ticket.conversation_id).count()

    with pytest.raises(services.ConversationClosed):
        services.store_customer_message(ticket.conversation_id, "Hello again?", external_id="SM-late")

    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at) == (Status.RESOLVED, now - timedelta(days=30, seconds=1))
    assert Message.objects.filter(conversation_id=ticket.conversation_id).count() == count
    assert not reopenings(ticket).exists()
    assert services.purge_closed_tickets().tickets == 1  # purged as if nobody had written


def test_an_out_of_office_reply_reopens_nothing_but_the_customers_next_message_does(now):
    ticket = resolved_ago(timedelta(days=2), channel="email")

    auto, _created = services.store_customer_message(ticket.conversation_id, "I am away until Monday.", automatic=True)
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and auto.kind == ""

    services.store_customer_message(ticket.conversation_id, "Back now: the charge is still there.")
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_a_redelivered_message_reopens_the_ticket_once(now):
    ticket = resolved_ago(timedelta(days=3))
    first, created = services.store_customer_message(ticket.conversation_id, "Again!", external_id="SM77")
    again, created_again = services.store_customer_message(ticket.conversation_id, "Again!", external_id="SM77")
    assert (created, created_again, first.pk) == (True, False, again.pk)
    assert reopenings(ticket).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # leaves the migrations' rows for the next test
def test_concurrent_messages_reopen_the_ticket_once(requires_postgres):
    ticket = resolved_ago(timedelta(days=1))
    writers = 4
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            services.store_customer_message(ticket.conversation_id, f"message {n}", external_id=f"SM-race-{n}")
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert reopenings(ticket).count() == 1
    stored = Message.objects.filter(conversation_id=ticket.conversation_id, external_id__startswith="SM-race-")
    assert stored.count() == writers
    assert stored.filter(kind=REOPENED).count() == 1


def test_staff_see_the_reopened_ticket_first_and_its_history_names_the_customer(client, now, time_machine):
    staff = StaffFactory()
    client.force_login(staff)
    reopened = resolved_ago(timedelta(days=6))
    time_machine.shift(timedelta(days=1))
    busy = make_ticket()
    services.change_status(busy.pk, Status.IN_PROGRESS, actor=staff)
    time_machine.shift(timedelta(hours=1))

    services.store_customer_message(reopened.conversation_id, "The refund never arrived.")

    listed = client.get(reverse("admin:tickets_ticket_changelist"), {"status__exact": "in_progress"}).content.decode()
    assert listed.index(reopened.reference) < listed.index(busy.reference)
    page = client.get(reverse("admin:tickets_ticket_change", args=[reopened.pk])).content.decode()
    assert f"the customer ({reopened.customer.email}) · Status changed: Resolved -&gt; In Progress" in page
    assert "The refund never arrived." in page
