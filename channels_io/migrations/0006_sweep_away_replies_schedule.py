"""Celery beat mails staff chat replies the customer was not shown in time, every minute."""

from django.db import migrations

NAME = "Email chat replies the customer has not seen"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME, defaults={"task": "channels_io.sweep_away_replies", "interval": every_minute, "enabled": True}
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("channels_io", "0005_away_email"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
