"""A Celery worker killed (SIGKILL) in the middle of sending an email, a text and a purge batch: with late
acknowledgement the lost tasks come back, each email and text leaves once (the markers), and the purge
finishes even though the killed batch's database session still holds its tickets for a while."""

import signal
import threading
from datetime import timedelta

import psycopg
from django.db import connection
from django.utils import timezone
from psycopg import sql

from loophole.models import PhoneNumber
from tests.channels_io.sms.fake_twilio import FIXTURES, FakeTwilio
from tests.conftest import _database_url, wait_until
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.faults.clients import succeeded
from tests.faults.conftest import children, kill
from tickets import services as ticket_services
from tickets import tasks
from tickets.models import Message, Status, Ticket

NUMBER = "+15555550103"


class HoldingTwilio(FakeTwilio):
    """Twilio's REST API holding the first `hold` requests unanswered until release() (then a 500)."""

    def __init__(self, *, hold: int = 0) -> None:
        super().__init__()
        self.hold = hold
        self.holding = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def _answer(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            held, self.hold = self.hold > 0, max(self.hold - 1, 0)
        if not held:
            return super()._answer(path, form)
        self.holding.set()
        self._released.wait(60)
        return 500, (FIXTURES / "api_error_500.json").read_bytes()


def resolved_long_ago(customer, count: int) -> list[Ticket]:
    staff = StaffFactory(notify_by_email=False)  # the customer's mail only
    tickets = [make_ticket(customer, title=f"Old issue {n}") for n in range(count)]
    for ticket in tickets:
        ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(resolved_at=timezone.now() - timedelta(days=31))
    return tickets


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_send_sends_each_email_and_text_once_and_finishes_the_purge(
    processes, redis_server, broker, smtp
):
    mail, smtp_port = smtp(hold=1)
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=NUMBER)
    conversation = ticket_services.open_conversation(channel="sms", customer=customer, sender=NUMBER)
    ticket_services.store_customer_message(conversation.pk, "I was charged twice.")
    sms_ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice.")
    old = resolved_long_ago(customer, 3)  # their emails left at once: Celery is still eager here
    with HoldingTwilio(hold=1) as twilio, psycopg.connect(_database_url()) as holder:
        worker = processes.worker(
            concurrency=3,  # prefork, as docker-compose runs it
            REDIS_URL=redis_server.url,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            SMS_BACKEND="twilio",
            FAULTS_TWILIO_API_URL=twilio.base_url,
        )
        broker()
        # Another session holds a message of each old conversation: the purge's batch stops at its delete.
        holder.execute(
            sql.SQL("SELECT id FROM {} WHERE conversation_id = ANY(%s) FOR UPDATE").format(
                sql.Identifier(Message._meta.db_table)
            ),
            [[t.conversation_id for t in old]],
        )

        chat_ticket = make_ticket(customer)  # the "created" email
        text = "We refunded the duplicate charge."
        staff = StaffFactory(notify_by_email=False)  # the customer's mail only
        ticket_services.add_staff_reply(sms_ticket.pk, staff=staff, text=text)  # the text
        tasks.purge_closed_tickets.delay()
        wait_until(lambda: mail.holding.is_set() and twilio.holding.is_set(), what="the email and the text held")
        wait_until(waiting_for_a_lock, what="the purge batch held")

        pool = children(worker.proc.pid)
        assert len(pool) == 3
        for pid in pool:
            kill(pid, signal.SIGKILL)

        # The worker requeues what its dead processes held, and new processes send it.
        wait_until(lambda: len(mail.messages) == 1 and len(twilio.sent) == 1, timeout=60, what="both sends")
        # The purge came back too, but the killed batch's session, still waiting for the lock, holds the
        # old tickets: the purge skips them and tries again later.
        wait_until(lambda: "Retry in" in worker.output(), what="the purge trying again")
        assert Ticket.objects.filter(pk__in=[t.pk for t in old]).count() == 3
        holder.rollback()  # the killed batch's delete goes through, finds its client gone and is rolled back
        wait_until(lambda: not Ticket.objects.filter(pk__in=[t.pk for t in old]).exists(), timeout=60, what="the purge")
        mail.release()
        twilio.release()

        assert worker.output().count("WorkerLostError") >= 3  # each of the three tasks was lost mid-run
        # The last batch commits before the task returns and is logged: wait for the log, then count.
        wait_until(lambda: succeeded(worker, "tickets.purge_closed_tickets") >= 1, what="the purge's success logged")
        assert succeeded(worker, "tickets.purge_closed_tickets") == 1
        assert (len(mail.messages), len(twilio.sent)) == (1, 1)
        assert chat_ticket.reference in mail.messages[0]["Subject"]
        assert twilio.sent[0]["To"] == NUMBER and text in twilio.sent[0]["Body"]
        assert set(Ticket.objects.values_list("pk", flat=True)) == {sms_ticket.pk, chat_ticket.pk}
        assert mail.attempts == 2 and len(twilio.requests) == 2  # the held attempt and the one that went
