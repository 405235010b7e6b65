"""Support staff keep the help centre up to date."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_helparticle", "add_helparticle", "change_helparticle"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Support staff")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="assistant", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name="Support staff"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="assistant", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0001_help_articles"),
        ("tickets", "0002_support_staff_group"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
