"""auth off: Django's ModelBackend as it ships (`get_user` / `aget_user` through the ORM).

The backend keeps its dotted path: a session names the backend that logged it in, and a path
missing from AUTHENTICATION_BACKENDS would log every session out."""

from django.contrib.auth.backends import ModelBackend

TARGET = "loophole/auth.py"


class Backend(ModelBackend):
    """Django's own backend, under the name AUTHENTICATION_BACKENDS points at."""
