"""Channel slugs and their labels, registered by channels_io at start-up.

tickets stores a channel as a slug and does not know the channels themselves: the registry in
channels_io calls `register` for each one, so the admin can name and filter them.
"""

_LABELS: dict[str, str] = {}


def register(slug: str, label: str) -> None:
    _LABELS[slug] = label


def label(slug: str) -> str:
    return _LABELS.get(slug, slug)


def choices() -> list[tuple[str, str]]:
    return sorted(_LABELS.items(), key=lambda item: item[1])
