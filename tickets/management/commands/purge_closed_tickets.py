from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from tickets.purge import purge_closed_tickets, purge_cutoff


class Command(BaseCommand):
    help = (
        "Delete tickets resolved 30 or more days ago, with their conversations, and conversations without a "
        "ticket whose last message is 30 or more days old (the daily retention job)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        now = timezone.now()
        result = purge_closed_tickets(now=now, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.tickets} ticket(s) resolved before {purge_cutoff(now):%Y-%m-%d %H:%M} UTC and "
            f"{result.ticketless_conversations} conversation(s) without a ticket last written before then, "
            f"with {result.conversations} conversation(s) in all, {result.messages} message(s), "
            f"{result.events} event(s) and {result.log_entries} admin log entry(ies)."
        )
