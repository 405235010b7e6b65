from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tickets.dashboard import recent_days, refresh_days


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's daily figures for the last DAYS days (today included) from the tickets and "
        "conversations still stored; the beat task keeps the last few days current."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="How many days back (1 to 400, default 90).")

    def handle(self, *args: Any, days: int = 90, **options: Any) -> None:
        if not 1 <= days <= 400:
            raise CommandError("--days must be between 1 and 400")
        rows = refresh_days(recent_days(days))
        self.stdout.write(f"Recomputed {days} day(s): {rows} row(s) of daily figures.")
