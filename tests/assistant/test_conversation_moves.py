"""The assistant moves a conversation only along its table: an offer never reopens a conversation that ended."""

from dataclasses import dataclass

import pytest

from assistant import services, wording
from assistant.engines.base import Decision, Kind, Outcome, TicketDraft
from tests.factories import ConversationFactory
from tickets import conversations
from tickets import services as ticket_services
from tickets.models import Conversation, ConversationState, Ticket

pytestmark = pytest.mark.django_db


@dataclass
class OfferingEngine:
    """An engine that offers a ticket for whatever it is asked."""

    name: str = "offering"
    answers_inline: bool = False

    def decide(self, request, tools) -> Decision:
        draft = TicketDraft(title="Refund for a double charge", description="Charged twice.", summary="")
        return Decision(Kind.OFFER, "Shall I open a ticket?", draft=draft, reason="refund", engine=self.name)


def test_an_offer_decided_after_the_call_ended_is_not_made_and_the_conversation_stays_closed():
    conversation = ConversationFactory(channel="voice")
    message = services.receive(conversation.pk, "I was charged twice, I want a refund")
    assert conversations.close(conversation.pk)  # the caller hung up while the model worked

    reply = services.respond(message.pk, hands_off=False, engine=OfferingEngine())

    assert (reply.outcome, reply.text) == (Outcome.ANSWERED, wording.ENDED_OFFER)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.offer) == (ConversationState.CLOSED, None)
    # Nothing to say yes to: a later "yes" in it opens no ticket either.
    later = ticket_services.store_customer_message(conversation.pk, "yes")[0]
    services.respond(later.pk, hands_off=False, engine=OfferingEngine())
    assert not Ticket.objects.exists()
    assert Conversation.objects.get(pk=conversation.pk).state == ConversationState.CLOSED


def test_an_offer_on_an_open_conversation_is_made_through_the_table():
    conversation = ConversationFactory(channel="sms")
    message = services.receive(conversation.pk, "I was charged twice, I want a refund")

    reply = services.respond(message.pk, hands_off=False, engine=OfferingEngine())

    assert reply.outcome == Outcome.OFFERED
    conversation.refresh_from_db()
    assert conversation.state == ConversationState.TICKET_OFFERED
    assert conversation.offer["offer_message_id"] == reply.message_id
    assert conversation.offer["draft"]["title"] == "Refund for a double charge"
