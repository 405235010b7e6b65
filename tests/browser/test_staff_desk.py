"""The staff desk in a real browser: a ticket's internal note set apart in the conversation, and the
dashboard's charts and figures. They take the README's screenshots of both (`make screenshots`)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from assistant.engines.base import Outcome
from tests.assistant.helpers import add_articles, chat, say
from tests.browser.conftest import MISSING, Server
from tests.browser.test_live_ticket_page import customer_writes
from tests.browser.test_widget import log_in, log_in_to_admin
from tests.factories import PASSWORD, ConversationFactory, StaffFactory, UserFactory, make_ticket
from tests.tickets.helpers import conversations_of_each_outcome
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Status, Ticket, TicketNote

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NOTE = "Finance confirms the double charge: refund INV-1042 once, not before Friday. Do not promise a date."
HOSTILE_NOTE = "<img src=x onerror=alert(1)> <b>not bold</b>"
REPLY = "Sorry about the double charge. I have asked finance to refund one of the two payments."
# The customer's widget reading its conversation: what a customer can ever be shown.
READ = """async (id) => (await fetch(`/chat/conversations/${id}/messages/`)).text()"""


def background(page: Page, selector: str) -> tuple[str, str]:
    style = page.locator(selector).first.evaluate(
        "(e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).borderLeftStyle]"
    )
    return style[0], style[1]


def add_note(admin: Page, text: str) -> None:
    admin.locator("textarea[name=internal_note]").fill(text)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save and continue editing").click()
    expect(admin.locator(".messagelist .success")).to_be_visible()


def test_an_internal_note_is_shown_to_staff_set_apart_and_never_to_the_customer(
    new_page, server: Server, dialogs, shot
):
    add_articles()
    customer, staff = UserFactory(name="Alex Rivera"), StaffFactory(name="Sam Agent")
    conversation = chat(customer)
    assert say(conversation, "I was charged twice for the annual plan, invoice INV-1042.").outcome == Outcome.OFFERED
    assert say(conversation, "yes").outcome == Outcome.CREATED
    ticket = Ticket.objects.get(conversation=conversation)
    ticket_services.add_staff_reply(ticket.pk, staff=staff, text=REPLY)

    admin = new_page(width=1280, height=900)
    log_in_to_admin(admin, staff.email, f"/admin/tickets/ticket/{ticket.pk}/change/")
    add_note(admin, NOTE)

    transcript = admin.locator(".loophole-transcript")
    note = transcript.locator("li.loophole-note")
    expect(note).to_have_count(1)
    expect(note.locator("strong")).to_have_text("Internal note")
    expect(note).to_contain_text("Sam Agent")
    expect(note.locator("div")).to_have_text(NOTE)
    expect(transcript.locator("li").last).to_have_class("loophole-note")  # after the reply it followed
    expect(transcript.locator("li:not(.loophole-note)").filter(has_text=REPLY)).to_have_count(1)
    # Set apart: a tinted box with a bar on its left; the customer's and staff's messages have neither.
    assert background(admin, ".loophole-transcript li.loophole-note") == ("rgb(255, 248, 219)", "solid")
    assert background(admin, ".loophole-transcript li:not(.loophole-note)") == ("rgba(0, 0, 0, 0)", "none")
    expect(admin.locator("textarea[name=internal_note]")).to_have_value("")
    transcript.evaluate("(box) => { box.scrollTop = box.scrollHeight; }")  # the newest at the foot of its box
    shot(admin, "admin-internal-note.png", full_page=True)

    assert TicketNote.objects.get(ticket=ticket).text == NOTE
    assert not Message.objects.filter(text__contains="INV-1042 once").exists()
    page = new_page()
    log_in(page, customer.email)
    shown = page.evaluate(READ, conversation.pk)
    assert REPLY in shown and "INV-1042 once" not in shown and "Internal note" not in shown
    customer_writes(page, conversation.pk, "Thank you, Friday is fine.")
    expect(transcript.locator("li").last).to_contain_text("Friday is fine", timeout=3000)  # live, after the note
    expect(note).to_have_count(1)

    add_note(admin, HOSTILE_NOTE)
    expect(note.last.locator("div")).to_have_text(HOSTILE_NOTE)  # as text, not markup
    expect(note.last.locator("img, b")).to_have_count(0)
    assert dialogs == []


def started_ago(conversation: Conversation, days: int, at) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(created_at=at - timedelta(days=days))
    Ticket.objects.filter(conversation=conversation).update(created_at=at - timedelta(days=days))


# Conversations started per channel, some days ago: (days ago, chat, sms, email, voice).
HISTORY = [(d, 2 + d * 7 % 5, d % 3, d * 5 % 4 // 2, 1 if d % 6 == 1 else 0) for d in range(1, 30)]
# Tickets: (days ago, channel, first response, resolved after or None).
TICKETS = [
    (2, "chat", timedelta(minutes=12), timedelta(hours=5)),
    (3, "email", timedelta(hours=3), timedelta(days=1)),
    (5, "sms", timedelta(minutes=40), None),
    (8, "chat", timedelta(minutes=25), timedelta(hours=20)),
    (11, "voice", timedelta(hours=1), timedelta(days=2)),
    (15, "chat", timedelta(minutes=8), None),
    (21, "email", timedelta(hours=6), timedelta(days=3)),
]


def log_in_to_dashboard(page: Page, email: str) -> None:
    page.goto("/admin/login/?next=/admin/dashboard/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_the_dashboard_draws_its_charts_and_figures_from_the_daily_rollup(new_page, server: Server, dialogs, shot):
    now = timezone.now()
    staff, customer = StaffFactory(), UserFactory()  # one customer: each account costs a password hash
    conversations_of_each_outcome()  # today: 5 on chat (answered, offered, declined twice, accepted), 1 SMS
    for days, *counts in HISTORY:
        for channel, count in zip(("chat", "sms", "email", "voice"), counts, strict=True):
            for _ in range(count):
                started_ago(ConversationFactory(channel=channel, customer=customer), days, now)
    for days, channel, first_response, resolution in TICKETS:
        ticket = make_ticket(customer, channel=channel)
        ticket_services.assign(ticket.pk, staff=staff, actor=staff)
        if resolution is not None:
            ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
        started_ago(ticket.conversation, days, now)
        created = now - timedelta(days=days)
        Ticket.objects.filter(pk=ticket.pk).update(
            first_response_time=first_response,
            resolution_time=resolution,
            resolved_at=created + resolution if resolution else None,
        )
    ticket_services.change_status(make_ticket(customer, channel="email").pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    call_command("backfill_daily_stats", "--days", "30", stdout=io.StringIO())

    per_day = {0: 7}  # today: the 6 outcomes and the last ticket
    for days, *counts in HISTORY:
        per_day[days] = sum(counts)
    for days, *_ in TICKETS:
        per_day[days] += 1
    per_channel = {"Live chat": 5, "SMS": 1, "Email": 1, "Phone": 0}
    for _days, chat_, sms, email, voice in HISTORY:
        for label, count in zip(per_channel, (chat_, sms, email, voice), strict=True):
            per_channel[label] += count
    for _days, channel, *_ in TICKETS:
        per_channel[{"chat": "Live chat", "sms": "SMS", "email": "Email", "voice": "Phone"}[channel]] += 1
    total = sum(per_day.values())
    assert sum(per_channel.values()) == total

    page = new_page(width=1280, height=900)
    log_in_to_dashboard(page, staff.email)
    days_chart = page.get_by_role("img", name="Conversations per day, 30 days")
    expect(days_chart.locator("rect")).to_have_count(30)
    bars = days_chart.locator("rect").evaluate_all(
        "(rects) => rects.map((r) => [r.querySelector('title').textContent, r.getBBox().height])"
    )
    assert dict(label.split(": ") for label, _h in bars) == {
        (now - timedelta(days=d)).date().isoformat(): str(n) for d, n in per_day.items()
    }
    tallest = max(per_day.values())
    for label, height in bars:
        count = int(label.split(": ")[1])
        assert height == pytest.approx(count / tallest * 140, abs=0.1)  # to scale, the tallest 140 of 160
    assert bars[-1][0] == f"{now.date().isoformat()}: 7"  # oldest first, today last

    channels_chart = page.get_by_role("img", name="Conversations per channel, 30 days")
    drawn = channels_chart.locator("rect title").all_text_contents()
    assert drawn == [f"{label}: {per_channel[label]}" for label in ("Live chat", "Email", "SMS", "Phone")]
    expect(channels_chart.locator("text").first).to_have_text("Live chat")

    figures = page.locator("#dashboard-figures")
    totals = figures.locator("tr.total td")
    expect(figures.locator("tr.total th")).to_have_text("All channels")
    expect(totals.nth(0)).to_have_text(str(total))
    expect(totals.nth(5)).to_have_text(str(len(TICKETS) + 2))  # tickets created: these, the accepted, the last
    expect(totals.nth(6)).to_have_text(str(sum(1 for t in TICKETS if t[3])))  # resolved in the period
    expect(totals.nth(7)).not_to_have_text("—")  # a median first response
    expect(totals.nth(8)).not_to_have_text("—")  # a median resolution
    statuses = page.locator("#dashboard-statuses")
    resolved = sum(1 for t in TICKETS if t[3])
    expect(statuses.locator("th")).to_have_text(["Submitted", "In Progress", "Waiting on Customer", "Resolved", "All"])
    counts = [1, len(TICKETS) - resolved, 1, resolved, len(TICKETS) + 2]
    expect(statuses.locator("td")).to_have_text([str(n) for n in counts])
    shot(page, "admin-dashboard.png", full_page=True)
    assert dialogs == []
