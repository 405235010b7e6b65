"""Whole email conversations, in through both paths and out through a real SMTP server: a help
answer, a status look-up, an offer declined and accepted, an unknown sender, and a staff reply."""

import pytest

from channels_io.email import adapter
from tests.channels_io.email.conftest import PLACEHOLDER, eml
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Author, Conversation, ConversationState, Message, Ticket

pytestmark = pytest.mark.django_db


def last_reply() -> Message:
    return Message.objects.filter(channel="email", author__in=[Author.ASSISTANT, Author.STAFF]).latest("pk")


def answering(name: str) -> bytes:
    """A reply fixture threaded under our latest reply."""
    return eml(name).replace(PLACEHOLDER, adapter.message_id_of(last_reply()).encode())


def test_a_help_question_gets_the_help_centre_answer_by_email(anna, deliver_mail, smtp_server):
    deliver_mail(eml("gmail_question"))
    (sent,) = smtp_server.messages
    assert sent["To"] == "anna.schmidt@example.com"
    assert sent["Subject"] == "Re: Password reset"
    assert "Forgot password" in sent.get_body(("plain",)).get_content()
    assert sent["In-Reply-To"].strip() == "<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>"


def test_a_customer_looks_up_their_ticket_by_reference(anna, deliver_mail, smtp_server):
    ticket = make_ticket(anna, title="Refund for duplicate charge")
    smtp_server.messages.clear()
    deliver_mail(eml("status_lookup").replace(b"LH-REFERENCE", ticket.reference.encode()))
    (sent,) = smtp_server.messages
    body = sent.get_body(("plain",)).get_content()
    assert ticket.reference in body
    assert "Submitted" in body


def test_a_declined_offer_creates_no_ticket(anna, deliver_mail, smtp_server):
    deliver_mail(eml("refund_request"))
    assert "open a support ticket" in last_reply().text
    conversation = Conversation.objects.get(channel="email")
    assert conversation.state == ConversationState.TICKET_OFFERED
    deliver_mail(answering("refund_no"))
    conversation.refresh_from_db()
    assert conversation.state == ConversationState.ASSISTANT
    assert not Ticket.objects.exists()
    assert len(smtp_server.messages) == 2
    assert all(m["To"] == "anna.schmidt@example.com" for m in smtp_server.messages)


def test_an_accepted_offer_creates_one_ticket_and_emails_the_account_address(anna, deliver_mail, smtp_server):
    deliver_mail(eml("refund_request"))
    deliver_mail(answering("refund_yes"))
    deliver_mail(answering("refund_yes"))  # the same mail again: no second ticket, no second reply
    (ticket,) = Ticket.objects.all()
    assert ticket.customer == anna and ticket.channel == "email"
    assert ticket.reference in last_reply().text
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects[:2] == ["Re: Refund", "Re: Refund"]
    (confirmation,) = [m for m in smtp_server.messages if ticket.reference in m["Subject"]]
    assert confirmation["To"] == "anna.schmidt@example.com"
    assert ticket.title in confirmation.get_body(("plain",)).get_content()
    assert len(smtp_server.messages) == 3
    # The assistant keeps answering on email after a ticket (promise 5 is chat only).
    deliver_mail(answering("gmail_reply").replace(b"Re: Password reset", b"Re: Refund"))
    assert "Export" in last_reply().text


def test_an_unknown_sender_gets_general_help_but_no_ticket_data(anna, deliver_mail, smtp_server):
    ticket = make_ticket(anna, title="Refund for duplicate charge")
    smtp_server.messages.clear()
    deliver_mail(eml("unknown_sender").replace(b"LH-REFERENCE", ticket.reference.encode()))
    conversation = Conversation.objects.get(channel="email")
    assert conversation.customer is None and conversation.sender == "someone@elsewhere.example"
    (sent,) = smtp_server.messages
    assert sent["To"] == "someone@elsewhere.example"
    body = sent.get_body(("plain",)).get_content()
    assert "Refund for duplicate charge" not in body and "Submitted" not in body


def test_an_unknown_sender_is_never_given_a_ticket(deliver_mail, smtp_server):
    deliver_mail(eml("refund_request").replace(b"anna.schmidt@example.com", b"someone@elsewhere.example"))
    deliver_mail(answering("refund_yes").replace(b"anna.schmidt@example.com", b"someone@elsewhere.example"))
    assert not Ticket.objects.exists()
    assert Conversation.objects.get().state == ConversationState.ASSISTANT


def test_a_staff_reply_reaches_the_customer_by_email_in_the_same_thread(
    anna, deliver_mail, smtp_server, django_capture_on_commit_callbacks
):
    deliver_mail(eml("refund_request"))
    deliver_mail(answering("refund_yes"))
    ticket = Ticket.objects.get()
    smtp_server.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.add_staff_reply(ticket.pk, staff=StaffFactory(name="Sam"), text="Refunded INV-2231.")
    (sent,) = smtp_server.messages
    assert sent["To"] == "anna.schmidt@example.com"
    assert sent["Subject"] == f"Re: [{ticket.reference}] Refund"
    assert sent["Message-ID"] == adapter.message_id_of(reply)
    assert sent["In-Reply-To"].strip() == "<CAHx7KqeY5es8pL3aB4cD6eF7gH9iJ1kL2mN3oP4qR5sT6uV7wX@mail.gmail.com>"
    assert sent["References"].split()[0] == "<CAHx7KqdR3fQ9mN2bV6cX8zL1kJ4hG7fD5sA3pO0iU9yT2rE6wQ@mail.gmail.com>"
    assert sent["Auto-Submitted"] is None  # a person wrote it
    assert "Refunded INV-2231.\n\nSam" in sent.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_a_customer_who_gets_an_account_later_starts_a_new_conversation(deliver_mail):
    deliver_mail(eml("gmail_question"))
    UserFactory(email="anna.schmidt@example.com")
    deliver_mail(answering("gmail_reply"))
    first, second = Conversation.objects.order_by("pk")
    assert first.customer is None and second.customer is not None
