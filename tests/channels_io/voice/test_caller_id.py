"""On the phone, caller ID alone (anyone can fake it) tells whether the caller has open tickets, never
what they are: a ticket's details need its ID said in the call, or, where the settings trust it, a number
the caller's carrier fully attested (Twilio's StirVerstat)."""

import pytest

from assistant import wording
from channels_io.voice import adapter
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER
from tests.channels_io.voice.test_calls import Call, spoken_reference
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.fakes.openai_server import FakeOpenAI
from tickets import services as ticket_services
from tickets.models import Message, Status, Ticket

pytestmark = pytest.mark.django_db

MY_TICKETS = "show me my tickets"


@pytest.fixture
def tickets(customer):
    """Two open tickets and a resolved one, each holding what a stranger on the line must not hear."""
    billing = make_ticket(customer, title="Refund for invoice INV-4471")
    export = make_ticket(customer, title="Export of project Falcon fails")
    closed = make_ticket(customer, title="Password reset for the finance team")
    ticket_services.change_status(
        closed.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Reset the password of finance@acme.test"
    )
    return billing, export, closed


def secrets_of(*tickets: Ticket) -> list[str]:
    """What would give a ticket away: its ID (written or spelled), its title and its resolution."""
    found = []
    for ticket in tickets:
        ticket.refresh_from_db()
        found += [ticket.reference, adapter.spell(ticket.reference), ticket.title]
        found += [ticket.action_taken, "Action taken"] if ticket.action_taken else []
    return found


def stored_replies() -> str:
    return "\n".join(Message.objects.filter(author="assistant").values_list("text", flat=True))


@pytest.fixture
def dial(client, twilio, django_capture_on_commit_callbacks):
    def start(caller: str = CUSTOMER_NUMBER, verstat: str | None = "TN-Validation-Passed-A") -> Call:
        """A call from `caller`, by default with the captured call's full attestation (None: no StirVerstat)."""
        call = Call(client, django_capture_on_commit_callbacks, caller)
        if verstat is None:
            call.form.pop("StirVerstat")
        else:
            call.form["StirVerstat"] = verstat
        call.start()
        return call

    return start


@pytest.mark.parametrize(
    "question",
    [MY_TICKETS, "what's the status of my ticket?", "any update on my case", "what happened with my refund ticket"],
)
def test_caller_id_alone_hears_how_many_tickets_are_open_and_nothing_else(dial, customer, tickets, question):
    caller = dial()
    caller.say(question)
    assert "2 open tickets" in caller.spoken and "say its ticket ID" in caller.spoken
    for secret in [*secrets_of(*tickets), "Submitted", "Resolved"]:
        assert secret not in caller.spoken and secret not in stored_replies(), secret


def test_a_caller_with_no_open_tickets_is_told_so_and_hears_nothing_of_the_resolved_ones(dial, customer):
    closed = make_ticket(customer, title="Password reset for the finance team")
    ticket_services.change_status(closed.pk, Status.RESOLVED, actor=StaffFactory(), action_taken="Reset it")
    caller = dial()
    caller.say(MY_TICKETS)
    assert "can't see any open tickets" in caller.spoken
    for secret in [*secrets_of(closed), "Resolved"]:
        assert secret not in caller.spoken, secret


def test_the_ticket_id_said_in_the_call_reads_that_ticket_and_only_that_one(dial, customer, tickets):
    billing, export, closed = tickets
    caller = dial()
    caller.say(f"what's the status of ticket {spoken_reference(billing.reference)}")
    assert adapter.spell(billing.reference) in caller.spoken and "Submitted" in caller.spoken
    assert "INV-4471" in caller.spoken
    caller.say(MY_TICKETS)  # later in the call: the named ticket, and a count of the rest
    assert "INV-4471" in caller.spoken and "1 more open ticket" in caller.spoken
    for secret in secrets_of(export, closed):
        assert secret not in caller.spoken, secret
    caller.say(f"and ticket {spoken_reference(closed.reference)}?")
    assert "Reset the password of finance@acme.test" in caller.spoken


def test_another_customers_ticket_id_is_not_found(dial, customer, tickets):
    theirs = make_ticket(UserFactory(), title="Secret merger refund")
    caller = dial()
    caller.say(f"status of ticket {spoken_reference(theirs.reference)}")
    assert wording.NOT_FOUND.split(".")[0] in caller.spoken
    assert "merger" not in caller.spoken and "Submitted" not in caller.spoken


def test_a_ticket_opened_in_the_call_can_be_asked_about_without_its_id(dial, customer, tickets):
    caller = dial()
    caller.say("I was charged twice for my annual plan and I want a refund")
    caller.say("yes")
    opened = Ticket.objects.get(conversation=caller.conversation)
    caller.say(MY_TICKETS)
    assert adapter.spell(opened.reference) in caller.spoken and "2 more open tickets" in caller.spoken
    for secret in secrets_of(*tickets):
        assert secret not in caller.spoken, secret


@pytest.mark.parametrize(
    ("trusted", "verstat", "details"),
    [
        (True, "TN-Validation-Passed-A", True),
        (False, "TN-Validation-Passed-A", False),
        (True, "TN-Validation-Passed-B", False),
        (True, "TN-Validation-Passed-C", False),
        (True, "TN-Validation-Failed-A", False),
        (True, "TN-Validation-Passed-A-Diverted", False),
        (True, "No-TN-Validation", False),
        (True, None, False),
    ],
    ids=["a-trusted", "a-not-trusted", "b", "c", "failed-a", "a-diverted", "no-validation", "absent"],
)
def test_only_full_attestation_where_trusted_reads_tickets_without_an_id(
    dial, customer, tickets, settings, trusted, verstat, details
):
    settings.VOICE_TRUST_STIR_ATTESTATION = trusted
    caller = dial(verstat=verstat)
    caller.say(MY_TICKETS)
    assert ("INV-4471" in caller.spoken) is details
    assert ("2 open tickets" in caller.spoken) is not details


def test_attestation_counts_only_from_the_incoming_call_webhook(dial, customer, tickets, settings):
    settings.VOICE_TRUST_STIR_ATTESTATION = True
    caller = dial(verstat="No-TN-Validation")
    caller.form["StirVerstat"] = "TN-Validation-Passed-A"  # on a later turn: too late to count
    caller.say(MY_TICKETS)
    assert "2 open tickets" in caller.spoken and "INV-4471" not in caller.spoken


def test_a_model_is_given_no_ticket_the_caller_did_not_name(client, twilio, settings, customer, tickets,
                                                            django_capture_on_commit_callbacks):  # fmt: skip
    billing, export, closed = tickets
    with FakeOpenAI(model="gpt-test") as server:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "test-key", server.base_url
        server.push_tool_calls([("list_my_tickets", {}), ("get_ticket", {"reference": export.reference})])
        server.push_text("You have two open tickets. Say a ticket's ID to hear about it.")
        caller = Call(client, django_capture_on_commit_callbacks, CUSTOMER_NUMBER)
        caller.start()
        twiml = caller._post(caller.gather.get("action"), SpeechResult=MY_TICKETS, Confidence="0.9")
        caller._post(twiml.find("Redirect").text)
        listed, looked_up = server.tool_results(1)
    assert listed["tickets"] == [] and listed["more_open_tickets"] == 2
    assert looked_up == {"error": "not found"}
    sent = repr(server.requests).replace(export.reference, "")  # the model's own guess at an ID
    assert not [secret for secret in [*secrets_of(billing, export, closed), "Submitted", "Resolved"] if secret in sent]
    assert caller.spoken == "You have two open tickets. Say a ticket's ID to hear about it."
