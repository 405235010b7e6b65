"""Fuzzing the widget's JSON endpoints: any JSON, any bytes, any query string.

Property: 201 with exactly one stored message (the same one for a replayed client_id) and its
conversation moved on, or a 4xx JSON error with nothing written; never a 500.
"""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.factories import UserFactory
from tests.fuzz.conftest import assert_consistent, changed, row_counts
from tickets import services as ticket_services
from tickets.models import Conversation, Message

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), WORDS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(WORDS, inner, max_size=3)),
    max_leaves=8,
)
TEXTS = st.one_of(
    WORDS,
    st.sampled_from(["yes", "  ", "\x00", "I want a refund", "<script>alert(1)</script>"]),
    st.integers(3995, 4005).map(lambda n: "x" * n),
    JSON,
)
MESSAGE_BODIES = st.fixed_dictionaries(
    {},
    optional={"text": TEXTS, "confirm": st.one_of(st.booleans(), JSON), "client_id": st.one_of(WORDS, JSON)},
).flatmap(lambda fields: st.dictionaries(WORDS, JSON, max_size=2).map(lambda extra: {**extra, **fields}))


@pytest.fixture
def customer():
    return UserFactory()


def _post(client, conversation_id: int, data, content_type: str = "application/json"):
    return client.post(f"/chat/conversations/{conversation_id}/messages/", data=data, content_type=content_type)


@FUZZ
@given(
    body=st.one_of(MESSAGE_BODIES, JSON.map(json.dumps), st.binary(max_size=80)),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
    twice=st.booleans(),
)
@example(body={"text": "hello", "client_id": "c1"}, content_type="application/json", twice=True)
@example(body={"text": "\x00"}, content_type="application/json", twice=False)
@example(body=b"\xff\xfe", content_type="application/json", twice=False)
def test_any_body_to_the_messages_endpoint_stores_one_message_or_none(
    isolated, client, customer, body, content_type, twice
):
    data = json.dumps(body) if isinstance(body, dict) else body
    with isolated() as run_on_commit:
        client.force_login(customer)
        conversation = ticket_services.open_conversation(channel="chat", customer=customer, sender=customer.email)
        before = row_counts()
        responses = []
        for _ in range(2 if twice else 1):
            with run_on_commit():
                responses.append(_post(client, conversation.pk, data, content_type))
        delta = changed(before)
        event(f"{responses[0].status_code}")
        for response in responses:
            assert response.status_code in (201, 400, 409, 413, 429), response.content
            assert response["Content-Type"] == "application/json"
        stored = Message.objects.filter(conversation=conversation, author="customer")
        if all(r.status_code >= 400 for r in responses):
            assert delta == {}, delta
        else:
            created = [r.json() for r in responses if r.status_code == 201]
            assert {c["id"] for c in created} == set(stored.values_list("pk", flat=True))
            replayed = isinstance(body, dict) and isinstance(body.get("client_id"), str) and body["client_id"]
            assert stored.count() == (1 if replayed else len(created))
            conversation.refresh_from_db()
            assert conversation.last_message_at >= max(m.created_at for m in stored)
        assert_consistent()


@FUZZ
@given(
    after=st.one_of(st.none(), st.integers(-3, 10**20).map(str), WORDS),
    last_event_id=st.one_of(st.none(), st.integers(-3, 10**6).map(str), WORDS.filter(lambda s: "\n" not in s)),
    own=st.booleans(),
    conversation_id=st.integers(0, 2**63),
)
@example(after="99999999999999999999", last_event_id=None, own=True, conversation_id=0)
def test_reading_messages_with_any_query_is_a_2xx_or_4xx_and_writes_nothing(
    isolated, client, customer, after, last_event_id, own, conversation_id
):
    with isolated():
        client.force_login(customer)
        stranger = UserFactory()
        mine = ticket_services.open_conversation(channel="chat", customer=customer, sender=customer.email)
        theirs = ticket_services.open_conversation(channel="chat", customer=stranger, sender=stranger.email)
        ticket_services.store_customer_message(theirs.pk, "Stranger's secret")
        target = mine.pk if own else (theirs.pk if conversation_id % 2 else conversation_id)
        query = "" if after is None else "?" + urlencode({"after": after})
        headers = {} if last_event_id is None else {"HTTP_LAST_EVENT_ID": last_event_id}
        before = row_counts()
        response = client.get(f"/chat/conversations/{target}/messages/{query}", **headers)
        assert response.status_code in (200, 400, 404), response.content
        assert changed(before) == {}
        assert b"Stranger's secret" not in response.content
        if target != mine.pk:
            assert response.status_code in (400, 404)


@FUZZ
@given(data=st.one_of(JSON.map(json.dumps), st.binary(max_size=60)))
def test_starting_a_conversation_ignores_any_body(isolated, client, customer, data):
    with isolated():
        client.force_login(customer)
        before = row_counts()
        response = client.post("/chat/conversations/", data=data, content_type="application/json")
        assert response.status_code == 201
        assert changed(before) == {"tickets.Conversation": 1}
        assert Conversation.objects.get(pk=response.json()["id"]).customer == customer
