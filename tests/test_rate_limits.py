"""Per-IP request limits on the widget's endpoints and the inbound webhooks: 429 with Retry-After, an
answer each caller understands, and nothing stored."""

import json
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from django.utils import timezone

from channels_io.models import InboundEmail, InboundText
from tests.channels_io.email.conftest import WEBHOOK, basic_auth, eml, postmark_payload
from tests.channels_io.sms.twilio_helpers import customer, outbox, payload, post, twilio  # noqa: F401 - fixtures
from tests.factories import UserFactory
from tickets.models import Conversation

pytestmark = pytest.mark.django_db

LIMIT = 3
IP = "198.51.100.23"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.RATE_LIMIT_CHAT_PER_IP = LIMIT
    settings.RATE_LIMIT_WEBHOOKS_PER_IP = LIMIT


@pytest.fixture
def clock():
    """At the start of a minute, so that a test's requests fall in one window."""
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


def chat_client(user, ip: str = IP) -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    return client


def test_chat_requests_over_the_per_ip_limit_get_a_json_429(clock):
    client = chat_client(UserFactory())
    assert [client.get("/chat/tickets/").status_code for _ in range(LIMIT)] == [200] * LIMIT
    refused = client.post("/chat/conversations/")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert "too many requests" in refused.json()["error"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert not Conversation.objects.exists()


def test_the_limit_is_per_ip_and_per_minute(clock):
    user = UserFactory()
    client = chat_client(user)
    for _ in range(LIMIT + 1):
        client.get("/chat/tickets/")
    assert client.get("/chat/tickets/").status_code == 429
    assert chat_client(user, ip="198.51.100.24").get("/chat/tickets/").status_code == 200
    clock.shift(60)
    assert client.get("/chat/tickets/").status_code == 200


def test_the_customers_own_limit_still_applies_below_the_ip_limit(settings, clock):
    from channels_io.chat import views

    settings.RATE_LIMIT_CHAT_PER_IP = 1000
    client = chat_client(UserFactory())
    cid = client.post("/chat/conversations/").json()["id"]
    url = f"/chat/conversations/{cid}/messages/"
    statuses = [
        client.post(url, {"text": f"m{i}"}, content_type="application/json").status_code
        for i in range(views.RATE_LIMIT + 1)
    ]
    assert statuses[-1] == 429 and statuses[:-1] == [201] * views.RATE_LIMIT


class AsyncClientFrom(AsyncClient):
    def __init__(self, ip: str) -> None:
        super().__init__()
        self.ip = ip

    def _base_scope(self, **request):
        return {**super()._base_scope(**request), "client": [self.ip, 40000]}


def test_the_async_chat_endpoints_are_limited_too(clock):
    client = AsyncClientFrom(IP)  # Django's async handler, where the event stream and long poll run

    async def poll() -> list[int]:
        return [(await client.get("/chat/conversations/1/poll/?after=0")).status_code for _ in range(LIMIT + 1)]

    statuses = async_to_sync(poll)()
    assert 429 not in statuses[:LIMIT] and statuses[LIMIT] == 429


def test_loopback_is_not_counted_with_debug_on(clock):
    client = chat_client(UserFactory(), ip="127.0.0.1")
    assert {client.get("/chat/tickets/").status_code for _ in range(LIMIT * 3)} == {200}


def test_ipv6_clients_count_by_their_64_network(clock):
    user = UserFactory()
    for i in range(LIMIT):
        assert chat_client(user, ip=f"2001:db8:aa:1::{i + 1}").get("/chat/tickets/").status_code == 200
    assert chat_client(user, ip="2001:db8:aa:1:ffff::9").get("/chat/tickets/").status_code == 429
    assert chat_client(user, ip="2001:db8:aa:2::1").get("/chat/tickets/").status_code == 200


def sms_form(i: int) -> dict[str, str]:
    return payload("sms_inbound", MessageSid=f"SM{i:032x}", Body=f"question number {i}")


def test_sms_over_the_limit_get_an_empty_twiml_429_and_nothing_is_stored(clock, customer, outbox):  # noqa: F811
    client = Client(REMOTE_ADDR=IP)
    assert [post(client, "/channels/sms/inbound", sms_form(i)).status_code for i in range(LIMIT)] == [200] * LIMIT
    refused = post(client, "/channels/sms/inbound", sms_form(LIMIT))
    assert refused.status_code == 429
    assert refused["Content-Type"] == "text/xml" and 0 < int(refused["Retry-After"]) <= 60
    assert ElementTree.fromstring(refused.content).tag == "Response"  # noqa: S314 - our own TwiML
    assert len(ElementTree.fromstring(refused.content)) == 0  # noqa: S314 - no text back
    assert InboundText.objects.count() == LIMIT  # kept for the worker, which files them
    # Another of Twilio's addresses is not held back.
    assert post(Client(REMOTE_ADDR="198.51.100.99"), "/channels/sms/inbound", sms_form(99)).status_code == 200


def test_calls_over_the_limit_hear_a_polite_apology(clock, twilio):  # noqa: F811
    client = Client(REMOTE_ADDR=IP)
    for i in range(LIMIT):
        form = payload("voice_inbound", CallSid=f"CA{i:032x}")
        assert post(client, "/channels/voice/inbound", form).status_code == 200
    refused = post(client, "/channels/voice/inbound", payload("voice_inbound", CallSid=f"CA{LIMIT:032x}"))
    assert refused.status_code == 429 and refused["Content-Type"] == "text/xml" and "Retry-After" in refused
    twiml = ElementTree.fromstring(refused.content)  # noqa: S314 - our own TwiML
    assert [child.tag for child in twiml] == ["Say", "Hangup"]
    assert Conversation.objects.count() == LIMIT


def test_inbound_email_webhooks_over_the_limit_get_a_json_429_and_nothing_is_stored(clock, settings):
    auth = basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"])
    client = Client(REMOTE_ADDR=IP)

    def deliver(i: int):
        raw = eml("gmail_question").replace(b"Message-ID: <", f"Message-ID: <n{i}.".encode(), 1)
        return client.post(
            WEBHOOK, data=json.dumps(postmark_payload(raw)), content_type="application/json", HTTP_AUTHORIZATION=auth
        )

    assert [deliver(i).status_code for i in range(LIMIT)] == [200] * LIMIT
    refused = deliver(LIMIT)
    assert refused.status_code == 429 and "Retry-After" in refused and "error" in refused.json()
    assert InboundEmail.objects.count() == LIMIT  # kept for the worker; the refused one is not


def test_the_default_webhook_limit_passes_a_providers_burst(clock, twilio, settings):  # noqa: F811
    settings.RATE_LIMIT_WEBHOOKS_PER_IP = 600
    client = Client(REMOTE_ADDR="54.172.60.1")
    form = payload("sms_status_delivered")
    statuses = {post(client, "/channels/sms/status", form).status_code for _ in range(600)}
    assert statuses == {204}
    assert post(client, "/channels/sms/status", form).status_code == 429
