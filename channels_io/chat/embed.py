"""The widget on other sites and in links: its frame, the host product's identity token, and the
link that opens one conversation.

The host page's one <script> tag (static/js/embed.js) opens the frame page below, from our origin,
and hands it the token by postMessage; the frame exchanges it at /chat/identify/, so the session and
CSRF cookies are our own, as on our pages. The browser shows the frame only inside a page of the
origin it was opened for (its frame-ancestors), and that origin, signed into the page, comes back
with the token.
"""

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from channels_io.chat import identity
from loophole.http import AuthenticatedRequest
from tickets.models import Conversation

logger = logging.getLogger(__name__)

MAX_BODY = 8 * 1024
IDENTIFIED = "chat.product_user"  # session key: the session was made by a product's token


@require_GET
@login_required
def open_conversation(request: AuthenticatedRequest, conversation_id: int) -> HttpResponse:
    """The link of channels_io.chat.conversation_link(): the home page, whose widget opens
    `#conversation=<id>` (a 404 for another customer's conversation)."""
    owned = Conversation.objects.filter(pk=conversation_id, customer=request.user, channel="chat").exists()
    if not owned:
        raise Http404("No such conversation")
    return redirect(reverse("home") + f"#conversation={conversation_id}")


@never_cache
@xframe_options_exempt
@require_GET
def frame(request: HttpRequest) -> HttpResponse:
    """GET /chat/frame/?origin=<the host page's origin>: the widget alone, to be framed by that origin
    only (403 for an origin WIDGET_ALLOWED_ORIGINS does not name)."""
    origin = request.GET.get("origin", "")  # as the browser writes location.origin
    if origin not in identity.allowed_origins():
        logger.warning("widget frame refused for an origin not allowed")
        return render(request, "chat/frame_refused.html", status=403)
    context = {"embedded": True, "embed_origin": origin, "embed_proof": identity.embed_proof(origin)}
    response = render(request, "chat/frame.html", context)
    response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {origin}"
    )
    return response


def _token(request: HttpRequest) -> Any:
    if len(request.body) > MAX_BODY:
        raise identity.Refused("The request is too large.", 413)
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise identity.Refused('Send JSON like {"token": "<JWT>"}.', 400) from None
    if not isinstance(data, dict):
        raise identity.Refused('Send JSON like {"token": "<JWT>"}.', 400)
    return data.get("token")


@require_POST
def identify(request: HttpRequest) -> HttpResponse:
    """POST {"token": "<JWT>"}: the host product's user becomes the widget's customer (200 with
    {"customer": {"email", "name"}}). A refused token answers 401 or 403 saying why, and ends a
    session an earlier token made: the widget then gives general help only."""
    try:
        proof = request.headers.get("X-Widget-Origin")
        if proof is not None:
            identity.embedding_origin(proof)
        claims = identity.verify(_token(request))
        user = identity.account_for_claims(claims)
    except identity.Refused as exc:
        if request.session.get(IDENTIFIED) is not None:
            logout(request)
        logger.warning("widget identity refused (%s)", exc.status)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session[IDENTIFIED] = claims.sub
    logger.info("widget identified account %s", user.pk)
    return JsonResponse({"customer": {"email": user.email, "name": user.name}})
