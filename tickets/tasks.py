"""Thin Celery tasks: load by id, call a service, safe to run twice."""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from tickets import emails, services
from tickets.models import TicketEvent

logger = logging.getLogger(__name__)

# SMTPException is an OSError: refused connections, timeouts and 4xx replies are all retried.
RETRY = {"autoretry_for": (OSError,), "retry_backoff": 5, "retry_backoff_max": 600, "max_retries": 10}


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
    """Re-queue customer emails whose task was lost (broker down at commit, worker gone)."""
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
    return len(ids)


@shared_task(name="tickets.purge_closed_tickets", bind=True, max_retries=6)
def purge_closed_tickets(self: Task) -> int:
    """The retention job: delete tickets resolved 30 or more days ago, and conversations without a ticket
    last written 30 or more days ago (Celery beat, daily).

    A batch skips tickets another session holds locked (a reopening, or the session of a worker killed
    mid-purge, until PostgreSQL ends it): the job comes back for them with backoff until none is due.
    """
    purged = services.purge_closed_tickets().tickets
    if services.due_for_purge().exists():
        logger.warning("purge: tickets due but locked by another session; trying again")
        raise self.retry(countdown=5 * 2**self.request.retries)
    return purged
