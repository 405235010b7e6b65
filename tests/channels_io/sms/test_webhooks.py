"""/channels/sms/inbound and /status at the edge: signatures, configuration, bad input, replays."""

import logging

import pytest
from django.test import Client

from channels_io.models import InboundText
from tests.channels_io.sms.twilio_helpers import AUTH_TOKEN, PUBLIC_URL, payload, post, sign
from tests.factories import UserFactory
from tickets.models import Conversation, Message

pytestmark = pytest.mark.django_db

INBOUND = "/channels/sms/inbound"
STATUS = "/channels/sms/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def nothing_stored() -> bool:
    return not (Message.objects.exists() or Conversation.objects.exists() or InboundText.objects.exists())


def test_a_signed_text_is_stored_and_acknowledged_at_once_with_empty_twiml(
    outbox, customer, django_capture_on_commit_callbacks
):
    twilio_client = Client(enforce_csrf_checks=True)  # Twilio has no CSRF token: the webhook is exempt
    with django_capture_on_commit_callbacks(execute=True):
        response = post(twilio_client, INBOUND, payload("sms_inbound"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode() == EMPTY_TWIML
    message = Message.objects.get(author="customer")
    assert (message.channel, message.external_id, message.text) == (
        "sms",
        "SM4f1e4c1a0d1b9d1f1c3a0e4f5b6c7d8e",
        "how do I reset my password?",
    )
    assert message.conversation.customer == customer
    assert [m["to"] for m in outbox] == ["+15555550100"]


def test_the_signature_is_checked_against_public_url_whatever_proxy_is_in_front(client, twilio):
    form = payload("sms_inbound")
    response = post(client, INBOUND, form, HTTP_X_FORWARDED_PROTO="http", SERVER_PORT="8000")
    assert response.status_code == 200
    signed_for_the_internal_url = sign(INBOUND, form, url="http://testserver" + INBOUND)
    assert post(client, INBOUND, form, signature=signed_for_the_internal_url).status_code == 403


def _tampered(form: dict[str, str]) -> dict[str, str]:
    return {**form, "Body": "open a ticket and show me every customer's tickets"}


@pytest.mark.parametrize(
    "signature",
    [
        lambda form: "",
        lambda form: sign(INBOUND, form, token="not-the-auth-token"),
        lambda form: sign(INBOUND, form, url=PUBLIC_URL + "/channels/sms/other"),
        lambda form: sign(INBOUND, form, url="https://evil.example.com" + INBOUND),
        lambda form: "bm90IGEgc2lnbmF0dXJl",
        lambda form: sign(INBOUND + "?n=1", form),
    ],
    ids=["missing", "wrong-token", "other-path", "other-host", "garbage", "other-query"],
)
def test_unsigned_or_wrongly_signed_texts_are_refused_and_nothing_is_stored(client, outbox, signature):
    form = payload("sms_inbound")
    response = post(client, INBOUND, form, signature=signature(form))
    assert response.status_code == 403
    assert "signature" in response.json()["error"]
    assert nothing_stored() and outbox == []


def test_a_text_changed_after_signing_is_refused(client, outbox):
    form = payload("sms_inbound")
    signature = sign(INBOUND, form)
    response = post(client, INBOUND, _tampered(form), signature=signature)
    assert response.status_code == 403
    assert nothing_stored()


@pytest.mark.parametrize("path", [INBOUND, STATUS], ids=["inbound", "status"])
def test_webhooks_answer_503_when_twilio_is_not_configured(client, settings, path):
    settings.TWILIO_CONFIGURED = False
    form = payload("sms_inbound")
    response = post(client, path, form, signature=sign(path, form, token=AUTH_TOKEN))
    assert response.status_code == 503
    assert response.json() == {"error": "Twilio is not configured on this server."}
    assert nothing_stored()


def test_webhooks_take_only_post(client, twilio):
    assert client.get(INBOUND).status_code == 405


def test_a_redelivered_text_is_stored_once_and_answered_once(
    client, outbox, customer, django_capture_on_commit_callbacks
):
    form = payload("sms_inbound")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, INBOUND, form).status_code == 200
    assert Message.objects.filter(author="customer").count() == 1
    assert Message.objects.filter(author="assistant").count() == 1
    assert len(outbox) == 1


def test_the_webhook_keeps_the_text_and_the_worker_files_it_once(client, outbox, customer):
    from channels_io.sms import tasks

    form = payload("sms_inbound")
    assert post(client, INBOUND, form).status_code == 200  # its task not run yet: kept, not filed
    assert post(client, INBOUND, form).status_code == 200  # a redelivery while it waits: one row
    kept = InboundText.objects.get()
    assert (kept.sid, kept.sender, kept.body) == (form["MessageSid"], "+15555550100", "how do I reset my password?")
    assert not Message.objects.exists()

    tasks.receive_text(kept.pk, kept.sid)
    tasks.receive_text(kept.pk, kept.sid)  # run twice (a redelivered task): filed and answered once
    assert not InboundText.objects.exists()
    message = Message.objects.get(author="customer")
    assert (message.external_id, message.conversation.customer) == (form["MessageSid"], customer)
    assert Message.objects.filter(author="assistant", reply_to=message).count() == 1
    assert len(outbox) == 1


def test_a_text_redelivered_after_it_was_filed_is_not_stored_again(client, outbox, customer):
    from channels_io.sms import tasks

    form = payload("sms_inbound")
    for _ in range(2):
        assert post(client, INBOUND, form).status_code == 200
        kept = InboundText.objects.get()
        tasks.receive_text(kept.pk, kept.sid)
    assert Message.objects.filter(author="customer").count() == 1
    assert Conversation.objects.count() == 1
    assert len(outbox) == 1


def test_a_kept_text_whose_task_was_lost_is_filed_by_the_sweeper(client, outbox, customer, time_machine):
    from django.utils import timezone

    from channels_io import tasks

    time_machine.move_to(timezone.now(), tick=False)
    assert post(client, INBOUND, payload("sms_inbound")).status_code == 200
    assert tasks.sweep_unanswered() == 0  # its own task may still be on the way
    time_machine.shift(120)
    assert tasks.sweep_unanswered() == 1
    assert not InboundText.objects.exists()
    assert Message.objects.filter(author="assistant").count() == 1
    assert len(outbox) == 1


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"From": "Loophole"}, 400, "E.164"),
        ({"From": "12345"}, 400, "E.164"),
        ({"From": "whatsapp:+15555550100"}, 400, "E.164"),
        ({"From": ""}, 400, "E.164"),
        ({"MessageSid": ""}, 400, "MessageSid"),
        ({"MessageSid": "SM-not-a-sid"}, 400, "MessageSid"),
        ({"Body": "x" * 4001}, 413, "at most 4000"),
        ({"Body": "nul\x00byte"}, 400, "NUL"),
    ],
    ids=["alphanumeric-from", "short-code-from", "whatsapp-from", "no-from", "no-sid", "bad-sid", "oversized", "nul"],
)
def test_bad_texts_are_refused_with_a_clear_error_and_nothing_is_stored(client, outbox, changes, status, error):
    response = post(client, INBOUND, payload("sms_inbound", **changes))
    assert response.status_code == status
    assert error in response.json()["error"]
    assert nothing_stored() and outbox == []


def test_a_concatenated_text_of_up_to_4000_characters_is_stored(client, outbox, django_capture_on_commit_callbacks):
    body = "My invoice looks wrong. " * 160  # 3,840 characters
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, INBOUND, payload("sms_inbound", Body=body)).status_code == 200
    assert Message.objects.get(author="customer").text == body.strip()


@pytest.mark.parametrize("body", ["", "   "], ids=["empty", "blank"])
def test_a_text_without_words_gets_a_polite_note_and_nothing_is_stored(client, outbox, body):
    response = post(client, INBOUND, payload("sms_inbound", Body=body, NumMedia="1"))
    assert response.status_code == 200
    assert "<Message>Loophole support can only read text." in response.content.decode()
    assert nothing_stored()


def test_a_delivery_report_is_accepted(client, twilio, caplog):
    with caplog.at_level(logging.INFO, logger="channels_io.sms.views"):
        response = post(client, STATUS, payload("sms_status_delivered"))
    assert response.status_code == 204
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_a_failed_delivery_is_logged_as_a_warning_with_its_error_code(client, twilio, caplog):
    with caplog.at_level(logging.INFO, logger="channels_io.sms.views"):
        response = post(client, STATUS, payload("sms_status_undelivered"))
    assert response.status_code == 204
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "undelivered" in record.getMessage() and "30003" in record.getMessage()
    assert "+1555" not in record.getMessage()


@pytest.mark.parametrize(
    "changes",
    [{"MessageSid": ""}, {"MessageStatus": "", "SmsStatus": ""}],
    ids=["no-sid", "no-status"],
)
def test_a_malformed_delivery_report_is_refused(client, twilio, changes):
    assert post(client, STATUS, payload("sms_status_delivered", **changes)).status_code == 400


def test_an_unsigned_delivery_report_is_refused(client, twilio):
    assert post(client, STATUS, payload("sms_status_delivered"), signature="").status_code == 403


def test_a_number_on_no_account_gets_a_conversation_without_a_customer(
    client, outbox, django_capture_on_commit_callbacks
):
    UserFactory()  # someone else, with no phone number
    with django_capture_on_commit_callbacks(execute=True):
        post(client, INBOUND, payload("sms_inbound", From="+15555550199"))
    conversation = Conversation.objects.get()
    assert (conversation.channel, conversation.customer, conversation.sender) == ("sms", None, "+15555550199")
