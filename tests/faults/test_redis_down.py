"""Redis stopped while customers chat and texts arrive: every message is stored, the customer is told
the answer comes shortly, and beat's sweeper gets each exactly one answer once Redis is back."""

import json
from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from channels_io import tasks
from loophole.models import PhoneNumber
from tests.assistant.helpers import add_articles
from tests.conftest import wait_until
from tests.factories import PASSWORD, UserFactory
from tests.faults.clients import Widget, succeeded, text_in
from tickets.models import Author, Message

NUMBER = "+15555550101"
QUESTIONS = ["How do I reset my password?", "How do I export my data?"]


def sms_sent(processes) -> list[dict[str, str]]:
    directory = processes.tmp_path / "sms"
    return [json.loads(path.read_text()) for path in directory.glob("*.json")] if directory.exists() else []


def test_messages_stored_while_redis_is_down_are_answered_exactly_once_when_it_is_back(processes, redis_server, broker):
    add_articles()
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=NUMBER)
    env = {"REDIS_URL": redis_server.url}
    origin = processes.web(**env)
    worker = processes.worker(**env)
    widget = Widget(origin)
    widget.login(customer.email, PASSWORD)
    conversation_id = widget.new_conversation()

    redis_server.stop()
    chat_replies = [widget.say(conversation_id, text) for text in QUESTIONS]
    sms_replies = [text_in(origin, f"SM{n:032x}", NUMBER, text) for n, text in enumerate(QUESTIONS, 1)]

    assert [r.status_code for r in chat_replies + sms_replies] == [201, 201, 200, 200]
    assert all("reply shortly" in r.text for r in sms_replies)  # in the TwiML: Twilio texts it back itself
    shown = widget.messages(conversation_id)
    assert [(m["author"], "reply shortly" in m["text"]) for m in shown] == [
        ("customer", False),
        ("system", True),
        ("customer", False),
        ("system", True),
    ]
    stored = Message.objects.filter(author=Author.CUSTOMER).order_by("pk")
    assert sorted(m.text for m in stored) == sorted(QUESTIONS * 2)
    assert all(m.handled_at is None for m in stored) and not Message.objects.filter(author=Author.ASSISTANT)

    # Redis is back two minutes later: beat's sweeper finds the stored messages whose task was lost.
    redis_server.start()
    Message.objects.filter(author=Author.CUSTOMER).update(created_at=F("created_at") - timedelta(minutes=2))
    PeriodicTask.objects.filter(task="channels_io.sweep_unanswered").update(
        last_run_at=timezone.now() - timedelta(minutes=2)
    )
    processes.beat(**env)

    def answered() -> bool:
        return all(Message.objects.filter(reply_to=m).exists() for m in stored) and len(sms_sent(processes)) == 2

    wait_until(answered, timeout=60, what="an answer to each stored message")
    assert [sms["to"] for sms in sms_sent(processes)] == [NUMBER, NUMBER]
    assert [m["author"] for m in widget.messages(conversation_id)].count("assistant") == 2

    # The lost tasks turn up after all (a redelivery), and the sweeper runs again: still one answer each.
    broker()
    before = succeeded(worker, "channels_io.answer")
    for message in stored:
        tasks.answer.delay(message.pk)
    tasks.sweep_unanswered.delay()
    wait_until(lambda: succeeded(worker, "channels_io.answer") >= before + len(stored), what="the repeated answers")
    wait_until(lambda: succeeded(worker, "channels_io.sweep_unanswered") >= 2, what="the second sweep")
    wait_until(lambda: succeeded(worker, "channels_io.deliver") >= 4, what="the repeated SMS deliveries")
    assert [Message.objects.filter(reply_to=m).count() for m in stored] == [1, 1, 1, 1]
    assert Message.objects.filter(author=Author.ASSISTANT).count() == 4
    assert len(sms_sent(processes)) == 2
