"""django-anymail's `inbound` signal -> handle_inbound.

Anymail has checked the webhook's basic auth before the signal is sent. Refused mail is logged at
warning and the provider still gets 200: a malformed message will not get better by being posted
again, and a 4xx/5xx would only make the provider retry it for days. A database error propagates
(500), so the provider retries and nothing is lost.
"""

import logging
from typing import Any

from anymail.signals import AnymailInboundEvent, inbound
from django.dispatch import receiver

from channels_io.email import identity
from channels_io.email.inbound import handle_inbound
from channels_io.email.parsing import RefusedEmail

logger = logging.getLogger(__name__)


def raw_bytes(event: AnymailInboundEvent) -> bytes:
    """The message as it arrived: Postmark's RawEmail when included, else anymail's reconstruction."""
    raw = (event.esp_event or {}).get("RawEmail") if isinstance(event.esp_event, dict) else None
    if isinstance(raw, str) and raw:
        try:
            return raw.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            return raw.encode("utf-8", errors="replace")
    if event.message is None:
        return b""
    try:
        return event.message.as_bytes()
    except (ValueError, TypeError, LookupError, UnicodeError, AttributeError):
        return b""  # parts of another type than Postmark sends (a list for TextBody): nothing to read


@receiver(inbound, dispatch_uid="channels_io.email.inbound")
def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    envelope_sender = getattr(event.message, "envelope_sender", None)
    try:
        outcome = handle_inbound(
            raw_bytes(event),
            envelope_sender=envelope_sender,
            vouched_domains=identity.postmark_domains(event.esp_event),
        )
    except RefusedEmail as exc:
        logger.warning("inbound email from %s refused: %s", esp_name, exc)
        return
    logger.info("inbound email from %s: %s", esp_name, outcome.result)
