"""Ticket IDs in customers' words, and only where they are ticket IDs.

Our IDs are eight characters like an order, invoice, card, tracking or promo code, so an ID without
the LH prefix counts only when the message says it is a ticket's ("ticket 7K3M-QX9P", "7K3MQX9P is
my case number") or is nothing but the ID; one of letters alone only in capitals, as we write it
("answered my ticket" is a word). With the prefix ("LH-7K3M-QX9P", "lh 7k3m qx9p",
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
# Runs of letters and digits; an ID is one run of 8 (or "LH" and 8), or two runs of 4 split by a dash,
# a space or a dot.
_RUN = re.compile(r"[a-z0-9]+", re.I)
_JOIN = re.compile(r"[\s\-_.#:]{0,3}")
_SPOKEN_DASH = re.compile(r"\b(?:dash|hyphen)\b", re.I)
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
ONLY_ID_WORDS = (
    NEUTRAL_WORDS
    | TICKET_WORDS
    | frozenset(
        """status update updates news check what whats what's about any how hows here please pls thanks thank you
    hi hello hey can could i get see look up lookup find where at and subject re fwd fw""".split()
    )
)
# Words that are never half of an ID, though they have four letters of its alphabet ("case 7K3M QX9P").
_NOT_A_HALF = TICKET_WORDS | OTHER_WORDS | ONLY_ID_WORDS


def _cue(words_near: list[str]) -> str:
    """ "ticket", "other" or "" for the words beside a code, nearest first, looking past neutral words."""
    for word in words_near[:4]:
        if word in TICKET_WORDS:
            return "ticket"
        if word in OTHER_WORDS:
            return "other"
        if word not in NEUTRAL_WORDS:
            return ""
    return ""


def _candidates(text: str) -> list[tuple[int, int, bool, str]]:
    """(start, end, has the LH prefix, the 8 characters) of every run or pair of runs shaped like an ID."""
    runs = list(_RUN.finditer(text))
    found = []
    i = 0
    while i < len(runs):
        run = runs[i].group(0).lower()
        prefixed = run == "lh"
        first = i + 1 if prefixed else i
        if prefixed and first < len(runs) and not _JOIN.fullmatch(text[runs[i].end() : runs[first].start()]):
            prefixed, first = False, i
        if not prefixed and len(run) == 10 and run.startswith("lh"):
            found.append((runs[i].start(), runs[i].end(), True, run[2:]))
            i += 1
            continue
        if first < len(runs):
            head = runs[first].group(0).lower()
            if len(head) == 8:
                found.append((runs[i].start(), runs[first].end(), prefixed, head))
                i = first + 1
                continue
            following = first + 1
            if (
                len(head) == 4
                and following < len(runs)
                and len(runs[following].group(0)) == 4
                and _JOIN.fullmatch(text[runs[first].end() : runs[following].start()])
                and head not in _NOT_A_HALF
                and runs[following].group(0).lower() not in _NOT_A_HALF
            ):
                found.append(
                    (runs[i].start(), runs[following].end(), prefixed, head + runs[following].group(0).lower())
                )
                i = following + 1
                continue
        i += 1
    return found


def _typed(text: str) -> list[str]:
    found: list[str] = []
    text = _SPOKEN_DASH.sub("-", text)
    for start, end, prefixed, code in _candidates(text)[:20]:  # bounded work whatever the message holds
        reference = parse_reference(code)
        if reference is None or reference in found:
            continue
        before = [w.lower() for w in _WORD.findall(text[max(0, start - 60) : start])][::-1]
        after = [w.lower() for w in _WORD.findall(text[end : end + 60])]
        if prefixed:
            if _cue(before) != "other":
                found.append(reference)
            continue
        if code.isalpha() and not text[start:end].isupper():
            continue  # a word ("has anyone answered my ticket"): IDs are written in capitals
        cue = _cue(before) or _cue(after)
        if cue == "ticket":
            found.append(reference)
            continue
        if code.isalpha() or code.isdigit():
            continue  # a word or a number: only beside "ticket" or "case"
        rest = [w.lower() for w in _WORD.findall(text[:start] + " " + text[end:])]
        if cue == "" and all(w in ONLY_ID_WORDS for w in rest):
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
