"""Model instances from rows read by a hand-written statement, converted as the ORM converts them.

For the conversation every chat message locks (tickets.statements.lock_conversation), building the
query with the ORM cost more than running it. The statement reads the model's concrete columns in
order with SQL of its own, and the row is turned into an instance here.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def columns(model: type[Model], alias: str = "") -> str:
    """The model's concrete columns, in field order (what instance() reads), qualified by `alias`."""
    return _columns(model, alias, connection.vendor)


def field(model: type[Model], name: str) -> Field:
    """The model's concrete field `name`: what a hand-written statement reads its column from."""
    found = model._meta.get_field(name)
    if not isinstance(found, Field) or found.column is None:
        raise TypeError(f"{model.__name__}.{name} is a relation, not a column")
    return found


def column(model: type[Model], name: str) -> str:
    """The quoted column of the model's concrete field `name` (a relation: its id column)."""
    return connection.ops.quote_name(field(model, name).column)


@lru_cache(maxsize=16)
def _columns(model: type[Model], alias: str, vendor: str) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)


def instance(model: type[M], row: Sequence[Any]) -> M:
    """The instance of `model` whose concrete fields' values are the start of `row`."""
    names, converters = _converters(model, connection.vendor)
    values = list(row[: len(names)])
    for index, convert in converters:
        values[index] = convert(values[index])
    return model.from_db(connection.alias, names, values)


@lru_cache(maxsize=16)
def _converters(model: type[Model], vendor: str) -> tuple[list[str], list[tuple[int, Callable[[Any], Any]]]]:
    fields = model._meta.concrete_fields
    found = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        steps = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)  # type: ignore[attr-defined]  # Django's Field has it; django-stubs lacks it
        if steps:
            found.append((index, _chain(steps, expression)))
    return [f.attname for f in fields], found


def _chain(steps: list[Callable[..., Any]], expression: Any) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, expression, connection)
        return value

    return convert
