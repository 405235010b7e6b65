"""Ticket references: the ID customers see, like `LH-7K3M-QX9P`.

Eight characters from a 32-letter alphabet with no 0/O or 1/I (about 10^12 values): short enough to
read aloud, random so that one reference tells nothing about another.
"""

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PREFIX = "LH"
LENGTH = 8
PATTERN = rf"^{PREFIX}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$"
_SEPARATORS = re.compile(r"[\s\-_.#:]+")
_BODY = re.compile(rf"^[{ALPHABET}]{{{LENGTH}}}$")


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{PREFIX}-{body[:4]}-{body[4:]}"


def parse_reference(text: str) -> str | None:
    """Return the canonical reference typed in `text`, or None if it is not one.

    Accepts lower case, spaces, missing or extra dashes, and a missing `LH` prefix.
    """
    compact = _SEPARATORS.sub("", text or "").upper()
    if len(compact) == LENGTH + len(PREFIX) and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    if not _BODY.match(compact):
        return None
    return f"{PREFIX}-{compact[:4]}-{compact[4:]}"
