"""sessions off: Django's database session store as it ships (`db.SessionStore.load` / `aload`)."""

from django.contrib.sessions.backends import db

TARGET = "loophole/sessions.py"


class SessionStore(db.SessionStore):
    """Django's own store, under the name SESSION_ENGINE points at."""
