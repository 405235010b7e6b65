"""The retention purge through real processes: a Celery worker on Redis, and Celery beat's schedule."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from time_machine import travel

from tests.conftest import wait_until
from tests.factories import StaffFactory, make_ticket
from tickets import services, tasks
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def old_resolved_ticket() -> Ticket:
    with travel(timezone.now() - timedelta(days=31), tick=False):
        ticket = make_ticket(messages=2)
        services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")
    return ticket


def test_a_real_worker_runs_the_purge_from_the_queue(start_celery):
    due, kept = old_resolved_ticket(), make_ticket()
    worker = start_celery("worker")

    tasks.purge_closed_tickets.delay()

    wait_until(lambda: not Ticket.objects.filter(pk=due.pk).exists(), timeout=30, what="the worker's purge")
    assert Ticket.objects.filter(pk=kept.pk).exists()
    assert "tickets.purge_closed_tickets" in worker.output()


def test_beat_sends_the_daily_purge_and_session_cleanup_from_the_database_schedule(start_celery):
    due = old_resolved_ticket()
    live, expired = SessionStore(), SessionStore()
    for store in (live, expired):
        store["customer"] = "signed in"
        store.save()
    Session.objects.filter(pk=expired.session_key).update(expire_date=timezone.now() - timedelta(minutes=1))
    # As if the last daily run was two days ago: the schedule is due the moment beat starts. Beat only
    # loads crontab entries within two hours of the current hour, so the daily hour is moved to now.
    for task in ("tickets.purge_closed_tickets", "loophole.clear_expired_sessions"):
        daily = PeriodicTask.objects.get(task=task)
        daily.crontab.hour = str(timezone.now().hour)
        daily.crontab.save()
        PeriodicTask.objects.filter(pk=daily.pk).update(last_run_at=timezone.now() - timedelta(days=2))
    start_celery("worker")
    beat = start_celery("beat")

    wait_until(lambda: not Ticket.objects.filter(pk=due.pk).exists(), timeout=60, what="beat's purge")
    wait_until(lambda: not Session.objects.filter(pk=expired.session_key).exists(), timeout=60, what="beat's cleanup")
    assert Session.objects.filter(pk=live.session_key).exists()
    assert "Sending due task" in beat.output() and "tickets.purge_closed_tickets" in beat.output()
    assert "loophole.clear_expired_sessions" in beat.output()
