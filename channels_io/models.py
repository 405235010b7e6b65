"""What channels_io keeps for itself: numbers that texted STOP.

Other apps store channels as slugs; protocol state like an SMS opt-out lives here, so a channel's
rules need no migration outside channels_io.
"""

from django.db import models
from django.utils import timezone


class SmsOptOut(models.Model):
    """A number that texted STOP (or UNSUBSCRIBE, CANCEL, …): we send it nothing until it texts START.

    Outlives the retention purge, which deletes the number's conversations: an opt-out must be honoured
    for as long as we could text the number. It keeps only the number and when.
    """

    number = models.CharField(max_length=16, unique=True)  # E.164
    opted_out_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SMS opt-out"

    def __str__(self) -> str:
        return f"SMS opt-out {self.pk}"


class InboundText(models.Model):
    """A text Twilio delivered, kept only until a worker files it into its conversation.

    The webhook writes this one row and answers Twilio at once; the sender's account, the
    conversation and opt-outs are looked up by the worker (`channels_io.receive_text`), and the row is
    deleted when the message is stored. The beat sweeper re-queues rows a lost task left behind.
    """

    sid = models.CharField(max_length=34, unique=True)  # Twilio's MessageSid: a redelivery is one row
    sender = models.CharField(max_length=16)  # E.164
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Inbound text {self.pk}"


class InboundEmail(models.Model):
    """An inbound mail as the webhook received it, kept until a worker has read and filed it.

    The webhook writes this one row and answers the provider at once; the worker parses the mail under
    a time budget (`channels_io.file_email`) and deletes the row once handle_inbound has dealt with it.
    A mail refused, or not read within the budget, stays here with its status, and its sender is told
    (`answered_at`). The beat sweeper re-queues pending rows a lost task left behind.
    """

    class Source(models.TextChoices):
        RFC822 = "rfc822", "Raw message"
        POSTMARK = "postmark", "Postmark's parsed fields (JSON)"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Not read in time"

    digest = models.CharField(max_length=64, unique=True)  # SHA-256 of the payload: a redelivery is one row
    source = models.CharField(max_length=16, choices=Source, default=Source.RFC822)
    payload = models.BinaryField()
    context = models.JSONField(default=dict, blank=True)  # handle_inbound's keyword arguments
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    detail = models.CharField(max_length=300, blank=True)  # why it was refused or failed
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)  # its sender was told it was not taken

    def __str__(self) -> str:
        return f"Inbound email {self.pk}"


class AwayEmail(models.Model):
    """One email of staff chat replies the customer was not shown in time (channels_io.chat.away).

    Written when the replies are claimed (the conversation's `away_emailed_up_to` advanced in the same
    transaction), marked `sent_at` when the mail has gone: a lost task is re-queued by the beat sweeper,
    and a resend after a crash mid-send carries the same Message-ID (that of `last_reply_id`).
    Keeps only ids; a purged conversation's rows are dropped by the sweeper.
    """

    conversation_id = models.BigIntegerField()
    first_reply_id = models.BigIntegerField()
    last_reply_id = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(sent_at__isnull=True), name="away_email_unsent"),
        ]

    def __str__(self) -> str:
        return f"Away email {self.pk}"
