"""The emails a customer gets about a ticket, rendered from templates/emails/."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from tickets.models import CustomerEmail, TicketEvent

SUBJECTS = {
    CustomerEmail.CREATED: "[{reference}] We've opened a support ticket: {title}",
    CustomerEmail.RESOLVED: "[{reference}] Your support ticket is resolved: {title}",
    CustomerEmail.WAITING: "[{reference}] We need your reply: {title}",
}


def build_customer_email(event: TicketEvent) -> EmailMultiAlternatives:
    ticket = event.ticket
    context = {"ticket": ticket, "customer": ticket.customer, "public_url": settings.PUBLIC_URL}
    name = f"emails/ticket_{event.email}"
    message = EmailMultiAlternatives(
        subject=SUBJECTS[CustomerEmail(event.email)].format(reference=ticket.reference, title=ticket.title),
        body=render_to_string(f"{name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[ticket.customer.email],
        reply_to=[settings.SUPPORT_EMAIL],
        headers={"Auto-Submitted": "auto-generated", "X-Loophole-Ticket": ticket.reference},
    )
    message.attach_alternative(render_to_string(f"{name}.html", context), "text/html")
    return message


def send_customer_email(event: TicketEvent) -> None:
    """Send it now (raises OSError/SMTPException on failure). Called only from tickets.tasks."""
    build_customer_email(event).send(fail_silently=False)
