"""The widget on the company's own product: a page on a second origin (another port) carries the
one <script> tag and a token its server signed; and conversations that follow the customer to a
second device and through a link."""

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from django.contrib.auth import get_user_model

from tests.assistant.helpers import add_articles
from tests.browser.conftest import MISSING, Server
from tests.conftest import free_port, wait_until
from tests.factories import ConversationFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Author, Conversation, Ticket

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import FrameLocator, Page, expect

from tests.browser.test_accessibility import accessible_page, assert_accessible
from tests.browser.test_widget import BANNER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SECRET = "acme-widget-secret-for-browser-tests-0123456789"
User = get_user_model()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Host:
    """The host product: static pages on its own origin."""

    origin: str
    root: Path

    def page(self, support: str, token: str) -> str:
        name = f"app-{time.monotonic_ns()}.html"
        (self.root / name).write_text(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Acme app</title></head>"
            "<body><h1>Acme dashboard</h1>"
            f"<script src='{support}/static/js/embed.js' data-token='{token}' async></script>"
            "</body></html>"
        )
        return f"{self.origin}/{name}"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """Serves the host product's pages, and lets the support server (started after) allow its origin."""
    root = tmp_path / "host"
    root.mkdir()
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", origin)
    monkeypatch.setenv("WIDGET_JWT_SECRET", SECRET)
    try:
        yield Host(origin=origin, root=root)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def support(host: Host, server: Server) -> Server:
    """The support site, allowing the host's origin (the host fixture set it up first)."""
    return server


def token(
    sub: str = "acme-7", email: str = "grace@acme.example", name: str = "Grace", ahead: int = 600, key: str = SECRET
) -> str:
    claims = {"sub": sub, "email": email, "name": name, "exp": int(time.time()) + ahead}
    return jwt.encode(claims, key, algorithm="HS256")


def widget(page: Page) -> FrameLocator:
    return page.frame_locator("iframe[title='Loophole support chat']")


def open_chat(frame: FrameLocator) -> None:
    frame.get_by_role("button", name="Chat with us").click()
    expect(frame.get_by_role("dialog", name="Loophole support")).to_be_visible()


def say(frame: FrameLocator, text: str) -> None:
    box = frame.get_by_role("textbox", name="Your message")
    box.fill(text)
    box.press("Enter")
    expect(frame.locator("#lw-log .lw-msg-customer[data-id]").filter(has_text=text)).not_to_have_count(0)


def test_on_the_host_products_page_the_widget_chats_as_its_user(host: Host, support: Server, new_page):
    add_articles()
    page = new_page()
    page.goto(host.page(support.url, token()))
    frame = widget(page)
    open_chat(frame)
    say(frame, "how do I reset my password?")
    expect(frame.locator("#lw-log .lw-msg-assistant").last).to_contain_text("Forgot password")

    say(frame, "I want a refund for my annual plan")
    frame.get_by_role("button", name="Yes, open a ticket").click()
    card = frame.locator("#lw-ticket-card")
    expect(card).to_be_visible()
    customer = User.objects.get(product_user_id="acme-7")
    assert customer.email == "grace@acme.example" and customer.has_verified_email
    ticket = Ticket.objects.get(customer=customer)
    expect(card).to_contain_text(ticket.reference)
    expect(frame.get_by_text(BANNER)).to_be_visible()

    frame.get_by_role("tab", name="My tickets").click()
    expect(frame.locator("#lw-ticket-list")).to_contain_text(ticket.reference)
    frame.get_by_role("tab", name="Chat").click()
    frame.get_by_role("button", name="Start a new conversation").click()
    expect(frame.get_by_text(BANNER)).to_be_hidden()
    say(frame, "how do I reset my password?")
    wait_until(lambda: Conversation.objects.filter(customer=customer).count() == 2, timeout=10, what="a second chat")

    # A second device: the same product user, a fresh browser: the chats are listed and reopen whole.
    other = new_page()
    other.goto(host.page(support.url, token()))
    second = widget(other)
    open_chat(second)
    expect(second.locator("#lw-log .lw-msg-customer").last).to_contain_text("reset my password")
    second.get_by_role("tab", name="My tickets").click()
    listed = second.locator("#lw-conversation-list button")
    expect(listed).to_have_count(2)
    listed.filter(has_text=ticket.reference).click()
    expect(second.locator("#lw-ticket-card")).to_contain_text(ticket.reference)
    expect(second.locator("#lw-log .lw-msg-customer").first).to_contain_text("reset my password")
    expect(second.locator("#lw-log")).to_contain_text("I want a refund for my annual plan")
    expect(second.get_by_text(BANNER)).to_be_visible()
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (lambda: token(ahead=-120), "expired"),
        (lambda: token(key="someone-elses-secret-0123456789abcdefghij"), "signature"),
        (lambda: "", "No token"),
    ],
    ids=["expired", "wrong-secret", "none"],
)
def test_with_a_bad_token_the_widget_gives_general_help_only(host: Host, support: Server, new_page, bad, says):
    page = new_page()
    page.goto(host.page(support.url, bad()))
    frame = widget(page)
    open_chat(frame)
    expect(frame.locator("#lw-log")).to_contain_text(says)
    expect(frame.get_by_role("link", name="help centre")).to_be_visible()
    expect(frame.get_by_role("textbox", name="Your message")).to_be_hidden()
    expect(frame.get_by_role("tab", name="My tickets")).to_be_hidden()
    assert not User.objects.exists()
    assert not Conversation.objects.exists()


def embedded_frame(page: Page):
    return next(frame for frame in page.frames if "/chat/frame/" in frame.url)


def test_axe_finds_nothing_in_the_embedded_widget(host: Host, support: Server, new_page):
    add_articles()
    page = accessible_page(new_page)
    page.goto(host.page(support.url, token()))
    frame = widget(page)
    open_chat(frame)
    assert_accessible(embedded_frame(page), "the embedded widget open")
    say(frame, "how do I reset my password?")
    expect(frame.locator("#lw-log .lw-msg-assistant").last).to_contain_text("Forgot password")
    assert_accessible(embedded_frame(page), "an answer in the embedded widget")
    frame.get_by_role("tab", name="My tickets").click()
    expect(frame.locator("#lw-conversation-list button")).to_have_count(1)
    assert_accessible(embedded_frame(page), "the conversation list in the embedded widget")


def test_axe_finds_nothing_when_the_embedded_widget_refuses_a_token(host: Host, support: Server, new_page):
    page = accessible_page(new_page)
    page.goto(host.page(support.url, token(ahead=-120)))
    frame = widget(page)
    open_chat(frame)
    expect(frame.locator("#lw-log")).to_contain_text("expired")
    assert_accessible(embedded_frame(page), "the embedded widget's general-help notice")


def test_a_page_of_an_origin_not_allowed_gets_no_widget(host: Host, support: Server, new_page):
    allowed = new_page()
    allowed.goto(host.page(support.url, token()))
    expect(widget(allowed).get_by_role("button", name="Chat with us")).to_be_visible()
    page = new_page()
    # The same page, addressed as another origin ("localhost" is not "127.0.0.1").
    page.goto(host.page(support.url, token()).replace("127.0.0.1", "localhost"))
    page.wait_for_timeout(1500)
    expect(widget(page).get_by_role("button", name="Chat with us")).to_have_count(0)
    assert User.objects.count() == 1  # the allowed page's user only


def test_a_conversation_link_opens_that_conversation_on_another_device(new_page, support: Server):
    customer = UserFactory()
    old = ConversationFactory(customer=customer)
    ticket_services.store_customer_message(old.pk, "My export is stuck at 90%.")
    ticket_services.store_reply(old, "We restarted it; try again now.", author=Author.STAFF)
    newer = ConversationFactory(customer=customer)
    ticket_services.store_customer_message(newer.pk, "Something newer.")
    page = new_page()
    page.goto(f"/chat/open/{old.pk}/")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("dialog", name="Loophole support")).to_be_visible()
    expect(page.locator("#lw-log")).to_contain_text("My export is stuck at 90%.")
    expect(page.locator("#lw-log .lw-msg-staff")).to_contain_text("We restarted it")
    expect(page.locator("#lw-log")).not_to_contain_text("Something newer.")
    assert "#conversation" not in page.url
