"""Postmark's inbound webhook (anymail's view) taking a whole mail's JSON.

Django refuses request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with a 400, which Postmark
retries and then drops: a customer's mail with a phone screenshot attached would be lost. This view
checks anymail's basic auth first, then reads up to MAX_PAYLOAD itself; the 10 MB limit on the
message proper is checked before it is kept (RefusedEmail, logged, 200). A body that is not
Postmark's inbound JSON (anymail's parser fails on it) is a 400, with nothing stored.

Nothing of the message is parsed here: the request keeps it as it came (RawEmail, or Postmark's
parsed fields as JSON) and a worker reads it (`intake`). The one check on the message is linear:
MIME nested past its limits is a 400, so Postmark shows the mail as failed rather than it being lost.
"""

import json
import logging
from email import policy
from email.errors import MessageError
from email.utils import unquote
from typing import Any

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.http import HttpRequest, HttpResponse

from channels_io.email import mime
from channels_io.email.parsing import RefusedEmail, TooDeeplyNested
from loophole.limits import INBOUND_EMAIL_MAX_PAYLOAD

logger = logging.getLogger(__name__)

MAX_PAYLOAD = INBOUND_EMAIL_MAX_PAYLOAD
# What anymail's Postmark parser raises on JSON of another shape (a list, a number where a dict or
# a string belongs, a missing key) or on a RawEmail with lone surrogates.
_MALFORMED = (ValueError, TypeError, LookupError, AttributeError, MessageError)
# Postmark's fields that anymail turns into headers; its header parser is superlinear in their length.
_HEADER_FIELDS = ("From", "FromFull", "To", "ToFull", "Cc", "CcFull", "Bcc", "BccFull", "Subject", "ReplyTo", "Date")
HEADER_FIELD_MAX = 8 * 1024  # one header field; all of them together at most mime.HEADERS_MAX
# Serialized as they are: refolding long headers is quadratic in the stdlib.
_UNFOLDED = policy.default.clone(max_line_length=0)


class MalformedPayload(Exception):
    pass


class InboundWebhookView(PostmarkInboundWebhookView):
    payload = b""  # the request body, read by post() up to MAX_PAYLOAD (one view instance per request)

    def parse_events(self, request: HttpRequest) -> list[Any]:
        """As anymail's Postmark parser, from the body post() read (HttpRequest.body would refuse one
        over DATA_UPLOAD_MAX_MEMORY_SIZE)."""
        try:
            return [self.esp_to_anymail_event(json.loads(self.payload.decode("utf-8")))]
        except _MALFORMED as exc:
            raise MalformedPayload(type(exc).__name__) from None

    def esp_to_anymail_event(self, esp_event: Any) -> AnymailInboundEvent:
        """The inbound event with the mail left as Postmark sent it (`esp_event`), for a worker to read;
        only the envelope sender is taken out, as anymail takes it (the first of Headers)."""
        if esp_event.get("RecordType", "Inbound") != "Inbound":
            return super().esp_to_anymail_event(esp_event)  # anymail's error for the wrong webhook
        if "RawEmail" in esp_event and not isinstance(esp_event["RawEmail"], str):
            raise TypeError("RawEmail")
        message = AnymailInboundMessage()
        headers = esp_event.get("Headers") or []
        message.envelope_sender = (
            unquote(headers[0]["Value"]) if headers and headers[0]["Name"].lower() == "return-path" else None
        )
        event_id = esp_event.get("MessageID")
        return AnymailInboundEvent(
            event_type=EventType.INBOUND, timestamp=None, event_id=event_id, esp_event=esp_event, message=message
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.run_validators(request)  # basic auth before reading a large body
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_PAYLOAD:
            return HttpResponse("The payload is too large.", status=413, content_type="text/plain")
        self.payload = request.read(MAX_PAYLOAD + 1)  # the file-like API: no 2.5 MB cap
        if len(self.payload) > MAX_PAYLOAD:
            return HttpResponse("The payload is too large.", status=413, content_type="text/plain")
        try:
            return super().post(request, *args, **kwargs)
        except MalformedPayload as exc:
            logger.warning("refused an inbound email webhook that is not Postmark's JSON (%s)", exc)
            return HttpResponse("The payload is not Postmark's inbound JSON.", status=400, content_type="text/plain")
        except TooDeeplyNested as exc:
            logger.warning("refused an inbound email webhook: %s", exc)
            return HttpResponse(str(exc), status=400, content_type="text/plain")


def postmark_message(esp_event: Any) -> bytes:
    """The raw message anymail rebuilds from Postmark's parsed fields (a mail that came without
    RawEmail). Raises RefusedEmail for fields of another shape, or too long to rebuild in time."""
    try:
        fields = [esp_event.get(name) for name in _HEADER_FIELDS]
        fields += [header.get("Value") for header in esp_event.get("Headers") or []]
        sizes = [len(json.dumps(field)) for field in fields]
        if max(sizes) > HEADER_FIELD_MAX or sum(sizes) > mime.HEADERS_MAX:
            raise RefusedEmail(f"The message's headers are too long to read (over {HEADER_FIELD_MAX} bytes in one).")
        message = PostmarkInboundWebhookView().esp_to_anymail_event(esp_event).message
        return message.as_bytes(policy=_UNFOLDED)
    except (*_MALFORMED, UnicodeError, RecursionError):
        raise RefusedEmail("The message is not in Postmark's inbound form.") from None
