"""Message-IDs: the ones we give our replies, and reading them back from In-Reply-To/References.

Our Message-ID is derived from the reply's row (conversation, message, a keyed stamp), so a resend
after a crash carries the same id (the customer's mail program shows it once) and a customer's
reply names the conversation it continues without a table of sent ids.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable

from django.conf import settings

MSG_ID = re.compile(r"<[^<>\s]+>")
MAX_OURS = 128  # characters: longer ids are not ours


def domain() -> str:
    return settings.SUPPORT_EMAIL.rsplit("@", 1)[1].lower()


def _stamp(conversation_id: int, message_id: int, created: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"email-id:{conversation_id}:{message_id}:{created}".encode(), hashlib.sha256).hexdigest()[:16]


def outbound_id(conversation_id: int, message_id: int, created: str) -> str:
    """`<loophole.<conversation>.<message>.<stamp>@<support domain>>` for one of our replies."""
    stamp = _stamp(conversation_id, message_id, created)
    return f"<loophole.{conversation_id}.{message_id}.{stamp}@{domain()}>"


def _ours() -> re.Pattern[str]:
    return re.compile(
        rf"^<loophole\.(\d{{1,18}})\.(\d{{1,18}})\.([0-9a-f]{{16}})@{re.escape(domain())}>$", re.IGNORECASE
    )


def _parts(msg_id: str) -> tuple[int, int, str] | None:
    match = _ours().match(msg_id) if len(msg_id) <= MAX_OURS else None
    return (int(match.group(1)), int(match.group(2)), match.group(3).lower()) if match else None


def conversation_of(msg_id: str) -> int | None:
    """The conversation one of our Message-IDs says it belongs to (stamp unchecked: the form alone
    tells our own mail come back), or None for anyone else's id."""
    parts = _parts(msg_id)
    return parts[0] if parts else None


def claimed(msg_ids: Iterable[str]) -> dict[int, tuple[int, str]]:
    """{message pk: (conversation pk, stamp)} of the ids of our form among `msg_ids`: what a
    reply claims to answer, to be checked with `verifies` against the rows."""
    found = {}
    for msg_id in msg_ids:
        parts = _parts(msg_id)
        if parts:
            found[parts[1]] = (parts[0], parts[2])
    return found


def verifies(conversation_id: int, message_id: int, created: str, stamp: str) -> bool:
    """True when `stamp` is the one we gave this reply: the id was not made up."""
    return hmac.compare_digest(_stamp(conversation_id, message_id, created), stamp)


def is_ours(msg_id: str) -> bool:
    return conversation_of(msg_id) is not None


def referenced(*headers: str | None) -> list[str]:
    """The Message-IDs named in In-Reply-To / References values, in order, without repeats."""
    seen: dict[str, None] = {}  # ordered, and a lookup per id rather than a scan of the list
    for value in headers:
        for msg_id in MSG_ID.findall(str(value or "")):
            seen.setdefault(msg_id)
    return list(seen)
