"""Staff's ticket admin: the list, the change page with its fixed fields, actions and access."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.tickets.helpers import ticket_change_url
from tickets import services
from tickets.models import Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")


def form_data(ticket: Ticket, **overrides) -> dict:
    data = {
        "title": ticket.title,
        "assignee": ticket.assignee_id or "",
        "status": ticket.status,
        "action_taken": ticket.action_taken,
        "reply": "",
    }
    data.update(overrides)
    return data


def listed(response) -> list[str]:
    return list(dict.fromkeys(re.findall(r"LH-[0-9A-Z]{4}-[0-9A-Z]{4}", response.content.decode())))


def test_the_list_filters_by_status_channel_and_assigned_to_me(client, staff):
    mine = make_ticket(channel="sms")
    services.assign(mine.pk, staff=staff, actor=staff)
    waiting = make_ticket(channel="email")
    services.change_status(waiting.pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    fresh = make_ticket()

    assert set(listed(client.get(LIST, {"status__exact": "in_progress"}))) == {mine.reference}
    assert set(listed(client.get(LIST, {"channel": "email"}))) == {waiting.reference}
    assert set(listed(client.get(LIST, {"assigned": "me"}))) == {mine.reference}
    assert set(listed(client.get(LIST, {"assigned": "nobody"}))) == {waiting.reference, fresh.reference}


def test_the_list_searches_reference_customer_email_and_title(client, staff):
    a = make_ticket(UserFactory(email="ana@example.com"), title="Refund for duplicate charge")
    b = make_ticket(UserFactory(email="bo@example.com"), title="Export stuck at 99 percent")

    assert listed(client.get(LIST, {"q": a.reference.lower().replace("-", " ")})) == [a.reference]
    assert listed(client.get(LIST, {"q": "BO@example.com"})) == [b.reference]
    assert listed(client.get(LIST, {"q": "export stuck"})) == [b.reference]
    assert listed(client.get(LIST, {"q": "nothing like this"})) == []


def test_the_list_sorts_by_latest_activity(client, staff):
    older, newer = make_ticket(), make_ticket()
    assert listed(client.get(LIST))[:2] == [newer.reference, older.reference]
    services.store_customer_message(older.conversation_id, "Any update?")
    assert listed(client.get(LIST))[:2] == [older.reference, newer.reference]


def test_the_list_costs_the_same_queries_whatever_the_page_and_the_table(client, staff):
    for _ in range(3):
        make_ticket()
    client.get(LIST)
    with CaptureQueriesContext(connection) as small:
        assert client.get(LIST).status_code == 200
    for i in range(60):
        make_ticket(UserFactory(), channel=["chat", "sms", "email", "voice"][i % 4])
    with CaptureQueriesContext(connection) as large:
        assert client.get(LIST).status_code == 200
    with CaptureQueriesContext(connection) as page2:
        assert client.get(LIST, {"p": 2}).status_code == 200
    assert len(small) == len(large) == len(page2)
    assert not any("COUNT(*)" in q["sql"] and "LIMIT" not in q["sql"] for q in large.captured_queries)


def test_the_change_page_shows_the_whole_conversation_in_order_and_the_fixed_fields(client, staff):
    ticket = make_ticket(messages=3)
    services.add_staff_reply(ticket.pk, staff=staff, text="Looking into it <b>now</b>.")
    response = client.get(ticket_change_url(ticket))
    html = response.content.decode()

    assert response.status_code == 200
    texts = list(Message.objects.filter(conversation=ticket.conversation).order_by("id").values_list("text", flat=True))
    positions = [html.index(t.replace("<", "&lt;").replace(">", "&gt;")) for t in texts]
    assert positions == sorted(positions)
    assert '<select name="status"' in html
    assert '<textarea name="action_taken"' in html
    assert '<textarea name="reply"' in html
    for label in ("In Progress", "Waiting on Customer", "Resolved"):
        assert label in html
    assert "<b>now</b>" not in html  # message text is escaped


def test_the_status_select_offers_only_allowed_moves(client, staff):
    ticket = make_ticket()
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Done.")
    html = client.get(ticket_change_url(ticket)).content.decode()
    select = re.search(r'<select name="status".*?</select>', html, re.S).group(0)
    assert re.findall(r'value="([a-z_]+)"', select) == ["resolved", "in_progress"]


def test_saving_with_a_reply_stores_it_and_picks_the_ticket_up(client, staff, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ticket_change_url(ticket), form_data(ticket, reply="We've refunded the extra charge."))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.conversation.messages.filter(author="staff", staff=staff, text__startswith="We've refunded").exists()


def test_resolving_from_the_admin_records_the_action_and_logs_the_actor(client, staff):
    ticket = make_ticket()
    data = form_data(ticket, status="resolved", action_taken="Refunded USD 120.")
    response = client.post(ticket_change_url(ticket), data)
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.action_taken) == (Status.RESOLVED, "Refunded USD 120.")
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.actor, event.new_status) == (staff, Status.RESOLVED)


@pytest.mark.parametrize(
    ("start", "changes", "field", "message"),
    [
        (Status.SUBMITTED, {"status": "resolved", "action_taken": ""}, "action_taken", "Write the action taken"),
        (Status.IN_PROGRESS, {"status": "submitted"}, "status", "Select a valid choice"),
        (Status.RESOLVED, {"status": "waiting_on_customer"}, "status", "Select a valid choice"),
        (Status.IN_PROGRESS, {"action_taken": "Refunded"}, "action_taken", "recorded when you choose Resolved"),
        (Status.IN_PROGRESS, {"status": "bogus"}, "status", "Select a valid choice"),
        (Status.IN_PROGRESS, {"reply": "x" * 4001}, "reply", "at most 4000"),
    ],
    ids=[
        "resolve-without-action",
        "back-to-submitted",
        "resolved-to-waiting",
        "action-without-resolve",
        "bogus",
        "long",
    ],
)
def test_refused_changes_are_form_errors_and_change_nothing(client, staff, start, changes, field, message):
    ticket = make_ticket()
    if start != Status.SUBMITTED:
        services.change_status(ticket.pk, start, actor=staff, action_taken="Earlier fix.")
    ticket.refresh_from_db()
    events = TicketEvent.objects.filter(ticket=ticket).count()
    messages = Message.objects.count()

    response = client.post(ticket_change_url(ticket), form_data(ticket, **changes))

    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    ticket.refresh_from_db()
    assert ticket.status == start
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
    assert Message.objects.count() == messages


def test_assign_to_me_and_mark_in_progress_actions(client, staff):
    a, b = make_ticket(), make_ticket()
    services.change_status(b.pk, Status.RESOLVED, actor=staff, action_taken="Done.")

    client.post(LIST, {"action": "assign_to_me", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert (a.assignee, a.status) == (staff, Status.IN_PROGRESS)

    c = make_ticket()
    services.change_status(c.pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    response = client.post(LIST, {"action": "mark_in_progress", "_selected_action": [b.pk, c.pk]}, follow=True)
    b.refresh_from_db()
    c.refresh_from_db()
    assert (b.status, c.status) == (Status.RESOLVED, Status.IN_PROGRESS)
    assert b.reference in response.content.decode()  # reported as not changed


def test_customers_cannot_enter_the_admin(client):
    customer = make_ticket().customer
    client.force_login(customer)
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_cannot_delete_or_add_tickets_but_a_superuser_can_delete(client, staff):
    ticket = make_ticket()
    assert client.get(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code == 403
    assert client.post(LIST, {"action": "delete_selected", "_selected_action": [ticket.pk], "post": "yes"})
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert client.get(reverse("admin:tickets_ticket_add")).status_code == 403

    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)
    client.post(reverse("admin:tickets_ticket_delete", args=[ticket.pk]), {"post": "yes"})
    assert not Ticket.objects.filter(pk=ticket.pk).exists()


def test_the_support_staff_group_can_work_on_tickets_but_not_delete_them():
    staff = StaffFactory()
    assert staff.has_perms(["tickets.view_ticket", "tickets.change_ticket"])
    assert not staff.has_perm("tickets.delete_ticket")
    assert Permission.objects.filter(group__name="Support staff", codename="delete_ticket").count() == 0


def test_a_staff_member_without_the_group_sees_no_tickets(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(LIST).status_code == 403
