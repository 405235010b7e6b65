"""The widget's JSON endpoints: shapes, the customer's own data only, bad input, replays."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.assistant.helpers import add_articles
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Conversation, Message, Status, Ticket

# Reads run in worker threads on their own connections: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def customer():
    return UserFactory(email="dana@example.com")


@pytest.fixture
def clock():
    """At the start of a minute, so that a test's messages fall in one rate-limit window."""
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


@pytest.fixture
def api(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    client.get("/accounts/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value

    def call(method: str, path: str, body=None, raw: bytes | None = None, **headers):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(client, method)(
            path, data=data, content_type="application/json", HTTP_X_CSRFTOKEN=token, **headers
        )

    call.client = client
    return call


def start(api) -> int:
    response = api("post", "/chat/conversations/")
    assert response.status_code == 201
    assert response.json()["state"] == "assistant"
    return response.json()["id"]


def send(api, conversation_id: int, body, **kwargs):
    return api("post", f"/chat/conversations/{conversation_id}/messages/", body, **kwargs)


def read(api, conversation_id: int, after: int = 0):
    return api("get", f"/chat/conversations/{conversation_id}/messages/?after={after}")


def test_a_help_question_is_stored_and_answered(api, django_capture_on_commit_callbacks):
    add_articles()
    cid = start(api)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(api, cid, {"text": "how do I reset my password?"})
    assert response.status_code == 201
    sent = response.json()
    assert (sent["author"], sent["text"]) == ("customer", "how do I reset my password?")
    data = read(api, cid).json()
    assert data["state"] == "assistant" and data["ticket"] is None
    assert [m["author"] for m in data["messages"]] == ["customer", "assistant"]
    assert "Forgot password" in data["messages"][1]["text"]
    assert read(api, cid, after=data["messages"][1]["id"]).json()["messages"] == []


def test_offer_no_then_yes_through_the_structured_confirmation(api, django_capture_on_commit_callbacks):
    cid = start(api)
    with django_capture_on_commit_callbacks(execute=True):
        send(api, cid, {"text": "I want a refund for my annual plan"})
    assert read(api, cid).json()["state"] == "ticket_offered"
    with django_capture_on_commit_callbacks(execute=True):
        send(api, cid, {"confirm": False})
    assert read(api, cid).json()["state"] == "assistant"
    assert not Ticket.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        send(api, cid, {"text": "I really want a refund"})
        send(api, cid, {"confirm": True})
    data = read(api, cid).json()
    assert data["state"] == "handed_off"
    ticket = Ticket.objects.get()
    assert data["ticket"]["id"] == ticket.reference and data["ticket"]["status"] == "submitted"
    assert ticket.reference in data["messages"][-1]["text"]


def test_messages_after_hand_off_get_no_assistant_reply(api, django_capture_on_commit_callbacks):
    cid = start(api)
    with django_capture_on_commit_callbacks(execute=True):
        send(api, cid, {"text": "let me talk to a human"})
        send(api, cid, {"text": "yes"})
        last = read(api, cid).json()["messages"][-1]["id"]
        send(api, cid, {"text": "here are more details"})
    new = read(api, cid, after=last).json()["messages"]
    assert [m["author"] for m in new] == ["customer"]


def test_a_staff_reply_and_status_show_in_the_conversation(api, customer, django_capture_on_commit_callbacks):
    cid = start(api)
    with django_capture_on_commit_callbacks(execute=True):
        send(api, cid, {"text": "let me talk to a human"})
        send(api, cid, {"text": "yes"})
    ticket = Ticket.objects.get()
    ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Hi, Sam here.")
    data = read(api, cid).json()
    assert data["messages"][-1]["author"] == "staff" and data["messages"][-1]["text"] == "Hi, Sam here."
    assert data["ticket"]["status"] == "in_progress"


def test_my_tickets_lists_status_and_the_resolution(api, customer):
    ticket = make_ticket(customer)
    make_ticket(UserFactory(), title="Not yours")
    tickets = api("get", "/chat/tickets/").json()["tickets"]
    assert [(t["id"], t["status"], t["action_taken"]) for t in tickets] == [(ticket.reference, "submitted", "")]
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded USD 120.")
    (resolved,) = api("get", "/chat/tickets/").json()["tickets"]
    assert resolved["status_label"] == "Resolved" and resolved["action_taken"] == "Refunded USD 120."
    assert resolved["resolved_at"]


def test_a_replayed_post_with_the_same_client_id_stores_one_message(api, django_capture_on_commit_callbacks):
    cid = start(api)
    with django_capture_on_commit_callbacks(execute=True):
        first = send(api, cid, {"text": "let me talk to a human", "client_id": "a1"})
        again = send(api, cid, {"text": "let me talk to a human", "client_id": "a1"})
        send(api, cid, {"text": "yes", "client_id": "a2"})
        send(api, cid, {"text": "yes", "client_id": "a2"})
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.filter(author="customer").count() == 2
    assert Message.objects.filter(author="assistant").count() == 2
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"", 400, "JSON"),
        (b"not json", 400, "JSON"),
        (b"[1, 2]", 400, "JSON"),
        (b'{"text": 5}', 400, "string"),
        (b'{"text": "   "}', 400, "empty"),
        (json.dumps({"text": "x" * 4001}).encode(), 413, "4000"),
        (json.dumps({"text": "x" * 20000}).encode(), 413, "4000"),
        (b'{"confirm": "yes"}', 400, "true or false"),
        (b'{"text": "hi", "client_id": 7}', 400, "client_id"),
        (b"\xff\xfe", 400, "JSON"),
    ],
    ids=["empty", "garbage", "list", "number", "blank", "oversized", "huge", "confirm-string", "client-id", "bytes"],
)
def test_bad_messages_get_a_clear_error_and_store_nothing(api, raw, status, error):
    cid = start(api)
    response = send(api, cid, None, raw=raw)
    assert response.status_code == status
    assert error in response.json()["error"]
    assert not Message.objects.exists()


# Every way into a conversation by its id: URL name -> (method, query, body). A chat endpoint that
# takes an id and has no cases here fails the test below.
BY_ID = {
    "chat:messages": [
        ("get", "?after=0", None),
        ("get", "?after=0&wait=1", None),  # the old widgets' long poll, redirected to chat:poll
        ("post", "", {"text": "hello"}),
        ("post", "", {"confirm": True}),
    ],
    "chat:poll": [("get", "?after=0&wait=0", None), ("get", "?after=0&wait=1", None)],
    "chat:events": [("get", "", None), ("get", "?after=0", None)],
    "chat:open": [("get", "", None)],  # the link that opens a conversation in the widget
}


def test_another_customers_conversation_is_a_404_for_every_endpoint(api, customer):
    from channels_io.chat import urls

    with_id = {f"{urls.app_name}:{p.name}" for p in urls.urlpatterns if "<int:" in str(p.pattern)}
    assert with_id == set(BY_ID), "every chat endpoint that takes a conversation id needs its cases in BY_ID"
    other = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    ticket_services.store_customer_message(other.pk, "my secret")
    own_sms = ticket_services.open_conversation(channel="sms", customer=customer)  # theirs, but not a chat
    for conversation_id in (other.pk, own_sms.pk, 999999):
        for name, cases in BY_ID.items():
            for method, query, body in cases:
                path = reverse(name, args=[conversation_id]) + query
                response = api(method, path, body, follow=True)
                assert response.status_code == 404, f"{method} {path}: {response.status_code}"
                assert "secret" not in response.content.decode()
    assert Message.objects.filter(conversation=other).count() == 1
    assert not Message.objects.filter(conversation=own_sms).exists()


def test_sms_conversations_of_the_same_customer_are_not_chat_conversations(api, customer):
    sms = ticket_services.open_conversation(channel="sms", customer=customer)
    assert read(api, sms.pk).status_code == 404


def test_logged_out_visitors_get_401(client):
    assert client.post("/chat/conversations/").status_code == 401
    assert client.get("/chat/tickets/").json()["error"].startswith("Log in")


def test_posts_without_the_csrf_token_are_refused(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    assert client.post("/chat/conversations/").status_code == 403
    assert not Conversation.objects.exists()


def test_the_rate_limit_answers_429_with_retry_after(api, clock, settings, django_capture_on_commit_callbacks):
    from channels_io.chat import views

    cid = start(api)
    statuses = [send(api, cid, {"text": f"message {i}"}).status_code for i in range(views.RATE_LIMIT + 2)]
    assert statuses[: views.RATE_LIMIT] == [201] * views.RATE_LIMIT
    limited = send(api, cid, {"text": "one more"})
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert Message.objects.filter(author="customer").count() == views.RATE_LIMIT


def test_a_bad_after_is_a_400(api):
    cid = start(api)
    assert api("get", f"/chat/conversations/{cid}/messages/?after=abc").status_code == 400
    assert api("get", f"/chat/conversations/{cid}/messages/?after=-3").status_code == 400
    assert api("get", f"/chat/conversations/{cid}/poll/?wait=soon").status_code == 400
    assert api("get", f"/chat/conversations/{cid}/poll/?after=x&wait=1").status_code == 400


def test_the_old_long_poll_url_redirects_to_the_poll_endpoint(api):
    cid = start(api)
    response = api("get", f"/chat/conversations/{cid}/messages/?after=4&wait=25")
    assert response.status_code == 307
    assert response["Location"] == f"/chat/conversations/{cid}/poll/?after=4&wait=25"


def test_a_closed_conversation_refuses_new_messages(api):
    cid = start(api)
    Conversation.objects.filter(pk=cid).update(state="closed")
    response = send(api, cid, {"text": "hello?"})
    assert response.status_code == 409 and "new conversation" in response.json()["error"]


def test_a_retry_of_a_stored_message_is_accepted_even_past_the_rate_limit(
    api, clock, django_capture_on_commit_callbacks
):
    from channels_io.chat import views

    cid = start(api)
    first = send(api, cid, {"text": "hello", "client_id": "r1"})
    for i in range(views.RATE_LIMIT):
        send(api, cid, {"text": f"filler {i}"})
    again = send(api, cid, {"text": "hello", "client_id": "r1"})
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])


def test_a_retry_past_the_rate_limit_finds_only_the_customers_own_message(api, clock, customer):
    from channels_io.chat import views

    theirs = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    ticket_services.store_customer_message(theirs.pk, "my secret", external_id=f"{theirs.pk}:t1")
    cid = start(api)
    for i in range(views.RATE_LIMIT):
        send(api, cid, {"text": f"filler {i}"})
    guessed = send(api, theirs.pk, {"text": "hello", "client_id": "t1"})  # their conversation, their client id
    assert guessed.status_code == 429 and "secret" not in guessed.content.decode()
    assert Message.objects.filter(conversation=theirs).count() == 1


def test_a_closed_conversation_stores_nothing_and_someone_elses_is_checked_first(api):
    cid = start(api)
    Conversation.objects.filter(pk=cid).update(state="closed")
    theirs = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    Conversation.objects.filter(pk=theirs.pk).update(state="closed")
    assert send(api, cid, {"text": "hello?", "client_id": "c1"}).status_code == 409
    assert send(api, theirs.pk, {"text": "hello?"}).status_code == 404  # not "closed": it is not theirs to know
    assert not Message.objects.exists()


@pytest.mark.parametrize("number", ["0", str(2**63), "99999999999999999999"], ids=["zero", "past-64-bit", "huge"])
def test_a_conversation_id_or_message_id_no_row_can_have_is_a_clean_404_or_400(api, number):
    cid = start(api)
    assert send(api, int(number), {"text": "hello"}).status_code == 404
    assert read(api, int(number)).status_code == 404
    if number != "0":
        assert api("get", f"/chat/conversations/{cid}/messages/?after={number}").status_code == 400
        assert api("get", f"/chat/conversations/{cid}/events/", HTTP_LAST_EVENT_ID=number).status_code == 400
    assert not Message.objects.exists()


def test_a_body_over_the_upload_limit_is_a_json_413(api):
    cid = start(api)
    response = send(api, cid, None, raw=b'{"text": "' + b"x" * 3_000_000 + b'"}')
    assert response.status_code == 413 and "4000" in response.json()["error"]
    assert not Message.objects.exists()


def test_a_csrf_failure_on_the_widget_endpoints_is_json(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    response = client.post("/chat/conversations/")
    assert response.status_code == 403 and "session" in response.json()["error"]
    assert "text/html" in client.post("/accounts/logout/").headers["Content-Type"]


def test_the_last_event_id_wins_over_an_older_after(api, customer):
    cid = start(api)
    first, _ = ticket_services.store_customer_message(cid, "first")
    ticket_services.store_customer_message(cid, "second")
    response = api("get", f"/chat/conversations/{cid}/messages/?after=0", HTTP_LAST_EVENT_ID=str(first.pk))
    assert [m["text"] for m in response.json()["messages"]] == ["second"]
    assert api("get", f"/chat/conversations/{cid}/messages/?after=0", HTTP_LAST_EVENT_ID="x").status_code == 400
