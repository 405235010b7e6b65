"""What an engine gets and what it decides. Engines decide; assistant.services applies, behind the gate.

The shapes themselves live in assistant.shapes (which the drafting and wording helpers import too);
they are named here as well, for the engines."""

from dataclasses import dataclass, field
from typing import Protocol

from assistant.passages import Hit
from assistant.shapes import FALLBACK_ENGINE, Decision, Kind, Link, Outcome, Request, TicketDraft, TicketView, Turn

__all__ = [
    "FALLBACK_ENGINE",
    "Decision",
    "Engine",
    "EngineTrace",
    "Kind",
    "Link",
    "Outcome",
    "Request",
    "TicketDraft",
    "TicketView",
    "Tools",
    "Turn",
]


class Tools(Protocol):
    """Look-ups an engine may make, already scoped to the customer in the conversation."""

    def search_help(self, query: str, limit: int = 5) -> list[Hit]: ...
    def my_tickets(self) -> list[TicketView] | None: ...  # None: the sender is not tied to an account
    # None: my_tickets() is the whole list. Else the sender is known by caller ID alone: my_tickets() and
    # ticket() give only the tickets named by ID in this conversation, and this many open ones are left out.
    def withheld_tickets(self) -> int | None: ...
    def ticket(self, reference: str) -> TicketView | None: ...
    def article_url(self, slug: str) -> str: ...
    def product_nouns(self) -> frozenset[str]: ...  # support words the help centre uses for its products


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
