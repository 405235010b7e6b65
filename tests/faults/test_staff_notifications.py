"""Staff notifications while the worker is killed (SIGKILL, mid-send) and Redis restarts empty: the rows are
the truth, so the sweeper finds and sends each one, once, with real processes and a real SMTP server."""

import signal
from datetime import timedelta

from django.utils import timezone

from tests.conftest import wait_until
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.faults.clients import succeeded
from tests.faults.conftest import children, kill
from tickets import notifications, tasks
from tickets import services as ticket_services
from tickets.models import StaffNotification


def test_a_notification_per_event_goes_once_though_the_worker_is_killed_mid_send(processes, redis_server, broker, smtp):
    mail, smtp_port = smtp(hold=1)
    StaffFactory(email="ann@loophole.localhost")
    tickets = [make_ticket(UserFactory(email=f"{name}@example.com")) for name in ("dana", "eli")]  # sent in-process
    env = {"REDIS_URL": redis_server.url, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    worker = processes.worker(concurrency=1, **env)
    broker()

    for ticket in tickets:
        ticket_services.store_customer_message(ticket.conversation_id, f"Any news on {ticket.reference}?")
    wait_until(mail.holding.is_set, what="the first notification held mid-send")
    for pid in [*children(worker.proc.pid), worker.proc.pid]:
        kill(pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    redis_server.stop()  # the queued second send goes with it
    redis_server.start()
    mail.release()  # the killed attempt is answered 451: not delivered
    replies = StaffNotification.objects.filter(event="customer_reply")
    assert replies.count() == 2 and not replies.exclude(sent_at=None).exists()

    worker = processes.worker("worker2", concurrency=1, **env)
    # Beat's sweep, ten minutes later: the two unsent rows are re-queued.
    replies.update(created_at=timezone.now() - timedelta(minutes=10))
    tasks.sweep_unsent_emails.delay()
    wait_until(lambda: len(mail.messages) == 2, timeout=60, what="both notifications")
    tasks.sweep_unsent_emails.delay()  # and again: nothing more goes
    wait_until(lambda: succeeded(worker, "tickets.sweep_unsent_emails") >= 2, what="the second sweep")
    wait_until(lambda: not replies.filter(sent_at=None).exists(), what="both marked sent")

    assert len(mail.messages) == 2 and mail.attempts == 3
    assert sorted(m["Subject"] for m in mail.messages) == sorted(
        f"[{t.reference}] Customer replied: {t.title}" for t in tickets
    )
    assert sorted(m["Message-ID"] for m in mail.messages) == sorted(notifications.message_id(n) for n in replies)
    assert all(m["To"] == "ann@loophole.localhost" for m in mail.messages)
