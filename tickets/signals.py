"""Signals that let the layers above react to ticket work without tickets importing them.

Receivers only enqueue work (never block on I/O). The first three are sent after the transaction
commits; the two `*_due` ones inside it, with the row they name (their receivers queue on commit).

- `staff_replied(message_id, channel)`: a staff reply was stored; deliver it on the ticket's channel.
- `ticket_changed(ticket_id, conversation_id)`: status, assignee or messages of a ticket changed.
- `message_stored(conversation_id, message_id, message, previous_id, state)`: any message was stored in
  a conversation; `previous_id` is the conversation's message before it (0: none or not known), `state`
  the conversation's state as the transaction left it.
- `customer_email_due(event_id)`: a TicketEvent that emails the customer was written.
- `staff_notification_due(notification_id)`: a StaffNotification was written.
"""

from django.dispatch import Signal

staff_replied = Signal()
ticket_changed = Signal()
message_stored = Signal()
customer_email_due = Signal()
staff_notification_due = Signal()
