"""The SMTP server and Twilio's REST API refuse, then recover: the real worker retries each send with
backoff, and each email and text leaves exactly once."""

from channels_io.delivery import deliver
from loophole.models import PhoneNumber
from tests.channels_io.sms.fake_twilio import FakeTwilio
from tests.conftest import wait_until
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.faults.clients import succeeded
from tickets import services as ticket_services
from tickets import tasks
from tickets.models import TicketEvent

NUMBER = "+15555550102"


def test_refused_email_and_sms_are_retried_with_backoff_and_sent_once(processes, redis_server, broker, smtp):
    mail, smtp_port = smtp(refuse=2)
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=NUMBER)
    conversation = ticket_services.open_conversation(channel="sms", customer=customer, sender=NUMBER)
    ticket_services.store_customer_message(conversation.pk, "I was charged twice.")
    sms_ticket = ticket_services.create_ticket(conversation.pk, title="Charged twice", description="Charged twice.")
    with FakeTwilio() as twilio:
        twilio.push_error("api_error_500", times=2)
        worker = processes.worker(
            REDIS_URL=redis_server.url,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            SMS_BACKEND="twilio",
            FAULTS_TWILIO_API_URL=twilio.base_url,
        )
        broker()

        chat_ticket = make_ticket(customer)  # the "created" email, queued for the worker
        text = "We refunded the duplicate charge."
        staff = StaffFactory(notify_by_email=False)  # the customer's mail only
        reply = ticket_services.add_staff_reply(sms_ticket.pk, staff=staff, text=text)

        wait_until(lambda: len(mail.messages) == 1 and len(twilio.sent) == 1, timeout=60, what="both sends")
        assert (mail.attempts, len(twilio.requests)) == (3, 3)  # refused twice each, then accepted
        assert worker.output().count("Retry in") == 4  # each refusal was retried later, not dropped
        assert chat_ticket.reference in mail.messages[0]["Subject"]
        assert twilio.sent[0]["To"] == NUMBER and text in twilio.sent[0]["Body"]

        # The same tasks again (a redelivery, a sweep): the markers stop a second send.
        event = TicketEvent.objects.get(ticket=chat_ticket, email="created")
        before = succeeded(worker, "tickets.send_customer_email"), succeeded(worker, "channels_io.deliver")
        tasks.send_customer_email.delay(event.pk)
        deliver.delay(reply.pk)
        wait_until(
            lambda: (
                (succeeded(worker, "tickets.send_customer_email"), succeeded(worker, "channels_io.deliver"))
                >= (before[0] + 1, before[1] + 1)
            ),
            what="the repeated sends",
        )
        assert (len(mail.messages), len(twilio.sent)) == (1, 1)
