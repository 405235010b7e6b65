"""Conversations made by talking to the assistant as a channel does: one for each thing it can do."""

from django.urls import reverse

from assistant.engines.base import Outcome
from tests.assistant.helpers import add_articles, chat, say
from tests.factories import UserFactory
from tickets import services
from tickets.models import Conversation, Ticket


def ticket_change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def conversations_of_each_outcome() -> dict[str, Conversation]:
    """answered, unknown_sender (SMS, answered), pending (offered), declined, declined_asking (an
    offer moved past with a question) and accepted (the ticket created)."""
    add_articles()
    made = {"answered": chat(UserFactory())}
    assert say(made["answered"], "how do I export my data").outcome == Outcome.ANSWERED
    made["unknown_sender"] = services.open_conversation(channel="sms", customer=None, sender="+15555550199")
    assert say(made["unknown_sender"], "how do I reset my password?").outcome == Outcome.ANSWERED
    made["pending"] = chat(UserFactory())
    assert say(made["pending"], "I want a refund please").outcome == Outcome.OFFERED
    made["declined"] = chat(UserFactory())
    say(made["declined"], "I want a refund please")
    assert say(made["declined"], "no thanks").outcome == Outcome.DECLINED
    made["declined_asking"] = chat(UserFactory())
    say(made["declined_asking"], "I want a refund please")
    assert say(made["declined_asking"], "no thanks, but how do I export my data?").outcome == Outcome.ANSWERED
    made["accepted"] = chat(UserFactory())
    say(made["accepted"], "I want a refund please")
    assert say(made["accepted"], "yes").outcome == Outcome.CREATED
    return made
