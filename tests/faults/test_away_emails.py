"""Away emails due while the worker is killed (SIGKILL, mid-send) and Redis restarts empty: the rows are
the truth, so the sweeper finds and sends each one, once, with real processes and a real SMTP server."""

import signal
from datetime import timedelta

from django.utils import timezone

from channels_io.chat import away
from channels_io.models import AwayEmail
from tests.conftest import wait_until
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.faults.clients import succeeded
from tests.faults.conftest import children, kill
from tickets import services as ticket_services
from tickets.models import Message


def test_away_emails_go_once_though_the_worker_is_killed_and_redis_restarts(processes, redis_server, broker, smtp):
    mail, smtp_port = smtp(hold=1)
    staff = StaffFactory()
    tickets = [make_ticket(UserFactory(email=f"{name}@example.com")) for name in ("dana", "eli")]
    for ticket in tickets:
        ticket_services.add_staff_reply(ticket.pk, staff=staff, text=f"First reply on {ticket.reference}.")
        ticket_services.add_staff_reply(ticket.pk, staff=staff, text=f"Second reply on {ticket.reference}.")
    Message.objects.filter(author="staff").update(created_at=timezone.now() - timedelta(minutes=5))  # due
    env = {"REDIS_URL": redis_server.url, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    worker = processes.worker(concurrency=1, **env)
    broker()

    away.sweep_away_replies.delay()
    wait_until(mail.holding.is_set, what="the first away email held mid-send")
    assert AwayEmail.objects.count() == 2  # both claimed: the marks advanced with them
    for pid in [*children(worker.proc.pid), worker.proc.pid]:
        kill(pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    redis_server.stop()  # the queued second send goes with it
    redis_server.start()
    mail.release()  # the killed attempt is answered 451: not delivered

    worker = processes.worker("worker2", concurrency=1, **env)
    # Beat's sweep, a minute later: nothing is due any more, the two unsent rows are re-queued.
    AwayEmail.objects.update(created_at=timezone.now() - away.STALE)
    away.sweep_away_replies.delay()
    wait_until(lambda: len(mail.messages) == 2, timeout=60, what="both away emails")
    away.sweep_away_replies.delay()  # and again: nothing more goes
    wait_until(lambda: succeeded(worker, "channels_io.sweep_away_replies") >= 2, what="the second sweep")
    wait_until(lambda: not AwayEmail.objects.filter(sent_at=None).exists(), what="both marked sent")

    assert len(mail.messages) == 2 and mail.attempts == 3
    assert sorted(m["Subject"] for m in mail.messages) == sorted(f"Re: [{t.reference}] {t.title}" for t in tickets)
    for ticket, sent in zip(
        sorted(tickets, key=lambda t: t.reference), sorted(mail.messages, key=lambda m: m["Subject"]), strict=True
    ):
        text = sent.get_body(("plain",)).get_content()
        assert f"First reply on {ticket.reference}." in text and f"Second reply on {ticket.reference}." in text
