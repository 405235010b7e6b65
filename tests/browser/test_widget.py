"""The live-chat widget in a real browser, against the app served by uvicorn.

Each test logs in through the login form and uses the widget as a customer would; staff work in
the admin in a second browser context. They take the README's screenshots (`make screenshots`).
"""

import json
import re

import pytest

from tests.assistant.helpers import add_articles
from tests.browser.conftest import MISSING, Server
from tests.conftest import wait_until
from tests.factories import PASSWORD, ConversationFactory, StaffFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Status, Ticket

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Locator, Page, Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BANNER = "Our team will reply here — no automatic replies in this conversation"


def log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_in_to_admin(page: Page, email: str, next_url: str) -> None:
    page.goto(f"/admin/login/?next={next_url}")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("textarea[name=reply]")).to_be_visible()


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name="Chat with us")


def panel(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Loophole support")


def open_chat(page: Page) -> Locator:
    launcher(page).click()
    expect(panel(page)).to_be_visible()
    return panel(page)


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Your message")


def say(page: Page, text: str) -> None:
    message_box(page).fill(text)
    message_box(page).press("Enter")
    expect(page.locator("#lw-log .lw-msg-customer[data-id]").filter(has_text=text.splitlines()[0])).not_to_have_count(0)


def assistant(page: Page) -> Locator:
    return page.locator("#lw-log .lw-msg-assistant")


def mail_for(server: Server, reference: str, subject_part: str):
    def found():
        return next(
            (m for m in server.mail.messages if m["X-Loophole-Ticket"] == reference and subject_part in m["Subject"]),
            None,
        )

    wait_until(lambda: found() is not None, timeout=15, what=f"the email {subject_part!r} for {reference}")
    return found()


def test_a_customer_gets_answers_and_a_ticket_only_after_saying_yes(new_page, server: Server, dialogs, shot):
    add_articles()
    customer = UserFactory()
    page = new_page()
    log_in(page, customer.email)
    chat = open_chat(page)
    expect(message_box(page)).to_be_focused()

    say(page, "how do I reset my password?")
    expect(assistant(page)).to_have_count(1)
    answer = assistant(page).last
    expect(answer).to_contain_text("Forgot password")
    expect(answer.locator(".lw-author")).to_have_text("Loophole AI")
    expect(answer.get_by_role("link").first).to_have_attribute("href", f"{server.url}/help/reset-password/")
    expect(page.locator("#lw-typing")).to_be_hidden()
    shot(page, "answer.png")

    yes = chat.get_by_role("button", name="Yes, open a ticket")
    no = chat.get_by_role("button", name="No, thanks")
    expect(yes).to_be_hidden()
    say(page, "I want a refund for my annual plan")
    expect(yes).to_be_visible()
    expect(no).to_be_visible()
    shot(page, "offer.png")
    no.click()
    expect(assistant(page).last).to_contain_text("I won't open a ticket")
    expect(yes).to_be_hidden()
    assert not Ticket.objects.exists()

    say(page, "I want a refund for my annual plan")
    expect(yes).to_be_visible()
    yes.click()
    card = page.locator("#lw-ticket-card")
    expect(card).to_be_visible()
    ticket = Ticket.objects.get(customer=customer)
    expect(card).to_contain_text(ticket.reference)
    expect(card).to_contain_text(ticket.title)
    expect(card).to_contain_text("Submitted")
    expect(chat.get_by_text(BANNER)).to_be_visible()
    expect(chat.get_by_role("button", name="Start a new conversation")).to_be_visible()
    expect(assistant(page).last).to_contain_text(ticket.reference)
    expect(yes).to_be_hidden()
    email = mail_for(server, ticket.reference, "opened a support ticket")
    assert email["To"] == customer.email
    assert ticket.reference in email.get_body(("plain",)).get_content()
    shot(page, "ticket-card.png")

    replies = assistant(page).count()
    say(page, "My invoice number is INV-2041.")
    page.wait_for_timeout(1500)
    expect(assistant(page)).to_have_count(replies)
    expect(page.locator("#lw-typing")).to_be_hidden()
    last = Message.objects.filter(conversation_id=ticket.conversation_id).order_by("id").last()
    assert (last.author, last.text) == ("customer", "My invoice number is INV-2041.")

    page.reload()  # the open conversation survives page loads, and so does the open panel
    expect(chat).to_be_visible()
    expect(page.locator("#lw-log .lw-msg-customer").last).to_contain_text("INV-2041")
    expect(card).to_contain_text(ticket.reference)
    expect(chat.get_by_text(BANNER)).to_be_visible()
    assert dialogs == []


def test_staff_replies_and_status_changes_reach_the_open_widget(new_page, server: Server, shot):
    add_articles()
    customer = UserFactory()
    staff = StaffFactory()
    page = new_page()
    log_in(page, customer.email)
    chat = open_chat(page)
    say(page, "I was charged twice, let me talk to a human")
    chat.get_by_role("button", name="Yes, open a ticket").click()
    card = page.locator("#lw-ticket-card")
    expect(card).to_be_visible()
    ticket = Ticket.objects.get(customer=customer)

    admin = new_page()
    log_in_to_admin(admin, staff.email, f"/admin/tickets/ticket/{ticket.pk}/change/")

    def save() -> None:
        with admin.expect_navigation():
            admin.locator("input[name=_continue]").click()
        expect(admin.locator(".errornote, .errorlist")).to_have_count(0)

    admin.locator("textarea[name=reply]").fill("Hi, this is Sam from the Loophole team. I'm checking the charges now.")
    save()
    staff_reply = page.locator("#lw-log .lw-msg-staff")
    expect(staff_reply).to_contain_text("Sam from the Loophole team", timeout=2000)  # pushed: no reload
    expect(staff_reply.locator(".lw-author")).to_have_text("Loophole team")
    expect(card).to_contain_text("In Progress")
    expect(page.locator("#lw-typing")).to_be_hidden()
    shot(page, "handed-off.png")

    admin.locator("select[name=status]").select_option("waiting_on_customer")
    save()
    expect(card).to_contain_text("Waiting on Customer")
    chat.get_by_role("tab", name="My tickets").click()
    item = chat.locator(".lw-ticket-item").filter(has_text=ticket.reference)
    expect(item).to_contain_text("Waiting on Customer")
    expect(item).not_to_contain_text("Resolved on")

    chat.get_by_role("tab", name="Chat").click()
    admin.locator("select[name=status]").select_option("resolved")
    admin.locator("textarea[name=action_taken]").fill("Refunded the duplicate charge of USD 120.")
    save()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    expect(card).to_contain_text("Resolved")
    chat.get_by_role("tab", name="My tickets").click()  # refreshed when opened
    expect(item).to_contain_text("Resolved")
    expect(item).to_contain_text(f"Resolved on {ticket.resolved_at.day} {ticket.resolved_at:%B %Y}")
    expect(item).to_contain_text("Action taken: Refunded the duplicate charge of USD 120.")
    shot(page, "my-tickets.png")
    resolution = mail_for(server, ticket.reference, "resolved")
    assert "Refunded the duplicate charge of USD 120." in resolution.get_body(("plain",)).get_content()

    chat.get_by_role("tab", name="Chat").click()
    chat.get_by_role("button", name="Start a new conversation").click()
    expect(page.locator("#lw-log .lw-msg")).to_have_count(0)
    expect(card).to_be_hidden()
    expect(chat.get_by_text(BANNER)).to_be_hidden()
    expect(message_box(page)).to_be_focused()
    say(page, "how do I export my data?")
    expect(assistant(page)).to_have_count(1)
    expect(assistant(page).last).to_contain_text("Export")
    assert Conversation.objects.filter(customer=customer, channel="chat").count() == 2


def test_the_widget_works_with_the_keyboard_alone(new_page):
    add_articles()
    customer = UserFactory()
    page = new_page()
    log_in(page, customer.email)
    button = launcher(page)
    for _ in range(40):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    assert button.evaluate("el => getComputedStyle(el).boxShadow") != "none", "no visible focus style"
    expect(button).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    box = message_box(page)
    expect(box).to_be_focused()
    page.keyboard.type("how do I export")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("my data?")
    expect(box).to_have_value("how do I export\nmy data?")
    expect(page.locator("#lw-log .lw-msg")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(box).to_have_value("")
    expect(page.locator("#lw-log .lw-msg-customer .lw-text")).to_have_text("how do I export\nmy data?")
    expect(assistant(page)).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send")).to_be_focused()

    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    tab = page.get_by_role("tab", name="Chat")
    for _ in range(10):  # back past the answer's link to the tabs
        page.keyboard.press("Shift+Tab")
        if tab.evaluate("el => el === document.activeElement"):
            break
    expect(tab).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="My tickets")).to_be_focused()
    expect(page.get_by_role("tab", name="My tickets")).to_have_attribute("aria-selected", "true")
    expect(panel(page).get_by_text("You have no support tickets")).to_be_visible()
    page.keyboard.press("Escape")
    expect(button).to_be_focused()


def test_on_a_phone_the_panel_fills_the_screen(new_page, shot):
    add_articles()
    customer = UserFactory()
    page = new_page(width=390, height=844)
    log_in(page, customer.email)
    open_chat(page)
    say(page, "how do I reset my password?")
    expect(assistant(page)).to_have_count(1)
    assert panel(page).bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
    shot(page, "phone.png")


def test_markup_in_messages_is_shown_as_text_in_the_widget_and_the_admin(new_page, server: Server, dialogs):
    customer = UserFactory()
    staff = StaffFactory()
    page = new_page()
    log_in(page, customer.email)
    chat = open_chat(page)
    payload = "I want a refund <img src=x onerror=alert(1)> <script>alert('script')</script> javascript:alert(2)"
    say(page, payload)
    expect(page.locator("#lw-log .lw-msg-customer .lw-text").first).to_have_text(payload)
    chat.get_by_role("button", name="Yes, open a ticket").click()
    expect(page.locator("#lw-ticket-card")).to_be_visible()
    ticket = Ticket.objects.get(customer=customer)

    admin = new_page()
    log_in_to_admin(admin, staff.email, f"/admin/tickets/ticket/{ticket.pk}/change/")
    expect(admin.get_by_text("<img src=x onerror=alert(1)>").first).to_be_visible()
    assert admin.locator("img[src=x]").count() == 0
    assert admin.evaluate("[...document.scripts].filter(s => s.text.includes('alert')).length") == 0

    admin.locator("textarea[name=reply]").fill(
        "<b>Bold?</b> <img src=y onerror=alert(3)> See https://example.com/refunds."
    )
    with admin.expect_navigation():
        admin.locator("input[name=_continue]").click()
    reply = page.locator("#lw-log .lw-msg-staff .lw-text")
    expect(reply).to_have_text("<b>Bold?</b> <img src=y onerror=alert(3)> See https://example.com/refunds.")
    expect(reply.get_by_role("link")).to_have_attribute("href", "https://example.com/refunds")
    assert page.locator("#lw-log img, #lw-log b, #lw-log script").count() == 0
    assert page.locator("#lw-log a[href^=javascript]").count() == 0
    page.reload()
    expect(reply).to_be_visible()
    admin.reload()
    expect(admin.get_by_text("<b>Bold?</b>").first).to_be_visible()
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []


def test_with_events_blocked_the_widget_falls_back_to_long_polling(new_page):
    add_articles()
    customer = UserFactory()
    page = new_page()
    attempts: list[str] = []

    def refuse(route: Route) -> None:
        attempts.append(route.request.url)
        route.fulfill(status=503, body="down")

    page.route(re.compile(r"/chat/conversations/\d+/events/"), refuse)
    log_in(page, customer.email)
    with page.expect_request(lambda request: "wait=25" in request.url, timeout=15_000):
        open_chat(page)
    assert len(attempts) == 3
    say(page, "how do I reset my password?")
    expect(assistant(page)).to_have_count(1)
    expect(assistant(page).last).to_contain_text("Forgot password")


def test_a_send_retried_after_a_network_error_is_stored_once(new_page):
    add_articles()
    customer = UserFactory()
    page = new_page()
    bodies: list[dict] = []

    def flaky(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        bodies.append(json.loads(route.request.post_data or "{}"))
        if len(bodies) == 1:
            route.fetch()  # the server stores it, but the answer is lost on the way back
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"/chat/conversations/\d+/messages/$"), flaky)
    log_in(page, customer.email)
    open_chat(page)
    message_box(page).fill("how do I reset my password?")
    message_box(page).press("Enter")
    expect(page.locator("#lw-typing")).to_be_visible()
    expect(assistant(page)).to_have_count(1)
    expect(page.locator("#lw-log .lw-msg-customer")).to_have_count(1)
    expect(page.locator("#lw-log .lw-msg-customer[data-id]")).to_have_count(1)
    expect(page.locator("#lw-typing")).to_be_hidden()
    expect(page.locator("#lw-alert")).to_be_empty()
    assert len(bodies) == 2 and bodies[0]["client_id"] == bodies[1]["client_id"]
    assert Message.objects.filter(author="customer").count() == 1
    assert Message.objects.filter(author="assistant").count() == 1


def test_an_error_from_the_server_is_shown_inline(new_page):
    customer = UserFactory()
    page = new_page()
    log_in(page, customer.email)
    open_chat(page)
    page.evaluate("box => { box.removeAttribute('maxlength'); }", message_box(page).element_handle())
    message_box(page).fill("x" * 4001)
    message_box(page).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("too long")
    expect(message_box(page)).to_have_value("x" * 4001)  # kept, to shorten and send again
    expect(page.locator("#lw-log .lw-msg")).to_have_count(0)
    assert not Message.objects.exists()


def test_another_customers_conversation_is_not_restored(new_page):
    stranger = UserFactory()
    theirs = ConversationFactory(customer=stranger)
    ticket_services.store_customer_message(theirs.pk, "Stranger's secret")
    customer = UserFactory()
    page = new_page()
    log_in(page, customer.email)
    page.evaluate(
        "([key, id]) => localStorage.setItem(key, id)", [f"loophole.chat.conversation.{customer.pk}", theirs.pk]
    )
    open_chat(page)
    wait_until(lambda: Conversation.objects.filter(customer=customer).exists(), timeout=10, what="a new conversation")
    mine = Conversation.objects.get(customer=customer)
    # The widget stores the new id once the server's 201 arrives, a moment after the row exists.
    page.wait_for_function(
        "([key, id]) => localStorage.getItem(key) === id",
        arg=[f"loophole.chat.conversation.{customer.pk}", str(mine.pk)],
        timeout=5000,
    )
    expect(page.get_by_text("Stranger's secret")).to_have_count(0)


def test_the_stream_closes_while_the_tab_is_hidden_and_resumes_when_shown(new_page):
    add_articles()
    customer = UserFactory()
    page = new_page()
    page.clock.install()
    log_in(page, customer.email)
    with page.expect_request(lambda request: "/events/" in request.url):
        open_chat(page)
    say(page, "how do I reset my password?")
    expect(assistant(page)).to_have_count(1)
    last = Message.objects.filter(author="assistant").get().pk

    def set_hidden(hidden: bool) -> None:
        page.evaluate(
            """hidden => {
                Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
                document.dispatchEvent(new Event("visibilitychange"));
            }""",
            hidden,
        )

    closed: list[str] = []
    page.on("requestfailed", lambda request: closed.append(request.url) if "/events/" in request.url else None)
    set_hidden(True)
    page.clock.run_for(30_000)
    page.wait_for_timeout(200)
    assert not closed  # a short look at another tab keeps the stream open
    with page.expect_event("requestfailed", lambda request: "/events/" in request.url):
        page.clock.run_for(31_000)  # hidden for over a minute: closed

    with page.expect_request(lambda request: "/events/" in request.url) as reopened:
        set_hidden(False)
    assert reopened.value.url.endswith(f"?after={last}")  # resumes after the last message seen


def test_without_javascript_the_page_offers_the_help_centre_and_the_support_address(new_page, settings):
    customer = UserFactory()
    page = new_page(java_script_enabled=False)
    log_in(page, customer.email)
    expect(launcher(page)).to_be_hidden()
    expect(page.get_by_role("link", name="Help centre").first).to_be_visible()
    expect(page.get_by_role("link", name=settings.SUPPORT_EMAIL).first).to_be_visible()
    expect(page.get_by_role("search").get_by_role("searchbox", name="Search the help centre")).to_be_visible()
    page.get_by_role("searchbox", name="Search the help centre").fill("password")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/help/\?q=password$"))
