"""Logging in while Redis is down: the lock-out fails open with a warning, never a 500."""

import logging

import pytest
from django.core.cache import caches
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def redis_cache(redis_server, settings):
    """The app's cache on a Redis of the case's own, which the case may stop."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"pool_class": "loophole.cache.SharedConnectionPool", "socket_connect_timeout": 1},
        }
    }
    yield redis_server
    caches.close_all()


def log_in(username: str, password: str):
    return Client(REMOTE_ADDR="198.51.100.9").post(LOGIN, {"username": username, "password": password})


def test_logins_while_redis_is_stopped_get_the_form_error_or_a_redirect_never_a_500(redis_cache, settings, caplog):
    UserFactory(email="dana@example.com")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        assert log_in("dana@example.com", "wrong password").status_code == 200
    assert log_in("dana@example.com", PASSWORD).status_code == 429  # counted in that Redis: locked

    redis_cache.stop()
    with caplog.at_level(logging.WARNING, logger="loophole.ratelimit"):
        wrong = log_in("dana@example.com", "wrong password")
        right = log_in("dana@example.com", PASSWORD)
    assert wrong.status_code == 200 and "correct email" in wrong.content.decode().lower()
    assert right.status_code == 302 and "_auth_user_id" in right.client.session
    assert "the cache is unavailable" in caplog.text
