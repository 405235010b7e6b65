"""What staff are told about a ticket event: the email, its recipients, and the signed webhook POST.

Sent only from tickets.tasks.send_staff_notification; a resend of the same row carries the same
Message-ID (email) and X-Loophole-Delivery (webhook), so a repeat after a crash is recognisable.
"""

import hashlib
import hmac
import json
import urllib.request
from typing import TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import QuerySet

from tickets.models import StaffEvent, StaffNotification, Ticket

SUPPORT_GROUP = "Support staff"
EXCERPT_MAX = 300
WEBHOOK_TIMEOUT = 5  # seconds
SUBJECTS = {
    StaffEvent.CREATED: "[{reference}] New ticket: {title}",
    StaffEvent.CUSTOMER_REPLY: "[{reference}] Customer replied: {title}",
    StaffEvent.REOPENED: "[{reference}] Reopened: {title}",
}


class WebhookTicket(TypedDict):
    reference: str
    title: str
    status: str
    url: str


class WebhookBody(TypedDict):
    event: str
    ticket: WebhookTicket


def ticket_url(ticket: Ticket) -> str:
    return f"{settings.PUBLIC_URL}/admin/tickets/ticket/{ticket.pk}/change/"


def recipients(ticket: Ticket) -> QuerySet:
    """The assignee, or every active member of the support group when unassigned; staff who turned
    notifications off, and inactive accounts, never."""
    staff = get_user_model().objects.filter(is_active=True, is_staff=True, notify_by_email=True)
    if ticket.assignee_id is not None:
        return staff.filter(pk=ticket.assignee_id)
    return staff.filter(groups__name=SUPPORT_GROUP).distinct()


def message_id(notification: StaffNotification) -> str:
    domain = settings.SUPPORT_EMAIL.rsplit("@", 1)[1]
    return f"<staff-notification-{notification.pk}@{domain}>"


def build_email(notification: StaffNotification, to: list[str]) -> EmailMessage:
    ticket = notification.ticket
    quoted = notification.message.text if notification.message is not None else ticket.description
    excerpt = quoted[:EXCERPT_MAX] + ("…" if len(quoted) > EXCERPT_MAX else "")
    event = StaffEvent(notification.event)
    body = (
        f"{event.label}: {ticket.reference} ({ticket.get_status_display()})\n\n"
        f"{excerpt}\n\n"
        f"Open the ticket: {ticket_url(ticket)}\n\n"
        "You get this because the ticket is assigned to you, or is unassigned. "
        "Turn these emails off on your user page in the admin.\n"
    )
    return EmailMessage(
        subject=SUBJECTS[event].format(reference=ticket.reference, title=ticket.title),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={
            "Message-ID": message_id(notification),
            "Auto-Submitted": "auto-generated",
            "X-Loophole-Ticket": ticket.reference,
        },
    )


def webhook_body(notification: StaffNotification) -> bytes:
    ticket = notification.ticket
    body: WebhookBody = {
        "event": notification.event,
        "ticket": {
            "reference": ticket.reference,
            "title": ticket.title,
            "status": ticket.status,
            "url": ticket_url(ticket),
        },
    }
    return json.dumps(body).encode()


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(settings.STAFF_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(notification: StaffNotification) -> None:
    """POST the event to STAFF_WEBHOOK_URL. Raises OSError (urllib's URLError, HTTPError for a 4xx/5xx)."""
    body = webhook_body(notification)
    request = urllib.request.Request(  # noqa: S310 (http or https only: checked at start-up)
        settings.STAFF_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Loophole-Support",
            "X-Loophole-Signature": signature(body),
            "X-Loophole-Delivery": str(notification.pk),
        },
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
        response.read(1024)
