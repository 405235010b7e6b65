"""The model backend hangs, answers 500 or returns garbage: through the real worker, each customer gets a
graceful reply within the client's timeout, the message is kept, and once the model is back beat's sweeper
gets each message exactly one real answer (no repeated fallbacks while it still fails)."""

import time
from datetime import timedelta

from django.db.models import F

from assistant.engines.base import Outcome
from assistant.engines.openai_backend import OpenAIEngine
from channels_io import answering, tasks
from tests.assistant.helpers import add_articles
from tests.conftest import wait_until
from tests.factories import PASSWORD, UserFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.faults.clients import Widget, succeeded
from tickets.models import Author, Message

QUESTION = "How do I reset my password?"
# The client tries twice (one retry) before the engine gives up on a hanging model.
GRACE = OpenAIEngine.TIMEOUT * (OpenAIEngine.MAX_RETRIES + 1) + 5


def hang(server: FakeOpenAI) -> None:
    server.push_hang(OpenAIEngine.TIMEOUT + 5, times=OpenAIEngine.MAX_RETRIES + 1)


def server_error(server: FakeOpenAI) -> None:
    server.push_status(500, times=OpenAIEngine.MAX_RETRIES + 1)


def garbage(server: FakeOpenAI) -> None:
    server.push_raw(b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")


FAILURES = [hang, server_error, garbage]


def assistant_texts(widget: Widget, conversation_id: int) -> list[str]:
    return [m["text"] for m in widget.messages(conversation_id) if m["author"] == "assistant"]


def test_a_failing_model_gets_a_graceful_reply_and_the_message_is_answered_once_it_is_back(
    processes, redis_server, broker
):
    add_articles()
    customer = UserFactory(email="dana@example.com")
    with FakeOpenAI() as model:
        env = {"REDIS_URL": redis_server.url, "OPENAI_API_KEY": "sk-faults", "OPENAI_BASE_URL": model.base_url}
        origin = processes.web(**env)
        worker = processes.worker(**env)
        widget = Widget(origin)
        widget.login(customer.email, PASSWORD)

        conversations = []
        for failure in FAILURES:  # one at a time: the model's script is taken in order
            failure(model)
            conversation_id = widget.new_conversation()
            conversations.append(conversation_id)
            started = time.monotonic()
            assert widget.say(conversation_id, QUESTION).status_code == 201
            wait_until(
                lambda c=conversation_id: assistant_texts(widget, c), timeout=GRACE, what=f"a reply despite {failure}"
            )
            assert time.monotonic() - started < GRACE
            assert model.pending == 0
            (graceful,) = assistant_texts(widget, conversation_id)
            assert "Forgot password" in graceful  # the local engine answered from the help centre
        failed_requests = len(model.requests)
        assert failed_requests == 2 + 2 + 1  # hang and 500 retried once by the client, garbage not

        stored = list(Message.objects.filter(author=Author.CUSTOMER).order_by("pk"))
        assert [m.text for m in stored] == [QUESTION] * 3  # kept
        assert [m.reply.kind for m in stored] == [Outcome.FALLBACK] * 3  # marked: to be answered again

        # Still failing a minute later: the sweeper asks again, and nothing new reaches the customer.
        Message.objects.filter(author=Author.CUSTOMER).update(created_at=F("created_at") - timedelta(minutes=2))
        broker()
        server_error(model)
        server_error(model)
        server_error(model)
        tasks.sweep_unanswered.delay()
        wait_until(lambda: succeeded(worker, "channels_io.answer") >= 6, what="three answers tried again")
        assert model.pending == 0 and len(model.requests) == failed_requests + 6
        assert [len(assistant_texts(widget, c)) for c in conversations] == [1, 1, 1]

        # The model is back: one real answer each, replacing the fallback as the message's reply.
        answers = [f"Use the reset link on the sign-in page ({n})." for n in range(3)]
        for text in answers:
            model.push_text(text)
        tasks.sweep_unanswered.delay()
        wait_until(
            lambda: all(len(assistant_texts(widget, c)) == 2 for c in conversations),
            timeout=30,
            what="a real answer in each conversation",
        )
        assert sorted(assistant_texts(widget, c)[1] for c in conversations) == sorted(answers)
        assert [Message.objects.get(reply_to=m).kind for m in stored] == [Outcome.ANSWERED] * 3
        assert Message.objects.filter(kind=Outcome.FALLBACK, reply_to=None).count() == 3  # kept in the history

        # Another sweep, a redelivered task: answered already, so no model call and no new reply.
        before = succeeded(worker, "channels_io.answer")
        answering.answer.delay(stored[0].pk)
        tasks.sweep_unanswered.delay()
        wait_until(lambda: succeeded(worker, "channels_io.sweep_unanswered") >= 3, what="the third sweep")
        wait_until(lambda: succeeded(worker, "channels_io.answer") >= before + 1, what="the redelivered answer")
        assert len(model.requests) == failed_requests + 6 + 3
        assert [len(assistant_texts(widget, c)) for c in conversations] == [2, 2, 2]
