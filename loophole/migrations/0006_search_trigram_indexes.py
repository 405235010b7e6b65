"""pg_trgm and the trigram indexes of the ticket search's customer part: email, name, phone numbers.

PostgreSQL only (built concurrently, so not in a transaction); on SQLite these change nothing.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations
from django.db.models.functions import Upper

from loophole.migration_operations import AddIndexOnPostgreSQL, TrigramExtensionOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("loophole", "0005_user_notify_by_email"),
    ]

    operations = [
        TrigramExtensionOnPostgreSQL(),
        AddIndexOnPostgreSQL(
            model_name="phonenumber",
            index=GinIndex(fields=["number"], name="phone_number_trgm", opclasses=["gin_trgm_ops"]),
        ),
        AddIndexOnPostgreSQL(
            model_name="user",
            index=GinIndex(fields=["email"], name="user_email_trgm", opclasses=["gin_trgm_ops"]),
        ),
        AddIndexOnPostgreSQL(
            model_name="user",
            index=GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="user_name_trgm"),
        ),
    ]
