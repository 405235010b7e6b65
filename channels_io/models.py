"""What channels_io keeps for itself: numbers that texted STOP.

Other apps store channels as slugs; protocol state like an SMS opt-out lives here, so a channel's
rules need no migration outside channels_io.
"""

from django.db import models
from django.utils import timezone


class SmsOptOut(models.Model):
    """A number that texted STOP (or UNSUBSCRIBE, CANCEL, …): we send it nothing until it texts START."""

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
