"""Ticket title, description and summary written from the conversation, by code.

They are drafted from the messages about the problem that led to the offer: not an earlier topic
the assistant already answered, not the request for a person, not a yes, a no or a ticket look-up.
The facts the customer gave (amounts, dates, order and invoice numbers, devices) are kept, and the
title is the first sentence that names the problem, with the first number the customer gave for it.
The OpenAI engine may propose its own draft; it passes the same checks, and this draft is the fallback.
"""

import re

from assistant import details, language, references, vocabulary
from assistant.shapes import Outcome, TicketDraft, Turn
from assistant.vocabulary import terms

TITLE_MAX = 80
CATEGORY = {
    "refund": "Refund request",
    "billing": "Billing problem",
    "disputed": "Disputed payment",
    "overdue": "Money or credit not received",
    "no_reply": "No reply from us",
    "access": "Account access",
    "data_loss": "Lost data",
    "privacy": "Privacy request",
}
_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|dear sir(?:/madam)?|dear team|so|um+|uh+|ok|okay|well|yes|also|please|pls|help|urgent|"
    r"hi there|good (?:morning|afternoon|evening))[\s,!.:-]+)+",
    re.I,
)
_LEAD = re.compile(
    r"^(?:i think|i guess|i just|just|can you|could you|would you|can i|could i|i need you to|i am writing regarding|"
    r"i'm writing about|i am writing about)\s+",
    re.I,
)
# "Can I talk to an actual human please," before the problem itself.
_PERSON_FIRST = re.compile(
    r"^(?:(?:can|could|may) i\s+)?(?:please\s+)?(?:talk|speak|chat)\s+to\s+(?:a|an|the|some)?\s*(?:actual|real)?\s*"
    r"(?:human|person|agent|someone|somebody|manager|supervisor)(?:\s+please)?[\s,;:.!-]+",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")
# Turns after which what the customer said before is settled: a new problem starts there.
_SETTLED = frozenset({Outcome.CREATED, Outcome.DECLINED})
# Replies that answered the message before them (unless the customer then says it did not help).
_ANSWERED = frozenset({Outcome.ANSWERED, Outcome.STATUS, Outcome.SMALLTALK})


def _about_the_problem(text: str) -> bool:
    """Whether a customer message says something about a problem (not small talk, yes/no, a look-up,
    "that didn't help" or a bare request for a person)."""
    stripped = text.strip()
    if not stripped or language.smalltalk(stripped) or language.didnt_help(stripped):
        return False
    if language.confirmation(stripped) != language.Answer.UNCLEAR or references.find_references(stripped):
        return False
    rest = _PERSON_FIRST.sub("", stripped)
    return not (language.needs_person(stripped) == "human" and len(rest.split()) < 4 and rest == stripped) and bool(
        re.search(r"[a-z]{3}", rest, re.I)
    )


def _follows_up(earlier: str, later: str) -> bool:
    """Whether `later` goes on about `earlier` (it did not help, or it is about the same thing)."""
    return language.didnt_help(later) or bool(set(terms(earlier)) & set(terms(later)))


def problem_texts(history: tuple[Turn, ...], text: str) -> list[str]:
    """The customer's messages about the problem the offer is for, oldest first."""
    turns = [*history, Turn("customer", text)]
    start = max((i + 1 for i, t in enumerate(turns) if t.author == "assistant" and t.kind in _SETTLED), default=0)
    turns = turns[start:]
    chosen: list[str] = []
    for i, turn in enumerate(turns):
        if turn.author != "customer" or not _about_the_problem(turn.text):
            continue
        reply = next((t for t in turns[i + 1 :] if t.author == "assistant"), None)
        following = next((t for t in turns[i + 1 :] if t.author == "customer"), None)
        answered = reply is not None and reply.kind in _ANSWERED
        if answered and not (following is not None and _follows_up(turn.text, following.text)):
            continue  # a question answered in full: an earlier topic, not this problem
        chosen.append(turn.text.strip())
    return chosen


def _sentences(text: str) -> list[str]:
    return [s for s in (_PERSON_FIRST.sub("", part.strip()) for part in _SENTENCE.split(text.strip())) if s]


def _headline(sentence: str) -> str:
    first = _LEAD.sub("", _FILLER.sub("", sentence)).strip(" .!?,;:-")
    first = re.sub(r"\s+", " ", first)
    return first[:1].upper() + first[1:] if first else ""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "\u2026"


def _says_something(sentence: str) -> bool:
    """Whether a sentence names the problem, rather than greeting, asking for a person or saying only that
    there is a problem ("I have a question")."""
    if language.smalltalk(sentence) or vocabulary.is_vague(sentence):
        return False
    # "Honestly, just get me a real person": a short request for a person names no problem.
    return not (language.needs_person(sentence) == "human" and len(sentence.split()) <= 8)


def title_for(texts: list[str], reason: str) -> str:
    """The problem in one line: the first sentence that names it (customers put the problem first and the
    details and demands after), with the first code the customer gave when the line lacks one, and the
    kind of problem when there is room."""
    sentences = [s for t in texts for s in _sentences(t) if len(_headline(s)) >= 8]
    if not sentences:
        return CATEGORY.get(reason, "Support request")
    best = next((s for s in sentences if _says_something(s)), sentences[0])
    headline = _headline(best)
    title = _clip(headline, TITLE_MAX)
    code = next((c for t in texts for c in details.codes(t) if c.lower() not in title.lower()), "")
    if code:
        title = _clip(headline, TITLE_MAX - len(code) - 3) + f" ({code})"
    category = CATEGORY.get(reason, "")
    if category and category.lower() not in title.lower() and len(category) + 2 + len(title) <= TITLE_MAX:
        title = f"{category}: {title}"
    return title


def draft(
    history: tuple[Turn, ...],
    text: str,
    reason: str,
    channel: str,
) -> TicketDraft:
    texts = problem_texts(history, text) or [text.strip() or "(no details given)"]
    title = title_for(texts, reason)
    found = details.facts("\n".join(texts))
    codes = [c for t in texts for c in details.codes(t)]
    known = found.get("references", [])
    codes = [c for c in codes if not any(c in reference for reference in known)]
    if codes:
        found["references"] = list(dict.fromkeys([*known, *codes]))
    given = "; ".join(f"{name}: {', '.join(values)}" for name, values in found.items())
    description = "In the customer's words:\n" + "\n".join(f"> {t}" for t in texts)
    if given:
        description += f"\n\nDetails given: {given}"
    noted = list(dict.fromkeys(value for values in found.values() for value in values))
    summary = f"You told us: \u201c{_clip(' '.join(' '.join(texts).split()), 160)}\u201d." + (
        f" Details noted: {', '.join(noted)}." if noted else ""
    )
    return TicketDraft(title=title, description=description, summary=summary)
