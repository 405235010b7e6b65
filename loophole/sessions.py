"""Django's database sessions, with the read every request makes written by hand (loophole.rows)."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from loophole import rows


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        """The unexpired session of this key, or None (and the key forgotten), as Django's does."""
        key = self.session_key  # validated by the store: a malformed key reads as None
        if key is None:
            self._session_key = None
            return None
        expire = rows.field(Session, "expire_date").get_db_prep_value(timezone.now(), connection)
        key_column, expire_column = (
            connection.ops.quote_name(rows.field(Session, n).column) for n in ("session_key", "expire_date")
        )
        session = rows.one(Session, f"{key_column} = %s AND {expire_column} > %s", [key, expire])
        if session is None:
            self._session_key = None
        return session
