"""asgi off: Django's stock ASGIHandler for every request (sync views too: a thread hop per sync
middleware method), behind the same BodyLimit (413 before a large body is read) and ClientAddress
(the client behind the trusted proxy, which the per-address limits count)."""

from django.core.handlers.asgi import ASGIHandler

TARGET = "loophole/asgi.py"


class Application(ASGIHandler):
    """Django's own handler, as `get_asgi_application()` returns it."""
