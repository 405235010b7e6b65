"""Conversations follow the customer: the server lists them for any device, and a link opens one."""

import pytest
from django.test import Client

from channels_io.chat import conversation_link
from tests.factories import ConversationFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Author

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_gives_each_conversations_ticket_and_last_message_newest_first(django_assert_num_queries):
    customer = UserFactory()
    ticket = make_ticket(customer, title="Refund please")
    with_ticket = ticket.conversation
    ticket_services.store_reply(with_ticket, "We are on it.", author=Author.STAFF)
    plain = ConversationFactory(customer=customer)
    ticket_services.store_customer_message(plain.pk, "How do I export my data?")
    ConversationFactory(customer=UserFactory())  # a stranger's
    ConversationFactory(customer=customer, channel="sms")  # not a chat
    client = client_for(customer)
    client.get("/chat/conversations/")  # the session is read once before counting
    with django_assert_num_queries(4):  # session, user, conversations with tickets, last messages
        listed = client.get("/chat/conversations/").json()["conversations"]
    assert [c["id"] for c in listed] == [plain.pk, with_ticket.pk]
    assert listed[0]["ticket"] is None
    assert listed[0]["last_message"]["text"] == "How do I export my data?"
    assert listed[0]["last_message"]["author"] == "customer"
    assert listed[1]["ticket"]["title"] == "Refund please"
    assert listed[1]["ticket"]["status"] == "submitted"
    assert listed[1]["last_message"]["text"] == "We are on it."
    assert listed[1]["last_message"]["author"] == "staff"


def test_a_conversation_without_messages_is_listed_without_a_last_message():
    customer = UserFactory()
    conversation = ConversationFactory(customer=customer)
    listed = client_for(customer).get("/chat/conversations/").json()["conversations"]
    assert listed == [
        {
            "id": conversation.pk,
            "state": "assistant",
            "created_at": conversation.created_at.isoformat(),
            "last_message_at": conversation.last_message_at.isoformat(),
            "ticket": None,
            "last_message": None,
        }
    ]


def test_the_link_to_a_conversation_is_on_the_public_url(settings):
    settings.PUBLIC_URL = "https://support.example.com"
    assert conversation_link(12) == "https://support.example.com/chat/open/12/"


def test_the_link_opens_the_conversation_in_the_owners_widget():
    conversation = ConversationFactory()
    response = client_for(conversation.customer).get(f"/chat/open/{conversation.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/#conversation={conversation.pk}"


def test_the_link_asks_for_log_in_first_and_comes_back():
    conversation = ConversationFactory()
    response = Client().get(f"/chat/open/{conversation.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/chat/open/{conversation.pk}/"


@pytest.mark.parametrize("whose", ["stranger", "sms"])
def test_the_link_to_someone_elses_or_a_non_chat_conversation_is_a_404(whose):
    customer = UserFactory()
    own_chat = ConversationFactory(customer=customer)
    if whose == "stranger":
        conversation = ConversationFactory()
    else:
        conversation = ConversationFactory(customer=customer, channel="sms")
    client = client_for(customer)
    assert client.get(f"/chat/open/{conversation.pk}/").status_code == 404
    assert client.get(f"/chat/open/{own_chat.pk}/").status_code == 302  # their own chat's link works
