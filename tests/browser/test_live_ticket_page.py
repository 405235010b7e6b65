"""Staff's live ticket pages in a real browser: the customer writes through the widget's API in one
browser context while staff keep the ticket's page (or the ticket list) open in another."""

import pytest

from tests.browser.conftest import MISSING, Server
from tests.browser.test_widget import log_in, log_in_to_admin
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Status

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The customer's widget posting a message: same origin, the session cookie and the CSRF token.
POST = """async ([id, text]) => {
  const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
  const response = await fetch(`/chat/conversations/${id}/messages/`, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({text}),
  });
  return response.status;
}"""


def customer_writes(page: Page, conversation_id: int, text: str) -> None:
    assert page.evaluate(POST, [conversation_id, text]) == 201


def ticket_page(new_page, staff, ticket) -> Page:
    admin = new_page()
    log_in_to_admin(admin, staff.email, f"/admin/tickets/ticket/{ticket.pk}/change/")
    admin.evaluate("window.loaded = 'once'")  # gone if the page reloads
    return admin


def test_an_open_ticket_page_shows_a_customers_message_within_two_seconds(new_page, server: Server, shot):
    customer, staff = UserFactory(), StaffFactory()
    ticket = make_ticket(customer)
    ticket_services.assign(ticket.pk, staff=staff, actor=staff)  # In Progress: a message moves nothing
    page = new_page()
    log_in(page, customer.email)
    admin = ticket_page(new_page, staff, ticket)
    transcript = admin.locator(".loophole-transcript")

    customer_writes(page, ticket.conversation_id, "<img src=x onerror=alert(1)> Is the refund on its way?")
    expect(transcript.locator("li").last).to_contain_text(
        "<img src=x onerror=alert(1)> Is the refund on its way?", timeout=2000
    )  # as text, not markup
    assert admin.evaluate("window.loaded") == "once"
    expect(admin.locator(".loophole-live-notice")).to_have_count(0)
    shot(transcript, "admin-live-update.png")


def waiting_ticket_open_on_both_sides(new_page):
    """A ticket waiting on its customer, who is logged in on one page, open on its assignee's ticket page
    on another: (customer's page, ticket page, ticket)."""
    customer, staff = UserFactory(), StaffFactory()
    ticket = make_ticket(customer)
    ticket_services.assign(ticket.pk, staff=staff, actor=staff)
    ticket_services.change_status(ticket.pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    page = new_page()
    log_in(page, customer.email)
    admin = ticket_page(new_page, staff, ticket)
    return page, admin, ticket


def test_a_status_change_keeps_the_text_a_staff_member_is_typing(new_page, server: Server):
    page, admin, ticket = waiting_ticket_open_on_both_sides(new_page)
    admin.locator("textarea[name=reply]").fill("Half-written answer about the refund")

    customer_writes(page, ticket.conversation_id, "Here is the invoice number: INV-1000")  # moves it to In Progress
    notice = admin.get_by_role("status")
    expect(notice).to_contain_text("The ticket changed: status is now In Progress", timeout=2000)
    expect(notice).to_contain_text("your text is kept")
    expect(admin.locator("textarea[name=reply]")).to_have_value("Half-written answer about the refund")
    expect(admin.locator(".loophole-transcript li").last).to_contain_text("INV-1000")
    assert admin.evaluate("window.loaded") == "once"


def test_without_typed_text_a_status_change_reloads_the_ticket_page(new_page, server: Server):
    page, admin, ticket = waiting_ticket_open_on_both_sides(new_page)

    customer_writes(page, ticket.conversation_id, "Any news?")
    expect(admin.locator("select[name=status]")).to_have_value(Status.IN_PROGRESS, timeout=3000)
    assert admin.evaluate("window.loaded") is None  # the form was drawn again, with the status as it is
