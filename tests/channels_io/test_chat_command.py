"""`manage.py chat --email ADDRESS`: talk to the assistant in the terminal."""

import io
import logging
import os
import re
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.assistant.helpers import add_articles
from tests.conftest import ROOT
from tests.environment import PRODUCT_VARIABLES
from tests.factories import UserFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
# A terminal session as an operator starts it: no Redis, no OpenAI, no Twilio.
TERMINAL_ENV_DROPPED = {n for n in PRODUCT_VARIABLES if n.startswith(("OPENAI_", "TWILIO_"))} | {
    "REDIS_URL",
    "DATABASE_URL",
}


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


def run_manage(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_log_lines_stay_out_of_the_terminal_dialogue_unless_asked_for(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_ENV_DROPPED}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", DEBUG="true")
    env["DJANGO_SETTINGS_MODULE"] = "loophole.settings"
    run_manage(env, "migrate", "--verbosity", "0")
    run_manage(env, "seed_demo")
    dialogue = "I want a refund\nyes\nmore details\nyes\nthanks\n"

    quiet = run_manage(env, "chat", "--email", "demo@loophole.localhost", stdin=dialogue)
    assert "opened" in quiet.stdout.lower() and "LH-" in quiet.stdout  # the ticket was created
    assert quiet.stderr == ""

    shown = run_manage(env, "chat", "--email", "demo@loophole.localhost", "--show-logs", stdin=dialogue)
    assert re.search(r"^\S+ \S+ INFO assistant\.", shown.stderr, re.MULTILINE), shown.stderr
    for out in (quiet.stdout, shown.stdout):
        assert not re.search(r"\b(INFO|WARNING|DEBUG)\b", out)


def test_the_chat_quiets_info_and_warnings_for_its_own_run_only(monkeypatch, caplog):
    UserFactory(email="dana@example.com")
    caplog.set_level(logging.INFO)
    out = run_chat(
        monkeypatch, "I want a refund for my annual plan\nyes\nmore details\nyes\n", "--email", "dana@example.com"
    )
    assert "LH-" in out
    assert [r for r in caplog.records if r.levelno < logging.ERROR] == []
    logging.getLogger("tickets.services").info("after the chat")
    with pytest.raises(CommandError):
        call_command("chat", "--email", "nobody@example.com")
    logging.getLogger("tickets.services").warning("after a failed chat")
    assert [r.getMessage() for r in caplog.records] == ["after the chat", "after a failed chat"]
