"""Staff's live ticket pages: the ticket page's and the ticket list's event streams are open only to
staff who may view tickets, carry new messages, status changes and assignments as they happen, and
end once the staff member may no longer watch. Runs the real ASGI handler in-process."""

import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import AsyncClient, Client

from tests.channels_io.sse import event_names, events, rest
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Message, Status

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.anyio]

User = get_user_model()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@sync_to_async
def a_ticket():
    ticket = make_ticket()
    return ticket, Message.objects.filter(conversation_id=ticket.conversation_id).order_by("pk").last().pk


async def logged_in(user) -> AsyncClient:
    client = AsyncClient()
    if user is not None:
        await sync_to_async(client.force_login)(user)
    return client


def urls(ticket) -> dict[str, str]:
    return {"ticket": f"/admin/tickets/ticket/{ticket.pk}/events/", "list": "/admin/tickets/ticket/events/"}


@sync_to_async
def staff_member():
    return StaffFactory()


def _bare_staff():
    staff = StaffFactory()
    staff.groups.clear()  # staff, but not in the support group: may not view tickets
    return staff


@pytest.mark.parametrize("page", ["ticket", "list"])
@pytest.mark.parametrize("who", ["anonymous", "a customer", "the ticket's own customer"])
async def test_a_customer_never_reaches_a_staff_stream(page, who):
    ticket, _last = await a_ticket()
    user = {"anonymous": None, "a customer": await sync_to_async(UserFactory)(), "the ticket's own customer": None}[who]
    if who == "the ticket's own customer":
        user = await sync_to_async(lambda: User.objects.get(pk=ticket.customer_id))()
    response = await (await logged_in(user)).get(urls(ticket)[page])
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not response.streaming
    staff = await staff_member()  # the same address streams for staff: the refusal is the customer's
    allowed = await (await logged_in(staff)).get(urls(ticket)[page])
    assert allowed.status_code == 200 and allowed["Content-Type"] == "text/event-stream"


@pytest.mark.parametrize("page", ["ticket", "list"])
async def test_staff_without_permission_to_view_tickets_are_refused(page):
    ticket, _last = await a_ticket()
    staff = await sync_to_async(_bare_staff)()
    response = await (await logged_in(staff)).get(urls(ticket)[page])
    assert response.status_code == 403
    assert not response.streaming


@pytest.mark.parametrize(
    "path", ["/admin/tickets/ticket/999999/events/", "/admin/tickets/ticket/99999999999999999999/events/"]
)
async def test_a_ticket_that_does_not_exist_is_a_404(path):
    staff = await staff_member()
    assert (await (await logged_in(staff)).get(path)).status_code == 404


async def test_the_ticket_page_shows_a_customers_message_a_status_change_and_an_assignment():
    ticket, last = await a_ticket()
    staff = await staff_member()
    response = await (await logged_in(staff)).get(f"{urls(ticket)['ticket']}?after={last}")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    [(name, shown, _id)] = await events(response, 1)
    assert (name, shown["status"], shown["assignee"]) == ("ticket", Status.SUBMITTED, "")

    await sync_to_async(ticket_services.store_customer_message)(ticket.conversation_id, "<b>Any news?</b>")
    [(name, message, event_id)] = await events(response, 1)
    assert name == "message" and message["text"] == "<b>Any news?</b>" and message["author"] == "customer"
    assert int(event_id) == message["id"] > last

    await sync_to_async(ticket_services.assign)(ticket.pk, staff=staff, actor=staff)
    [(name, shown, _id)] = await events(response, 1)
    assert name == "ticket" and shown["status"] == Status.IN_PROGRESS and shown["assignee"] == staff.get_full_name()


@pytest.mark.parametrize("after", ["", "abc", "-1", "1e3", "99999999999999999999999"], ids=repr)
async def test_a_bad_after_starts_from_the_first_message(after):
    ticket, _last = await a_ticket()
    response = await (await logged_in(await staff_member())).get(f"{urls(ticket)['ticket']}?after={after}")
    assert [name for name, _data, _id in await events(response, 2)] == ["message", "ticket"]


async def test_the_ticket_list_names_the_tickets_that_changed():
    ticket, _last = await a_ticket()
    other, _ = await a_ticket()
    response = await (await logged_in(await staff_member())).get(urls(ticket)["list"])
    assert response.status_code == 200
    assert ": open" in (await anext(response.streaming_content)).decode()  # subscribed
    await sync_to_async(ticket_services.change_status)(ticket.pk, Status.WAITING_ON_CUSTOMER, actor=None)
    assert await events(response, 1) == [("changed", {"tickets": [ticket.pk]}, "")]
    await sync_to_async(ticket_services.store_customer_message)(other.conversation_id, "hello?")
    assert await events(response, 1) == [("changed", {"tickets": [other.pk]}, "")]


@sync_to_async
def deactivate(staff, client) -> None:
    staff.is_active = False
    staff.save()


@sync_to_async
def log_out(staff, client) -> None:
    other = Client()
    other.cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert other.post("/admin/logout/").status_code in (200, 302)


@pytest.mark.parametrize("page", ["ticket", "list"])
@pytest.mark.parametrize("how", [deactivate, log_out], ids=["deactivated", "logged-out"])
async def test_a_staff_stream_ends_at_once_when_the_staff_member_is_deactivated_or_logs_out(page, how):
    ticket, last = await a_ticket()
    staff = await staff_member()
    client = await logged_in(staff)
    response = await client.get(f"{urls(ticket)[page]}?after={last}")
    if page == "ticket":
        await events(response, 1)
    else:
        await anext(response.streaming_content)
    started = time.monotonic()
    await how(staff, client)
    await sync_to_async(ticket_services.store_customer_message)(ticket.conversation_id, "card ending 4242")
    sent = await rest(response, timeout=5)  # long before the 15 s heartbeat
    assert time.monotonic() - started < 5
    assert "4242" not in sent and not event_names(sent)


@sync_to_async
def leave_support_group(staff, client) -> None:
    staff.groups.remove(Group.objects.get(name="Support staff"))  # no signal: found by the next check


@sync_to_async
def no_longer_staff(staff, client) -> None:
    User.objects.filter(pk=staff.pk).update(is_staff=False)


@sync_to_async
def deactivate_quietly(staff, client) -> None:
    User.objects.filter(pk=staff.pk).update(is_active=False)


@pytest.mark.parametrize(
    "how", [leave_support_group, no_longer_staff, deactivate_quietly], ids=["permission", "not-staff", "deactivated"]
)
async def test_an_idle_staff_stream_rechecks_its_permission_at_every_heartbeat(settings, how):
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 0.1
    ticket, last = await a_ticket()
    staff = await staff_member()
    client = await logged_in(staff)
    response = await client.get(f"{urls(ticket)['ticket']}?after={last}")
    await events(response, 1)
    await how(staff, client)
    assert ": closed" in await rest(response, timeout=5)
