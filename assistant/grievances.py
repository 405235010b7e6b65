"""What only the company can put right, however it is asked: money taken that the customer says is not
theirs, money or credit owed that has not come (assistant.charges), and a promise to come back that was not
kept. Each is offered a ticket at once (assistant.engines.local.ALWAYS_OFFER), unless the message asks after a
ticket already open on it: that is a status question (assistant.status).
"""

import re

from assistant import charges
from assistant.language import _ABOUT_TICKETS, _norm

_FOLLOWS_UP = re.compile(r"\b(follow(ing)? up|opened a (request|ticket|case))\b")

# The company did not come back as it should have: "no one has contacted me", "nobody called", "I haven't heard
# anything back", "nothing since".
_LEFT_WAITING = re.compile(
    r"\b(no one|nobody|noone|no-one) (has |have )?(ever )?(contacted|called|rung|rang|emailed|got back|gotten back|"
    r"replied|responded|been in touch|come back)\b|\b(haven'?t|have not|not|never) heard (anything |a thing )?back\b|"
    r"\bnothing since\b|\bno (reply|response|answer) (yet|from|at all)\b|\bstill (haven'?t|have not|not) heard\b"
)


def grievance(text: str) -> str | None:
    """What only the company can put right, first found: `disputed`, a payment the customer says is not theirs
    or cash a machine did not pay out; `overdue`, money or credit owed that has not come; `no_reply`, a promise
    to come back that was not kept. None for anything else, and for a question about a ticket already open on
    it ("is my case about the double charge closed?", "haven't heard back on my complaint")."""
    norm = _norm((text or "")[:2000])
    if _ABOUT_TICKETS.search(norm) or _FOLLOWS_UP.search(norm):
        return None
    if charges.disputed(norm):
        return "disputed"
    if charges.overdue(norm):
        return "overdue"
    return "no_reply" if _LEFT_WAITING.search(norm) else None
