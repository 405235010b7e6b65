"""Ticket IDs in customers' words, and only where they are ticket IDs.

Our IDs are eight characters like an order, invoice, card, tracking or promo code, so an ID without
the LH prefix counts only when the message says it is a ticket's ("ticket 7K3M-QX9P", "7K3MQX9P is
my case number") or is nothing but the ID. With the prefix ("LH-7K3M-QX9P", "lh 7k3m qx9p",
"L H seven K three M ...") it always counts. Every pattern here is linear in its input.
"""

import re

from tickets.reference import parse_reference

MAX_TEXT = 4000  # a longer message is read up to here

_SPOKEN = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3", "four": "4", "for": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "ate": "8", "nine": "9",
    "alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E", "foxtrot": "F", "golf": "G",
    "hotel": "H", "juliet": "J", "juliett": "J", "kilo": "K", "lima": "L", "mike": "M", "november": "N",
    "papa": "P", "quebec": "Q", "romeo": "R", "sierra": "S", "tango": "T", "uniform": "U", "victor": "V",
    "whiskey": "W", "whisky": "W", "xray": "X", "x-ray": "X", "yankee": "Y", "zulu": "Z",
    "bee": "B", "see": "C", "sea": "C", "dee": "D", "gee": "G", "jay": "J", "kay": "K", "pee": "P", "queue": "Q",
    "are": "R", "tee": "T", "you": "U", "vee": "V", "why": "Y", "zed": "Z", "zee": "Z", "double": "*",
}  # fmt: skip
# A code of 4 + 4 letters and digits, optionally behind "LH"; what stands around it is read apart.
_TYPED = re.compile(r"(?<![a-z0-9])(lh[\s\-_.#:]{0,3})?([a-z0-9]{4})[\s\-_.]{0,2}([a-z0-9]{4})(?![a-z0-9])", re.I)
_WORD = re.compile(r"[a-z0-9]+", re.I)

# Words that say the code next to them is a ticket's, or something else's.
TICKET_WORDS = frozenset({"ticket", "tickets", "case", "cases", "lh"})
OTHER_WORDS = frozenset(
    """order orders ord invoice invoices inv card cards ending tracking track parcel package shipment shipping
    promo code codes coupon voucher discount gift receipt transaction txn payment booking reservation pnr
    confirmation membership member account acct policy serial sku item product model iban sort bill meter
    customer contract claim refund return rma delivery flight seat table""".split()
)
# Words that neither name a ticket nor something else ("my ticket number is ...", "the reference").
NEUTRAL_WORDS = frozenset(
    """id number no nr num ref reference is was my the a an of for on with # its it's it s""".split()
)
# What may stand beside a bare ID in a message that is only the ID ("status of 7K3M QX9P?").
ONLY_ID_WORDS = NEUTRAL_WORDS | TICKET_WORDS | frozenset(
    """status update updates news check what whats what's about any how hows here please pls thanks thank you
    hi hello hey can could i get see look up lookup find where at and""".split()
)


def _cue(words_near: list[str]) -> str:
    """"ticket", "other" or "" for the words beside a code, nearest first, looking past neutral words."""
    for word in words_near[:4]:
        if word in TICKET_WORDS:
            return "ticket"
        if word in OTHER_WORDS:
            return "other"
        if word not in NEUTRAL_WORDS:
            return ""
    return ""


def _typed(text: str) -> list[str]:
    found: list[str] = []
    for match in _TYPED.finditer(text):
        prefix, head, tail = match.group(1), match.group(2), match.group(3)
        reference = parse_reference(head + tail)
        if reference is None or reference in found:
            continue
        before = [w.lower() for w in _WORD.findall(text[max(0, match.start() - 60) : match.start()])][::-1]
        after = [w.lower() for w in _WORD.findall(text[match.end() : match.end() + 60])]
        if prefix:
            if _cue(before) != "other":
                found.append(reference)
            continue
        code = (head + tail).lower()
        if code.isalpha() or code.isdigit():
            continue  # a word or a number, not one of our mixed codes
        cue = _cue(before) or _cue(after)
        rest = [w.lower() for w in _WORD.findall(text[: match.start()] + " " + text[match.end() :])]
        if cue == "ticket" or (cue == "" and all(w in ONLY_ID_WORDS for w in rest)):
            found.append(reference)
    return found


def _spoken_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    double = False
    for token in re.findall(r"[a-z0-9]+(?:-ray)?", text.lower()):
        if token in {"dash", "hyphen", "minus", "point", "dot"}:
            continue
        value = _SPOKEN.get(token)
        if value == "*":
            double = True
            continue
        if value is None:
            value = token.upper() if (len(token) <= 2 or token.isdigit() or len(token) == 10) else ""
        if value and double:
            value = value * 2
        double = False
        pieces.append(value)
    return pieces


def _spoken(text: str) -> list[str]:
    """IDs read aloud letter by letter; only with the LH prefix, as a voice line has no other cue."""
    found: list[str] = []
    pieces = _spoken_pieces(text)
    for start, piece in enumerate(pieces):
        if not piece.startswith("L"):
            continue
        joined = ""
        for following in pieces[start : start + 12]:
            if not following:
                break
            joined += following
            if len(joined) >= 10:
                break
        if joined.startswith("LH") and len(joined) == 10:
            reference = parse_reference(joined)
            if reference and reference not in found:
                found.append(reference)
    return found


def find_references(text: str) -> list[str]:
    """Canonical ticket IDs in `text`, typed loosely or spoken; never another kind of 8-character code."""
    text = (text or "")[:MAX_TEXT]
    return _typed(text) or _spoken(text)
