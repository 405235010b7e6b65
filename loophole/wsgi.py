"""The WSGI application (gunicorn): Django's handler, with the client named from a trusted proxy's
X-Forwarded-For (loophole.proxies) as loophole.asgi names it. Event streams need the ASGI application."""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from loophole import proxies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loophole.settings")

django_application = get_wsgi_application()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    proxies.set_remote_addr(environ, settings.TRUSTED_PROXIES)
    return django_application(environ, start_response)
