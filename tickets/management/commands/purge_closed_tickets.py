from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tickets.services import purge_closed_tickets, purge_cutoff


class Command(BaseCommand):
    help = "Delete tickets resolved 30 or more days ago, with their conversations (the daily retention job)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        result = purge_closed_tickets(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.tickets} ticket(s) resolved before {purge_cutoff():%Y-%m-%d %H:%M} UTC, "
            f"with {result.conversations} conversation(s), {result.messages} message(s) "
            f"and {result.events} event(s)."
        )
