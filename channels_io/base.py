"""What the registry knows of each channel."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    """A way customers reach us: `slug` is what conversations and tickets store."""

    slug: str
    label: str
    # Whether the assistant stops answering once a ticket exists (promise 5: live chat only).
    hands_off_after_ticket: bool = False
    # Dotted path of `send(message: tickets.models.Message) -> None`, which delivers an assistant or
    # staff message to the customer (raises OSError to be retried). None: the customer reads it
    # from the conversation itself (the chat widget, pushed live).
    sender: str | None = None
