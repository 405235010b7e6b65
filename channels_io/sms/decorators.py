"""@twilio_signed: the edge check of every Twilio webhook (SMS and voice)."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from loophole.limits import TWILIO_MAX_BODY

logger = logging.getLogger(__name__)

MAX_BODY = TWILIO_MAX_BODY


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def twilio_signed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """POST only, CSRF-exempt; 503 when Twilio is not configured, 413 for an oversized body, 403 unless
    X-Twilio-Signature is Twilio's signature of PUBLIC_URL + the path and query, and the form.

    The URL is rebuilt from PUBLIC_URL, not from the request, so the check holds whatever proxy sits in
    front (TLS termination, another host name or port).
    """

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.TWILIO_CONFIGURED:
            return error("Twilio is not configured on this server.", 503)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY:
            logger.warning("refused an oversized Twilio webhook on %s", request.path)
            return error("The request is too large.", 413)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        url = settings.PUBLIC_URL + request.get_full_path()
        if not signature or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST, signature):
            logger.warning("refused a Twilio webhook with a %s signature on %s", "wrong" if signature else "missing",
                           request.path)  # fmt: skip
            return error("The Twilio signature is missing or wrong.", 403)
        return view(request, *args, **kwargs)

    return wrapper
