"""Pieces the ticket and conversation lists share: a count that stays cheap, the channel filter, the transcript."""

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from tickets import channels
from tickets.models import Message, Ticket, TicketNote

COUNT_CAP = 10_000
SEARCH_COUNT_CAP = 1_000  # a search's matches are counted up to here ("1,000+")


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows, so a page never pays for a full-table COUNT(*)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        # No ORDER BY: counting must not walk the activity index.
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return len(rows)
        return rows.order_by()[: COUNT_CAP + 1].count()

    @property
    def shown_count(self) -> str:
        """The count as the list shows it: past the cap, "10,000+"."""
        return f"{self.cap:,}+" if self.count > self.cap else str(self.count)


class SearchPaginator(CappedCountPaginator):
    """A search's pages: its rows hold the newest matches only (tickets.search.search), so the count
    is given, made with them: at most SEARCH_COUNT_CAP + 1."""

    cap = SEARCH_COUNT_CAP

    def __init__(self, object_list: QuerySet, per_page: int, *args: Any, counted: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.counted = counted

    @cached_property
    def count(self) -> int:
        return self.counted


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return channels.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        return queryset.filter(channel=self.value()) if self.value() else queryset


def render_transcript(conversation_id: int, ticket_id: int | None = None) -> str:
    """A conversation's messages, oldest first, escaped: the ticket page and the conversation page show it.
    With `ticket_id`, the ticket's internal notes too, in time order and marked as such."""
    rows = Message.objects.filter(conversation_id=conversation_id).select_related("staff").order_by("id")
    lines = [
        (m.created_at, format_html(
            "<li><strong>{}</strong> <small>{}</small><div>{}</div></li>",
            m.staff.get_full_name() if m.staff else m.get_author_display(),
            m.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            m.text,
        ))
        for m in rows
    ]  # fmt: skip
    if ticket_id is not None:
        notes = TicketNote.objects.filter(ticket_id=ticket_id).select_related("author").order_by("id")
        lines += [
            (n.created_at, format_html(
                '<li class="loophole-note"><strong>Internal note</strong> · {} <small>{}</small><div>{}</div></li>',
                (n.author.get_full_name() or n.author.get_username()) if n.author else "a former staff member",
                n.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                n.text,
            ))
            for n in notes
        ]  # fmt: skip
        lines.sort(key=lambda line: line[0])  # stable: at equal times messages come before notes
    # data-after: the newest message shown, from which the page's live stream goes on
    return format_html(
        '<ol class="loophole-transcript" data-after="{}">{}</ol>',
        max((m.pk for m in rows), default=0),
        format_html_join("", "{}", ((html,) for _at, html in lines)),
    )
