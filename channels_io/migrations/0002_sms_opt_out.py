import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("channels_io", "0001_sweep_unanswered_schedule")]

    operations = [
        migrations.CreateModel(
            name="SmsOptOut",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.CharField(max_length=16, unique=True)),
                ("opted_out_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"verbose_name": "SMS opt-out"},
        ),
    ]
