"""`manage.py chat --email ADDRESS`: talk to the assistant in the terminal."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.assistant.helpers import add_articles
from tests.factories import UserFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def run_chat(monkeypatch, lines: str, *args: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    out = io.StringIO()
    call_command("chat", *args, stdout=out)
    return out.getvalue()


def test_a_terminal_conversation_answers_offers_and_creates_a_ticket(monkeypatch):
    add_articles()
    UserFactory(email="dana@example.com")
    out = run_chat(
        monkeypatch, "how do I reset my password?\nI want a refund\nyes\nmore details\n", "--email", "DANA@example.com"
    )
    assert "Forgot password" in out
    assert "yes or no" in out
    ticket = Ticket.objects.get()
    assert ticket.reference in out
    assert "sent to the Loophole team" in out  # chat hands off after the ticket


def test_on_sms_the_assistant_keeps_answering_after_the_ticket(monkeypatch):
    add_articles()
    UserFactory(email="dana@example.com")
    out = run_chat(
        monkeypatch,
        "I want a refund\nyes\nhow do I cancel my plan?\n",
        "--email",
        "dana@example.com",
        "--channel",
        "sms",
    )
    assert "Settings > Billing" in out


def test_an_unknown_email_is_a_clear_error():
    with pytest.raises(CommandError, match="No account"):
        call_command("chat", "--email", "nobody@example.com")


def test_an_empty_message_is_reported_and_the_chat_goes_on(monkeypatch):
    UserFactory(email="dana@example.com")
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * 5000 + "\nhi\n"))
    out, err = io.StringIO(), io.StringIO()
    call_command("chat", "--email", "dana@example.com", stdout=out, stderr=err)
    assert "at most 4000" in err.getvalue()
    assert "Hi!" in out.getvalue()
