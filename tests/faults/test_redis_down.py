"""Redis stopped while customers chat and texts arrive: every message is stored, the customer is told
the answer comes shortly, and beat's sweeper gets each exactly one answer once Redis is back. The
built-in assistant answers chat in the request, so there the answer comes at once."""

import json
from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from channels_io import answering, tasks
from loophole.models import PhoneNumber
from tests.assistant.helpers import add_articles
from tests.conftest import wait_until
from tests.factories import PASSWORD, UserFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.faults.clients import Widget, succeeded, text_in
from tickets.models import Author, Message

NUMBER = "+15555550101"
QUESTIONS = ["How do I reset my password?", "How do I export my data?"]
ANSWER = "Open Settings, then Security, and choose Reset password."


def sms_sent(processes) -> list[dict[str, str]]:
    directory = processes.tmp_path / "sms"
    return [json.loads(path.read_text()) for path in directory.glob("*.json")] if directory.exists() else []


def test_messages_stored_while_redis_is_down_are_answered_exactly_once_when_it_is_back(processes, redis_server, broker):
    add_articles()
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=NUMBER)
    with FakeOpenAI() as model:
        for _ in range(4):  # two chat messages and two texts, answered by the worker once Redis is back
            model.push_text(ANSWER)
        env = {"REDIS_URL": redis_server.url, "OPENAI_API_KEY": "sk-faults", "OPENAI_BASE_URL": model.base_url}
        origin = processes.web(**env)
        local_origin = processes.web(REDIS_URL=redis_server.url)  # the built-in assistant: answers in the request
        worker = processes.worker(**env)
        widget, local_widget = Widget(origin), Widget(local_origin)
        for w in (widget, local_widget):
            w.login(customer.email, PASSWORD)
        conversation_id, local_conversation_id = widget.new_conversation(), local_widget.new_conversation()

        redis_server.stop()
        chat_replies = [widget.say(conversation_id, text) for text in QUESTIONS]
        local_replies = [local_widget.say(local_conversation_id, text) for text in QUESTIONS]
        sms_replies = [text_in(origin, f"SM{n:032x}", NUMBER, text) for n, text in enumerate(QUESTIONS, 1)]

        assert [r.status_code for r in chat_replies + local_replies + sms_replies] == [201] * 4 + [200] * 2
        assert all("reply shortly" in r.text for r in sms_replies)  # in the TwiML: Twilio texts it back itself
        shown = widget.messages(conversation_id)
        assert [(m["author"], "reply shortly" in m["text"]) for m in shown] == [
            ("customer", False),
            ("system", True),
            ("customer", False),
            ("system", True),
        ]
        # The built-in assistant needs no queue: answered at once, Redis or not.
        assert [m["author"] for m in local_widget.messages(local_conversation_id)] == ["customer", "assistant"] * 2
        answered_at_once = Message.objects.filter(conversation_id=local_conversation_id, author=Author.CUSTOMER)
        assert all(m.handled_at is not None for m in answered_at_once)
        answered_at_once_ids = {m.pk for m in answered_at_once}

        stored = Message.objects.filter(author=Author.CUSTOMER).exclude(pk__in=answered_at_once_ids).order_by("pk")
        assert sorted(m.text for m in stored) == sorted(QUESTIONS * 2)
        assert all(m.handled_at is None for m in stored)
        queued_answers = Message.objects.filter(author=Author.ASSISTANT).exclude(conversation_id=local_conversation_id)
        assert not queued_answers.exists()
        assert not model.requests

        # Redis is back two minutes later: beat's sweeper finds the stored messages whose task was lost.
        redis_server.start()
        Message.objects.filter(pk__in=[m.pk for m in stored]).update(created_at=F("created_at") - timedelta(minutes=2))
        PeriodicTask.objects.filter(task="channels_io.sweep_unanswered").update(
            last_run_at=timezone.now() - timedelta(minutes=2)
        )
        processes.beat(**env)

        def answered() -> bool:
            return all(Message.objects.filter(reply_to=m).exists() for m in stored) and len(sms_sent(processes)) == 2

        wait_until(answered, timeout=60, what="an answer to each stored message")
        assert [sms["to"] for sms in sms_sent(processes)] == [NUMBER, NUMBER]
        assert [m["text"] for m in widget.messages(conversation_id) if m["author"] == "assistant"] == [ANSWER] * 2
        assert len(model.requests) == 4

        # The lost tasks turn up after all (a redelivery), and the sweeper runs again: still one answer each.
        broker()
        before = succeeded(worker, "channels_io.answer")
        for message in stored:
            answering.answer.delay(message.pk)
        tasks.sweep_unanswered.delay()
        wait_until(lambda: succeeded(worker, "channels_io.answer") >= before + len(stored), what="the repeated answers")
        wait_until(lambda: succeeded(worker, "channels_io.sweep_unanswered") >= 2, what="the second sweep")
        wait_until(lambda: succeeded(worker, "channels_io.deliver") >= 4, what="the repeated SMS deliveries")
        assert [Message.objects.filter(reply_to=m).count() for m in stored] == [1, 1, 1, 1]
        assert queued_answers.count() == 4
        assert len(sms_sent(processes)) == 2
        assert len(model.requests) == 4
