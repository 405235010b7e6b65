"""A text is answered where it is filed, or queued for a worker, as assistant.answers_now says for every channel."""

import itertools

import pytest

from channels_io.sms import adapter, tasks
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER
from tests.fakes.openai_server import FakeOpenAI
from tickets.models import Author, Message

pytestmark = pytest.mark.django_db

_sids = itertools.count(1)


def kept(body: str) -> tuple[int, str]:
    """A text the webhook kept, waiting for the task that files it."""
    sid = f"SM{next(_sids):032x}"
    return adapter.accept(sid, CUSTOMER_NUMBER, body), sid


def replies() -> list[Message]:
    return list(Message.objects.filter(channel="sms", author=Author.ASSISTANT))


def test_with_a_model_the_filing_task_queues_the_answer_instead_of_waiting_for_the_model(
    customer, outbox, settings, django_capture_on_commit_callbacks
):
    with FakeOpenAI(model="gpt-test") as server:
        settings.OPENAI_API_KEY, settings.OPENAI_MODEL = "test-key", "gpt-test"
        settings.OPENAI_BASE_URL = server.base_url
        server.push_text("You can reset it from the login page: click Forgot password.")
        inbound_id, sid = kept("I forgot my password")

        with django_capture_on_commit_callbacks() as queued:
            tasks.receive_text(inbound_id, sid)

        message = Message.objects.get(channel="sms", external_id=sid)
        assert (message.handled_at, replies(), server.requests) == (None, [], [])  # filed; the model not asked
        for callback in queued:
            callback()  # the push, and the worker's turn
        assert len(server.requests) == 1
    (reply,) = replies()
    assert reply.text == "You can reset it from the login page: click Forgot password."
    assert [sent["body"] for sent in outbox] == [reply.text]


def test_with_the_local_assistant_the_filing_task_answers_the_text_itself(
    customer, outbox, django_capture_on_commit_callbacks
):
    add_articles()
    inbound_id, sid = kept("how do I reset my password?")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.receive_text(inbound_id, sid)
        tasks.receive_text(inbound_id, sid)  # run twice: filed and answered once

    (reply,) = replies()
    assert "Forgot password" in reply.text
    assert len(outbox) == 1
