"""Saved replies' placeholders: a closed set of names, filled in for one ticket.

Only `{name}` with a name in PLACEHOLDERS is replaced; nothing is evaluated (no str.format, so no
attribute or index look-ups), and anything else in braces is refused when the reply is saved.
"""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from tickets.models import Ticket


def _customer_name(ticket: "Ticket") -> str:
    return ticket.customer.get_full_name()


def _ticket_id(ticket: "Ticket") -> str:
    return ticket.reference


PLACEHOLDERS: dict[str, Callable[["Ticket"], str]] = {"customer_name": _customer_name, "ticket_id": _ticket_id}

# A brace and what follows up to the next brace: one pass, no nested quantifier.
_BRACED = re.compile(r"\{([^{}]*)\}")


def check_body(body: str) -> None:
    """Raises ValidationError naming every placeholder that is not one of PLACEHOLDERS."""
    unknown = sorted({name for name in _BRACED.findall(body) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationError(
            {"body": f"Unknown placeholder(s): {', '.join(f'{{{name}}}' for name in unknown)}. Use {known}."}
        )


def fill(body: str, ticket: "Ticket") -> str:
    """The body with each known placeholder replaced for `ticket`; anything else is left as typed."""
    values: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        if name not in values:
            values[name] = PLACEHOLDERS[name](ticket)
        return values[name]

    return _BRACED.sub(replace, body)
