"""Staff's view of tickets. Writes go through tickets.services; the list stays fast at a million rows."""

from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from tickets import channels, durations, saved_replies_admin, search, services
from tickets.forms import TicketAdminForm
from tickets.models import (
    ANSWERED,
    DECLINED,
    OFFERED,
    Author,
    Conversation,
    ConversationState,
    InvalidTransition,
    Message,
    Status,
    Ticket,
    TicketEvent,
    TicketNote,
    has_ticket,
    replied,
)

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows, so a page never pays for a full-table COUNT(*)."""

    @cached_property
    def count(self) -> int:
        # No ORDER BY: counting must not walk the activity index.
        return self.object_list.order_by()[: COUNT_CAP + 1].count()


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return channels.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        return queryset.filter(channel=self.value()) if self.value() else queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Assigned to me"), ("nobody", "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return queryset


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


def _actor(event: TicketEvent, ticket: Ticket) -> str:
    """Who made a move: the assistant (no actor), the customer (a reply, a reopening) or a staff member."""
    if event.actor is None:
        return "Loophole AI"
    if event.actor_id == ticket.customer_id:
        return f"the customer ({event.actor.get_username()})"
    return event.actor.get_username()


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = (
        "reference",
        "title",
        "customer_email",
        "status",
        "channel_label",
        "assignee",
        "last_activity_at",
        "first_response",
        "resolution",
    )
    list_display_links = ("reference", "title")
    list_filter = ("status", ChannelFilter, AssigneeFilter)
    list_select_related = ("customer", "assignee")
    list_per_page = 50
    ordering = ("-last_activity_at", "-id")
    sortable_by = ("last_activity_at", "first_response", "resolution")
    show_full_result_count = False
    paginator = CappedCountPaginator

    class Media:
        css = {"all": ("css/admin.css",)}  # the transcript's styles (no inline styles: see the CSP)
        js = ("js/admin_saved_replies.js", "js/admin_live.js")

    search_fields = ("title",)  # shows the box; get_search_results does the searching
    search_help_text = (
        "A ticket ID (LH-…), part of a customer's email address, name or phone number, "
        "or words from the title or the messages."
    )
    actions = ("assign_to_me", "mark_in_progress")
    readonly_fields = (
        "reference",
        "customer",
        "channel_label",
        "created_at",
        "last_activity_at",
        "resolved_at",
        "description",
        "summary",
        "transcript",
        "history",
        "saved_replies",
    )
    fieldsets = (
        (None, {"fields": ("reference", "title", "customer", "channel_label", "created_at", "last_activity_at")}),
        ("What the customer asked", {"fields": ("description", "summary")}),
        # Above the transcript: a long conversation must not push the reply box and its errors out of sight.
        (
            "Work on it",
            {
                "fields": (
                    "assignee",
                    "status",
                    "action_taken",
                    "resolved_at",
                    "saved_replies",
                    "reply",
                    "internal_note",
                )
            },
        ),
        ("Conversation", {"fields": ("transcript",)}),
        ("History", {"classes": ("collapse",), "fields": ("history",)}),
    )

    # Not yet answered or resolved sorts as the longest wait, on every database.
    @admin.display(description="first response", ordering=F("first_response_time").asc(nulls_last=True))
    def first_response(self, ticket: Ticket) -> str:
        return durations.human(ticket.first_response_time)

    @admin.display(description="resolution", ordering=F("resolution_time").asc(nulls_last=True))
    def resolution(self, ticket: Ticket) -> str:
        return durations.human(ticket.resolution_time)

    @admin.display(description="saved replies")
    def saved_replies(self, ticket: Ticket) -> str:
        return saved_replies_admin.picker(ticket)

    def get_fieldsets(self, request: HttpRequest, obj: Ticket | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        hidden = set()
        if not request.user.has_perm("tickets.view_savedreply"):
            hidden.add("saved_replies")
        if not self.has_note_permission(request):
            hidden.add("internal_note")
        if not hidden:
            return fieldsets
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f not in hidden)})
            for name, options in fieldsets
        ]

    @admin.display(description="customer", ordering="customer__email")
    def customer_email(self, ticket: Ticket) -> str:
        return ticket.customer.email

    @admin.display(description="channel")
    def channel_label(self, ticket: Ticket) -> str:
        return channels.label(ticket.channel)

    @admin.display(description="messages")
    def transcript(self, ticket: Ticket) -> str:
        return render_transcript(ticket.conversation_id, ticket.pk)

    @admin.display(description="history")
    def history(self, ticket: Ticket) -> str:
        rows = TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("id")
        return format_html_join(
            "",
            "<div>{} · {} · {}{}</div>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                    _actor(e, ticket),
                    e.get_kind_display(),
                    f": {Status(e.old_status).label if e.old_status else '—'} -> {Status(e.new_status).label}"
                    if e.new_status
                    else (f": {e.detail}" if e.detail else ""),
                )
                for e in rows
            ),
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str
    ) -> tuple[QuerySet[Ticket], bool]:
        if not search_term.strip():
            return queryset, False
        try:
            return queryset.filter(search.matching(search_term)), False
        except search.SearchTooLong as exc:
            messages.error(request, str(exc))
            return queryset.none(), False

    def get_ordering(self, request: HttpRequest) -> Any:
        # A search lists the exact reference first, then title matches, then the rest, newest first.
        term = request.GET.get(SEARCH_VAR, "")
        if term.strip():
            return (search.rank(term).asc(), "-created_at", "-id")
        return super().get_ordering(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the assistant opens tickets, after the customer confirms

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_note_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.add_internal_note")

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # Refused before anything is written: a note is not dropped silently with the rest saved.
        posted = request.method == "POST" and request.POST.get("internal_note", "").strip()
        if posted and not self.has_note_permission(request):
            raise PermissionDenied("You may not add internal notes.")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Ticket, form: TicketAdminForm, change: bool) -> None:
        data = form.cleaned_data
        if "title" in form.changed_data:
            obj.save(update_fields=["title", "updated_at"])
        if "assignee" in form.changed_data:
            services.assign(obj.pk, staff=data["assignee"], actor=request.user)
        if data.get("reply"):
            services.add_staff_reply(obj.pk, staff=request.user, text=data["reply"])
        if data.get("internal_note"):
            services.add_internal_note(obj.pk, staff=request.user, text=data["internal_note"])
        # Only a status the staff member chose: the one the page showed may be stale by now (the reply
        # or the assignment above moves a Submitted ticket to In Progress).
        target = Status(data["status"])
        current = Ticket.objects.only("status").get(pk=obj.pk).status
        if "status" in form.changed_data and target != current:
            try:
                services.change_status(obj.pk, target, actor=request.user, action_taken=data.get("action_taken", ""))
            except InvalidTransition as exc:
                messages.error(request, f"The status was not changed: {exc}")
        obj.refresh_from_db()

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        ids = list(queryset.values_list("pk", flat=True)[:500])
        for ticket_id in ids:
            services.assign(ticket_id, staff=request.user, actor=request.user)
        self.message_user(request, f"Assigned {len(ids)} ticket(s) to you.", messages.SUCCESS)

    @admin.action(description="Mark in progress", permissions=["change"])
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        moved, refused = 0, []
        for ticket_id, reference, status in queryset.values_list("pk", "reference", "status")[:500]:
            if status == Status.RESOLVED:
                # Reopening is deliberate: done from the ticket's own page, never in bulk.
                refused.append(f"{reference} (resolved: reopen it from its page)")
                continue
            try:
                services.change_status(ticket_id, Status.IN_PROGRESS, actor=request.user)
                moved += 1
            except InvalidTransition as exc:
                refused.append(f"{reference} ({exc})")
        if moved:
            self.message_user(request, f"Marked {moved} ticket(s) in progress.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)


class TicketScopeFilter(admin.SimpleListFilter):
    """Conversations without a ticket by default: a ticket's conversation is read on the ticket's page."""

    title = "ticket"
    parameter_name = "ticket"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("opened", "Became a ticket"), ("any", "All")]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
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
