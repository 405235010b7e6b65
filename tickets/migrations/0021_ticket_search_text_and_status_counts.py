"""A ticket's searchable message text and words, and the tickets per status kept as signed changes (both filled
by the next migration)."""

import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0020_search_trigram_indexes")]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="search_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ticket",
            name="search_words",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.CreateModel(
            name="StatusCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("submitted", "Submitted"),
                            ("in_progress", "In Progress"),
                            ("waiting_on_customer", "Waiting on Customer"),
                            ("resolved", "Resolved"),
                        ],
                        max_length=24,
                    ),
                ),
                ("change", models.IntegerField()),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("status__in", ["submitted", "in_progress", "waiting_on_customer", "resolved"])
                        ),
                        name="status_count_valid",
                    )
                ]
            },
        ),
    ]
