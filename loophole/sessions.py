"""Django's database sessions, with the read every request makes written by hand (loophole.rows).

The store overrides the public `load` and `aload`; both read the row with the same statement and turn
it into the session's data with the same method, as Django's own store does (an expired or unknown
key reads as an empty session and is forgotten; data that does not decode reads as empty).
"""

from functools import lru_cache
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from loophole import rows


def unexpired(key: str) -> Session | None:
    """The session row of this key if it has not expired: one statement."""
    expire = rows.field(Session, "expire_date").get_db_prep_value(timezone.now(), connection)
    return rows.one(Session, _unexpired_where(connection.vendor), [key, expire])


@lru_cache(maxsize=2)
def _unexpired_where(vendor: str) -> str:
    return f"{rows.column(Session, 'session_key')} = %s AND {rows.column(Session, 'expire_date')} > %s"


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        """The session's data (empty for an expired, unknown or malformed key, which is then forgotten)."""
        key = self.session_key  # validated by the store: a malformed key reads as None
        return self._decoded(None if key is None else unexpired(key))

    async def aload(self) -> dict[str, Any]:
        """As load(), the row read in a thread."""
        key = self.session_key
        return self._decoded(None if key is None else await sync_to_async(unexpired)(key))

    def _decoded(self, session: Session | None) -> dict[str, Any]:
        if session is None:
            self._session_key = None
            return {}
        return self.decode(session.session_data)
