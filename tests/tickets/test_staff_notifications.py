"""Staff notifications: one email per event (new ticket, customer reply, reopened) to the assignee or, when
unassigned, the support group, after commit, never to staff who turned them off; and the signed webhook."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.test_settings import load
from tickets import services, tasks
from tickets.models import Author, StaffNotification, Status

pytestmark = pytest.mark.django_db

SECRET = "hook-secret-5f0c2a9e7d"


def staff_mail() -> list[Any]:
    """The staff notifications in the outbox (the customer's own emails are not counted)."""
    return [m for m in mail.outbox if m.extra_headers.get("Message-ID", "").startswith("<staff-notification-")]


@pytest.fixture
def desk() -> dict[str, Any]:
    """Two staff who get notifications, one who turned them off, one inactive, and staff outside the group."""
    return {
        "ann": StaffFactory(email="ann@loophole.localhost"),
        "bob": StaffFactory(email="bob@loophole.localhost"),
        "off": StaffFactory(email="off@loophole.localhost", notify_by_email=False),
        "gone": StaffFactory(email="gone@loophole.localhost", is_active=False),
        "other": UserFactory(email="admin@loophole.localhost", is_staff=True),
    }


def test_a_new_ticket_emails_the_active_support_group_once(desk, django_capture_on_commit_callbacks, settings):
    settings.PUBLIC_URL = "https://support.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(title="Refund for duplicate charge")

    [sent] = staff_mail()
    assert sorted(sent.to) == ["ann@loophole.localhost", "bob@loophole.localhost"]
    assert sent.subject == f"[{ticket.reference}] New ticket: Refund for duplicate charge"
    assert settings.SUPPORT_EMAIL in sent.from_email
    assert f"https://support.example.com/admin/tickets/ticket/{ticket.pk}/change/" in sent.body
    assert StaffNotification.objects.get(ticket=ticket).sent_at is not None


def test_a_customer_reply_emails_only_the_assignee(desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    services.assign(ticket.pk, staff=desk["bob"], actor=desk["ann"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.store_customer_message(ticket.conversation_id, "Any news on my refund?")

    [sent] = staff_mail()
    assert sent.to == ["bob@loophole.localhost"]
    assert sent.subject == f"[{ticket.reference}] Customer replied: {ticket.title}"
    assert "Any news on my refund?" in sent.body


def test_an_assignee_who_turned_notifications_off_gets_none(desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    services.assign(ticket.pk, staff=desk["off"], actor=desk["ann"])
    with django_capture_on_commit_callbacks(execute=True):
        services.store_customer_message(ticket.conversation_id, "Hello again.")

    assert staff_mail() == []
    assert StaffNotification.objects.get(event="customer_reply").sent_at is not None  # done: nobody to tell


def test_a_reopening_message_sends_one_reopened_email(desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    services.change_status(ticket.pk, Status.RESOLVED, actor=desk["ann"], action_taken="Refunded.")
    with django_capture_on_commit_callbacks(execute=True):
        services.store_customer_message(ticket.conversation_id, "The charge is back on my card.")

    [sent] = staff_mail()
    assert sent.subject == f"[{ticket.reference}] Reopened: {ticket.title}"
    assert StaffNotification.objects.filter(ticket=ticket).values_list("event", flat=True).last() == "reopened"


@pytest.mark.parametrize(
    "act",
    [
        lambda t, staff: services.add_staff_reply(t.pk, staff=staff, text="We are on it."),
        lambda t, staff: services.store_reply(
            services.lock_conversation(t.conversation_id), "Your ticket is open.", author=Author.ASSISTANT
        ),
        lambda t, staff: services.store_customer_message(t.conversation_id, "I am out of office.", automatic=True),
        lambda t, staff: services.add_internal_note(t.pk, staff=staff, text="Checked the card."),
        lambda t, staff: services.change_status(t.pk, Status.WAITING_ON_CUSTOMER, actor=staff),
    ],
    ids=["staff-reply", "assistant-reply", "auto-reply", "note", "status-change"],
)
def test_nothing_is_sent_for_work_that_is_not_the_customers(act, desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        act(ticket, desk["ann"])
    assert staff_mail() == []
    assert StaffNotification.objects.count() == 1  # the ticket's own "created"


def test_a_message_in_a_conversation_without_a_ticket_notifies_nobody(desk, django_capture_on_commit_callbacks):
    conversation = services.open_conversation(channel="chat", customer=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        services.store_customer_message(conversation.pk, "How do I reset my password?")
    assert staff_mail() == [] and not StaffNotification.objects.exists()


def test_a_rolled_back_event_sends_nothing(desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.store_customer_message(ticket.conversation_id, "This reply is rolled back.")
        raise RuntimeError("the caller failed")
    assert staff_mail() == []
    assert StaffNotification.objects.count() == 1


def test_nothing_leaves_before_commit(desk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        make_ticket()
    assert staff_mail() == []
    assert StaffNotification.objects.get().sent_at is None


def test_only_the_first_300_characters_of_the_customers_message_are_quoted(desk, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    mail.outbox.clear()
    text = "a" * 300 + "SECRET-TAIL"
    with django_capture_on_commit_callbacks(execute=True):
        services.store_customer_message(ticket.conversation_id, text)
    [sent] = staff_mail()
    assert "a" * 300 in sent.body and "SECRET-TAIL" not in sent.body


def test_running_the_task_again_sends_nothing_more(desk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    notification = StaffNotification.objects.get()
    tasks.send_staff_notification(notification.pk)
    tasks.send_staff_notification(notification.pk)
    assert len(staff_mail()) == 1


def test_the_sweeper_sends_a_lost_notification_once(desk, django_capture_on_commit_callbacks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    with django_capture_on_commit_callbacks(execute=False):
        make_ticket()
    tasks.sweep_unsent_emails()
    assert staff_mail() == []  # too recent: its own task may still be on the way
    time_machine.shift(600)
    tasks.sweep_unsent_emails()
    tasks.sweep_unsent_emails()
    assert len(staff_mail()) == 1


def test_a_staff_member_turns_notifications_off_on_their_user_page(client):
    staff = UserFactory(email="root@loophole.localhost", is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get(f"/admin/loophole/user/{staff.pk}/change/")
    assert page.status_code == 200 and b'name="notify_by_email"' in page.content


class Hook:
    """A local HTTP endpoint: answers the first `fail` POSTs with 500, then 204; keeps what it got."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def hook(settings) -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), body))
            failing = state.fail > 0
            state.fail -= failing
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STAFF_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hooks/loophole"
    settings.STAFF_WEBHOOK_SECRET = SECRET
    yield state
    server.shutdown()
    server.server_close()


def test_the_webhook_gets_the_event_signed_with_the_secret(hook, desk, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(title="Refund for duplicate charge")

    [(headers, body)] = hook.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Loophole-Signature"], expected)
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "event": "created",
        "ticket": {
            "reference": ticket.reference,
            "title": "Refund for duplicate charge",
            "status": "submitted",
            "url": f"{settings.PUBLIC_URL}/admin/tickets/ticket/{ticket.pk}/change/",
        },
    }
    assert len(staff_mail()) == 1
    assert StaffNotification.objects.get().sent_at is not None


def test_a_failing_webhook_is_retried_then_posted_once_and_the_email_is_not_repeated(
    hook, desk, django_capture_on_commit_callbacks
):
    hook.fail = 2
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()

    assert len(hook.requests) == 3
    assert len({headers["X-Loophole-Delivery"] for headers, _body in hook.requests}) == 1  # the same delivery
    assert len(staff_mail()) == 1
    assert StaffNotification.objects.get().sent_at is not None
    tasks.send_staff_notification(StaffNotification.objects.get().pk)
    assert len(hook.requests) == 3


@pytest.mark.parametrize(
    "env",
    [
        {"STAFF_WEBHOOK_URL": "ftp://hooks.example.com/x", "STAFF_WEBHOOK_SECRET": SECRET},
        {"STAFF_WEBHOOK_URL": "hooks.example.com/x", "STAFF_WEBHOOK_SECRET": SECRET},
        {"STAFF_WEBHOOK_URL": "https:///no-host", "STAFF_WEBHOOK_SECRET": SECRET},
        {"STAFF_WEBHOOK_URL": "https://hooks.example.com/x"},
        {"STAFF_WEBHOOK_URL": "https://hooks.example.com/x", "STAFF_WEBHOOK_SECRET": "short"},
    ],
    ids=["ftp", "no-scheme", "no-host", "no-secret", "short-secret"],
)
def test_a_bad_webhook_setting_fails_at_start_up_naming_it(env):
    result = load(**env)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "STAFF_WEBHOOK_" in last
