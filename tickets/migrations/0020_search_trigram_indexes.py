"""The trigram indexes of the ticket search's title and message text (UPPER(...), as `icontains` reads).

PostgreSQL only (built concurrently, so not in a transaction); on SQLite these change nothing.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations
from django.db.models.functions import Upper

from loophole.migration_operations import AddIndexOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0019_daily_stats_schedule"),
        ("loophole", "0006_search_trigram_indexes"),  # pg_trgm
    ]

    operations = [
        AddIndexOnPostgreSQL(
            model_name="message",
            index=GinIndex(OpClass(Upper("text"), name="gin_trgm_ops"), name="msg_text_trgm"),
        ),
        AddIndexOnPostgreSQL(
            model_name="ticket",
            index=GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="ticket_title_trgm"),
        ),
    ]
