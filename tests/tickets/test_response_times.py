"""First response and resolution times: stored by the services, backfilled, shown and sorted in the list."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from tests.factories import StaffFactory, make_ticket
from tickets import services
from tickets.durations import human
from tickets.models import Status, Ticket

LIST = reverse("admin:tickets_ticket_changelist")


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def listed(response) -> list[str]:
    return list(dict.fromkeys(re.findall(r"LH-[0-9A-Z]{4}-[0-9A-Z]{4}", response.content.decode())))


@pytest.mark.django_db
def test_the_first_staff_reply_sets_the_first_response_time_once(clock):
    staff = StaffFactory()
    ticket = make_ticket()
    services.store_customer_message(ticket.conversation_id, "Hello?")  # the customer's own messages do not count
    clock.shift(timedelta(minutes=7))
    services.add_staff_reply(ticket.pk, staff=staff, text="Looking into it.")
    clock.shift(timedelta(hours=3))
    services.add_staff_reply(ticket.pk, staff=staff, text="Refunded.")
    assert Ticket.objects.get(pk=ticket.pk).first_response_time == timedelta(minutes=7)


@pytest.mark.django_db
def test_assistant_replies_status_changes_and_internal_notes_are_not_a_first_response(clock):
    staff = StaffFactory()
    ticket = make_ticket()
    conversation = services.lock_conversation(ticket.conversation_id)
    services.store_reply(conversation, "Your ticket is open.")
    clock.shift(timedelta(minutes=5))
    services.assign(ticket.pk, staff=staff, actor=staff)
    services.change_status(ticket.pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    if hasattr(services, "add_internal_note"):
        services.add_internal_note(ticket.pk, staff=staff, text="Checked billing.")
    assert Ticket.objects.get(pk=ticket.pk).first_response_time is None


@pytest.mark.django_db
def test_resolution_time_is_set_on_resolve_cleared_on_reopen_and_set_again(clock):
    staff = StaffFactory()
    ticket = make_ticket()
    clock.shift(timedelta(hours=2))
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
    assert Ticket.objects.get(pk=ticket.pk).resolution_time == timedelta(hours=2)

    clock.shift(timedelta(days=1))
    services.store_customer_message(ticket.conversation_id, "It came back.")  # reopens
    reopened = Ticket.objects.get(pk=ticket.pk)
    assert reopened.status == Status.IN_PROGRESS and reopened.resolution_time is None

    clock.shift(timedelta(hours=1))
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded again.")
    assert Ticket.objects.get(pk=ticket.pk).resolution_time == timedelta(days=1, hours=3)


@pytest.mark.parametrize(
    ("duration", "shown"),
    [
        (None, "—"),
        (timedelta(seconds=59), "under 1 min"),
        (timedelta(minutes=12, seconds=30), "12 min"),
        (timedelta(hours=2, minutes=5), "2 h 5 min"),
        (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),
    ],
)
def test_durations_read_as_people_say_them(duration, shown):
    assert human(duration) == shown


@pytest.mark.django_db
def test_the_list_shows_and_sorts_by_first_response_and_resolution(client, clock):
    staff = StaffFactory()
    client.force_login(staff)
    slow, fast, silent = make_ticket(), make_ticket(), make_ticket()
    clock.shift(timedelta(minutes=3))
    services.add_staff_reply(fast.pk, staff=staff, text="On it.")
    services.change_status(slow.pk, Status.RESOLVED, actor=staff, action_taken="Done.")
    clock.shift(timedelta(hours=2))
    services.add_staff_reply(slow.pk, staff=staff, text="Sorry for the wait.")

    page = client.get(LIST)
    assert "First response" in page.text and "3 min" in page.text and "2 h 3 min" in page.text

    first_response = _column(page, "first response")
    resolution = _column(page, "resolution")
    by_first = listed(client.get(LIST, {"o": first_response}))
    assert by_first == [fast.reference, slow.reference, silent.reference]
    assert listed(client.get(LIST, {"o": f"-{first_response}"}))[-2:] == [slow.reference, fast.reference]
    assert listed(client.get(LIST, {"o": resolution}))[0] == slow.reference


def _column(page, title: str) -> str:
    """The list's `o` index of a column, from its header's sort link."""
    name = {"first response": "first_response", "resolution": "resolution"}[title]
    header = re.search(rf'class="sortable column-{name}.*?href="\?o=(\d+)', page.text, re.S)
    assert header, f"the {title} column cannot be sorted"
    return header.group(1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_backfill_migration_measures_tickets_made_before_the_times_were_stored():
    before, after = (
        [("tickets", "0011_saved_replies_and_response_times")],
        [("tickets", "0012_backfill_response_times")],
    )
    staff = StaffFactory()
    ticket = make_ticket()
    silent = make_ticket()
    start = ticket.created_at
    services.add_staff_reply(ticket.pk, staff=staff, text="On it.")
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Done.")
    messages = ticket.conversation.messages
    reply = messages.get(author="staff")
    messages.filter(pk=reply.pk).update(created_at=start + timedelta(minutes=9))
    # A customer message before the staff reply is not a response.
    messages.filter(author="customer").update(created_at=start + timedelta(minutes=1))
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=start + timedelta(hours=5), first_response_time=None, resolution_time=None
    )

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    ticket.refresh_from_db()
    silent.refresh_from_db()
    assert ticket.first_response_time == timedelta(minutes=9)
    assert ticket.resolution_time == timedelta(hours=5)
    assert (silent.first_response_time, silent.resolution_time) == (None, None)
