"""Logs carry ids and outcomes, never what customers wrote, their phone numbers or their email addresses.

Whole conversations on chat, SMS and email (a question, a ticket offer, "yes", the confirmation email,
a staff reply) run with our loggers at DEBUG and everyone else's at INFO (what production prints);
no record, rendered with its arguments and any traceback, may hold the customer's text, number or
address.
"""

import io
import logging
import sys

import pytest
from django.core import mail
from django.test import Client

from channels_io.email import adapter
from loophole.logs import RedactingFormatter
from tests.assistant.helpers import add_articles
from tests.channels_io.email.conftest import (  # noqa: F401 - fixtures
    PLACEHOLDER,
    anna,
    deliver_mail,
    eml,
    our_mta,
    post_webhook,
    postmark_payload,
    webhook_auth,
)
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER, customer, outbox, payload, post, twilio  # noqa: F401
from tests.factories import StaffFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Author, Message, Ticket

pytestmark = pytest.mark.django_db

OURS = ("loophole", "tickets", "assistant", "channels_io")


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    for name in OURS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def private_values(*identities: str) -> list[str]:
    """What must not be logged: the customers' messages and what was drafted from them, and who they are."""
    texts = [m.text for m in Message.objects.filter(author=Author.CUSTOMER) if len(m.text) >= 12]
    for ticket in Ticket.objects.all():
        texts += [ticket.title, ticket.description, ticket.summary]
    values = texts + list(identities)
    for identity in identities:
        if identity.startswith("+"):
            values.append(identity[2:])  # the national digits alone
    return [v.lower() for v in values if v]


def assert_not_logged(caplog, values: list[str]) -> None:
    assert caplog.records, "nothing was logged: the loggers are not captured"
    rendered = [record.getMessage().lower() for record in caplog.records] + [caplog.text.lower()]
    for value in values:
        leaks = [line for line in rendered if value in line]
        assert not leaks, f"{value!r} was logged: {leaks[0][:300]}"


def staff_reply(text: str) -> None:
    ticket = Ticket.objects.get()
    ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(), text=text)


def test_a_chat_conversation_logs_nothing_private(logs, django_capture_on_commit_callbacks):
    add_articles()
    dana = UserFactory(email="Dana.Whitfield@example.com")
    client = Client()
    client.force_login(dana)
    conversation_id = client.post("/chat/conversations/").json()["id"]
    url = f"/chat/conversations/{conversation_id}/messages/"
    for body in (
        {"text": "how do I reset my password for dana.whitfield@example.com?"},
        {"text": "I was charged twice on invoice INV-88231, I want a refund"},
        {"confirm": True},
        {"text": "my card ending 4242 shows both charges"},
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, body, content_type="application/json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        staff_reply("We refunded the second charge on invoice INV-88231.")
    assert Ticket.objects.count() == 1 and len(mail.outbox) == 1  # the confirmation went out
    assert_not_logged(logs, private_values("dana.whitfield@example.com"))


def test_an_sms_conversation_logs_nothing_private(logs, client, customer, outbox, django_capture_on_commit_callbacks):  # noqa: F811
    add_articles()
    for i, body in enumerate(
        [
            "how do I reset my password?",
            "I was charged twice for my annual plan, I want a refund",
            "yes",
            "my number is +15555550100 if you need to call",
        ]
    ):
        form = payload("sms_inbound", Body=body, MessageSid=f"SM{i + 1:032x}")
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, "/channels/sms/inbound", form).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        staff_reply("We refunded the second charge of your annual plan.")
    assert Ticket.objects.count() == 1 and len(outbox) >= 4
    assert_not_logged(logs, private_values(CUSTOMER_NUMBER, customer.email))


def test_an_email_conversation_logs_nothing_private(
    logs,
    anna,  # noqa: F811
    deliver_mail,  # noqa: F811
    webhook_auth,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    deliver_mail(eml("gmail_question"))
    deliver_mail(eml("refund_request"))
    latest = Message.objects.filter(channel="email", author=Author.ASSISTANT).latest("pk")
    deliver_mail(eml("refund_yes").replace(PLACEHOLDER, adapter.message_id_of(latest).encode()))
    refused = post_webhook(postmark_payload(eml("unknown_sender")), auth=webhook_auth)  # an address with no account
    assert refused.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        staff_reply("We refunded the duplicate charge.")
    assert Ticket.objects.count() == 1
    assert_not_logged(logs, private_values("anna.schmidt@example.com", "Anna Schmidt", "someone@elsewhere.example"))


def test_what_other_libraries_log_is_masked_by_the_handlers():
    """Celery logs a retried task's exception: an SMTP refusal names the recipient, a Twilio error the number."""
    import smtplib

    (console,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, RedactingFormatter)]
    refused = smtplib.SMTPRecipientsRefused({"anna.schmidt@example.com": (550, b"5.1.1 no such user")})
    try:
        try:
            raise RuntimeError("Unable to create record: The 'To' number +1 555-555-0100 is not a valid phone number")
        except RuntimeError as exc:
            raise refused from exc
    except smtplib.SMTPRecipientsRefused as exc:
        record = logging.getLogger("celery.app.trace").makeRecord(
            "celery.app.trace", logging.INFO, __file__, 1, "Task %(name)s[%(id)s] retry: %(exc)s",
            ({"name": "tickets.send_customer_email", "id": "abc", "exc": repr(exc)},), sys.exc_info(),
        )  # fmt: skip
    previous = console.setStream(io.StringIO())
    try:
        console.handle(record)
        printed = console.stream.getvalue()
    finally:
        console.setStream(previous)
    assert "tickets.send_customer_email[abc] retry: SMTPRecipientsRefused({'[email]'" in printed
    assert "[phone] is not a valid phone number" in printed
    assert "anna.schmidt@example.com" not in printed and "555-555-0100" not in printed


def test_the_celery_workers_own_handlers_mask_them_too():
    from celery import signals

    root = logging.Logger("worker-root")
    root.addHandler(logging.StreamHandler())
    signals.after_setup_logger.send(sender=None, logger=root, loglevel=20, logfile=None, format="", colorize=False)
    assert isinstance(root.handlers[0].formatter, RedactingFormatter)
