"""django-anymail's `inbound` signal -> the mail kept for a worker (`intake.keep`).

Anymail has checked the webhook's basic auth before the signal is sent. The mail is stored as it came,
with the domains Postmark's own SPF/DKIM headers vouch for, and read by a worker. Mail refused before
it is kept (empty, oversized) is logged at warning and the provider still gets 200: it will not get
better by being posted again, and a 4xx/5xx would only make the provider retry it for days. MIME
nested past its limits propagates (the view answers 400), and so does a database error (500): the
provider retries and nothing is lost.
"""

import json
import logging
from typing import Any

from anymail.signals import AnymailInboundEvent, inbound
from django.dispatch import receiver

from channels_io.email import identity, intake
from channels_io.email.parsing import RefusedEmail, TooDeeplyNested
from channels_io.models import InboundEmail

logger = logging.getLogger(__name__)


def payload_of(event: AnymailInboundEvent) -> tuple[bytes, str]:
    """What is kept of the mail, and in which form: Postmark's RawEmail when included, else Postmark's
    parsed fields as JSON, without the attachments' contents (never read: only their names are)."""
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    raw = esp_event.get("RawEmail")
    if isinstance(raw, str):
        try:
            return raw.encode("utf-8", errors="surrogateescape"), InboundEmail.Source.RFC822
        except UnicodeEncodeError:
            return raw.encode("utf-8", errors="replace"), InboundEmail.Source.RFC822
    attachments = esp_event.get("Attachments")
    if isinstance(attachments, list):
        emptied = [{**part, "Content": "", "Data": ""} if isinstance(part, dict) else part for part in attachments]
        esp_event = {**esp_event, "Attachments": emptied}
    return json.dumps(esp_event).encode(), InboundEmail.Source.POSTMARK


@receiver(inbound, dispatch_uid="channels_io.email.inbound")
def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    envelope_sender = getattr(event.message, "envelope_sender", None)
    payload, source = payload_of(event)
    try:
        intake.keep(
            payload,
            source=source,
            envelope_sender=envelope_sender,
            vouched_domains=identity.postmark_domains(event.esp_event),
        )
    except TooDeeplyNested:
        raise  # the view answers 400
    except RefusedEmail as exc:
        logger.warning("inbound email from %s refused: %s", esp_name, exc)
