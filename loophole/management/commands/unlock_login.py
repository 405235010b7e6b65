from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loophole import login


class Command(BaseCommand):
    help = (
        "Lift a log-in lock-out: for an account (the email it logs in with, typed as the customer would) "
        "and/or a client IP, and forget the failed attempts counted so far."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", default="", metavar="EMAIL", help="the account's log-in email")
        parser.add_argument("--ip", default="", metavar="ADDRESS", help="the client address, as logged")

    def handle(self, *args: Any, account: str, ip: str, **options: Any) -> None:
        account, ip = account.strip(), ip.strip()
        if not account and not ip:
            raise CommandError("say what to unlock: --account EMAIL, --ip ADDRESS, or both")
        try:
            login.unlock(username=account, ip=ip)
        except (redis.RedisError, OSError) as exc:
            raise CommandError(f"the cache cannot be reached, nothing was unlocked ({exc})") from exc
        what = " and ".join(part for part in (account and "the account", ip and f"IP {ip}") if part)
        self.stdout.write(f"Unlocked {what}.")
