"""Celery beat's schedule for the retention purge (daily) and the email sweeper (every 10 minutes)."""

from django.db import migrations

PURGE = "Delete tickets resolved 30 days ago"
SWEEP = "Re-send customer emails whose task was lost"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="17", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.update_or_create(
        name=PURGE,
        defaults={"task": "tickets.purge_closed_tickets", "crontab": daily, "interval": None, "enabled": True},
    )
    every_ten, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=SWEEP,
        defaults={"task": "tickets.sweep_unsent_emails", "interval": every_ten, "crontab": None, "enabled": True},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[PURGE, SWEEP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0002_support_staff_group"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
