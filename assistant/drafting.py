"""Ticket title, description and summary written from the conversation, by code.

The OpenAI engine may propose its own; they pass the same checks, and this draft is the fallback.
"""

import re

from assistant import language, references
from assistant.engines.base import TicketDraft, Turn

TITLE_MAX = 80
CATEGORY = {
    "refund": "Refund request",
    "billing": "Billing problem",
    "access": "Account access",
    "data_loss": "Lost data",
    "privacy": "Privacy request",
    "bug": "Problem",
    "persistent": "Problem",
}
_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|so|um+|uh+|ok|okay|well|yes|also|please|pls|help|urgent|hi there|good (?:morning|afternoon|"
    r"evening))[\s,!.:-]+)+",
    re.I,
)
_LEAD = re.compile(r"^(?:i think|i guess|i just|just|can you|could you|would you|can i|could i|i need you to)\s+", re.I)


def customer_texts(history: tuple[Turn, ...], text: str) -> list[str]:
    """What the customer said about the problem: small talk, yes/no and look-ups left out."""
    said = [t.text for t in history if t.author == "customer"] + [text]
    return [
        s.strip()
        for s in said
        if s.strip()
        and not language.smalltalk(s)
        and language.confirmation(s) == language.Answer.UNCLEAR
        and not references.find_references(s)
        and not language.didnt_help(s)
    ]


def _headline(text: str) -> str:
    first = re.split(r"(?<=[.!?])\s+|\n", text.strip())[0]
    first = _LEAD.sub("", _FILLER.sub("", first)).strip(" .!?,;:-")
    first = re.sub(r"\s+", " ", first)
    return first[:1].upper() + first[1:] if first else ""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def title_for(texts: list[str], reason: str) -> str:
    category = CATEGORY.get(reason, "")
    candidates = [t for t in texts if language.needs_person(t) == reason] or texts
    headline = next((h for h in (_headline(t) for t in candidates) if len(h) >= 8), "")
    if not headline:
        return category or "Support request"
    if category and category.lower() not in headline.lower():
        return _clip(f"{category}: {headline}", TITLE_MAX)
    return _clip(headline, TITLE_MAX)


def draft(history: tuple[Turn, ...], text: str, reason: str, channel: str) -> TicketDraft:
    texts = customer_texts(history, text) or [text.strip() or "(no details given)"]
    title = title_for(texts, reason)
    found = language.facts("\n".join(texts))
    details = "; ".join(f"{name}: {', '.join(values)}" for name, values in found.items())
    description = "In the customer's words:\n" + "\n".join(f"> {t}" for t in texts)
    if details:
        description += f"\n\nDetails given: {details}"
    noted = [value for values in found.values() for value in values]
    summary = f"You told us: \u201c{_clip(' '.join(texts[0].split()), 160)}\u201d." + (
        f" Details noted: {', '.join(noted)}." if noted else ""
    )
    return TicketDraft(title=title, description=description, summary=summary)
