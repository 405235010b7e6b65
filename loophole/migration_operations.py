"""Migration operations for PostgreSQL-only schema, which leave other databases (SQLite) untouched."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension


class AddIndexOnPostgreSQL(AddIndexConcurrently):
    """A GIN/trigram index, built without blocking writes on PostgreSQL; recorded in the state only
    on other databases, which have no such index type. Needs `atomic = False` on the migration."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class TrigramExtensionOnPostgreSQL(TrigramExtension):
    """pg_trgm; Django's operation skips other databases going forwards but asks pg_extension going
    backwards, which fails on SQLite."""

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
