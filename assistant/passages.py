"""Articles cut into answerable passages, a search hit with its passage, which passages answer a
question, and what a passage says: that a person handles the matter, or that the customer can do it
themselves."""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    article_id: int
    slug: str
    title: str
    score: float  # confidence 0..1: how much of the question the article covers, and how clearly it wins
    passage: str  # the part of the article that answers best (with close runners-up), plain text
    best_passage: str = ""  # the one passage that answers best, for a channel that must be brief (voice)
    meaning: float = 0.0  # closeness in meaning to the question (a cosine), 0 without the embedding model

    @property
    def answering(self) -> str:
        """The passage that answers (the whole quote for a hit made without one)."""
        return self.best_passage or self.passage


_MARKDOWN_NOISE = re.compile(r"(^#+\s*|\*\*|__|`|^\s*[-*+]\s+|^\s*\d+[.)]\s+|\[([^\]]*)\]\([^)]*\))", re.M)


def plain_text(markdown: str) -> str:
    return _MARKDOWN_NOISE.sub(lambda m: m.group(2) or "", markdown or "")


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


def split_passages(body: str) -> list[tuple[str, str]]:
    """Split an article into answerable passages, each (its section heading, its text): paragraphs, a
    list kept with its lead-in. A heading is not a passage of its own: it labels those under it."""
    passages: list[tuple[str, str]] = []
    heading = ""
    for block in (b for b in re.split(r"\n\s*\n", body or "") if b.strip()):
        lines = block.strip().splitlines()
        while lines and _HEADING.match(lines[0]):
            heading = plain_text(_HEADING.sub("", lines.pop(0))).strip()
        text = " ".join(line.strip() for line in plain_text("\n".join(lines)).splitlines() if line.strip())
        if not text:
            continue
        is_list = bool(re.match(r"^\s*([-*+]|\d+[.)])\s+", "\n".join(lines)))
        if passages and passages[-1][0] == heading and (is_list or passages[-1][1].endswith(":")):
            passages[-1] = (heading, f"{passages[-1][1]} {text}")
        else:
            passages.append((heading, text))
    return passages or [("", plain_text(body).strip())]


def labelled(heading: str, text: str) -> str:
    """A passage as it is quoted: after its section heading ("Plus - £34.99 a month: Access to every club
    ..."), which often says what the passage is about; no heading when the passage begins with it."""
    heading = heading.strip()
    if not heading or text.lower().startswith(heading.lower()):
        return text
    return f"{heading}{' ' if heading[-1] in '.?!:' else ': '}{text}"


# How a help centre says that a person, not the customer, deals with something.
_STAFF_HANDLE = re.compile(
    r"\b(contact|call|message|email|chat with|get in touch with|speak to|talk to|reach|tell|let) "
    r"(us|our|the|a member of)\b"
    r"|\bour (\w+ )?(team|support|specialists?|agents?|staff|advisers?|advisors?) "
    r"(will|can|must|need|needs|has|have|should|is|are)\b"
    r"|\bonly (our|the|a member of) \w*\s?(team|staff|support)\b"
    r"|\bwe('ll| will| can| must) (investigate|look into|review|arrange|refund|replace|check|contact|get back|"
    r"raise|correct|fix|reissue|credit|cancel|block|send you a new)\b"
    r"|\b(raise|open|report) (a |it |this )?(case|claim|dispute|complaint|ticket)\b"
)


def says_staff_handle(passage: str) -> bool:
    """Whether a passage says that the company's people handle the matter (so a report of it is offered)."""
    return bool(_STAFF_HANDLE.search(passage[:5000].lower()))


# How a help centre tells customers to do something themselves.
_SELF_SERVICE = re.compile(
    r"\b(go to|open|tap|click|select|choose|head to|visit|log in to|sign in to|you can|you'll need to|you need to|"
    r"simply|follow the|use the|enter|turn on|turn off|switch)\b|\w >\s?\w"
)


def says_self_service(passage: str) -> bool:
    """Whether a passage tells the customer how to do something themselves."""
    return bool(_SELF_SERVICE.search(passage[:5000].lower()))


def help_context(hits: list[Hit]) -> frozenset[str]:
    """What the help centre's best answer says about a message, as features for the intent classifier:
    whether it exists and how well it matches, whether it sends the matter to staff or lets the customer
    do it themselves."""
    if not hits:
        return frozenset({"r:none"})
    best = hits[0]
    passage = best.answering
    found = {f"r:conf{min(int(best.score * 5), 4)}"}
    if says_staff_handle(passage):
        found.add("r:staff")
    if says_self_service(passage):
        found.add("r:self")
    return frozenset(found)


# A question after a number or a time: the passage that has one answers it better.
_ASKS_QUANTITY = re.compile(
    r"\b(how (much|many|long|soon|often|far|old|late|early)|what time|when|cost|price|fee|limit)"
)
_HAS_QUANTITY = re.compile(r"\d|\b(one|two|three|four|five|six|seven|ten|twelve|hours?|days?|weeks?|months?)\b")
PASSAGE_BUDGET = 800  # characters of the best passage and the runners-up quoted beside it
RUNNER_UP = 0.3  # a passage scoring this share of the best one is quoted beside it, within the budget


def choose_passages(
    passages: list[str], unit_scores: list[float], query: str, headings: list[str] | None = None
) -> tuple[str, str]:
    """The passage that holds what was asked (a number for a how-much question), with the paragraphs
    before it in its section (which it often leans on: "Bring my number ..." then "Your old contract
    ends when your number moves") and the runner-up beside it when that is nearly as good, each section
    quoted after its heading (`headings`, one per passage, "" for none). Returns the quote and the one
    passage that answers."""
    headings = headings or [""] * len(passages)
    quantity = bool(_ASKS_QUANTITY.search(query.lower()))
    top = max(unit_scores, default=0.0)
    scores = [
        s + (0.15 * top if quantity and _HAS_QUANTITY.search(passages[i]) else 0.0) for i, s in enumerate(unit_scores)
    ]
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    if not ranked:
        return "", ""
    best = ranked[0]
    chosen = [best]
    size = len(passages[best])
    i = best
    while i > 0 and headings[i] and headings[i - 1] == headings[i] and size + len(passages[i - 1]) <= PASSAGE_BUDGET:
        i -= 1
        chosen.append(i)
        size += len(passages[i])
    for i in ranked[1:]:
        if scores[i] < RUNNER_UP * scores[best] or scores[i] <= 0:
            break
        if i in chosen or size + len(passages[i]) > PASSAGE_BUDGET:
            continue
        chosen.append(i)
        size += len(passages[i])
    quoted, previous = [], None
    for i in sorted(chosen):
        quoted.append(passages[i] if headings[i] == previous else labelled(headings[i], passages[i]))
        previous = headings[i]
    return "\n\n".join(quoted), labelled(headings[best], passages[best])
