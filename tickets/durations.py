"""Durations as staff read them in the admin."""

from datetime import timedelta


def human(duration: timedelta | None) -> str:
    """`3 d 4 h`, `2 h 5 min`, `12 min`, `under 1 min`; an em dash when there is none yet."""
    if duration is None:
        return "—"
    minutes = int(duration.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under 1 min"
