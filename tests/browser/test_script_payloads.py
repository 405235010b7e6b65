"""Script payloads stored in messages, a customer's name and ticket titles run nowhere: not in the
widget (chat log, ticket card, My tickets) and not in the admin's ticket list or change page.

Every payload sets window.__pwned and opens a dialog if it runs; both must stay untouched.
"""

import pytest

from tests.browser.conftest import MISSING
from tests.browser.test_widget import log_in, open_chat
from tests.factories import PASSWORD, ConversationFactory, StaffFactory, UserFactory
from tickets import services as ticket_services

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

RUN = "window.__pwned=1;alert(1)"
PAYLOADS = [
    f"<script>{RUN}</script>",
    f'<img src=x onerror="{RUN}">',
    f'<svg onload="{RUN}"><circle r=5 /></svg>',
    f'<a href="javascript:{RUN}">open my refund</a> javascript:{RUN}',
    f'<iframe srcdoc="<script>parent.{RUN}</script>"></iframe>',
    f'"><img src=y onerror={RUN}>',
]
TITLES = [f'<img src=x onerror="{RUN}">', f"<script>{RUN}</script>", f"<svg onload={RUN}>"]
NAME = f'<img src=x onerror="{RUN}">'


def not_run(page: Page, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)  # an onerror or onload handler would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert page.locator("img[src=x], img[src=y], iframe[srcdoc], svg circle").count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.text.includes('__pwned')).length") == 0
    assert page.locator("a[href^='javascript']").count() == 0


def test_script_payloads_in_stored_data_run_neither_in_the_widget_nor_in_the_admin(new_page, dialogs):
    customer = UserFactory(name=NAME)
    staff = StaffFactory(name=NAME)
    tickets = []
    for title in TITLES:
        conversation = ConversationFactory(customer=customer, sender=customer.email)
        for payload in PAYLOADS:
            ticket_services.store_customer_message(conversation.pk, payload)
        ticket_services.store_reply(conversation, f"Assistant quoting you: {PAYLOADS[1]}")
        tickets.append(ticket_services.create_ticket(conversation.pk, title=title, description=" ".join(PAYLOADS),
                                                     summary=PAYLOADS[2]))  # fmt: skip
        ticket_services.add_staff_reply(tickets[-1].pk, staff=staff, text=PAYLOADS[3])
    shown = tickets[-1]

    page = new_page()
    log_in(page, customer.email)
    page.evaluate(
        "([key, id]) => localStorage.setItem(key, id)",
        [f"loophole.chat.conversation.{customer.pk}", shown.conversation_id],
    )
    page.reload()
    chat = open_chat(page)
    texts = page.locator("#lw-log .lw-msg .lw-text")
    expect(texts.filter(has_text="<script>")).not_to_have_count(0)
    for payload in PAYLOADS:
        expect(page.locator("#lw-log .lw-msg-customer .lw-text").filter(has_text=payload)).to_have_count(1)
    expect(page.locator("#lw-ticket-card")).to_contain_text(shown.title)
    not_run(page, dialogs)
    chat.get_by_role("tab", name="My tickets").click()
    for ticket in tickets:
        expect(chat.locator(".lw-ticket-item").filter(has_text=ticket.reference)).to_contain_text(ticket.title)
    not_run(page, dialogs)

    admin = new_page()
    admin.goto("/admin/login/?next=/admin/tickets/ticket/")
    admin.locator("#id_username").fill(staff.email)
    admin.locator("#id_password").fill(PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    for ticket in tickets:
        expect(admin.get_by_role("link", name=ticket.title)).to_be_visible()
    not_run(admin, dialogs)
    for ticket in tickets:
        admin.goto(f"/admin/tickets/ticket/{ticket.pk}/change/")
        expect(admin.locator("textarea[name=reply]")).to_be_visible()
        expect(admin.get_by_text(PAYLOADS[0]).first).to_be_visible()
        expect(admin.locator("input[name=title]")).to_have_value(ticket.title)
        not_run(admin, dialogs)
    admin.goto(f"/admin/tickets/ticket/?q={TITLES[1][:20]}")  # the search box echoes the query
    not_run(admin, dialogs)
