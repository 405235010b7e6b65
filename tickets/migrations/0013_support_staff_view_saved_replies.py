"""The "Support staff" group may use saved replies (view them, and pick one on a ticket's page)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Support staff"


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now so the group can hold them.
    app_config = apps.get_app_config("tickets")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="tickets", codename="view_savedreply")
    for group in Group.objects.filter(name=GROUP):
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name=GROUP):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="tickets", codename="view_savedreply")
        )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0012_backfill_response_times")]

    operations = [migrations.RunPython(grant, revoke)]
