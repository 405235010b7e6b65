"""The GIN index of the tickets' search words, built after they are filled. PostgreSQL only
(concurrently, so not in a transaction); on SQLite this changes nothing."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from loophole.migration_operations import AddIndexOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tickets", "0022_fill_search_text_and_status_counts")]

    operations = [
        AddIndexOnPostgreSQL(
            model_name="ticket",
            index=GinIndex(fields=["search_words"], name="ticket_search_words"),
        ),
    ]
