"""Away replies: a staff chat reply the customer was not shown in time goes by email (one for several),
and replying to that email continues the chat conversation. Mail goes through a real SMTP server."""

from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client
from django.utils import timezone

from channels_io.chat import away, conversation_link
from channels_io.email import ids
from channels_io.models import AwayEmail
from tests.channels_io.sse import events
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Conversation, Message

# The poll and the event stream read in worker threads on their own connections: data must be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

AFTER = 120


@pytest.fixture(autouse=True)
def _delay(settings):
    settings.CHAT_AWAY_EMAIL_AFTER = AFTER


@pytest.fixture
def anna():
    return UserFactory(email="anna.schmidt@example.com", name="Anna Schmidt")


@pytest.fixture
def ticket(anna):
    return make_ticket(anna, title="Refund for duplicate charge")


@pytest.fixture
def reply(ticket, django_capture_on_commit_callbacks):
    staff = StaffFactory(name="Sam")

    def send(text: str):
        with django_capture_on_commit_callbacks(execute=True):
            return ticket_services.add_staff_reply(ticket.pk, staff=staff, text=text)

    return send


@pytest.fixture
def broker_down():
    """Redis unreachable: tasks cannot be queued (enqueue_on_commit logs it); undo() brings it back."""
    from loophole.celery import app
    from tests.conftest import free_port

    def point(url: str, eager: bool) -> None:
        app.conf.broker_url = url
        app.conf.task_always_eager = eager
        app._pool = None
        app.amqp._producer_pool = None

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    point(f"redis://127.0.0.1:{free_port()}/0", False)

    class Down:
        @staticmethod
        def undo() -> None:
            point(*previous)

    yield Down
    point(*previous)


def sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return away.sweep_away_replies()


def later(seconds: float = AFTER + 1):
    return timezone.now() + timedelta(seconds=seconds)


def sent(smtp_server) -> list:
    """The away emails the SMTP server received (not the ticket's own emails)."""
    return [mail for mail in smtp_server.messages if mail["Subject"].startswith("Re: ")]


def body(mail) -> str:
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_several_unseen_replies_make_one_email_with_the_replies_ticket_status_and_link(
    anna, ticket, reply, smtp_server
):
    reply("We found the duplicate charge.")
    newest = reply("The refund is on its way: 3 to 5 days.")
    assert sweep_at(later(AFTER - 5)) == 0  # not due yet
    assert sent(smtp_server) == []
    sweep_at(later())
    (mail,) = sent(smtp_server)
    assert mail["To"] == "anna.schmidt@example.com"
    assert "support@loophole.localhost" in mail["From"]
    assert mail["Subject"] == f"Re: [{ticket.reference}] Refund for duplicate charge"
    assert mail["Message-ID"] == ids.outbound_id(ticket.conversation_id, newest.pk, newest.created_at.isoformat())
    text = body(mail)
    assert "We found the duplicate charge." in text and "The refund is on its way: 3 to 5 days." in text
    assert ticket.reference in text and "In Progress" in text
    assert conversation_link(ticket.conversation_id) in text
    html = mail.get_body(("html",)).get_content()
    assert conversation_link(ticket.conversation_id) in html and "The refund is on its way" in html

    sweep_at(later(AFTER * 3))  # nothing new: nothing emailed twice
    assert len(sent(smtp_server)) == 1
    assert Conversation.objects.get(pk=ticket.conversation_id).away_emailed_up_to == newest.pk


def test_a_later_reply_gets_its_own_email_with_only_the_new_reply(ticket, reply, smtp_server):
    reply("First answer.")
    sweep_at(later())
    with time_machine.travel(later(AFTER * 2), tick=False):
        reply("Second answer.")
    sweep_at(later(AFTER * 4))
    first, second = sent(smtp_server)
    assert "First answer." not in body(second) and "Second answer." in body(second)
    assert first["Message-ID"] != second["Message-ID"]


@pytest.mark.parametrize("how", ["messages", "poll"])
def test_no_email_when_the_open_widget_was_shown_the_reply_in_time(anna, ticket, reply, smtp_server, how):
    message = reply("We found the duplicate charge.")
    client = Client()
    client.force_login(anna)
    path = "messages" if how == "messages" else "poll"
    response = client.get(f"/chat/conversations/{ticket.conversation_id}/{path}/?after=0")
    assert response.status_code == 200
    assert Conversation.objects.get(pk=ticket.conversation_id).seen_up_to == message.pk
    sweep_at(later())
    assert sent(smtp_server) == []


def test_a_widget_that_read_only_older_messages_does_not_stop_the_email(anna, ticket, reply, smtp_server):
    reply("We found the duplicate charge.")
    client = Client()
    client.force_login(anna)
    newest = Message.objects.filter(conversation_id=ticket.conversation_id).latest("pk")
    client.get(f"/chat/conversations/{ticket.conversation_id}/messages/?after={newest.pk}")  # has them all already
    assert Conversation.objects.get(pk=ticket.conversation_id).seen_up_to == 0
    sweep_at(later())
    assert len(sent(smtp_server)) == 1


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_no_email_when_the_event_stream_delivered_the_reply(anna, ticket, reply, smtp_server):
    message = await sync_to_async(reply)("We found the duplicate charge.")
    client = AsyncClient()
    await sync_to_async(client.force_login)(anna)
    response = await client.get(f"/chat/conversations/{ticket.conversation_id}/events/")
    shown = await Message.objects.filter(conversation_id=ticket.conversation_id).acount()
    got = await events(response, shown + 1)  # the messages up to the reply, then the state
    assert got[-1][0] == "state" and int(got[-2][2]) == message.pk
    conversation = await Conversation.objects.aget(pk=ticket.conversation_id)
    assert conversation.seen_up_to == message.pk
    await sync_to_async(sweep_at)(later())
    assert sent(smtp_server) == []


def test_at_zero_the_email_is_sent_when_staff_reply(settings, ticket, reply, smtp_server):
    settings.CHAT_AWAY_EMAIL_AFTER = 0
    reply("We found the duplicate charge.")
    (mail,) = sent(smtp_server)
    assert "We found the duplicate charge." in body(mail)
    away.sweep_away_replies()
    assert len(sent(smtp_server)) == 1


@pytest.mark.parametrize(
    "account",
    [{"email_verified_at": None}, {"is_active": False}],
    ids=["unverified", "inactive"],
)
def test_no_email_to_an_unverified_or_inactive_account(ticket, reply, smtp_server, account, anna):
    reply("We found the duplicate charge.")
    type(anna).objects.filter(pk=anna.pk).update(**account)
    sweep_at(later())
    assert sent(smtp_server) == []
    assert not AwayEmail.objects.exists()


def test_a_claimed_email_whose_account_was_deactivated_meanwhile_is_dropped(
    anna, ticket, reply, smtp_server, broker_down
):
    reply("We found the duplicate charge.")
    sweep_at(later())  # claimed; the send could not be queued
    type(anna).objects.filter(pk=anna.pk).update(is_active=False)
    email = AwayEmail.objects.get()
    away.send_away_email(email.pk)
    assert sent(smtp_server) == [] and not AwayEmail.objects.exists()


def test_an_email_whose_task_was_lost_is_sent_once_by_the_sweeper(ticket, reply, smtp_server, broker_down):
    reply("We found the duplicate charge.")
    sweep_at(later())
    assert sent(smtp_server) == []
    broker_down.undo()
    sweep_at(later(AFTER + 30))  # not lost yet: its task may be on its way
    assert sent(smtp_server) == []
    sweep_at(later(AFTER + 90))
    sweep_at(later(AFTER + 150))
    assert len(sent(smtp_server)) == 1
    email = AwayEmail.objects.get()
    away.send_away_email(email.pk)  # run twice: still once
    assert len(sent(smtp_server)) == 1
