"""Shared ground of the fuzz tests: what counts as "nothing written", and rows that must agree.

Hypothesis runs many examples inside one test (one database transaction): each example runs in its
own savepoint, rolled back at its end, so examples never see each other's rows.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from tests.channels_io.sms.twilio_helpers import customer, twilio  # noqa: F401 - fixtures
from tickets.models import Author, Conversation, Message

WRITTEN_APPS = ("tickets", "channels_io", "loophole", "assistant")


def row_counts() -> dict[str, int]:
    """Rows of every model a request could write, by model."""
    return {
        model._meta.label: model.objects.count()
        for name in WRITTEN_APPS
        for model in apps.get_app_config(name).get_models()
    }


def changed(before: dict[str, int]) -> dict[str, int]:
    after = row_counts()
    return {label: after[label] - count for label, count in before.items() if after[label] != count}


def assert_consistent() -> None:
    """No half-written rows: every message moved its conversation on, every reply answers a customer
    message that is marked handled, and no conversation is left without its channel."""
    for message in Message.objects.select_related("conversation"):
        assert message.text, message.pk
        assert message.channel == message.conversation.channel, message.pk
        assert message.conversation.last_message_at >= message.created_at, f"message {message.pk} without its update"
        if message.reply_to_id is not None:
            answered = Message.objects.get(pk=message.reply_to_id)
            assert answered.author == Author.CUSTOMER and answered.handled_at is not None, message.pk
    assert not Conversation.objects.filter(channel="").exists()


@pytest.fixture
def isolated(django_capture_on_commit_callbacks) -> Callable[[], object]:
    """A context manager per hypothesis example: a savepoint rolled back afterwards, an empty cache
    (rate limits), and the on-commit work (answers, deliveries) run before the checks."""

    @contextmanager
    def run() -> Iterator[Callable[..., object]]:
        cache.clear()
        with transaction.atomic():
            yield lambda: django_capture_on_commit_callbacks(execute=True)
            transaction.set_rollback(True)

    return run


@pytest.fixture(scope="module")
def client() -> Client:
    """One client for the module: each new Client loads the middleware (and WhiteNoise's file scan)."""
    return Client()
