"""The statements every chat message runs, written once by hand.

A chat message is stored, answered and shown in about a dozen statements, and building each with the
ORM cost several times what the database spends on it (bench/chat.py: the ORM's joined, locked
conversation read ~1.2 ms of CPU against ~0.2 ms for the same SQL). These few are written here from
the models' metadata (names quoted by the backend, values always parameters) for PostgreSQL and
SQLite; everything else goes through the ORM. Callers hold the conversation's lock where they write.
"""

from datetime import datetime
from functools import lru_cache

from django.db import connection
from django.db.models import Model

from loophole import rows
from tickets.models import Conversation, Message, Ticket


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model: type[Model], name: str) -> str:
    return _qn(rows.field(model, name).column)


def lock_conversation(conversation_id: int, customer_id: int | None, channel: str) -> tuple | None:
    """SELECT ... FOR UPDATE the conversation (with `customer_id`: only theirs, on `channel`): its
    row, the concrete columns in field order (loophole.rows) then its ticket's id or NULL; or None."""
    params: list[int | str] = [conversation_id] if customer_id is None else [conversation_id, customer_id, channel]
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(customer_id is not None, connection.vendor), params)
        return cursor.fetchone()


@lru_cache(maxsize=4)
def _lock_sql(scoped: bool, vendor: str) -> str:
    conversation, ticket = _qn(Conversation._meta.db_table), _qn(Ticket._meta.db_table)
    where = f"c.{_column(Conversation, 'id')} = %s"
    if scoped:
        where += f" AND c.{_column(Conversation, 'customer')} = %s AND c.{_column(Conversation, 'channel')} = %s"
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""  # SQLite: one writer anyway
    return (
        f"SELECT {rows.columns(Conversation, 'c')}, t.{_column(Ticket, 'id')} FROM {conversation} c "  # noqa: S608
        f"LEFT JOIN {ticket} t ON t.{_column(Ticket, 'conversation')} = c.{_column(Conversation, 'id')} "
        f"WHERE {where}{lock}"
    )


_MESSAGE_FIELDS = tuple(f for f in Message._meta.concrete_fields if not f.primary_key)


@lru_cache(maxsize=4)
def _insert_message_sql(once: bool, vendor: str) -> str:
    columns = ", ".join(_qn(f.column) for f in _MESSAGE_FIELDS)
    values = ", ".join(["%s"] * len(_MESSAGE_FIELDS))
    table, pk = _qn(Message._meta.db_table), _qn(Message._meta.pk.column)
    skip = " ON CONFLICT DO NOTHING" if once else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({values}){skip} RETURNING {pk}"  # noqa: S608


def insert_message(message: Message, *, once: bool = False) -> Message | None:
    """INSERT an unsaved message (every field set, as Model.save would send it); sets its id. `once`:
    a message whose channel and external id are stored already is not inserted, and None returned
    (no error, so the transaction goes on)."""
    params = [f.get_db_prep_save(f.pre_save(message, add=True), connection) for f in _MESSAGE_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_message_sql(once, connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    message.pk = row[0]
    message._state.adding, message._state.db = False, connection.alias
    return message


@lru_cache(maxsize=2)
def _newest_sql(vendor: str) -> str:
    table = _qn(Conversation._meta.db_table)
    newest_at, newest_id = _column(Conversation, "last_message_at"), _column(Conversation, "last_message_id")
    return f"UPDATE {table} SET {newest_at} = %s, {newest_id} = %s WHERE {_column(Conversation, 'id')} = %s"  # noqa: S608


def mark_newest(conversation_id: int, message_id: int, at: datetime) -> None:
    """UPDATE the conversation's newest message (its id and time)."""
    field = Conversation._meta.get_field("last_message_at")
    with connection.cursor() as cursor:
        cursor.execute(
            _newest_sql(connection.vendor), [field.get_db_prep_save(at, connection), message_id, conversation_id]
        )


@lru_cache(maxsize=2)
def _claim_sql(vendor: str) -> str:
    table, handled = _qn(Message._meta.db_table), _column(Message, "handled_at")
    return f"UPDATE {table} SET {handled} = %s WHERE {_column(Message, 'id')} = %s AND {handled} IS NULL"  # noqa: S608


def claim(message_id: int, at: datetime) -> bool:
    """UPDATE an unhandled message as handled at `at`; False if it was handled already."""
    field = Message._meta.get_field("handled_at")
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor), [field.get_db_prep_save(at, connection), message_id])
        return cursor.rowcount == 1


@lru_cache(maxsize=2)
def _turns_sql(vendor: str) -> str:
    table = _qn(Message._meta.db_table)
    columns = ", ".join(_column(Message, name) for name in ("author", "text", "kind"))
    pk, conversation = _column(Message, "id"), _column(Message, "conversation")
    return (
        f"SELECT {columns} FROM {table} WHERE {conversation} = %s AND {pk} < %s "  # noqa: S608
        f"ORDER BY {pk} DESC LIMIT %s"
    )


def turns_before(conversation_id: int, message_id: int, limit: int) -> list[tuple[str, str, str]]:
    """(author, text, kind) of the conversation's last `limit` messages before this one, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(_turns_sql(connection.vendor), [conversation_id, message_id, limit])
        newest_first = cursor.fetchall()
    return [tuple(row) for row in reversed(newest_first)]
