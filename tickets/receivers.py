"""Receivers of the ticket services' signals: each queues the task that sends what a row says is due."""

from typing import Any

from django.dispatch import receiver

from loophole.celery import enqueue_on_commit
from tickets import signals, tasks


@receiver(signals.customer_email_due)
def queue_customer_email(sender: Any, event_id: int, **kwargs: Any) -> None:
    enqueue_on_commit(tasks.send_customer_email, event_id)


@receiver(signals.staff_notification_due)
def queue_staff_notification(sender: Any, notification_id: int, **kwargs: Any) -> None:
    enqueue_on_commit(tasks.send_staff_notification, notification_id)
