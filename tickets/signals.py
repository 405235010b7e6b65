"""Signals that let the layers above react to ticket work without tickets importing them.

Each is sent after the transaction commits; receivers only enqueue work (never block on I/O).

- `staff_replied(message_id, channel)`: a staff reply was stored; deliver it on the ticket's channel.
- `ticket_changed(ticket_id, conversation_id)`: status, assignee or messages of a ticket changed.
- `message_stored(conversation_id, message_id, message, previous_id, state)`: any message was stored in
  a conversation; `previous_id` is the conversation's message before it (0: none or not known), `state`
  the conversation's state as the transaction left it.
"""

from django.dispatch import Signal

staff_replied = Signal()
ticket_changed = Signal()
message_stored = Signal()
