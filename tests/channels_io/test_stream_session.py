"""An open event stream follows its session: it closes on logout, a new password or deactivation
(at once when told, at the next heartbeat otherwise), and what is posted after a logout never
reaches it. Runs the real ASGI handler in-process; with REDIS_URL set the notices travel through Redis."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import AsyncClient, Client
from django.utils import timezone

from tests.channels_io.sse import event_names, events, rest
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]

User = get_user_model()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@sync_to_async
def handed_off_chat(customer=None):
    customer = customer or UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer)
    ticket_services.store_customer_message(conversation.pk, "I was charged twice")
    ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice")
    return customer, conversation, ticket


async def logged_in(customer) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(customer)
    return client


async def open_stream(client: AsyncClient, conversation):
    response = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    assert response.status_code == 200
    assert [name for name, _data, _id in await events(response, 2)] == ["message", "state"]
    return response


@sync_to_async
def reply(ticket, text: str) -> None:
    ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text=text)


@sync_to_async
def log_out_elsewhere(client: AsyncClient) -> None:
    """The same session logged out from another tab or device (Django's LogoutView)."""
    other = Client()
    other.cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert other.post("/accounts/logout/").status_code == 302


@sync_to_async
def change_password(customer, client) -> None:
    customer.set_password("a-brand-new-password")
    customer.save()


@sync_to_async
def deactivate(customer, client) -> None:
    customer.is_active = False
    customer.save()


async def logout(customer, client) -> None:
    await log_out_elsewhere(client)


@pytest.mark.parametrize("how", [logout, change_password, deactivate], ids=["logout", "password", "deactivated"])
async def test_a_stream_closes_at_once_when_its_session_stops_logging_the_customer_in(how):
    customer, conversation, _ticket = await handed_off_chat()
    client = await logged_in(customer)
    response = await open_stream(client, conversation)
    _stranger, theirs, their_ticket = await handed_off_chat()
    bystander = await open_stream(await logged_in(_stranger), theirs)

    started = time.monotonic()
    await how(customer, client)
    assert "event:" not in await rest(response, timeout=5)  # closed, long before the 15 s heartbeat
    assert time.monotonic() - started < 5
    again = await client.get(f"/chat/conversations/{conversation.pk}/events/")
    assert again.status_code == 401  # the widget's reconnection is refused like any logged-out request

    await reply(their_ticket, "still here for you")
    assert [data["text"] for name, data, _id in await events(bystander, 1)] == ["still here for you"]


async def test_a_message_posted_after_a_logout_never_reaches_the_old_stream():
    customer, conversation, ticket = await handed_off_chat()
    client = await logged_in(customer)
    response = await open_stream(client, conversation)
    await log_out_elsewhere(client)
    await reply(ticket, "Your card number is on file, ending 4242")  # before the stream has run again
    sent = await rest(response)
    assert "4242" not in sent and "message" not in event_names(sent)


async def test_logging_out_one_session_leaves_the_customers_other_sessions_streaming():
    customer, conversation, ticket = await handed_off_chat()
    phone, laptop = await logged_in(customer), await logged_in(customer)
    on_phone, on_laptop = await open_stream(phone, conversation), await open_stream(laptop, conversation)
    await log_out_elsewhere(phone)
    await rest(on_phone)
    await reply(ticket, "for the laptop")
    assert [data["text"] for name, data, _id in await events(on_laptop, 1) if name == "message"] == ["for the laptop"]


@sync_to_async
def deactivate_quietly(customer, client) -> None:
    User.objects.filter(pk=customer.pk).update(is_active=False)  # no signal: found by the next check


@sync_to_async
def change_password_quietly(customer, client) -> None:
    User.objects.filter(pk=customer.pk).update(password="md5$salt$0123456789abcdef0123456789abcdef")


@sync_to_async
def delete_session(customer, client) -> None:
    Session.objects.filter(session_key=client.cookies[django_settings.SESSION_COOKIE_NAME].value).delete()


@sync_to_async
def expire_session(customer, client) -> None:
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))


@sync_to_async
def session_of_another_user(customer, client) -> None:
    """The session row now names someone else (a forged or reused key)."""
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    session = Session.objects.get(session_key=key)
    data = session.get_decoded()
    data["_auth_user_id"] = str(UserFactory().pk)
    Session.objects.filter(session_key=key).update(session_data=Session.objects.encode(data))


@pytest.mark.parametrize(
    "how",
    [deactivate_quietly, change_password_quietly, delete_session, expire_session, session_of_another_user],
    ids=["deactivated", "password", "session-deleted", "session-expired", "other-user"],
)
async def test_an_idle_stream_rechecks_its_session_at_every_heartbeat(settings, how):
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 0.1
    customer, conversation, _ticket = await handed_off_chat()
    client = await logged_in(customer)
    response = await open_stream(client, conversation)
    await how(customer, client)
    sent = await rest(response, timeout=5)
    assert "event:" not in sent and ": logged out" in sent


async def test_a_busy_stream_rechecks_its_session_once_a_heartbeat_has_passed(settings):
    """Pokes that never leave a heartbeat's silence still do not keep a stream from its check."""
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 0.5
    customer, conversation, ticket = await handed_off_chat()
    client = await logged_in(customer)
    response = await open_stream(client, conversation)
    await deactivate_quietly(customer, client)
    deadline = time.monotonic() + 10
    stream = response.streaming_content.__aiter__()
    received = 0
    while True:
        await reply(ticket, f"reply {received}")
        try:
            text = ""
            while "event: message" not in text:  # poked again before it falls silent for a heartbeat
                text += (await asyncio.wait_for(stream.__anext__(), 5)).decode()
        except StopAsyncIteration:
            break
        received += 1
        assert time.monotonic() < deadline, f"still streaming after {received} messages"
    assert ": heartbeat" not in text  # closed by the check before sending, not by a heartbeat
