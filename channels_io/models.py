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
