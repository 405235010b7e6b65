import logging
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant import services
from channels_io import registry
from tickets import services as ticket_services


class Command(BaseCommand):
    help = "Talk to Loophole AI in the terminal as a customer (an empty line or Ctrl-D ends)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--email", required=True, help="The customer's account email.")
        parser.add_argument(
            "--channel", default="chat", choices=sorted(registry.CHANNELS), help="Which channel to act as."
        )
        parser.add_argument(
            "--show-logs", action="store_true", help="Print info and warning log lines too (on stderr)."
        )

    def handle(self, *args: Any, email: str, channel: str, show_logs: bool = False, **options: Any) -> None:
        # The dialogue is on stdout; log lines on stderr would land in the middle of it on a terminal.
        if not show_logs:
            logging.disable(logging.WARNING)  # errors still reach stderr
        try:
            self._talk(email, channel)
        finally:
            logging.disable(logging.NOTSET)

    def _talk(self, email: str, channel: str) -> None:
        customer = get_user_model().objects.filter(email__iexact=email.strip()).first()
        if customer is None:
            raise CommandError(f"No account has the email {email!r}.")
        conversation = ticket_services.open_conversation(channel=channel, customer=customer, sender=customer.email)
        hands_off = registry.get(channel).hands_off_after_ticket
        self.stdout.write(f"Talking to Loophole AI as {customer.email} on {channel}. Empty line to stop.")
        interactive = sys.stdin.isatty()
        while True:
            if interactive:
                self.stdout.write("you> ", ending="")
                self.stdout.flush()
            line = sys.stdin.readline()
            if not line or not line.strip():
                break
            try:
                message = services.receive(conversation.pk, line.strip())
            except ticket_services.TicketError as exc:
                self.stderr.write(str(exc))
                continue
            reply = services.respond(message.pk, hands_off=hands_off)
            if reply.text:
                self.stdout.write(f"Loophole AI> {reply.text}")
                for link in reply.links:
                    self.stdout.write(f"  {link.title}: {link.url}")
            else:
                self.stdout.write("(sent to the Loophole team: no automatic reply)")
