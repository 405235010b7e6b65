"""Size limits at every entry point, in one place: oversized input is refused with a clear 413 (or exit
status) and nothing is stored."""

import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from channels_io.email.parsing import MAX_RAW
from channels_io.email.views import MAX_PAYLOAD
from tests.channels_io.email.conftest import WEBHOOK, basic_auth, eml, postmark_payload
from tests.channels_io.sms.twilio_helpers import customer, outbox, payload, post, twilio  # noqa: F401 - fixtures
from tests.factories import UserFactory
from tickets.models import Conversation, Message

pytestmark = pytest.mark.django_db


def nothing_stored() -> bool:
    return not Message.objects.exists()


@pytest.fixture
def chat():
    client = Client()
    client.force_login(UserFactory())
    conversation_id = client.post("/chat/conversations/").json()["id"]
    return client, f"/chat/conversations/{conversation_id}/messages/"


@pytest.mark.parametrize(
    "body",
    [json.dumps({"text": "x" * 4001}), json.dumps({"text": "ab" * 10_000}), '{"text": "' + "x" * 100_000 + '"}'],
    ids=["4001-characters", "20k-characters", "100-kb-body"],
)
def test_chat_refuses_a_message_over_4000_characters_with_a_json_413(chat, body):
    client, url = chat
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"error": "The message is too long: at most 4000 characters."}
    assert nothing_stored()


def test_chat_takes_a_message_of_exactly_4000_characters(chat):
    client, url = chat
    assert client.post(url, {"text": "x" * 4000}, content_type="application/json").status_code == 201


def test_sms_refuses_a_text_over_4000_characters(client, customer, outbox):  # noqa: F811
    response = post(client, "/channels/sms/inbound", payload("sms_inbound", Body="x" * 4001))
    assert response.status_code == 413 and "at most 4000" in response.json()["error"]
    assert nothing_stored() and outbox == []


@pytest.mark.parametrize("path", ["/channels/sms/inbound", "/channels/voice/inbound", "/channels/voice/turn"])
def test_twilio_webhooks_refuse_a_body_over_64_kb_before_reading_it(client, twilio, customer, path):  # noqa: F811
    form = payload("sms_inbound" if "sms" in path else "voice_gather_speech", Extra="x" * 70_000)
    response = post(client, path, form)
    assert response.status_code == 413 and "too large" in response.json()["error"]
    assert nothing_stored() and not Conversation.objects.exists()


def test_receive_email_refuses_a_message_over_10_mb_with_exit_status_65():
    raw = b"From: dana@example.com\nSubject: big\n\n" + b"x" * MAX_RAW
    with pytest.raises(CommandError, match="at most 10485760") as refused:
        call_command("receive_email", stdin=io.BytesIO(raw))
    assert refused.value.returncode == 65  # EX_DATAERR: the mail server bounces it to the sender
    assert nothing_stored()


def test_the_email_webhook_refuses_a_payload_over_its_limit_with_413(settings):
    response = Client().post(
        WEBHOOK,
        data=json.dumps(postmark_payload(eml("gmail_question"))),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"]),
        CONTENT_LENGTH=str(MAX_PAYLOAD + 1),
    )
    assert response.status_code == 413 and b"too large" in response.content
    assert nothing_stored()


def test_the_email_webhook_takes_a_message_over_10_mb_off_the_queue_but_stores_nothing(settings, caplog):
    """Within the payload limit, a raw message over 10 MB is refused like other bad mail: logged, and a
    200 so that the provider does not post it again for days."""
    raw = eml("gmail_question") + b"x" * MAX_RAW
    with caplog.at_level(logging.WARNING, logger="channels_io.email.receivers"):
        response = Client().post(
            WEBHOOK,
            data=json.dumps(postmark_payload(raw)),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"]),
        )
    assert response.status_code == 200
    assert "refused" in caplog.text and "at most 10485760" in caplog.text
    assert nothing_stored()


def test_an_email_whose_new_text_is_over_4000_characters_is_refused():
    raw = eml("gmail_question").replace(b"How do I reset my password?", b"Why? " * 1000)
    with pytest.raises(CommandError, match="at most 4000") as refused:
        call_command("receive_email", stdin=io.BytesIO(raw))
    assert refused.value.returncode == 65
    assert nothing_stored()
