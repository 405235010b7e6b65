"""Postmark's inbound webhook (anymail's view) taking a whole mail's JSON.

Django refuses request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with a 400, which Postmark
retries and then drops: a customer's mail with a phone screenshot attached would be lost. This view
checks anymail's basic auth first, then reads up to MAX_PAYLOAD itself; the 10 MB limit on the
message proper is handle_inbound's (RefusedEmail, logged, 200). A body that is not Postmark's
inbound JSON (anymail's parser fails on it) is a 400, with nothing stored.
"""

import logging
from email.errors import MessageError
from typing import Any

from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

# A 10 MB message arrives as RawEmail plus Postmark's parsed copy (bodies, base64 attachments).
MAX_PAYLOAD = 40 * 1024 * 1024
# What anymail's Postmark parser raises on JSON of another shape (a list, a number where a dict or
# a string belongs, a missing key) or on a RawEmail with lone surrogates.
_MALFORMED = (ValueError, TypeError, LookupError, AttributeError, MessageError)


class MalformedPayload(Exception):
    pass


class InboundWebhookView(PostmarkInboundWebhookView):
    def parse_events(self, request: HttpRequest) -> list[Any]:
        try:
            return super().parse_events(request)
        except _MALFORMED as exc:
            raise MalformedPayload(type(exc).__name__) from None

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.run_validators(request)  # basic auth before reading a large body
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_PAYLOAD:
            return HttpResponse("The payload is too large.", status=413, content_type="text/plain")
        if not hasattr(request, "_body"):
            body = request.read(MAX_PAYLOAD + 1)
            if len(body) > MAX_PAYLOAD:
                return HttpResponse("The payload is too large.", status=413, content_type="text/plain")
            request._body = body  # what HttpRequest.body would hold, read without its 2.5 MB cap
        try:
            return super().post(request, *args, **kwargs)
        except MalformedPayload as exc:
            logger.warning("refused an inbound email webhook that is not Postmark's JSON (%s)", exc)
            return HttpResponse("The payload is not Postmark's inbound JSON.", status=400, content_type="text/plain")
