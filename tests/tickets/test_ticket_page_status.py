"""The ticket page applies only a status the staff member chose, and keeps the reply box above the transcript."""

import re

import pytest
from django.contrib.messages import get_messages

from tests.factories import StaffFactory, make_ticket
from tests.tickets.helpers import ticket_change_url
from tickets import services
from tickets.models import Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def rendered_form(client, ticket: Ticket) -> dict:
    """The form as the page renders it, with its hidden copy of the status, left untouched."""
    html = client.get(ticket_change_url(ticket)).content.decode()
    hidden = re.search(r'<input type="hidden" name="initial-status" value="([a-z_]+)"', html)
    assert hidden is not None, "the page renders the status it shows"
    return {
        "title": ticket.title,
        "assignee": ticket.assignee_id or "",
        "status": hidden.group(1),
        "initial-status": hidden.group(1),
        "action_taken": ticket.action_taken,
        "reply": "",
        "internal_note": "",
    }


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_reply_that_picks_a_submitted_ticket_up_is_not_undone_by_the_untouched_status(client, staff):
    ticket = make_ticket()
    data = rendered_form(client, ticket)

    response = client.post(ticket_change_url(ticket), {**data, "reply": "Looking into it now."}, follow=True)

    assert response.status_code == 200
    assert not any("not changed" in t for t in texts(response)), texts(response)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
    moves = list(TicketEvent.objects.filter(ticket=ticket, kind="status").values_list("old_status", "new_status"))
    assert moves == [("submitted", "in_progress")]


def test_assigning_a_submitted_ticket_with_the_status_untouched_shows_no_refusal(client, staff):
    ticket = make_ticket()
    data = rendered_form(client, ticket)

    response = client.post(ticket_change_url(ticket), {**data, "assignee": staff.pk}, follow=True)

    assert not any("not changed" in t for t in texts(response)), texts(response)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_a_page_left_open_while_the_ticket_moved_saves_a_reply_without_moving_it_back(client, staff):
    ticket = make_ticket()
    data = rendered_form(client, ticket)  # shows Submitted
    services.change_status(ticket.pk, Status.WAITING_ON_CUSTOMER, actor=StaffFactory())

    response = client.post(ticket_change_url(ticket), {**data, "reply": "One more thing."}, follow=True)

    assert response.status_code == 200 and response.redirect_chain
    assert not any("not changed" in t for t in texts(response)), texts(response)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING_ON_CUSTOMER


def test_a_status_the_staff_member_chose_is_still_applied_after_the_reply(client, staff):
    ticket = make_ticket()
    data = rendered_form(client, ticket)

    data = {**data, "reply": "Please send the invoice.", "status": "waiting_on_customer"}
    response = client.post(ticket_change_url(ticket), data, follow=True)

    assert not any("not changed" in t for t in texts(response)), texts(response)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING_ON_CUSTOMER


def test_a_forged_rendered_status_cannot_smuggle_a_forbidden_move(client, staff):
    ticket = make_ticket()
    services.change_status(ticket.pk, Status.IN_PROGRESS, actor=staff)
    ticket.refresh_from_db()
    events = TicketEvent.objects.count()
    data = {**rendered_form(client, ticket), "status": "submitted", "initial-status": "submitted"}

    client.post(ticket_change_url(ticket), data)

    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
    assert TicketEvent.objects.count() == events


def test_the_reply_box_and_errors_come_before_a_long_transcript(client, staff):
    ticket = make_ticket(messages=40)
    data = rendered_form(client, ticket)

    html = client.post(ticket_change_url(ticket), {**data, "reply": "x" * 4001}).content.decode()

    transcript = html.index('class="loophole-transcript"')
    assert html.index('<textarea name="reply"') < transcript
    assert html.index('<select name="status"') < transcript
    assert html.index("errorlist") < transcript
