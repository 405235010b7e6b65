"""Customer emails: one "created" per ticket, one "resolved" per resolution, "we need your reply"."""

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services, tasks
from tickets.models import Status, TicketEvent

pytestmark = pytest.mark.django_db

ACTION = "Refunded the duplicate USD 120 charge to the card ending 4242."


def subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


def test_a_new_ticket_sends_one_created_email_to_the_account_address(django_capture_on_commit_callbacks, settings):
    customer = UserFactory(email="dana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["dana@example.com"]
    assert settings.SUPPORT_EMAIL in sent.from_email
    assert ticket.reference in sent.subject and ticket.title in sent.subject
    for part in (sent.body, sent.alternatives[0][0]):
        assert ticket.reference in part
        assert ticket.title in part
        assert "USD 120" in part  # the description
        assert "Duplicate annual-plan charge" in part  # the summary
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert TicketEvent.objects.get(ticket=ticket).emailed_at is not None


def test_running_the_email_task_again_sends_nothing_more(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    event = TicketEvent.objects.get(ticket=ticket)

    tasks.send_customer_email(event.pk)
    tasks.send_customer_email.delay(event.pk)

    assert len(mail.outbox) == 1


def test_each_resolution_sends_one_resolved_email_with_the_action_taken(django_capture_on_commit_callbacks):
    staff = StaffFactory(notify_by_email=False)  # the customer's emails only
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken=ACTION)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket.pk, Status.IN_PROGRESS, actor=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Second refund confirmed.")

    resolved = [m for m in mail.outbox if "resolved" in m.subject]
    assert len(resolved) == 2
    assert ACTION in resolved[0].body and ACTION in resolved[0].alternatives[0][0]
    assert "Second refund confirmed." in resolved[1].body
    assert len(mail.outbox) == 3  # created + two resolutions: nothing for the reopen


def test_waiting_on_customer_asks_for_a_reply(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket.pk, Status.WAITING_ON_CUSTOMER, actor=StaffFactory())
    assert len(mail.outbox) == 2
    assert "We need your reply" in mail.outbox[1].subject
    assert ticket.reference in mail.outbox[1].body


def test_no_email_leaves_before_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_ticket()
    assert mail.outbox == []
    assert len(callbacks) >= 1


def test_html_in_ticket_text_is_escaped_in_the_html_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(title="<script>alert(1)</script> refund")
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_emails_reach_a_real_smtp_server_once_each(smtp_server, django_capture_on_commit_callbacks):
    customer = UserFactory(email="smtp-customer@example.com")
    staff = StaffFactory(notify_by_email=False)  # the customer's emails only
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken=ACTION)
    for event in TicketEvent.objects.filter(ticket=ticket).exclude(email=""):
        tasks.send_customer_email(event.pk)  # a second delivery of each task

    assert len(smtp_server.messages) == 2
    created, resolved = smtp_server.messages
    assert created["To"] == "smtp-customer@example.com"
    assert ticket.reference in created["Subject"]
    assert ticket.reference in created.get_body(preferencelist=("plain",)).get_content()
    assert ACTION in resolved.get_body(preferencelist=("plain",)).get_content()
    assert ACTION in resolved.get_body(preferencelist=("html",)).get_content()


def test_a_refused_send_is_retried_and_delivered_exactly_once(smtp_server, django_capture_on_commit_callbacks):
    smtp_server.refuse = 2
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()

    assert smtp_server.refused == 2
    assert len(smtp_server.messages) == 1
    assert TicketEvent.objects.get(ticket=ticket).emailed_at is not None


def test_an_unreachable_smtp_server_keeps_the_email_pending_for_the_sweeper(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    tasks.send_customer_email.max_retries, saved = 1, tasks.send_customer_email.max_retries
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket()
    finally:
        tasks.send_customer_email.max_retries = saved
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.emailed_at is None  # nothing lost: the row still says the email is owed
    assert ticket.pk  # the ticket itself was committed


def test_the_sweeper_requeues_only_old_unsent_emails(django_capture_on_commit_callbacks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    with django_capture_on_commit_callbacks(execute=False):
        ticket = make_ticket()
    assert mail.outbox == []
    assert tasks.sweep_unsent_emails() == 0  # too recent: its own task may still be on the way

    time_machine.shift(600)
    assert tasks.sweep_unsent_emails() == 1
    assert len(mail.outbox) == 1
    assert TicketEvent.objects.get(ticket=ticket).emailed_at is not None
    assert tasks.sweep_unsent_emails() == 0
