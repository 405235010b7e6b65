import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 when it does not (for the load balancer)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health check: database unavailable")
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for the widget's endpoints, Django's page everywhere else."""
    if request.path == "/chat/identify/":
        message = "Send the token from the widget's own frame: load the widget with its <script> tag."
        return JsonResponse({"error": message}, status=403)
    if request.path.startswith("/chat/"):
        return JsonResponse({"error": "Your session expired. Reload the page and try again."}, status=403)
    from django.views.csrf import csrf_failure as default_failure

    return default_failure(request, reason=reason)
