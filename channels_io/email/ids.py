"""Message-IDs: the ones we give our replies, and reading them back from In-Reply-To/References.

Our Message-ID is derived from the reply's row (conversation, message, a keyed stamp), so a resend
after a crash carries the same id (the customer's mail program shows it once) and a customer's
reply names the conversation it continues without a table of sent ids.
"""

import hashlib
import hmac
import re

from django.conf import settings

MSG_ID = re.compile(r"<[^<>\s]+>")


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
    return re.compile(rf"^<loophole\.(\d+)\.(\d+)\.[0-9a-f]{{16}}@{re.escape(domain())}>$", re.IGNORECASE)


def conversation_of(msg_id: str) -> int | None:
    """The conversation one of our Message-IDs belongs to, or None for anyone else's id."""
    match = _ours().match(msg_id)
    return int(match.group(1)) if match else None


def is_ours(msg_id: str) -> bool:
    return conversation_of(msg_id) is not None


def referenced(*headers: str | None) -> list[str]:
    """The Message-IDs named in In-Reply-To / References values, in order, without repeats."""
    seen: list[str] = []
    for value in headers:
        for msg_id in MSG_ID.findall(str(value or "")):
            if msg_id not in seen:
                seen.append(msg_id)
    return seen
