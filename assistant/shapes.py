"""What an engine gets and what it decides: the frozen shapes the engines, the drafting and wording
helpers and assistant.services pass each other (below all of them: they import only this)."""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    ANSWER = "answer"  # answered from the help centre
    CLARIFY = "clarify"  # asked one clarifying question
    OFFER = "offer"  # offered a ticket (applied only by the gate)
    STATUS = "status"  # looked a ticket up
    SMALLTALK = "smalltalk"
    FALLBACK = "fallback"  # could not answer now (service trouble); the message is kept


# The engine name on a decision an engine made without its model (the model failed): see Outcome.FALLBACK.
FALLBACK_ENGINE = "local-fallback"


class Outcome(StrEnum):
    """What a turn did, as stored on the assistant's message (Message.kind)."""

    ANSWERED = "answered"
    CLARIFIED = "clarified"
    OFFERED = "offered"
    DECLINED = "declined"
    ASKED_AGAIN = "asked_again"
    CREATED = "created"
    HANDED_OFF = "handed_off"  # stored for staff, no assistant reply
    REOPENED = "reopened"  # handed off, and its resolved ticket reopened: the customer is told so
    STATUS = "status"
    SMALLTALK = "smalltalk"
    FALLBACK = "fallback"  # a reply made without the model; answered again once the model is back


@dataclass(frozen=True)
class Turn:
    author: str  # customer, assistant, staff, system
    text: str
    kind: str = ""  # for assistant turns: the Outcome it was


@dataclass(frozen=True)
class Request:
    text: str
    history: tuple[Turn, ...] = ()
    channel: str = "chat"
    customer_known: bool = True

    @property
    def last_assistant_kind(self) -> str:
        for turn in reversed(self.history):
            if turn.author == "assistant":
                return turn.kind
        return ""


@dataclass(frozen=True)
class TicketDraft:
    title: str
    description: str
    summary: str


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Decision:
    kind: Kind
    text: str
    links: tuple[Link, ...] = ()
    draft: TicketDraft | None = None
    reason: str = ""  # why an offer: refund, billing, access, bug, unresolved…
    engine: str = "local"


@dataclass(frozen=True)
class TicketView:
    reference: str
    title: str
    status: str  # the label: Submitted, In Progress, …
    created_at: str
    resolved_at: str = ""
    action_taken: str = ""
    latest_reply: str = ""  # the team's latest reply (trimmed), "" when nobody has replied yet
    latest_reply_at: str = ""
