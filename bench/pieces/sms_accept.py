"""sms_accept off: the webhook keeps an inbound text through the ORM (get_or_create: a read, then an
insert in a savepoint, which a concurrent redelivery turns into a read of its row)."""

from django.utils import timezone

from channels_io.models import InboundText

TARGET = "channels_io/sms/adapter.py"


def accept(sid: str, number: str, body: str) -> int | None:
    """Keep an inbound text until a worker files it: its row id, or None when this MessageSid is
    already waiting (a redelivery)."""
    text, created = InboundText.objects.get_or_create(
        sid=sid, defaults={"sender": number, "body": body, "received_at": timezone.now()}
    )
    return text.pk if created else None
