"""SMS backends; TwilioBackend with the real twilio client against a fake of Twilio's REST API."""

import io
import json
import logging

import pytest

from channels_io.sms import backends
from tests.channels_io.sms.twilio_helpers import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER_NUMBER, OUR_NUMBER
from tests.conftest import free_port
from tests.factories import StaffFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Message

STATUS_CALLBACK = "https://support.example.com/channels/sms/status"


def test_twilio_backend_sends_with_the_real_client_and_the_status_callback(fake_twilio):
    sid = backends.get_backend().send(CUSTOMER_NUMBER, "Hello from Loophole")
    (request,) = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {
        "To": CUSTOMER_NUMBER,
        "From": OUR_NUMBER,
        "Body": "Hello from Loophole",
        "StatusCallback": STATUS_CALLBACK,
    }
    assert sid == fake_twilio.sent[0]["sid"] and sid.startswith("SM")


def test_a_messaging_service_sid_sends_through_the_service(fake_twilio, settings):
    settings.TWILIO_PHONE_NUMBER = "MG" + "b" * 32
    backends.get_backend().send(CUSTOMER_NUMBER, "Hi")
    form = fake_twilio.sent[0]
    assert form["MessagingServiceSid"] == "MG" + "b" * 32 and "From" not in form


@pytest.mark.parametrize("fixture", ["api_error_429", "api_error_500"], ids=["429", "500"])
def test_busy_or_failing_twilio_raises_a_transient_error_the_task_retries(fake_twilio, fixture):
    fake_twilio.push_error(fixture)
    with pytest.raises(backends.SmsTransientError) as raised:
        backends.get_backend().send(CUSTOMER_NUMBER, "Hi")
    assert isinstance(raised.value, OSError)


def test_unreachable_twilio_raises_a_transient_error(twilio, settings):
    settings.SMS_BACKEND = "channels_io.sms.backends.TwilioBackend"
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(backends.SmsTransientError):
        backends.get_backend().send(CUSTOMER_NUMBER, "Hi")


def test_a_refused_number_raises_a_permanent_error(fake_twilio):
    fake_twilio.push_error("api_error_21211")
    with pytest.raises(backends.SmsRejected) as raised:
        backends.get_backend().send(CUSTOMER_NUMBER, "Hi")
    assert not isinstance(raised.value, OSError)
    assert (raised.value.status, raised.value.code) == (400, 21211)


def _sms_ticket(customer):
    ticket = make_ticket(customer, channel="sms")
    ticket.conversation.sender = CUSTOMER_NUMBER
    ticket.conversation.save(update_fields=["sender"])
    return ticket


@pytest.mark.django_db
@pytest.mark.parametrize("fixture", ["api_error_429", "api_error_500"], ids=["429", "500"])
def test_a_staff_reply_is_retried_after_a_429_or_500_and_sent_once(
    fake_twilio, customer, django_capture_on_commit_callbacks, fixture
):
    ticket = _sms_ticket(customer)
    fake_twilio.push_error(fixture)
    with django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded USD 120.")
    assert len(fake_twilio.requests) == 2
    (sent,) = fake_twilio.sent
    assert sent["Body"].endswith("Refunded USD 120.") and sent["StatusCallback"] == STATUS_CALLBACK
    message.refresh_from_db()
    assert message.handled_at is not None


@pytest.mark.django_db
def test_a_permanently_refused_reply_is_logged_and_not_retried(
    fake_twilio, customer, django_capture_on_commit_callbacks, caplog
):
    ticket = _sms_ticket(customer)
    fake_twilio.push_error("api_error_21211")
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        message = ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text="Refunded.")
    assert len(fake_twilio.requests) == 1 and fake_twilio.sent == []
    assert any("21211" in r.getMessage() for r in caplog.records if r.name == "channels_io.sms.adapter")
    assert Message.objects.get(pk=message.pk).handled_at is not None


@pytest.mark.django_db
def test_a_long_staff_reply_is_split_into_numbered_texts_on_sentence_boundaries(
    fake_twilio, customer, django_capture_on_commit_callbacks
):
    ticket = _sms_ticket(customer)
    sentences = [
        f"Step {i}: open Settings, then Billing, and check invoice INV-{1000 + i} carefully." for i in range(50)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text=" ".join(sentences))
    bodies = [form["Body"] for form in fake_twilio.sent]
    assert len(bodies) == 3
    assert all(len(body) <= backends.TWILIO_MAX for body in bodies)
    assert [body[:6] for body in bodies] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(body.endswith(".") for body in bodies)  # cut between sentences
    joined = " ".join(body[6:] for body in bodies)
    assert joined == f"Loophole team, ticket {ticket.reference}:\n" + " ".join(sentences)


@pytest.mark.parametrize(
    ("text", "parts"),
    [("short", ["short"]), ("a" * 1600, ["a" * 1600]), ("word " * 400, None), ("x" * 3300, None)],
    ids=["short", "exactly-the-limit", "words", "one-long-word"],
)
def test_split_keeps_every_part_within_the_limit_and_loses_nothing(text, parts):
    result = backends.split(text, backends.TWILIO_MAX)
    if parts is not None:
        assert result == parts
    assert all(len(part) <= backends.TWILIO_MAX for part in result)
    if len(result) > 1:
        assert "".join(part.split(") ", 1)[1] for part in result).replace(" ", "") == text.replace(" ", "")


def test_locmem_backend_keeps_the_message_in_the_outbox(twilio):
    backends.get_backend().send(CUSTOMER_NUMBER, "Hi")
    assert backends.outbox == [{"to": CUSTOMER_NUMBER, "body": "Hi"}]


def test_file_backend_writes_one_json_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "channels_io.sms.backends.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    backend = backends.get_backend()
    backend.send(CUSTOMER_NUMBER, "Hi")
    backend.send(CUSTOMER_NUMBER, "Ünïcode ✓")
    files = sorted((tmp_path / "sms").glob("*.json"))
    assert len(files) == 2
    assert sorted(json.loads(f.read_text(encoding="utf-8"))["body"] for f in files) == ["Hi", "Ünïcode ✓"]


def test_console_backend_prints_the_message():
    stream = io.StringIO()
    backends.ConsoleBackend(stream).send(CUSTOMER_NUMBER, "Hi there")
    assert CUSTOMER_NUMBER in stream.getvalue() and "Hi there" in stream.getvalue()
