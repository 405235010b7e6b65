"""An index on the admin log's (content type, object id): the retention purge deletes the entries that
name each batch's tickets and conversations, and without it every batch reads the whole log."""

from django.db import migrations, models

INDEX = models.Index(fields=["content_type", "object_id"], name="admin_log_object")


def add_index(apps, schema_editor):
    schema_editor.add_index(apps.get_model("admin", "LogEntry"), INDEX)


def remove_index(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("admin", "LogEntry"), INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0007_conversation_sender_attested"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunPython(add_index, remove_index)]
