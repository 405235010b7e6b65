"""The away reply end to end: the customer closes the tab, staff reply in the admin, one email brings
the reply and a link; the link opens the conversation in another browser, and the customer's answer
by email lands in the same conversation."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from tests.assistant.helpers import add_articles
from tests.browser.conftest import MISSING, SERVER_ENV_DROPPED, Server
from tests.channels_io.email.conftest import OUR_MTA, PLACEHOLDER, as_our_mta_delivers, eml
from tests.conftest import ROOT, _database_url, wait_until
from tests.factories import PASSWORD, StaffFactory, UserFactory
from tickets.models import Author, Conversation, Message, Ticket

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import expect

from tests.browser.test_widget import log_in, log_in_to_admin, open_chat, say

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EMAIL = "anna.schmidt@example.com"  # the sender of the gmail_reply fixture
REPLY = "Hi Anna, Sam here: we refunded the duplicate charge of USD 120."
ANSWER = "How do I export my data?"  # gmail_reply's text
FORGED = "Please close my account and send the data to me."
LINK = re.compile(r"Continue the conversation: (\S+)")


@pytest.fixture(autouse=True)
def away_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server (started after) mails a staff chat reply at once and trusts our mail server's verdicts."""
    monkeypatch.setenv("CHAT_AWAY_EMAIL_AFTER", "0")
    monkeypatch.setenv("EMAIL_AUTHSERV_ID", OUR_MTA)


def receive_email(server: Server, raw: bytes) -> None:
    """Pipe one message to `manage.py receive_email` on the server's database, as our mail server does."""
    env = {key: value for key, value in os.environ.items() if key not in SERVER_ENV_DROPPED}
    env.update(
        DATABASE_URL=_database_url(),
        EMAIL_URL=f"smtp://127.0.0.1:{settings.EMAIL_PORT}",
        SMS_BACKEND="locmem",
        PUBLIC_URL=server.url,
        DEBUG="true",
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="loophole.settings",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "receive_email"], input=raw, cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_a_reply_while_away_comes_by_email_and_the_answer_by_email_continues_the_chat(new_page, server: Server):
    add_articles()
    customer = UserFactory(email=EMAIL, name="Anna Schmidt")
    page = new_page()
    log_in(page, customer.email)
    chat = open_chat(page)
    say(page, "I was charged twice, let me talk to a human")
    chat.get_by_role("button", name="Yes, open a ticket").click()
    expect(page.locator("#lw-ticket-card")).to_be_visible()
    ticket = Ticket.objects.get(customer=customer)
    page.context.close()  # the customer closes the tab

    before = len(server.mail.messages)  # the "ticket opened" email
    admin = new_page()
    log_in_to_admin(admin, StaffFactory().email, f"/admin/tickets/ticket/{ticket.pk}/change/")
    admin.locator("textarea[name=reply]").fill(REPLY)
    with admin.expect_navigation():
        admin.locator("input[name=_continue]").click()
    expect(admin.locator(".errornote, .errorlist")).to_have_count(0)

    subject = f"Re: [{ticket.reference}] {ticket.title}"
    wait_until(lambda: len(server.mail.messages) > before, timeout=15, what="the away email")
    (email,) = server.mail.messages[before:]
    assert email["Subject"] == subject, [m["Subject"] for m in server.mail.messages[before:]]
    assert email["To"] == customer.email
    ticket.refresh_from_db()
    text = email.get_body(("plain",)).get_content()
    assert REPLY in text
    assert f"Ticket ID: {ticket.reference}" in text
    assert f"Status: {ticket.get_status_display()}" in text
    link = LINK.search(text).group(1)
    assert link == f"{server.url}/chat/open/{ticket.conversation_id}/"
    assert f'href="{link}"' in email.get_body(("html",)).get_content()

    # The link, in a browser that never logged in: log in, and the widget opens that conversation.
    other = new_page()
    other.goto(link)
    other.get_by_label("Email").fill(customer.email)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Log in", exact=True).click()
    log = other.locator("#lw-log")
    expect(other.get_by_role("dialog", name="Loophole support")).to_be_visible()
    expect(log).to_contain_text("I was charged twice")
    expect(log.locator(".lw-msg-staff")).to_contain_text(REPLY)

    raw = eml("gmail_reply").replace(PLACEHOLDER, email["Message-ID"].strip().encode())
    # A copy nobody vouched for (no verdict of our mail server on its From) stays out of the chat.
    unvouched = raw.replace(ANSWER.encode(), FORGED.encode()).replace(b"<CAHx7KqZ0d4", b"<CAHx7KqZ0d5")
    receive_email(server, unvouched)
    assert not Message.objects.filter(conversation_id=ticket.conversation_id, text__contains=FORGED).exists()
    # The customer answers the email; our mail server vouches for the sender and pipes it in.
    receive_email(server, as_our_mta_delivers(raw))
    answer = Message.objects.get(conversation_id=ticket.conversation_id, text__contains=ANSWER)
    assert answer.author == Author.CUSTOMER and answer.channel == "chat"
    assert Conversation.objects.filter(customer=customer).count() == 1

    other.reload()  # the widget reopens, on the same conversation
    expect(other.get_by_role("dialog", name="Loophole support")).to_be_visible()
    expect(log.locator(".lw-msg-customer").filter(has_text=ANSWER)).to_have_count(1)
    expect(log.locator(".lw-msg-staff")).to_contain_text(REPLY)
    expect(log).not_to_contain_text(FORGED)
    assert [m["Subject"] for m in server.mail.messages[before:]].count(subject) == 1  # no second away email
