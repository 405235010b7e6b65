"""The staff dashboard's figures: a daily rollup per channel (DailyStats), and what the page reads from it.

Durations are kept as histograms over log-spaced buckets, so a median over any window is a sum of
rows: exact to its bucket, whatever the number of tickets.
"""

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from tickets import status_counts
from tickets.models import (
    ANSWERED,
    OFFERED,
    Conversation,
    ConversationState,
    DailyStats,
    Status,
    Ticket,
    has_ticket,
    replied,
)

PERIODS = (7, 30, 90)
# The beat task recomputes this many recent days: a ticket answered later than that after it was
# created counts once `backfill_daily_stats` runs over its day.
REFRESH_DAYS = 7
# Upper edges in seconds: under a minute, then a factor of 2**0.75 per bucket up to ~64 days, then above.
BUCKET_EDGES: tuple[float, ...] = tuple(60 * 2 ** (k * 0.75) for k in range(23))
BUCKETS = len(BUCKET_EDGES) + 1
COUNTS = ("conversations", "answered", "offered", "accepted", "declined", "tickets_created", "resolved")


def bucket(duration: timedelta) -> int:
    return bisect.bisect_right(BUCKET_EDGES, duration.total_seconds())


def bucket_bounds(index: int) -> tuple[timedelta, timedelta | None]:
    """[low, high) of a bucket; high is None for the last one."""
    low = BUCKET_EDGES[index - 1] if index else 0.0
    high = BUCKET_EDGES[index] if index < len(BUCKET_EDGES) else None
    return timedelta(seconds=low), timedelta(seconds=high) if high is not None else None


@dataclass(frozen=True)
class Median:
    low: timedelta
    high: timedelta | None
    samples: int


def median(histogram: Sequence[int]) -> Median | None:
    """The bucket holding the median of the counted durations (the lower one of an even count)."""
    total = sum(histogram)
    if not total:
        return None
    rank, seen = (total + 1) // 2, 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            low, high = bucket_bounds(index)
            return Median(low, high, total)
    raise AssertionError("unreachable")


def _histogram(durations: Iterable[timedelta | None]) -> list[int]:
    counts = [0] * BUCKETS
    for duration in durations:
        if duration is not None:
            counts[bucket(duration)] += 1
    return counts


def _span(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _day_rows(day: date) -> list[DailyStats]:
    start, end = _span(day)
    rows: dict[str, DailyStats] = {}

    def row(channel: str) -> DailyStats:
        return rows.setdefault(channel, DailyStats(day=day, channel=channel))

    # The same outcomes as the conversation list's filters by what the assistant did.
    conversations = (
        Conversation.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(is_answered=replied(ANSWERED), is_offered=replied(OFFERED), has_ticket=has_ticket())
        .values("channel")
        .annotate(
            conversations=Count("pk"),
            answered=Count("pk", filter=Q(is_answered=True, is_offered=False, has_ticket=False)),
            offered=Count("pk", filter=Q(is_offered=True)),
            accepted=Count("pk", filter=Q(is_offered=True, has_ticket=True)),
            declined=Count(
                "pk", filter=Q(is_offered=True, has_ticket=False) & ~Q(state=ConversationState.TICKET_OFFERED)
            ),
        )
        .order_by()
    )
    for figures in conversations:
        stats = row(figures.pop("channel"))
        for name, value in figures.items():
            setattr(stats, name, value)

    created: dict[str, list[timedelta | None]] = {}
    for channel, first_response in Ticket.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
        "channel", "first_response_time"
    ):
        created.setdefault(channel, []).append(first_response)
    for channel, durations in created.items():
        row(channel).tickets_created = len(durations)
        row(channel).first_response_buckets = _histogram(durations)

    resolved: dict[str, list[timedelta | None]] = {}
    for channel, resolution in Ticket.objects.filter(
        status=Status.RESOLVED, resolved_at__gte=start, resolved_at__lt=end
    ).values_list("channel", "resolution_time"):
        resolved.setdefault(channel, []).append(resolution)
    for channel, durations in resolved.items():
        row(channel).resolved = len(durations)
        row(channel).resolution_buckets = _histogram(durations)
    return list(rows.values())


def refresh_days(days: Iterable[date]) -> int:
    """Recompute the rollup of each day from the tickets and conversations still stored. Idempotent:
    a day's rows are replaced whole. Returns the number of rows written."""
    written = 0
    for day in days:
        rows = _day_rows(day)
        with transaction.atomic():
            DailyStats.objects.filter(day=day).delete()
            DailyStats.objects.bulk_create(rows)
        written += len(rows)
    return written


def recent_days(count: int, today: date | None = None) -> list[date]:
    today = today or timezone.now().date()
    return [today - timedelta(days=n) for n in range(count)]


@dataclass
class ChannelFigures:
    channel: str
    conversations: int = 0
    answered: int = 0
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    tickets_created: int = 0
    resolved: int = 0
    first_response: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    resolution: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, stats: DailyStats) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(stats, name))
        for mine, theirs in (
            (self.first_response, stats.first_response_buckets),
            (self.resolution, stats.resolution_buckets),
        ):
            for index, count in enumerate(theirs[:BUCKETS]):
                mine[index] += count

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.conversations if self.conversations else None

    @property
    def first_response_median(self) -> Median | None:
        return median(self.first_response)

    @property
    def resolution_median(self) -> Median | None:
        return median(self.resolution)


@dataclass(frozen=True)
class Figures:
    period: int
    first_day: date
    last_day: date
    total: ChannelFigures
    channels: list[ChannelFigures]
    days: list[tuple[date, int]]  # conversations per day, oldest first
    statuses: list[tuple[Status, int]]


def figures(period: int, today: date | None = None) -> Figures:
    """The dashboard over the last `period` days (today included): two queries, whatever the data size."""
    days = recent_days(period, today)
    first, last = days[-1], days[0]
    total = ChannelFigures(channel="")
    channels: dict[str, ChannelFigures] = {}
    per_day = dict.fromkeys(reversed(days), 0)
    for stats in DailyStats.objects.filter(day__gte=first, day__lte=last).order_by("day", "channel"):
        channels.setdefault(stats.channel, ChannelFigures(channel=stats.channel)).add(stats)
        total.add(stats)
        per_day[stats.day] += stats.conversations
    counted = status_counts.current()  # kept as tickets change: no count over every ticket
    return Figures(
        period=period,
        first_day=first,
        last_day=last,
        total=total,
        channels=sorted(channels.values(), key=lambda c: c.channel),
        days=list(per_day.items()),
        statuses=[(status, counted.get(status, 0)) for status in Status],
    )
