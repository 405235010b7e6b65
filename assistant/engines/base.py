"""What an engine gets and what it decides. Engines decide; assistant.services applies, behind the gate."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from assistant.passages import Hit


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


class Tools(Protocol):
    """Look-ups an engine may make, already scoped to the customer in the conversation."""

    def search_help(self, query: str, limit: int = 5) -> list[Hit]: ...
    def my_tickets(self) -> list[TicketView] | None: ...  # None: the sender is not tied to an account
    # None: my_tickets() is the whole list. Else the sender is known by caller ID alone: my_tickets() and
    # ticket() give only the tickets named by ID in this conversation, and this many open ones are left out.
    def withheld_tickets(self) -> int | None: ...
    def ticket(self, reference: str) -> TicketView | None: ...
    def article_url(self, slug: str) -> str: ...


class Engine(Protocol):
    name: str
    # True when the engine decides in milliseconds on this machine (no network call): a channel may then
    # answer in the request that stored the message instead of queueing the answer for the worker.
    answers_inline: bool

    def decide(self, request: Request, tools: Tools) -> Decision: ...


@dataclass
class EngineTrace:
    """What an engine did, for tests and logs (counts only, never text)."""

    tool_calls: list[str] = field(default_factory=list)
