"""On the phone: a caller's words on a ticket resolved during the call reopen it, and the team's latest
reply is read out only for a ticket the caller may hear about (named by its ID, caller ID being fakeable)."""

import pytest

from channels_io.voice import adapter
from tests.channels_io.voice import test_caller_id
from tests.channels_io.voice.test_calls import spoken_reference
from tests.factories import StaffFactory
from tickets import services as ticket_services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

dial, tickets = test_caller_id.dial, test_caller_id.tickets  # a caller on the line; their three tickets


def test_a_caller_speaking_after_their_ticket_is_resolved_reopens_it_and_hears_so(dial, customer):
    caller = dial()
    caller.say("I was charged twice for my annual plan and I want a refund")
    caller.say("yes")
    ticket = Ticket.objects.get(conversation=caller.conversation)
    ticket_services.change_status(ticket.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Refunded.")

    caller.say("the second charge is still on my card")

    assert f"Your ticket {adapter.spell(ticket.reference)} is open again" in caller.spoken
    assert "reply by text message or email" in caller.spoken
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at) == (Status.IN_PROGRESS, None)


def test_the_latest_staff_reply_is_read_only_for_a_ticket_named_in_the_call(dial, customer, tickets):
    billing, export, _closed = tickets
    staff = StaffFactory()
    ticket_services.add_staff_reply(billing.pk, staff=staff, text="Your refund was approved today.")
    ticket_services.add_staff_reply(export.pk, staff=staff, text="Falcon exports work again.")
    caller = dial(verstat=None)

    caller.say("has anyone answered my ticket")
    assert "approved" not in caller.spoken and "Falcon" not in caller.spoken and "2 open tickets" in caller.spoken

    caller.say(f"has anyone answered ticket {spoken_reference(billing.reference)}")
    assert "Your refund was approved today." in caller.spoken
    assert "Falcon" not in caller.spoken


def test_a_named_ticket_nobody_has_answered_is_said_to_have_no_reply_yet(dial, customer, tickets):
    billing, _export, _closed = tickets
    caller = dial(verstat=None)
    caller.say(f"has anyone answered ticket {spoken_reference(billing.reference)}")
    assert "Nobody from the team has replied yet." in caller.spoken
