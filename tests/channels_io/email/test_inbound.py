"""Inbound mail through both paths: stored once in the right conversation, answered once, or refused
with nothing stored."""

import base64
import io
import logging

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from channels_io.email import adapter
from tests.channels_io.email.conftest import PLACEHOLDER, eml, post_webhook, postmark_payload
from tests.factories import UserFactory
from tickets.models import Author, Conversation, Message

pytestmark = pytest.mark.django_db


def customer_messages():
    return list(Message.objects.filter(channel="email", author=Author.CUSTOMER).order_by("pk"))


def replies():
    return list(Message.objects.filter(channel="email", author=Author.ASSISTANT).order_by("pk"))


def test_a_first_message_from_a_customer_starts_a_conversation_and_is_answered(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    (message,) = customer_messages()
    conversation = message.conversation
    assert conversation.customer == anna
    assert conversation.sender == "anna.schmidt@example.com"
    assert conversation.thread == "<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>"
    assert message.text == "Subject: Password reset\n\nHi,\n\nHow do I reset my password? I forgot it."
    assert message.external_id == conversation.thread
    (reply,) = replies()
    assert "Forgot password" in reply.text
    assert reply.handled_at is not None  # delivered
    (sent,) = mail.outbox
    assert sent.to == ["anna.schmidt@example.com"]
    assert sent.subject == "Re: Password reset"


def test_a_reply_continues_its_thread_with_the_quote_stripped(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    (first_reply,) = replies()
    raw = eml("gmail_reply").replace(PLACEHOLDER, adapter.message_id_of(first_reply).encode())
    deliver_mail(raw)
    first, second = customer_messages()
    assert second.conversation_id == first.conversation_id
    assert second.text == "Thanks, that worked. How do I export my data?"
    assert len(replies()) == 2
    assert "Export" in replies()[1].text


def test_a_reply_naming_only_our_message_id_finds_the_conversation(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    (first_reply,) = replies()
    ours = adapter.message_id_of(first_reply).encode()
    raw = (
        eml("gmail_reply")
        .replace(b"<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com> ", b"")
        .replace(PLACEHOLDER, ours)
    )
    deliver_mail(raw)
    assert Conversation.objects.count() == 1
    assert len(customer_messages()) == 2


def test_someone_else_cannot_write_into_a_customers_thread(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    (first_reply,) = replies()
    raw = eml("gmail_reply").replace(PLACEHOLDER, adapter.message_id_of(first_reply).encode())
    raw = raw.replace(b"From: Anna Schmidt <anna.schmidt@example.com>", b"From: Mallory <mallory@example.net>")
    deliver_mail(raw)
    first, intruder = customer_messages()
    assert intruder.conversation_id != first.conversation_id
    assert intruder.conversation.customer is None


def test_a_new_thread_from_the_same_sender_is_a_new_conversation(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    deliver_mail(eml("attachment"))
    assert Conversation.objects.filter(channel="email", customer=anna).count() == 2


@pytest.mark.parametrize(
    ("name", "sender", "text"),
    [
        ("outlook_reply", "bob.smith@example.com", "How do I cancel my subscription?"),
        ("apple_mail_reply", "claire@example.com", "How do I export my data as CSV?"),
        ("html_only", "dana@example.com", "How do I export my data?"),
        ("windows1252", "renee.muller@example.com", "since my trip to Zürich I can\u2019t log in"),
        ("attachment", "anna.schmidt@example.com", "[attachment: INV-2231.pdf]"),
    ],
    ids=["outlook", "apple-mail", "html-only", "windows-1252", "attachment"],
)
def test_real_world_mail_is_stored_as_clean_text_and_answered(anna, deliver_mail, name, sender, text):
    for address in {"bob.smith@example.com", "claire@example.com", "dana@example.com", "renee.muller@example.com"}:
        UserFactory(email=address)
    deliver_mail(eml(name))
    (message,) = customer_messages()
    assert message.conversation.sender == sender
    assert message.conversation.customer.email == sender
    assert text in message.text
    assert "must not be stored" not in message.text and "wrote:" not in message.text
    assert len(replies()) == 1
    assert [m.to for m in mail.outbox] == [[sender]]


def test_an_unknown_charset_is_read_through_the_pipe(anna, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("receive_email", stdin=io.BytesIO(eml("bad_charset")), stdout=io.StringIO())
    (message,) = customer_messages()
    assert "Café crème: how do I reset my password?" in message.text


def test_a_redelivered_message_is_stored_once_and_answered_once(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    deliver_mail(eml("gmail_question"))
    assert len(customer_messages()) == 1
    assert len(replies()) == 1
    assert len(mail.outbox) == 1


def test_a_redelivery_through_the_other_path_is_still_stored_once(
    anna, webhook_auth, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out = io.StringIO()
        call_command("receive_email", stdin=io.BytesIO(eml("gmail_question")), stdout=out)
        assert out.getvalue().startswith("stored:")
        assert post_webhook(postmark_payload(eml("gmail_question")), auth=webhook_auth).status_code == 200
        out = io.StringIO()
        call_command("receive_email", stdin=io.BytesIO(eml("gmail_question")), stdout=out)
        assert out.getvalue().startswith("duplicate:")
    assert len(customer_messages()) == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("name", ["bounce", "own_mail"], ids=["bounce", "our-own-mail"])
def test_bounces_and_our_own_mail_are_neither_stored_nor_answered(anna, deliver_mail, name):
    deliver_mail(eml("gmail_question"))
    mail.outbox.clear()
    deliver_mail(eml(name))
    assert len(customer_messages()) == 1
    assert mail.outbox == []


def test_an_out_of_office_is_stored_in_its_thread_but_never_answered(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    mail.outbox.clear()
    (our_reply,) = replies()
    deliver_mail(eml("out_of_office").replace(PLACEHOLDER, adapter.message_id_of(our_reply).encode()))
    first, autoreply = customer_messages()
    assert autoreply.conversation_id == first.conversation_id
    assert autoreply.text.startswith("I am out of the office")
    assert autoreply.handled_at is not None  # the sweeper will not answer it either
    assert len(replies()) == 1
    assert mail.outbox == []


def test_an_out_of_office_outside_any_thread_is_not_stored(anna, deliver_mail):
    deliver_mail(eml("out_of_office"))
    assert customer_messages() == []
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [("no_from", "no From header"), ("malformed", "not a valid email address")],
    ids=["no-from", "malformed"],
)
def test_receive_email_refuses_bad_mail_with_a_clear_message_and_stores_nothing(anna, name, reason):
    with pytest.raises(CommandError, match=reason) as raised:
        call_command("receive_email", stdin=io.BytesIO(eml(name)))
    assert raised.value.returncode == 65  # EX_DATAERR: the mail server bounces it
    assert not Message.objects.exists() and not Conversation.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [b"", b"From: a@example.com\n\n" + b"x" * (10 * 1024 * 1024)],
    ids=["empty", "over-10-mb"],
)
def test_receive_email_refuses_empty_and_oversized_input(anna, raw):
    with pytest.raises(CommandError, match=r"empty|at most"):
        call_command("receive_email", stdin=io.BytesIO(raw))
    assert not Message.objects.exists()


@pytest.mark.parametrize("name", ["no_from", "malformed"], ids=["no-from", "malformed"])
def test_the_webhook_takes_bad_mail_off_the_providers_queue_but_stores_nothing(
    anna, webhook_auth, caplog, django_capture_on_commit_callbacks, name
):
    with caplog.at_level(logging.WARNING, logger="channels_io.email"), django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(postmark_payload(eml(name)), auth=webhook_auth)
    assert response.status_code == 200
    assert "refused" in caplog.text  # by the worker that read it
    assert not Message.objects.exists() and not Conversation.objects.exists()


@pytest.mark.parametrize(
    "auth",
    [None, "Basic " + "cG9zdG1hcms6d3Jvbmc=", "Bearer nothing"],
    ids=["unsigned", "wrong-password", "wrong-scheme"],
)
def test_the_webhook_refuses_requests_without_its_credentials(anna, auth):
    response = post_webhook(postmark_payload(eml("gmail_question")), auth=auth)
    assert response.status_code == 400  # anymail answers a failed basic auth with 400 (SuspiciousOperation)
    assert not Message.objects.exists()


def test_the_webhook_works_without_raw_email_from_postmarks_parsed_fields(
    anna, webhook_auth, django_capture_on_commit_callbacks
):
    payload = postmark_payload(eml("gmail_question"), include_raw=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(payload, auth=webhook_auth).status_code == 200
    (message,) = customer_messages()
    assert message.external_id == "<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>"
    assert "How do I reset my password?" in message.text
    assert len(mail.outbox) == 1


def test_the_webhook_url_is_printed_for_the_operator(settings):
    settings.PUBLIC_URL = "https://support.example.com"
    out = io.StringIO()
    call_command("receive_email", "--webhook-url", stdout=out)
    user, password = settings.ANYMAIL["WEBHOOK_SECRET"].split(":")
    assert out.getvalue().strip() == f"https://{user}:{password}@support.example.com/anymail/postmark/inbound/"
    assert len(password) == 32


def test_the_webhook_takes_a_mail_with_a_large_attachment(anna, webhook_auth, django_capture_on_commit_callbacks):
    picture = base64.encodebytes(bytes(range(256)) * (4 * 4096)).decode()  # 4 MB, over Django's 2.5 MB default
    raw = eml("attachment").replace(b"iVBORw0KGgoAAAANSUhEUg==", picture.encode())
    assert len(raw) > 4 * 1024 * 1024
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(postmark_payload(raw), auth=webhook_auth)
    assert response.status_code == 200
    (message,) = customer_messages()
    assert "[attachment: screenshot.png]" in message.text


def test_the_webhook_refuses_a_large_body_without_credentials(anna):
    raw = eml("attachment") + b"x" * (3 * 1024 * 1024)
    assert post_webhook(postmark_payload(raw), auth=None).status_code == 400
    assert not Message.objects.exists()
