"""`manage.py receive_email`: one raw RFC 822 message on stdin, handled as inbound email.

For a mail server's pipe delivery (Postfix `pipe`, Exim `pipe` transport). Exit status 0 when the
message was stored, was a redelivery, or was a bounce/auto-reply/our own mail deliberately not
stored; 65 (EX_DATAERR: the MTA bounces it) with a message on stderr when it is refused; 75
(EX_TEMPFAIL: the MTA retries later) when the database cannot be reached.

`--webhook-url` prints the URL, with its basic-auth credentials (ANYMAIL_WEBHOOK_SECRET), to paste into
Postmark's inbound webhook setting instead.
"""

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from channels_io.email.inbound import handle_inbound
from channels_io.email.parsing import MAX_RAW, RefusedEmail

EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Read one raw email message (RFC 822) on stdin and handle it as inbound email to support."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--webhook-url",
            action="store_true",
            help="Print the inbound webhook URL, with its credentials, for Postmark's inbound settings.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["webhook_url"]:
            credentials = settings.ANYMAIL["WEBHOOK_SECRET"]
            scheme, _, host = settings.PUBLIC_URL.partition("://")
            self.stdout.write(f"{scheme}://{credentials}@{host}/anymail/postmark/inbound/")
            if settings.DEBUG:
                self.stderr.write(
                    "DEBUG is on: unless ANYMAIL_WEBHOOK_SECRET is set, these credentials are derived from "
                    "SECRET_KEY, for development only. Production needs ANYMAIL_WEBHOOK_SECRET (user:password)."
                )
            return
        stream = options.get("stdin") or sys.stdin
        if getattr(stream, "isatty", lambda: False)():
            raise CommandError("receive_email reads one message on stdin: pipe it in (receive_email < message.eml).")
        stream = getattr(stream, "buffer", stream)
        raw = stream.read(MAX_RAW + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            outcome = handle_inbound(raw)
        except RefusedEmail as exc:
            raise CommandError(f"Message refused: {exc}", returncode=EX_DATAERR) from None
        except DatabaseError as exc:
            raise CommandError(
                f"The database is not available ({type(exc).__name__}); try again later.", returncode=EX_TEMPFAIL
            ) from None
        where = f" (message {outcome.message_id}, conversation {outcome.conversation_id})" if outcome.message_id else ""
        self.stdout.write(f"{outcome.result}: {outcome.detail}{where}")
