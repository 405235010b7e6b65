"""Staff's read-only view of every conversation: what the assistant answered on its own, and what became a ticket."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from tickets import channels
from tickets.admin_lists import CappedCountPaginator, ChannelFilter, render_transcript
from tickets.models import (
    ANSWERED,
    DECLINED,
    OFFERED,
    Author,
    Conversation,
    ConversationState,
    Message,
    has_ticket,
    replied,
)

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices  # django-stubs only: the shape of one choice


class TicketScopeFilter(admin.SimpleListFilter):
    """Conversations without a ticket by default: a ticket's conversation is read on the ticket's page."""

    title = "ticket"
    parameter_name = "ticket"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("opened", "Became a ticket"), ("any", "All")]

    def choices(self, changelist: Any) -> Iterator["_ListFilterChoices"]:
        first, *rest = super().choices(changelist)
        yield {**first, "display": "No ticket"}
        yield from rest

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if self.value() == "opened":
            return queryset.filter(has_ticket())
        if self.value() == "any":
            return queryset
        return queryset.filter(~has_ticket())


class AssistantOutcomeFilter(admin.SimpleListFilter):
    """What the assistant did, from the kinds of its stored replies (msg_offer_outcome indexes the rare ones)."""

    title = "the assistant"
    parameter_name = "assistant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (ANSWERED, "Answered, no ticket offered"),
            (OFFERED, "Offered a ticket"),
            (DECLINED, "Offer declined"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if self.value() == ANSWERED:
            return queryset.filter(replied(ANSWERED), ~replied(OFFERED))
        if self.value() == OFFERED:
            return queryset.filter(replied(OFFERED))
        if self.value() == DECLINED:
            # Anything but a yes ends an offer (a plain no is also stored as a declined reply, a no with
            # a question is answered): offered, no offer pending, and no ticket.
            return queryset.filter(replied(OFFERED), ~has_ticket(), ~Q(state=ConversationState.TICKET_OFFERED))
        return queryset


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Every conversation, read-only: what the assistant answered on its own, and what became a ticket."""

    list_display = ("__str__", "channel_label", "who", "opening", "state", "ticket_link", "last_message_at")
    list_filter = (TicketScopeFilter, ChannelFilter, AssistantOutcomeFilter)
    list_select_related = ("customer", "ticket")
    list_per_page = 50
    ordering = ("-last_message_at", "-id")
    sortable_by = ("last_message_at",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = None
    fieldsets = (
        (None, {"fields": ("customer", "sender", "channel_label", "state", "ticket_link", "created_at")}),
        ("Conversation", {"fields": ("transcript",)}),
    )
    readonly_fields = ("customer", "sender", "channel_label", "state", "ticket_link", "created_at", "transcript")

    class Media:
        css = {"all": ("css/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        first = Message.objects.filter(conversation=OuterRef("pk"), author=Author.CUSTOMER).order_by("id")
        return (
            super()
            .get_queryset(request)
            .select_related("customer", "ticket")
            .annotate(opening_text=Substr(Subquery(first.values("text")[:1]), 1, 100))
        )

    @admin.display(description="channel")
    def channel_label(self, conversation: Conversation) -> str:
        return channels.label(conversation.channel)

    @admin.display(description="customer")
    def who(self, conversation: Conversation) -> str:
        if conversation.customer is not None:
            return conversation.customer.email
        return f"{conversation.sender or '—'} (no account)"

    @admin.display(description="first message")
    def opening(self, conversation: Conversation) -> str:
        return getattr(conversation, "opening_text", None) or "—"

    @admin.display(description="ticket")
    def ticket_link(self, conversation: Conversation) -> str:
        ticket = getattr(conversation, "ticket", None)
        if ticket is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:tickets_ticket_change", args=[ticket.pk]), ticket.reference
        )

    @admin.display(description="messages")
    def transcript(self, conversation: Conversation) -> str:
        return render_transcript(conversation.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # conversations come from the channels

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False  # the retention purge deletes them with their ticket
