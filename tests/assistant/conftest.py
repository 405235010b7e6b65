"""Fixtures for the assistant's tests: a scripted OpenAI-compatible server on loopback."""

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_openai(settings) -> Iterator[FakeOpenAI]:
    """A fake OpenAI server the real client talks to; settings point the OpenAI engine at it."""
    with FakeOpenAI(model="gpt-test") as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_MODEL = "gpt-test"
        yield server
