"""Thin Celery tasks: load by id, call a service, safe to run twice."""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loophole.celery import RetryOptions
from tickets import dashboard, emails, notifications, purge, status_counts
from tickets.models import StaffNotification, TicketEvent

logger = logging.getLogger(__name__)

# SMTPException is an OSError: refused connections, timeouts and 4xx replies are all retried.
RETRY: RetryOptions = {"autoretry_for": (OSError,), "retry_backoff": 5, "retry_backoff_max": 600, "max_retries": 10}


@shared_task(name="tickets.send_customer_email", **RETRY)
def send_customer_email(event_id: int) -> None:
    """Send the customer email of one TicketEvent at most once (the marker is set with the send).

    The event row stays locked while the mail goes out, so two workers never both send it.
    """
    with transaction.atomic():
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("ticket__customer")
            .filter(pk=event_id, emailed_at=None)
            .exclude(email="")
            .first()
        )
        if event is None:
            return  # sent already, or the ticket was purged meanwhile
        emails.send_customer_email(event)
        event.emailed_at = timezone.now()
        event.save(update_fields=["emailed_at"])
    logger.info("sent %s email for ticket %s", event.email, event.ticket_id)


@shared_task(name="tickets.sweep_unsent_emails")
def sweep_unsent_emails() -> int:
    """Re-queue customer emails (and staff notifications) whose task was lost (broker down at commit,
    worker gone); returns the number of customer emails."""
    stale = timezone.now() - timedelta(minutes=5)
    ids = list(
        TicketEvent.objects.filter(emailed_at=None, created_at__lte=stale)
        .exclude(email="")
        .values_list("pk", flat=True)[:500]
    )
    for event_id in ids:
        send_customer_email.delay(event_id)
    if ids:
        logger.warning("re-queued %s unsent customer emails", len(ids))
    sweep_staff_notifications()
    return len(ids)


# A notification still failing after this many runs (a day of retries, then sweeps) is left for an operator.
STAFF_NOTIFICATION_ATTEMPTS = 40


def _claim(notification_id: int, **unsent: None) -> StaffNotification | None:
    """The notification, locked for this transaction; None if done, or being sent by another worker."""
    return (
        StaffNotification.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("ticket", "message")
        .filter(pk=notification_id, sent_at=None, **unsent)
        .first()
    )


@shared_task(name="tickets.send_staff_notification", **RETRY)
def send_staff_notification(notification_id: int) -> None:
    """Email the staff a notification is for, then POST it to the webhook (when configured); each once.

    The row stays locked while a send is under way and its marker is set in the same transaction: a
    worker that dies mid-send leaves it unmarked, and the retry or the sweeper sends it again with the
    same Message-ID. A row locked by another worker is left to that worker.
    """
    StaffNotification.objects.filter(pk=notification_id, sent_at=None).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        notification = _claim(notification_id, emailed_at=None)
        if notification is not None:
            to = list(notifications.recipients(notification.ticket).values_list("email", flat=True))
            if to:
                notifications.build_email(notification, to).send(fail_silently=False)
            notification.emailed_at = timezone.now()
            if not settings.STAFF_WEBHOOK_URL:
                notification.sent_at = notification.emailed_at
            notification.save(update_fields=["emailed_at", "sent_at"])
            logger.info("staff notification %s emailed to %s staff", notification_id, len(to))
    if not settings.STAFF_WEBHOOK_URL:
        return
    with transaction.atomic():
        notification = _claim(notification_id)
        if notification is None or notification.emailed_at is None:
            return  # done, or another worker holds it
        notifications.post_webhook(notification)
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
        logger.info("staff notification %s posted to the webhook", notification_id)


def sweep_staff_notifications() -> int:
    """Re-queue staff notifications whose task was lost or gave up (runs with the email sweeper)."""
    stale = timezone.now() - timedelta(minutes=5)
    ids = list(
        StaffNotification.objects.filter(
            sent_at=None, created_at__lte=stale, attempts__lt=STAFF_NOTIFICATION_ATTEMPTS
        ).values_list("pk", flat=True)[:500]
    )
    for notification_id in ids:
        send_staff_notification.delay(notification_id)
    if ids:
        logger.warning("re-queued %s unsent staff notifications", len(ids))
    return len(ids)


@shared_task(name="tickets.purge_closed_tickets", bind=True, max_retries=6)
def purge_closed_tickets(self: Task) -> int:
    """The retention job: delete tickets resolved 30 or more days ago, and conversations without a ticket
    last written 30 or more days ago (Celery beat, daily).

    A batch skips tickets another session holds locked (a reopening, or the session of a worker killed
    mid-purge, until PostgreSQL ends it): the job comes back for them with backoff until none is due.
    """
    purged = purge.purge_closed_tickets().tickets
    if purge.due_for_purge().exists():
        logger.warning("purge: tickets due but locked by another session; trying again")
        raise self.retry(countdown=5 * 2**self.request.retries)
    return purged


@shared_task(name="tickets.refresh_daily_stats")
def refresh_daily_stats() -> int:
    """Recompute the dashboard's rollup of the last few days (Celery beat, every 10 minutes) and fold
    the tickets-per-status changes; idempotent."""
    status_counts.fold()
    return dashboard.refresh_days(dashboard.recent_days(dashboard.REFRESH_DAYS))
