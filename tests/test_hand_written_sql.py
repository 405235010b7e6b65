"""Every name in the hand-written statements comes from the models' metadata: with every table and
column of the models renamed, no statement still names one of the old names."""

import re
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.db.models import Model

from channels_io.models import InboundText
from channels_io.sms import adapter
from loophole import rows
from tickets import statements
from tickets.models import Conversation, Message, Ticket

MODELS: tuple[type[Model], ...] = (Conversation, Message, Ticket, InboundText)


def _builders() -> dict[str, Callable[[], str]]:
    vendor = connection.vendor
    return {
        "sms.accept": lambda: adapter._accept_sql(vendor),
        "statements.lock_conversation": lambda: statements._lock_sql(False, vendor),
        "statements.lock_conversation (scoped)": lambda: statements._lock_sql(True, vendor),
        "statements.insert_message": lambda: statements._insert_message_sql(False, vendor),
        "statements.insert_message (once)": lambda: statements._insert_message_sql(True, vendor),
        "statements.mark_newest": lambda: statements._newest_sql(vendor),
        "statements.claim": lambda: statements._claim_sql(vendor),
        "statements.turns_before": lambda: statements._turns_sql(vendor),
    }


_CACHED = (
    adapter._accept_sql,
    statements._lock_sql,
    statements._insert_message_sql,
    statements._newest_sql,
    statements._claim_sql,
    statements._turns_sql,
    rows._columns,
)


@pytest.fixture
def renamed(monkeypatch) -> Iterator[set[str]]:
    """Every table and column of MODELS renamed (statements built afresh); the old names."""
    old = set()
    for model in MODELS:
        old.add(model._meta.db_table)
        monkeypatch.setattr(model._meta, "db_table", f"renamed_{model._meta.db_table}")
        for field in model._meta.concrete_fields:
            old.add(field.column)
            monkeypatch.setattr(field, "column", f"renamed_{field.column}")
    for cached in _CACHED:
        cached.cache_clear()
    yield old
    for cached in _CACHED:
        cached.cache_clear()  # rebuilt with the real names once the renaming is undone


def test_no_hand_written_statement_names_a_table_or_column_by_hand(renamed):
    built = {name: build() for name, build in _builders().items()}
    named_by_hand = {
        name: sorted(old for old in renamed if re.search(rf"(?<!\w){re.escape(old)}(?!\w)", sql))
        for name, sql in built.items()
    }
    assert {name: found for name, found in named_by_hand.items() if found} == {}
    assert all("renamed_" in sql for sql in built.values())
