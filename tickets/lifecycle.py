"""The two lifecycles, each a table of allowed moves: a ticket's status and its conversation's state.

`Ticket.move_to` and `Conversation.move_to` are the only code that assigns them; the services
tickets.services.change_status and tickets.conversations.move call those.
"""

from django.db import models


class InvalidTransition(Exception):
    """A move its lifecycle does not allow (or a resolve without the action taken, an offer without its draft)."""


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    IN_PROGRESS = "in_progress", "In Progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on Customer"
    RESOLVED = "resolved", "Resolved"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED}),
    Status.WAITING_ON_CUSTOMER: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),  # reopening stops the retention clock
}


class ConversationState(models.TextChoices):
    ASSISTANT = "assistant", "With the assistant"
    TICKET_OFFERED = "ticket_offered", "Ticket offered"
    HANDED_OFF = "handed_off", "Handed off to staff"
    CLOSED = "closed", "Closed"


# What moves a conversation: the assistant's offer (TICKET_OFFERED; a newer offer replaces a pending
# one), the customer's no (back to ASSISTANT), a ticket opened from it (HANDED_OFF on live chat; on the
# other channels the assistant goes on answering: ASSISTANT), and the end of a call (CLOSED).
CONVERSATION_TRANSITIONS: dict[ConversationState, frozenset[ConversationState]] = {
    ConversationState.ASSISTANT: frozenset(
        {ConversationState.TICKET_OFFERED, ConversationState.HANDED_OFF, ConversationState.CLOSED}
    ),
    ConversationState.TICKET_OFFERED: frozenset(
        {
            ConversationState.ASSISTANT,
            ConversationState.TICKET_OFFERED,
            ConversationState.HANDED_OFF,
            ConversationState.CLOSED,
        }
    ),
    ConversationState.HANDED_OFF: frozenset({ConversationState.CLOSED}),
    ConversationState.CLOSED: frozenset(),
}
