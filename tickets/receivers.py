"""Receivers of the ticket services' signals: each queues the task that sends what a row says is due.
And one of Django's: a customer account deleted takes its tickets with it, out of the status counts."""

from typing import Any

from django.db.models import Count
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from loophole.celery import enqueue_on_commit
from loophole.models import User
from tickets import signals, status_counts, tasks
from tickets.models import Ticket


@receiver(signals.customer_email_due)
def queue_customer_email(sender: Any, event_id: int, **kwargs: Any) -> None:
    enqueue_on_commit(tasks.send_customer_email, event_id)


@receiver(signals.staff_notification_due)
def queue_staff_notification(sender: Any, notification_id: int, **kwargs: Any) -> None:
    enqueue_on_commit(tasks.send_staff_notification, notification_id)


@receiver(pre_delete, sender=User)
def uncount_tickets_of_deleted_account(sender: Any, instance: User, **kwargs: Any) -> None:
    """The account's tickets go with it (on_delete CASCADE): take them out of the status counts, in
    the deleting transaction."""
    tickets = Ticket.objects.filter(customer=instance).order_by().values_list("status").annotate(n=Count("pk"))
    status_counts.record({status: -n for status, n in tickets})
