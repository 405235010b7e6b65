"""Retention: tickets resolved 30 or more days ago go, with everything they own; nothing else does."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from time_machine import travel

from tests.factories import StaffFactory, make_ticket
from tickets import services, tasks
from tickets.models import Conversation, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

ACTION = "Refunded the duplicate charge."


def resolved_ago(time_machine, age: timedelta, *, messages: int = 3) -> Ticket:
    """A ticket resolved `age` ago, built by travelling back and resolving it then."""
    with travel(timezone.now() - age, tick=False):
        ticket = make_ticket(messages=messages)
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken=ACTION)
    ticket.refresh_from_db()
    return ticket


def exists(ticket: Ticket) -> bool:
    return Ticket.objects.filter(pk=ticket.pk).exists()


@pytest.fixture
def now(time_machine):
    moment = timezone.now().replace(microsecond=0)
    time_machine.move_to(moment, tick=False)
    return moment


def test_a_ticket_resolved_29_days_23_hours_ago_is_kept(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=29, hours=23))
    assert services.purge_closed_tickets().tickets == 0
    assert exists(ticket)


def test_a_ticket_resolved_30_days_and_a_second_ago_is_deleted_with_everything_it_owns(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=30, seconds=1), messages=3)
    conversation_id = ticket.conversation_id
    first = Message.objects.filter(conversation_id=conversation_id).earliest("id")
    services.store_reply(ticket.conversation, "An answer to the first message", reply_to=first)
    assert Message.objects.filter(conversation_id=conversation_id).count() == 4
    events = TicketEvent.objects.filter(ticket=ticket).count()

    result = services.purge_closed_tickets()

    assert (result.tickets, result.conversations, result.messages, result.events) == (1, 1, 4, events)
    assert not exists(ticket)
    assert not Conversation.objects.filter(pk=conversation_id).exists()
    assert not Message.objects.filter(conversation_id=conversation_id).exists()
    assert not TicketEvent.objects.filter(ticket_id=ticket.pk).exists()
    assert ticket.customer.__class__.objects.filter(pk=ticket.customer_id).exists()  # the account stays


@pytest.mark.parametrize(
    "status", [Status.SUBMITTED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER], ids=lambda s: s.value
)
def test_unresolved_tickets_of_any_age_are_kept(now, time_machine, status):
    with travel(now - timedelta(days=400), tick=False):
        ticket = make_ticket()
        if status != Status.SUBMITTED:
            services.change_status(ticket.pk, status, actor=StaffFactory())
    assert services.purge_closed_tickets().tickets == 0
    assert exists(ticket)


def test_a_reopened_ticket_is_kept(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=90))
    services.change_status(ticket.pk, Status.IN_PROGRESS, actor=StaffFactory())
    assert services.purge_closed_tickets().tickets == 0
    assert exists(ticket)


def test_a_ticket_reopened_and_resolved_again_counts_from_the_last_resolution(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=90))
    with travel(now - timedelta(days=10), tick=False):
        services.change_status(ticket.pk, Status.IN_PROGRESS, actor=StaffFactory())
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken=ACTION)
    assert services.purge_closed_tickets().tickets == 0
    assert exists(ticket)


def test_only_due_tickets_go_and_others_are_untouched(now, time_machine):
    due = [resolved_ago(time_machine, timedelta(days=31 + i)) for i in range(5)]
    recent = resolved_ago(time_machine, timedelta(days=3))
    open_ticket = make_ticket()
    other_messages = Message.objects.exclude(conversation__ticket__in=due).count()

    result = services.purge_closed_tickets(batch_size=2)  # three batches

    assert result.tickets == 5
    assert not Ticket.objects.filter(pk__in=[t.pk for t in due]).exists()
    assert exists(recent) and exists(open_ticket)
    assert Message.objects.count() == other_messages
    assert services.purge_closed_tickets().tickets == 0  # idempotent


def test_the_dry_run_counts_and_deletes_nothing(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=45), messages=2)
    result = services.purge_closed_tickets(dry_run=True)
    assert (result.tickets, result.messages) == (1, 2)
    assert exists(ticket)


def test_the_command_prints_what_it_deleted(now, time_machine, capsys):
    ticket = resolved_ago(time_machine, timedelta(days=45), messages=2)

    call_command("purge_closed_tickets", "--dry-run")
    assert "Would delete 1 ticket(s)" in capsys.readouterr().out
    assert exists(ticket)

    call_command("purge_closed_tickets")
    out = capsys.readouterr().out
    assert "Deleted 1 ticket(s)" in out and "2 message(s)" in out
    assert not exists(ticket)


def test_the_task_runs_the_same_purge(now, time_machine):
    ticket = resolved_ago(time_machine, timedelta(days=45))
    assert tasks.purge_closed_tickets.delay().get() == 1
    assert not exists(ticket)


def test_the_beat_schedule_exists_after_migrate():
    purge = PeriodicTask.objects.get(task="tickets.purge_closed_tickets")
    assert purge.enabled
    assert (purge.crontab.hour, purge.crontab.minute) == ("3", "17")  # daily
    assert PeriodicTask.objects.get(task="tickets.sweep_unsent_emails").interval.every == 10
