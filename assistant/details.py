"""What a customer gave that a ticket must keep: amounts, dates, invoice and order numbers, devices, and
the codes they quoted. Every pattern is linear in its input (bounded runs)."""

import re

FACTS: dict[str, re.Pattern[str]] = {
    "amounts": re.compile(
        # Bounded digit runs: a long run of "1,1,1,..." costs a constant per position, not the rest of the text.
        r"(?:[$€£]\s?\d[\d,]{0,14}(?:\.\d{1,2})?|\b\d[\d,]{0,14}(?:\.\d{1,2})?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b)",
        re.I,
    ),
    "dates": re.compile(
        r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:jan|feb|mar|apr|may|jun|"
        r"jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+\d{4})?|yesterday|today|"
        r"last (?:week|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
        re.I,
    ),
    "references": re.compile(
        # Bounded runs: a long "invoice 111…1_" costs a constant per keyword, not the rest of the text.
        r"\b(?:inv|invoice|order|ord|receipt|txn|transaction)[\s#:\-]{0,5}[a-z0-9\-]{0,30}\d[a-z0-9\-]{0,30}\b",
        re.I,
    ),
    "devices": re.compile(
        r"\b(?:iphone(?: \d+)?|ipad|android|pixel(?: \d+)?|samsung(?: galaxy)?(?: s\d+)?|mac(?:book)?|windows(?: \d+)?|"
        r"linux|chrome|firefox|safari|edge|ios(?: \d+)?)\b",
        re.I,
    ),
}


def facts(text: str) -> dict[str, list[str]]:
    """Amounts, dates, invoice/order numbers and devices mentioned in `text`, in order, without repeats."""
    found: dict[str, list[str]] = {}
    for name, pattern in FACTS.items():
        values = list(dict.fromkeys(m.group(0).strip() for m in pattern.finditer(text or "")))
        if values:
            found[name] = values
    return found


# Order, invoice, membership and tracking numbers, promo codes and card endings, as the customer gave them.
_CODE = re.compile(
    r"\b[A-Z]{1,5}-[0-9][0-9A-Z-]{2,18}\b|\b[A-Z]{1,5}-[A-Z0-9]{0,20}[0-9][A-Z0-9]{0,20}\b"
    r"|\b(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{5,16}\b"
    r"|(?<=ending )[0-9]{4}\b|(?<=ending in )[0-9]{4}\b|\b[0-9]{6,16}\b"
)
_NOT_A_CODE = re.compile(r"^(?:\d+(?:st|nd|rd|th|am|pm|gb|mb|kg|km|mins?|hrs?|days?|mbps|ghz|k)|[a-z]+\d{1,2})$", re.I)


def codes(text: str) -> list[str]:
    """The codes a customer gave ("order 7QK2M9XD", "INV-3F2A9B7C", "card ending 4821"), in order, once each."""
    found = [m.group(0) for m in _CODE.finditer((text or "")[:4000])]
    return list(dict.fromkeys(c for c in found if not _NOT_A_CODE.match(c)))
