"""An email is answered where it is filed, or queued for a worker, as assistant.answers_now says for every channel."""

import pytest
from django.core import mail

from loophole.celery import app as celery_app
from tests.channels_io.email.conftest import by_command, eml
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI
from tickets.models import Author, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_down():
    """This process's tasks go to a broker that refuses connections, instead of running eagerly."""

    def point(url: str) -> None:
        celery_app.conf.broker_url = url
        celery_app._pool = None  # the connection and producer pools are per URL: take new ones
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    point(f"redis://127.0.0.1:{free_port()}/0")
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous[1]
    point(previous[0])


def messages(author: Author) -> list[Message]:
    return list(Message.objects.filter(channel="email", author=author))


def test_with_the_local_assistant_an_email_is_answered_in_the_task_that_files_it(
    anna, queue_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        by_command(eml("gmail_question"))  # the queue takes no work meanwhile

    (question,) = messages(Author.CUSTOMER)
    (reply,) = messages(Author.ASSISTANT)
    assert question.handled_at is not None
    assert "Forgot password" in reply.text
    assert reply.handled_at is None and mail.outbox == []  # sent by the sweeper once the queue is back


def test_with_a_model_the_answer_is_queued_for_a_worker(anna, settings, django_capture_on_commit_callbacks):
    with FakeOpenAI(model="gpt-test") as server:
        settings.OPENAI_API_KEY, settings.OPENAI_MODEL = "test-key", "gpt-test"
        settings.OPENAI_BASE_URL = server.base_url
        server.push_text("You can reset it from the login page: click Forgot password.")
        with django_capture_on_commit_callbacks() as queued:
            by_command(eml("gmail_question"))
        assert (messages(Author.ASSISTANT), server.requests) == ([], [])
        for callback in queued:
            callback()  # the worker's turn
    (reply,) = messages(Author.ASSISTANT)
    assert reply.text == "You can reset it from the login page: click Forgot password."
    assert len(mail.outbox) == 1
