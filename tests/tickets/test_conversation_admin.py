"""Staff's read-only view of every conversation: the list, its filters, the transcript and access."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ConversationFactory, UserFactory, make_ticket
from tests.tickets.helpers import conversations_of_each_outcome
from tickets import services
from tickets.models import Conversation, Message, Ticket

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_conversation_changelist")


def change_url(conversation: Conversation) -> str:
    return reverse("admin:tickets_conversation_change", args=[conversation.pk])


def listed(response) -> list[int]:
    assert response.status_code == 200
    found = re.findall(r'href="/admin/tickets/conversation/(\d+)/change/', response.content.decode())
    return [int(pk) for pk in dict.fromkeys(found)]


@pytest.fixture
def outcomes() -> dict[str, Conversation]:
    """One conversation per thing the assistant can do, made by talking to it as a channel does."""
    return conversations_of_each_outcome()


def pks(outcomes: dict[str, Conversation], *names: str) -> set[int]:
    return {outcomes[name].pk for name in names}


def test_the_list_shows_conversations_without_a_ticket_newest_first(client, staff, outcomes):
    shown = listed(client.get(LIST))
    assert set(shown) == pks(outcomes, "answered", "unknown_sender", "pending", "declined", "declined_asking")
    assert shown == sorted(shown, reverse=True)  # made one after the other: newest last message first
    services.store_customer_message(outcomes["answered"].pk, "And one more thing")
    assert listed(client.get(LIST))[0] == outcomes["answered"].pk

    assert listed(client.get(LIST, {"ticket": "opened"})) == [outcomes["accepted"].pk]
    assert set(listed(client.get(LIST, {"ticket": "any"}))) == pks(outcomes, *outcomes)
    # An unknown value keeps the default: never more than the ticketless conversations.
    assert set(listed(client.get(LIST, {"ticket": "bogus"}))) == set(shown)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"assistant": "answered"}, ("answered", "unknown_sender")),
        ({"assistant": "offered"}, ("pending", "declined", "declined_asking")),
        ({"assistant": "declined"}, ("declined", "declined_asking")),
        ({"assistant": "offered", "ticket": "any"}, ("pending", "declined", "declined_asking", "accepted")),
        ({"assistant": "declined", "ticket": "any"}, ("declined", "declined_asking")),
        ({"assistant": "answered", "channel": "sms"}, ("unknown_sender",)),
        ({"channel": "chat"}, ("answered", "pending", "declined", "declined_asking")),
        ({"channel": "email"}, ()),
        ({"assistant": "bogus"}, ("answered", "unknown_sender", "pending", "declined", "declined_asking")),
    ],
    ids=[
        "answered",
        "offered",
        "declined",
        "offered-with-tickets",
        "declined-never-the-accepted",
        "answered-on-sms",
        "chat",
        "no-email",
        "bogus",
    ],
)
def test_the_list_filters_by_what_the_assistant_did_and_by_channel(client, staff, outcomes, params, expected):
    assert set(listed(client.get(LIST, params))) == pks(outcomes, *expected)


def test_the_conversation_page_shows_the_sender_and_the_transcript_in_order_escaped(client, staff):
    customer = UserFactory(email="ana@example.com")
    conversation = ConversationFactory(customer=customer, channel="email")
    services.store_customer_message(conversation.pk, "My export <script>alert(1)</script> never arrived")
    services.store_customer_message(conversation.pk, "Still nothing.")
    stranger = services.open_conversation(channel="sms", customer=None, sender="+15555550123<b>")
    services.store_customer_message(stranger.pk, "Hello?")

    html = client.get(change_url(conversation)).content.decode()
    assert "ana@example.com" in html
    first, second = html.index("My export &lt;script&gt;"), html.index("Still nothing.")
    assert first < second
    assert "<script>alert(1)</script>" not in html

    html = client.get(change_url(stranger)).content.decode()
    assert "+15555550123&lt;b&gt;" in html and "Hello?" in html
    assert "+15555550123<b>" not in html
    listing = client.get(LIST).content.decode()
    assert "+15555550123&lt;b&gt; (no account)" in listing
    assert "My export &lt;script&gt;" in listing  # the first message, to tell conversations apart


def test_a_conversation_that_became_a_ticket_links_to_it(client, staff):
    ticket = make_ticket(messages=2)
    html = client.get(change_url(ticket.conversation)).content.decode()
    assert f'<a href="{reverse("admin:tickets_ticket_change", args=[ticket.pk])}">{ticket.reference}</a>' in html
    assert "I was charged twice for invoice INV-1001." in html


def test_conversations_are_read_only_for_staff(client, staff):
    conversation = ConversationFactory(channel="chat")
    services.store_customer_message(conversation.pk, "How do I export my data?")
    before = list(Conversation.objects.values())

    page = client.get(change_url(conversation))
    assert page.status_code == 200
    assert '<input type="submit"' not in page.content.decode()  # no save buttons
    assert client.post(change_url(conversation), {"channel": "sms", "state": "closed"}).status_code == 403
    assert client.get(reverse("admin:tickets_conversation_add")).status_code == 403
    assert client.post(reverse("admin:tickets_conversation_add"), {"channel": "sms"}).status_code == 403
    assert (
        client.post(reverse("admin:tickets_conversation_delete", args=[conversation.pk]), {"post": "yes"}).status_code
        == 403
    )
    client.post(LIST, {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"})

    assert list(Conversation.objects.values()) == before
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_even_a_superuser_cannot_change_or_delete_a_conversation(client):
    conversation = ConversationFactory(channel="chat")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(change_url(conversation)).status_code == 200
    assert client.post(change_url(conversation), {"state": "closed"}).status_code == 403
    assert (
        client.post(reverse("admin:tickets_conversation_delete", args=[conversation.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Conversation.objects.filter(pk=conversation.pk, state="assistant").exists()


def test_customers_and_staff_outside_the_support_group_cannot_read_conversations(client):
    own = ConversationFactory(channel="chat")
    services.store_customer_message(own.pk, "My own words")
    client.force_login(own.customer)
    for url in (LIST, change_url(own)):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]

    client.force_login(UserFactory(is_staff=True))
    assert client.get(LIST).status_code == 403
    response = client.get(change_url(own))
    assert response.status_code == 403
    assert "My own words" not in response.content.decode()


def _fill(count: int) -> None:
    for i in range(count):
        if i % 3 == 0:
            conversation = services.open_conversation(channel="sms", customer=None, sender=f"+1555555{i:04d}")
        else:
            conversation = ConversationFactory(channel=["chat", "email"][i % 2])
        message, _ = services.store_customer_message(conversation.pk, f"Question number {i}")
        kind = ["answered", "offered", "declined"][i % 3]
        services.store_reply(conversation, f"Reply {i}", kind=kind, reply_to=message)
        if i % 5 == 0:
            make_ticket(channel="chat")


@pytest.mark.parametrize(
    "params", [{}, {"ticket": "any"}, {"assistant": "declined", "ticket": "any"}, {"assistant": "answered"}]
)
def test_the_list_costs_the_same_queries_for_5_and_50_conversations(client, staff, params):
    _fill(5)
    client.get(LIST, params)
    with CaptureQueriesContext(connection) as small:
        assert client.get(LIST, params).status_code == 200
    _fill(45)
    with CaptureQueriesContext(connection) as large:
        assert client.get(LIST, params).status_code == 200
    assert len(small) == len(large)
    assert not any("COUNT(*)" in q["sql"] and "LIMIT" not in q["sql"] for q in large.captured_queries)
    assert Ticket.objects.exists()
