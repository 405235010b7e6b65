"""Tickets, the conversations they come from, their messages and events.

The lifecycles' tables are in tickets.lifecycle: `Ticket.move_to` is the only code that assigns
`status` (services.change_status calls it), `Conversation.move_to` the only one that assigns `state`
(tickets.conversations.move calls it).
"""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Upper
from django.utils import timezone

from tickets.lifecycle import CONVERSATION_TRANSITIONS, TRANSITIONS, ConversationState, InvalidTransition, Status
from tickets.reference import PATTERN as REFERENCE_PATTERN
from tickets.saved_replies import check_body


class Author(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    ASSISTANT = "assistant", "Assistant"
    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"


class Conversation(models.Model):
    """One thread with a customer on one channel (a chat, an SMS exchange, a call, an email thread).

    `channel` is a slug of channels_io's registry. `customer` is empty for a sender not tied to an
    account; `sender` keeps their address or number.
    """

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="conversations"
    )
    channel = models.CharField(max_length=32)
    sender = models.CharField(max_length=254, blank=True)
    # The sender's carrier vouched that they may use `sender` (a call's SHAKEN/STIR full attestation).
    sender_attested = models.BooleanField(default=False, db_default=False)
    thread = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=ConversationState.choices, default=ConversationState.ASSISTANT)
    offer = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    # The newest message's id, written with it under the conversation's lock: each new message knows
    # the one before it, so a live widget can tell it has missed none (0: not known, read the rows).
    last_message_id = models.BigIntegerField(default=0, db_default=0)
    # Chat: the newest staff reply an open widget was shown, and the newest one mailed as an away
    # reply; staff replies past both are due by email once CHAT_AWAY_EMAIL_AFTER has passed.
    seen_up_to = models.BigIntegerField(default=0, db_default=0)
    away_emailed_up_to = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-last_message_at"], name="conv_customer_recent"),
            models.Index(fields=["channel", "sender", "-last_message_at"], name="conv_channel_sender"),
            # The admin's list of every conversation, newest first.
            models.Index(fields=["-last_message_at", "-id"], name="conv_recent"),
            # The dashboard's daily rollup reads one day at a time.
            models.Index(fields=["created_at"], name="conv_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ConversationState.values), name="conv_state_valid"),
            models.CheckConstraint(condition=~Q(channel=""), name="conv_channel_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} conversation {self.pk}"

    def can_move_to(self, new: ConversationState) -> bool:
        return new in CONVERSATION_TRANSITIONS[ConversationState(self.state)]

    def move_to(self, new: ConversationState, *, offer: dict | None = None) -> None:
        """Apply one move in memory; the caller saves `state` and `offer`. Raises InvalidTransition.
        A pending offer (`offer`) goes with TICKET_OFFERED and only with it: other states drop it."""
        new, old = ConversationState(new), ConversationState(self.state)
        if new not in CONVERSATION_TRANSITIONS[old]:
            raise InvalidTransition(f"A conversation's move {old.label} -> {new.label} is not allowed")
        if (new == ConversationState.TICKET_OFFERED) != (offer is not None):
            raise InvalidTransition("A ticket offer, and only an offer, comes with the offer made")
        self.state, self.offer = new, offer


# Message.kind of a customer message that reopened its resolved ticket.
REOPENED = "reopened"
# Message.kind of the assistant's replies (assistant.engines.base.Outcome's values): what the
# conversation list's filters and the dashboard count the assistant's work by.
ANSWERED, OFFERED, DECLINED = "answered", "offered", "declined"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    channel = models.CharField(max_length=32)
    # The channel's own id (Twilio MessageSid, email Message-ID): a redelivery is stored once.
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Customer messages: when the assistant (or the hand-off) dealt with it. Outbound: when delivered.
    handled_at = models.DateTimeField(null=True, blank=True)
    # Assistant messages: what the reply was (answer, clarify, offer, status, …), for the next turn.
    # A customer message that reopened its resolved ticket: REOPENED (the assistant says so).
    kind = models.CharField(max_length=16, blank=True)
    # Assistant messages: the customer message this replies to (a retried reply is stored once).
    # DO_NOTHING: a reply lives in the same conversation as what it answers, and messages are only
    # ever deleted with their conversation, so the purge deletes them in one statement.
    reply_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="reply")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "id"], name="msg_conversation_order"),
            # The admin's filters by what the assistant did: the rare replies, found without reading the rest.
            models.Index(
                fields=["conversation", "kind"], condition=Q(kind__in=[OFFERED, DECLINED]), name="msg_offer_outcome"
            ),
            # The ticket search's `text__icontains` (UPPER(text) LIKE …); PostgreSQL only, see the migration.
            GinIndex(OpClass(Upper("text"), name="gin_trgm_ops"), name="msg_text_trgm"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], condition=~Q(external_id=""), name="msg_external_id_once"
            ),
            models.CheckConstraint(condition=Q(author__in=Author.values), name="msg_author_valid"),
            models.CheckConstraint(condition=~Q(text=""), name="msg_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.author} message {self.pk}"


class Ticket(models.Model):
    reference = models.CharField(max_length=12, unique=True, editable=False)
    title = models.CharField(max_length=80)
    description = models.TextField()
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SUBMITTED)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tickets")
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="ticket")
    channel = models.CharField(max_length=32)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    action_taken = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # From creation to the first staff reply sent to the customer (set once), and to the resolution
    # (cleared on reopening, measured again from creation on the next resolve).
    first_response_time = models.DurationField(null=True, blank=True)
    resolution_time = models.DurationField(null=True, blank=True)
    # The conversation's message texts, each once, one per line: the search box finds a word of the
    # messages here (written with each message: tickets.search_text).
    # NULL: not written yet (migration 0022 fills it); nullable so that SQLite adds it without rebuilding
    # the table, which would try to create the PostgreSQL-only indexes.
    search_text = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    # ... and its words, for the GIN index (PostgreSQL only: NULL elsewhere).
    search_words = SearchVectorField(null=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["-last_activity_at", "-id"], name="ticket_activity"),
            # The list sorts by either time.
            models.Index(fields=["first_response_time", "-id"], name="ticket_first_response"),
            models.Index(fields=["resolution_time", "-id"], name="ticket_resolution"),
            models.Index(fields=["status", "-last_activity_at", "-id"], name="ticket_status_activity"),
            models.Index(fields=["assignee", "-last_activity_at", "-id"], name="ticket_assignee_activity"),
            models.Index(fields=["customer", "-created_at"], name="ticket_customer_recent"),
            models.Index(fields=["created_at"], name="ticket_created"),  # the dashboard's daily rollup
            # The purge scans only resolved tickets by age.
            models.Index(fields=["resolved_at"], condition=Q(status="resolved"), name="ticket_purge"),
            # The search's `title__icontains`; PostgreSQL only, see the migration.
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="ticket_title_trgm"),
            # The search's message words; PostgreSQL only, see the migration.
            GinIndex(fields=["search_words"], name="ticket_search_words"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(
                condition=Q(status=Status.RESOLVED, resolved_at__isnull=False) & ~Q(action_taken="")
                | (~Q(status=Status.RESOLVED) & Q(resolved_at__isnull=True)),
                name="ticket_resolved_has_time_and_action",
            ),
            models.CheckConstraint(condition=Q(reference__regex=REFERENCE_PATTERN), name="ticket_reference_format"),
            models.CheckConstraint(condition=~Q(title="") & ~Q(description=""), name="ticket_title_description"),
            models.CheckConstraint(condition=Q(last_activity_at__gte=F("created_at")), name="ticket_activity_order"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    def can_move_to(self, new: Status) -> bool:
        return new in TRANSITIONS[Status(self.status)]

    def move_to(self, new: Status, *, action_taken: str = "") -> None:
        """Apply one transition in memory; the caller saves. Raises InvalidTransition."""
        new = Status(new)
        old = Status(self.status)
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(f"{old.label} -> {new.label} is not allowed")
        if new == Status.RESOLVED and not (action_taken or "").strip():
            raise InvalidTransition("Resolving a ticket needs the action taken")
        self.status = new
        if action_taken.strip():
            self.action_taken = action_taken.strip()
        self.resolved_at = timezone.now() if new == Status.RESOLVED else None
        self.resolution_time = self.resolved_at - self.created_at if self.resolved_at else None


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS = "status", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    STAFF_REPLY = "staff_reply", "Staff replied"
    CUSTOMER_REPLY = "customer_reply", "Customer replied"


class CustomerEmail(models.TextChoices):
    CREATED = "created", "Ticket created"
    RESOLVED = "resolved", "Ticket resolved"
    WAITING = "waiting", "We need your reply"


class TicketEvent(models.Model):
    """One line of a ticket's history: who did what, when, from which status to which.

    Events that notify the customer by email carry `emailed_at` once the email is sent.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    old_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    new_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The customer email this event sends (created, resolved, waiting), and when it was sent.
    email = models.CharField(max_length=16, choices=CustomerEmail.choices, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "id"], name="event_ticket_order"),
            models.Index(
                fields=["created_at"], condition=~Q(email="") & Q(emailed_at__isnull=True), name="event_email_pending"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
            models.CheckConstraint(condition=Q(email__in=[*CustomerEmail.values, ""]), name="event_email_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"


class SavedReply(models.Model):
    """A snippet staff insert into a ticket's reply; `body` may name the placeholders in
    tickets.saved_replies.PLACEHOLDERS, filled in for the ticket it goes to."""

    title = models.CharField(max_length=80, unique=True)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField("active", default=True, help_text="Offered on ticket pages.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "saved replies"
        constraints = [models.CheckConstraint(condition=~Q(title="") & ~Q(body=""), name="saved_reply_not_empty")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        check_body(self.body)


class TicketNote(models.Model):
    """A staff member's internal note on a ticket: shown to staff on the ticket page, never to the customer.

    Kept apart from Message, which every customer-facing path reads; deleted with its ticket.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "id"], name="note_ticket_order")]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="note_text_not_empty")]
        default_permissions = ()
        permissions = [("add_internal_note", "Can add internal notes to tickets")]

    def __str__(self) -> str:
        return f"note {self.pk} on ticket {self.ticket_id}"


class StaffEvent(models.TextChoices):
    CREATED = "created", "New ticket"
    CUSTOMER_REPLY = "customer_reply", "Customer replied"
    REOPENED = "reopened", "Reopened"


class StaffNotification(models.Model):
    """One event staff are told about (email, and the webhook when configured), written with the event.

    The row is the outbox: `emailed_at` and `sent_at` (everything done) are set by the task that sends it.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="staff_notifications")
    event = models.CharField(max_length=16, choices=StaffEvent.choices)
    # The customer's message the event is about (none for a new ticket: its description is quoted).
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="staff_notification_pending")
        ]
        constraints = [models.CheckConstraint(condition=Q(event__in=StaffEvent.values), name="staff_event_valid")]

    def __str__(self) -> str:
        return f"{self.get_event_display()} on ticket {self.ticket_id}"


class DailyStats(models.Model):
    """One day's figures on one channel, recomputed by tickets.dashboard.refresh_days: the dashboard
    reads these rows instead of scanning conversations and tickets.

    Conversations and tickets count on the day they were created, resolutions on the day they were
    resolved. The two histograms count durations in tickets.dashboard.BUCKET_EDGES' buckets.
    """

    day = models.DateField()
    channel = models.CharField(max_length=32)
    conversations = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)  # answered by the assistant, no ticket offered
    offered = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    declined = models.PositiveIntegerField(default=0)
    tickets_created = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    first_response_buckets = models.JSONField(default=list)
    resolution_buckets = models.JSONField(default=list)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "daily stats"
        constraints = [models.UniqueConstraint(fields=["day", "channel"], name="daily_stats_day_channel")]

    def __str__(self) -> str:
        return f"{self.channel} on {self.day}"


class StatusCount(models.Model):
    """Tickets per status as signed changes: creating, moving and deleting tickets add rows
    (tickets.status_counts), the beat task folds them into one row per status. The dashboard sums
    them instead of counting every ticket."""

    status = models.CharField(max_length=24, choices=Status.choices)
    change = models.IntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(status__in=Status.values), name="status_count_valid")]

    def __str__(self) -> str:
        return f"{self.status} {self.change:+d}"


def replied(kind: str) -> Exists:
    """A conversation (the outer query's row) has an assistant reply of this kind."""
    return Exists(Message.objects.filter(conversation=OuterRef("pk"), kind=kind))


def has_ticket() -> Exists:
    """A conversation (the outer query's row) became a ticket. EXISTS rather than a join on the
    ticket: PostgreSQL plans it as an anti-join it can estimate, and walks conv_recent newest first
    instead of joining every conversation."""
    return Exists(Ticket.objects.filter(conversation=OuterRef("pk")))
