"""Channel slug -> Channel. Adding a channel is one line here (and its package)."""

from channels_io.base import Channel
from tickets import channels as ticket_channels

CHANNELS: dict[str, Channel] = {
    c.slug: c
    for c in (
        Channel("chat", "Live chat", hands_off_after_ticket=True),
        Channel("sms", "SMS", sender="channels_io.sms.adapter.send"),
        Channel("voice", "Phone", sender="channels_io.voice.adapter.send"),
        Channel("email", "Email", sender="channels_io.email.adapter.send"),
    )
}


def get(slug: str) -> Channel:
    """The channel with this slug. Raises KeyError for an unknown one."""
    return CHANNELS[slug]


def register_all() -> None:
    for channel in CHANNELS.values():
        ticket_channels.register(channel.slug, channel.label)
