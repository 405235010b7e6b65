"""The one shape every channel turns its traffic into, and back."""

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


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    sender: str  # account email, E.164 number, or the chat user's email
    text: str
    external_id: str = ""  # Twilio MessageSid, email Message-ID: a redelivery is stored once
    thread: str = ""  # email thread, call sid


@dataclass(frozen=True)
class OutboundMessage:
    channel: str
    to: str
    text: str
    thread: str = ""
