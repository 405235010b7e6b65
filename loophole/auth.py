"""Django's model backend, with the read of the logged-in user every request makes written by hand;
the async path (`request.auser()`) runs the same read in a thread."""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection

from loophole import rows


class Backend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """The active user with this id, or None: as ModelBackend.get_user."""
        User = get_user_model()
        pk = User._meta.pk  # user_id: read from the session by Django with this field's to_python
        value = pk.get_db_prep_value(user_id, connection)
        user = rows.one(User, f"{connection.ops.quote_name(pk.column)} = %s", [value])
        if user is None:
            return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id: Any) -> Any:
        """As get_user, in a thread."""
        return await sync_to_async(self.get_user)(user_id)
