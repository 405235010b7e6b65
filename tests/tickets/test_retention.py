"""Retention of everything personal: conversations without a ticket go 30 days after their last
message (an unknown sender's number or address with them; SMS opt-outs stay), admin log entries go
with what they name, and expired sessions are cleared by beat."""

import threading
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, models, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from time_machine import travel

from channels_io.sms import adapter as sms
from loophole import tasks as loophole_tasks
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services
from tickets.models import Conversation, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

NUMBER = "+15555550187"
ADDRESS = "stranger.7f3k@example.net"


@pytest.fixture
def now(time_machine):
    moment = timezone.now().replace(microsecond=0)
    time_machine.move_to(moment, tick=False)
    return moment


def ticketless(
    last: timedelta, *, started: timedelta | None = None, channel: str = "chat", customer=None, sender: str = ""
) -> Conversation:
    """A conversation without a ticket: opened `started` ago (default: `last`), last written `last` ago."""
    now = timezone.now()
    with travel(now - (started or last), tick=False):
        conversation = services.open_conversation(channel=channel, customer=customer, sender=sender)
        services.store_customer_message(conversation.pk, "How do I export my invoices?")
    with travel(now - last, tick=False):
        services.store_reply(conversation, "Billing, then Invoices, then Export.")
    return conversation


def resolved(age: timedelta, *, messages: int = 2) -> Ticket:
    with travel(timezone.now() - age, tick=False):
        ticket = make_ticket(messages=messages)
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")
    ticket.refresh_from_db()
    return ticket


def logged(obj: models.Model, staff) -> LogEntry:
    """The admin's log entry for a change to `obj`, as the admin writes it."""
    return LogEntry.objects.log_actions(staff.pk, [obj], CHANGE, "Changed status.", single_object=True)


def exists(obj: models.Model) -> bool:
    return type(obj).objects.filter(pk=obj.pk).exists()


def holders_of(value: str) -> set[str]:
    """The models whose rows hold `value` in a text column."""
    found = set()
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, models.CharField | models.TextField)]
        query = models.Q()
        for name in names:
            query |= models.Q(**{f"{name}__contains": value})
        if names and model._default_manager.filter(query).exists():
            found.add(model._meta.label)
    return found


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_a_conversation_without_a_ticket_last_written_29_days_23_hours_ago_is_kept(now):
    conversation = ticketless(timedelta(days=29, hours=23), started=timedelta(days=90))  # the last message counts
    result = services.purge_closed_tickets()
    assert (result.ticketless_conversations, result.messages) == (0, 0)
    assert exists(conversation) and conversation.messages.count() == 2


def test_a_conversation_without_a_ticket_last_written_30_days_and_a_second_ago_goes_with_its_messages(now):
    conversation = ticketless(timedelta(days=30, seconds=1), channel="sms", sender=NUMBER)
    result = services.purge_closed_tickets()
    assert (result.tickets, result.ticketless_conversations, result.conversations, result.messages) == (0, 1, 1, 2)
    assert not exists(conversation)
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()


def test_an_unknown_senders_number_and_address_are_kept_nowhere_but_the_sms_opt_out(now):
    with travel(now - timedelta(days=40), tick=False):
        sms.file_text(sms.accept("SM" + "7" * 32, NUMBER, "Do you ship to Canada?"))
        sms.opt_out(NUMBER)  # they texted STOP
    ticketless(timedelta(days=31), channel="email", sender=ADDRESS)
    assert holders_of(NUMBER) == {"tickets.Conversation", "channels_io.SmsOptOut"}
    assert holders_of(ADDRESS) == {"tickets.Conversation"}

    assert services.purge_closed_tickets().ticketless_conversations == 2

    assert holders_of(NUMBER) == {"channels_io.SmsOptOut"}  # still honoured: we never text them again
    assert holders_of(ADDRESS) == set()
    assert sms.is_opted_out(NUMBER)


def test_a_customers_conversation_without_a_ticket_goes_and_their_account_stays(now):
    customer = UserFactory()
    old, recent = ticketless(timedelta(days=31), customer=customer), ticketless(timedelta(days=2), customer=customer)
    assert services.purge_closed_tickets().ticketless_conversations == 1
    assert not exists(old)
    assert exists(recent) and exists(customer)


@pytest.mark.parametrize(
    "status", [Status.SUBMITTED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER, Status.RESOLVED], ids=str
)
def test_a_conversation_with_a_ticket_is_left_to_the_ticket_rule(now, status):
    with travel(now - timedelta(days=60), tick=False):
        ticket = make_ticket(messages=2)  # its last message is 60 days old
    with travel(now - timedelta(days=10), tick=False):  # resolved 10 days ago at most: not due
        if status != Status.SUBMITTED:
            services.change_status(ticket.pk, Status.IN_PROGRESS, actor=StaffFactory())
        if status not in (Status.SUBMITTED, Status.IN_PROGRESS):
            services.change_status(ticket.pk, status, actor=StaffFactory(), action_taken="Refunded.")

    result = services.purge_closed_tickets()

    assert (result.tickets, result.ticketless_conversations, result.conversations, result.messages) == (0, 0, 0, 0)
    assert exists(ticket) and Message.objects.filter(conversation_id=ticket.conversation_id).count() == 2


def test_conversations_without_a_ticket_go_in_batches_and_a_second_run_finds_none(now):
    due = [ticketless(timedelta(days=31 + i)) for i in range(2)]
    with travel(now - timedelta(days=60), tick=False):
        open_tickets = [make_ticket(), make_ticket()]  # a batch of old conversations that all have a ticket
    due += [ticketless(timedelta(days=40 + i)) for i in range(3)]
    kept = ticketless(timedelta(days=1))
    assert services.purge_closed_tickets(batch_size=2).ticketless_conversations == 5  # four batches
    assert not Conversation.objects.filter(pk__in=[c.pk for c in due]).exists()
    assert exists(kept) and all(exists(ticket.conversation) for ticket in open_tickets)
    assert services.purge_closed_tickets(batch_size=2).ticketless_conversations == 0


def test_admin_log_entries_naming_purged_tickets_and_conversations_go_and_others_stay(now):
    staff = StaffFactory()
    due, recent = resolved(timedelta(days=31)), resolved(timedelta(days=5))
    lonely = ticketless(timedelta(days=31))
    gone = [logged(due, staff), logged(due.conversation, staff), logged(lonely, staff)]
    of_an_account = logged(staff, staff)
    same_ids = [
        LogEntry.objects.create(
            user=staff,
            content_type_id=of_an_account.content_type_id,
            object_id=str(pk),
            object_repr="another model, the same id",
            action_flag=CHANGE,
        )
        for pk in (due.pk, due.conversation_id, lonely.pk)
    ]
    kept = [logged(recent, staff), logged(recent.conversation, staff), of_an_account, *same_ids]

    assert services.purge_closed_tickets().log_entries == 3

    assert not LogEntry.objects.filter(pk__in=[e.pk for e in gone]).exists()
    assert LogEntry.objects.filter(pk__in=[e.pk for e in kept]).count() == len(kept)


def mixed_rows() -> dict[str, int]:
    """Due and kept tickets and conversations, with admin log entries; what the purge must delete."""
    staff = StaffFactory()
    due = [resolved(timedelta(days=31), messages=3), resolved(timedelta(days=45), messages=1)]
    logged(due[0], staff)
    logged(due[1].conversation, staff)
    logged(resolved(timedelta(days=3)), staff)  # kept
    make_ticket()
    lonely = [
        ticketless(timedelta(days=30, seconds=1), channel="sms", sender=NUMBER),
        ticketless(timedelta(days=33), channel="email", sender=ADDRESS),
        ticketless(timedelta(days=90), customer=UserFactory()),
    ]
    logged(lonely[2], staff)
    ticketless(timedelta(days=29, hours=23), channel="sms", sender="+15555550188")  # kept
    return {
        "tickets": 2,
        "ticketless_conversations": 3,
        "conversations": 5,
        "messages": Message.objects.filter(conversation__in=[t.conversation_id for t in due] + lonely).count(),
        "events": TicketEvent.objects.filter(ticket__in=due).count(),
        "log_entries": 3,
    }


def test_the_dry_run_counts_what_the_purge_then_deletes_and_deletes_nothing(now):
    expected = mixed_rows()
    before = row_counts()

    dry = services.purge_closed_tickets(dry_run=True)

    assert row_counts() == before
    assert vars(dry) == expected
    assert services.purge_closed_tickets(batch_size=2) == dry
    after = row_counts()
    assert before["tickets.Ticket"] - after["tickets.Ticket"] == expected["tickets"]
    assert before["tickets.Conversation"] - after["tickets.Conversation"] == expected["conversations"]
    assert before["tickets.Message"] - after["tickets.Message"] == expected["messages"]
    assert before["admin.LogEntry"] - after["admin.LogEntry"] == expected["log_entries"]


def test_the_command_prints_each_count_and_the_dry_run_the_same_counts(now, capsys):
    expected = mixed_rows()
    before = row_counts()

    call_command("purge_closed_tickets", "--dry-run")
    dry = capsys.readouterr().out
    assert row_counts() == before
    call_command("purge_closed_tickets")
    out = capsys.readouterr().out

    assert out.startswith("Deleted ") and dry == out.replace("Deleted ", "Would delete ", 1)
    for printed in [
        f"{expected['tickets']} ticket(s)",
        f"{expected['ticketless_conversations']} conversation(s) without a ticket",
        f"{expected['conversations']} conversation(s) in all",
        f"{expected['messages']} message(s)",
        f"{expected['events']} event(s)",
        f"{expected['log_entries']} admin log entry(ies)",
    ]:
        assert printed in out


def test_a_conversation_that_takes_a_message_after_its_batch_was_picked_is_kept(now):
    """The batch is read again under its lock: a message committed while the batch was being picked
    (after the query's snapshot, before its lock) keeps the conversation."""
    writing, other = ticketless(timedelta(days=31)), ticketless(timedelta(days=32))
    state = {"picked": False, "written": False}

    def message_arrives(execute, sql, params, many, context):
        if state["picked"] and not state["written"]:
            state["written"] = True
            services.store_customer_message(writing.pk, "Are you still there?")
        result = execute(sql, params, many, context)
        if Conversation._meta.db_table in sql and "NOT EXISTS" in sql:  # the batch, picked (and locked)
            state["picked"] = True
        return result

    with connection.execute_wrapper(message_arrives):
        result = services.purge_closed_tickets()

    assert state["written"]
    assert result.ticketless_conversations == 1
    assert not exists(other)
    assert exists(writing) and writing.messages.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_conversation_taking_a_message_while_the_purge_runs_is_kept(requires_postgres, now):
    writing, other = ticketless(timedelta(days=31)), ticketless(timedelta(days=32))
    stored, release = threading.Event(), threading.Event()

    def customer_writes() -> None:
        try:
            with transaction.atomic():  # the message's transaction holds the conversation's lock
                services.store_customer_message(writing.pk, "Are you still there?")
                stored.set()
                release.wait(timeout=20)
        finally:
            connection.close()

    writer = threading.Thread(target=customer_writes)
    writer.start()
    try:
        assert stored.wait(timeout=20)
        result = services.purge_closed_tickets()
        assert writer.is_alive()  # the purge skipped the locked row rather than waiting for the message
    finally:
        release.set()
        writer.join(timeout=20)

    assert result.ticketless_conversations == 1 and not exists(other)
    assert exists(writing) and writing.messages.count() == 3
    assert services.purge_closed_tickets().ticketless_conversations == 0  # its last message is new now


def session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def test_the_beat_task_clears_expired_sessions_and_keeps_live_ones(now):
    live, expired = session_store()(), session_store()()
    for store in (live, expired):
        store["customer"] = "signed in"
        store.save()
    Session.objects.filter(pk=expired.session_key).update(expire_date=now - timedelta(seconds=1))

    loophole_tasks.clear_expired_sessions.delay().get()

    assert not Session.objects.filter(pk=expired.session_key).exists()
    assert session_store()(live.session_key).load() == {"customer": "signed in"}
    loophole_tasks.clear_expired_sessions.delay().get()  # twice: harmless
    assert Session.objects.filter(pk=live.session_key).exists()


def test_the_session_schedule_exists_after_migrate():
    clear = PeriodicTask.objects.get(task="loophole.clear_expired_sessions")
    assert clear.enabled
    assert (clear.crontab.hour, clear.crontab.minute, clear.crontab.day_of_week) == ("3", "47", "*")  # daily
