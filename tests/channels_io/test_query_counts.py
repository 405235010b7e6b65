"""The hot paths' statements, counted exactly: one statement more on any of them fails here.

Counted as a request runs them (outside a test transaction), without the transaction control that
differs between PostgreSQL and SQLite (BEGIN IMMEDIATE, COMMIT, savepoints).
"""

import json
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from assistant import retrieval
from channels_io.chat import stream
from channels_io.models import InboundText
from loophole.models import PhoneNumber
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER, payload, sign, twilio  # noqa: F401 - fixture
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Message, Status

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(CONTROL)]


def test_a_chat_message_answered_by_the_local_assistant_costs_eleven_statements():
    add_articles()
    customer = UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer, sender=customer.email)
    client = Client()
    client.force_login(customer)
    path = f"/chat/conversations/{conversation.pk}/messages/"

    def post(text: str, client_id: str):
        return client.post(
            path, data=json.dumps({"text": text, "client_id": client_id}), content_type="application/json"
        )

    assert post("hello there", "first").status_code == 201  # not the conversation's first message below
    retrieval.forget_index()  # the articles are checked at most once a second: counted here, every time
    # session; user; the conversation locked with its ticket's id; INSERT the message; UPDATE the
    # conversation's newest; the turns before it (for the engine); the help articles' freshness (one
    # aggregate); the conversation locked again to answer; UPDATE the message claimed; INSERT the
    # reply; UPDATE the conversation's newest
    with CaptureQueriesContext(connection) as queries:
        response = post("how do I reset my password?", "second")
    assert len(statements(queries)) == 11, statements(queries)
    assert response.status_code == 201
    reply = Message.objects.filter(conversation=conversation, author="assistant").latest("pk")
    assert reply.reply_to_id == response.json()["id"] and "Forgot password" in reply.text


@pytest.mark.django_db  # in the test's transaction: the task queued on commit is not run
def test_a_signed_text_costs_the_webhook_one_statement(twilio):  # noqa: F811 - fixture
    PhoneNumber.objects.create(user=UserFactory(), number=CUSTOMER_NUMBER)
    form = payload("sms_inbound")
    twilio_client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = twilio_client.post(
            "/channels/sms/inbound",
            data=urlencode(form),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=sign("/channels/sms/inbound", form),
        )
    assert len(statements(queries)) == 1, statements(queries)  # INSERT the kept text (ON CONFLICT DO NOTHING)
    assert response.status_code == 200
    assert InboundText.objects.filter(sid=form["MessageSid"]).count() == 1


def test_the_streams_read_on_a_poke_is_two_statements():
    customer = UserFactory()
    conversation = ticket_services.open_conversation(channel="chat", customer=customer)
    first, _ = ticket_services.store_customer_message(conversation.pk, "I was charged twice")
    ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice")
    staff = StaffFactory()
    ticket_services.add_staff_reply(ticket.pk, staff=staff, text="Refunded.")
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
    with CaptureQueriesContext(connection) as queries:
        view = stream.snapshot(conversation.pk, first.pk)
    assert len(statements(queries)) == 2  # the conversation with its ticket; the messages after `after`
    assert view is not None and view["ticket"]["status"] == "resolved"
    assert [m["author"] for m in view["messages"]][-1] == "staff"
