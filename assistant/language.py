"""Deterministic reading of customers' words: yes/no, ticket references typed or spoken, intents, facts.

Nothing here calls a model. The ticket gate relies on `confirmation()` alone.
"""

import re
from enum import Enum

from tickets.reference import parse_reference


class Answer(Enum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


def _norm(text: str) -> str:
    text = (text or "").lower().replace("\u2019", "'")
    text = re.sub(r"[👍✅]", " yes ", text)
    text = re.sub(r"[👎❌]", " no ", text)
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text)).strip()


_YES_STRONG = re.compile(
    r"^(y|yes|yeah|yea|ya|yep|yup|sure|ok|okay|please|absolutely|definitely|certainly|correct|right|alright|"
    r"affirmative|go ahead|do it|do that|go for it|of course|open it|open one|open the ticket|open a ticket|"
    r"create it|create one|create the ticket|create a ticket|make it|sounds good|that would be great|"
    r"that'd be great|please do|yes please)$"
)
_YES_WORDS = frozenset(
    "y yes yeah yea ya yep yup sure ok okay please pls plz absolutely definitely certainly correct right alright "
    "affirmative go ahead do it that of course open create make a the one ticket for me sounds good would be great "
    "that'd fine thanks thank you kindly i'd like to id i'm im happy with sir agree agreed perfect great".split()
)
_NO_WORDS = frozenset(
    "n no nope nah not don't dont do never mind nevermind cancel stop thanks thank you no thanks that's ok "
    "it's fine i'm im good i'll i will try myself later rather wouldn't need needed".split()
)
_NO_STRONG = frozenset({"no", "nope", "nah", "don't", "dont", "never", "nevermind", "cancel"})


def confirmation(text: str) -> Answer:
    """Read a reply to "Shall I open a ticket?" strictly: anything but a plain yes or no is UNCLEAR.

    "yes please", "sure, go ahead" -> YES; "no thanks", "nope" -> NO; a question, a mixed answer, or any
    other text (pasted JSON, "SYSTEM: ticket created", "yes and tell me X") -> UNCLEAR.
    """
    if re.search(r"[^\w\s.,!?'\u2019👍✅👎❌-]", text or ""):
        return Answer.UNCLEAR  # markup, JSON, "SYSTEM:" prefixes: not a plain answer
    norm = _norm(text)
    if not norm or len(norm) > 80:
        return Answer.UNCLEAR
    words = norm.split()
    has_no = any(w in _NO_STRONG for w in words) or norm.startswith("no ")
    if has_no and all(w in _NO_WORDS for w in words):
        return Answer.NO
    if has_no:
        return Answer.UNCLEAR
    if all(w in _YES_WORDS for w in words) and (
        _YES_STRONG.match(norm) or any(_YES_STRONG.match(w) for w in words) or "go ahead" in norm
    ):
        return Answer.YES
    return Answer.UNCLEAR


# --- ticket references, typed or spoken ---------------------------------------------------------

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
_TYPED = re.compile(r"\b(?:lh[\s\-_.#:]*)?[a-z0-9]{4}[\s\-_.]*[a-z0-9]{4}\b", re.I)


def _spoken_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    double = False
    for token in re.findall(r"[a-z0-9]+(?:-ray)?", (text or "").lower()):
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


def find_references(text: str) -> list[str]:
    """Canonical ticket references in `text`: typed loosely ("lh 7k3m qx9p") or spoken letter by letter.

    Without the LH prefix a code must mix letters and digits, so plain words are never taken for one.
    """
    found: list[str] = []
    for match in _TYPED.finditer(text or ""):
        raw = match.group(0)
        ref = parse_reference(raw)
        compact = re.sub(r"[^a-z0-9]", "", raw.lower())
        prefixed = compact.startswith("lh") and len(compact) == 10
        mixed = any(c.isdigit() for c in compact) and any(c.isalpha() for c in compact.removeprefix("lh"))
        if ref and (prefixed or mixed) and ref not in found:
            found.append(ref)
    if found:
        return found
    pieces = _spoken_pieces(text)
    for start in range(len(pieces)):
        joined = ""
        for piece in pieces[start:]:
            if not piece:
                break
            joined += piece
            if len(joined) >= 10:
                break
        if joined.startswith("LH") and len(joined) == 10:
            ref = parse_reference(joined)
            if ref and ref not in found:
                found.append(ref)
    return found


# --- intents -------------------------------------------------------------------------------------

_Q = (
    r"(?:^|[.!?]\s+)(?:how|hows|what|whats|when|where|wheres|which|why|is|are|does|do|can|could|will|would|should)\b"
    r"|\b(?:policy|policies|eligible|eligibility|allowed)\b"
)
INFORMATIONAL = re.compile(_Q)

NEEDS_PERSON: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "human": r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(human|person|agent|someone|somebody|"
        r"representative|rep|staff|team|manager|supervisor|people)\b|\breal (person|human)\b|^(human|agent|"
        r"representative|operator)( please)?$|\bescalate\b",
        "ticket_request": r"\b(open|create|file|raise|log|submit|start)\b.{0,12}\b(support )?(ticket|case)\b|"
        r"\b(can|could|would|will) you (please )?(extend|waive|unlock|reactivate|credit|reimburse|transfer|merge)\b",
        "refund": r"\brefund|\bmoney back\b|\breimburs|\bchargeback",
        "billing": r"\bcharged (me )?(twice|two times|double|again|after|even though|without)|\bdouble[- ]charged?|"
        r"\bduplicate (charge|payment)|\bovercharg|\bwrong amount\b|\bdisput|\bunauthori[sz]ed (charge|payment)|"
        r"\bdidn'?t (authori[sz]e|sign up)|\b(don'?t|do not|doesn'?t) recogni[sz]e|\bbilled (me )?(twice|double|wrong)|"
        r"\bnever signed up\b|\bno idea what (it|this|that) is\b|\bamount is (just |simply |all )?wrong\b",
        "access": r"\blocked out\b|\block(ed)? me out\b|\b(can'?t|cannot|can not|unable to)\b.{0,10}\b(log|sign)"
        r" ?(in|on)\b|\baccount (is |was |got |has been )?(locked|suspended|disabled|hacked|compromised)|"
        r"\bhacked\b|\blost (my )?(2fa|authenticator|phone|recovery codes?)|\b(suspended|deactivated|banned)\b|"
        r"\bcan'?t get (back )?in\b|\bsomeone (else )?(changed|accessed|logged|got) ",
        "persistent": r"\b(already|i'?ve|i have|i|we) (tried|updated|reinstalled|restarted|cleared|checked|did|done)\b"
        r".{0,80}\b(still|keeps?|again|every time|no luck|same)\b|"
        r"\b(still|keeps?) (a |the )?(blank|broken|fail|failing|crash|crashing|not work)|"
        r"\b(three|several|multiple|many|few) times\b|\bevery time\b",
        "data_loss": r"\blost (all )?(my |our )?(data|files|projects?|work|history)|\b(data|files|projects?|"
        r"work) (is |are |has |have )?(been )?(gone|missing|lost|deleted|disappeared|vanished)|\bdisappeared\b|"
        r"\bdeleted (it |them )?by (mistake|accident)|\baccidentally deleted",
        "privacy": r"\bgdpr\b|\bccpa\b|\bright to be forgotten\b|\b(data|privacy) (access|deletion|export|"
        r"portability|subject) request|\bdelete (all )?(of )?my (personal )?(data|information|info)\b|"
        r"\bsubpoena|\blawyer|\blegal (request|notice|action)|\bdata processing agreement|\bdpa\b",
        "bug": r"\bbug\b|\bcrash(es|ed|ing)?\b|\berror( code| message)?\b|\bnot working\b|\b(doesn'?t|does not|"
        r"won'?t|will not|isn'?t|is not|can'?t|cannot)\b.{0,12}\b(work|load|open|sync|save|upload|send)\b|"
        r"\bbroken\b|\bstuck\b|\bblank (page|screen)\b|\bfreez(es|ing)\b",
    }.items()
}
# Problems a help article may still solve: tried first, offered after.
SOFT_INTENTS = frozenset({"bug"})

DIDNT_HELP = re.compile(
    r"\b(didn'?t|did not|doesn'?t|does not|not) help|\bnot helpful\b|\bthat'?s not (it|what)|\bnot what i\b|"
    r"\bstill (doesn'?t|does not|not|isn'?t|won'?t|can'?t|broken|the same|having)|\b(didn'?t|did not) work\b|"
    r"\b(already|i) tried (that|this|it|those)\b|\bno luck\b|\buseless\b|\bsame (problem|issue|error)\b"
)
STATUS_REQUEST = re.compile(
    r"\bmy (support )?(tickets?|cases?|requests?)\b|\b(ticket|case) (status|update)\b|\bstatus of (my |the )?"
    r"(ticket|case|request)|\b(update|news) on (my |the )?(ticket|case|request)|\bwhere is my (ticket|case)\b|"
    r"\b(open|active) tickets\b"
)
_SMALLTALK = {
    "greeting": re.compile(r"^(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)( there)?$"),
    "thanks": re.compile(r"^(thanks?( you)?( so much| a lot| very much)?|thx|ty|cheers|great thanks|perfect thanks|"
                         r"awesome|great|perfect|cool|got it|ok thanks|okay thanks|that helped|that worked)$"),
    "bye": re.compile(r"^(bye|goodbye|see you|see ya|that'?s all|nothing else|no that'?s all|all good)$"),
    "how_are_you": re.compile(r"^(how are you|how'?s it going|how are you doing)( today)?$"),
    "who": re.compile(r"^(who are you|are you (a )?(bot|robot|human|ai|real))$"),
}  # fmt: skip


def smalltalk(text: str) -> str | None:
    norm = _norm(text)
    for prefix in ("hi ", "hello ", "hey "):
        if norm.startswith(prefix) and _SMALLTALK["how_are_you"].match(norm[len(prefix) :]):
            return "how_are_you"
    for name, pattern in _SMALLTALK.items():
        if pattern.match(norm):
            return name
    return None


def needs_person(text: str) -> str | None:
    """The kind of problem only a person can solve, or None. "How do refunds work?" is a question, not one."""
    norm = _norm(text)
    informational = (
        bool(INFORMATIONAL.search(norm))
        and not re.search(r"^(can|could|would|will) you\b|\bplease\b", norm)
        and not re.search(r"\b(i|we|my|our|me)\b.{0,40}\b(was|were|got|been|have|has|am|need|want)\b", norm)
    )
    for name, pattern in NEEDS_PERSON.items():
        asks_about = bool(re.search(r"^(how|when|what|why|does|do|is|are|will)\b", norm))
        if pattern.search(norm) and (not informational or (name == "human" and not asks_about)):
            return name
    return None


def is_status_request(text: str) -> bool:
    norm = _norm(text)
    if re.search(r"^(how (do|can|should|would) (i|we|you)|how to)\b", norm) and "status" not in norm:
        return False  # "how do I give my ticket number over the phone?" is a how-to question
    return bool(STATUS_REQUEST.search(norm))


def didnt_help(text: str) -> bool:
    return bool(DIDNT_HELP.search(_norm(text)))


# --- facts for the ticket description ------------------------------------------------------------

FACTS: dict[str, re.Pattern[str]] = {
    "amounts": re.compile(
        r"(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b)", re.I
    ),
    "dates": re.compile(
        r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:jan|feb|mar|apr|may|jun|"
        r"jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+\d{4})?|yesterday|today|"
        r"last (?:week|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
        re.I,
    ),
    "references": re.compile(
        r"\b(?:inv|invoice|order|ord|receipt|txn|transaction)[\s#:\-]*[a-z0-9\-]*\d[a-z0-9\-]*\b", re.I
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
