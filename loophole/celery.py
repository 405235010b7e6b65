"""The Celery app, and enqueue_on_commit: the one way work leaves a transaction."""

import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Any, TypedDict

from celery import Celery, signals
from django.db import transaction

from loophole.logs import redact_handlers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loophole.settings")

app = Celery("loophole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


class RetryOptions(TypedDict):
    """Retry keywords of a task that talks to a mail server, passed to `shared_task` as `**options`."""

    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    max_retries: int


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_worker_logs(logger: logging.Logger, **kwargs: Any) -> None:
    """The worker replaces the root logger's handlers with its own: they mask addresses and numbers too."""
    redact_handlers(logger)


def _enqueue(task: Any, args: tuple[Any, ...], on_failure: Callable[[], None] | None) -> None:
    try:
        task.delay(*args)
    except Exception:
        # The row is committed and is the truth; a beat sweeper picks the work up again.
        logger.exception("could not enqueue %s; the sweeper will retry it", task.name)
        if on_failure is not None:
            on_failure()


def enqueue_on_commit(task: Any, *args: Any, on_failure: Callable[[], None] | None = None) -> None:
    """Queue `task.delay(*args)` after the current transaction commits (at once outside one).

    A broker that is down is logged, never raised: the caller's data is already committed.
    `on_failure`, if given, is then called (to tell the customer their answer comes later).
    """
    transaction.on_commit(partial(_enqueue, task, args, on_failure))
