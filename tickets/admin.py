"""Staff's view of tickets. Writes go through tickets.services; the list stays fast at a million rows."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html_join

import tickets.conversation_admin  # noqa: F401 - registers ConversationAdmin
from loophole.http import account
from tickets import channels, durations, purge, saved_replies_admin, search, services
from tickets.admin_lists import (
    CappedCountPaginator,
    ChannelFilter,
    SearchPaginator,
    render_transcript,
)
from tickets.forms import TicketAdminForm
from tickets.models import InvalidTransition, Status, Ticket, TicketEvent

# The search's count, made by get_search_results (it decides the page's query), for get_paginator.
_SEARCH_COUNT = "ticket_search_count"


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Assigned to me"), ("nobody", "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "me":
            return queryset.filter(assignee=account(request))
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return queryset


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        # The search columns are for the database: a page of tickets need not carry them.
        return super().get_queryset(request).defer("search_text", "search_words")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str
    ) -> tuple[QuerySet[Ticket], bool]:
        if not search_term.strip():
            return queryset, False
        try:
            found = search.search(queryset, search_term, newest=self._newest_shown(request), cap=SearchPaginator.cap)
        except search.SearchTooLong as exc:
            messages.error(request, str(exc))
            return queryset.none(), False
        setattr(request, _SEARCH_COUNT, found.count)  # for get_paginator: counted already
        return found.rows, False

    def _newest_shown(self, request: HttpRequest) -> int:
        """How many of the newest matches the requested page needs: every one up to its end."""
        if ALL_VAR in request.GET:
            return self.list_max_show_all + 1  # "Show all" is offered only up to that many
        try:
            page = max(1, int(request.GET.get(PAGE_VAR, 1)))
        except ValueError:
            page = 1
        return min(page, SearchPaginator.cap // self.list_per_page + 2) * self.list_per_page

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet[Ticket], per_page: int, *args: Any, **kwargs: Any
    ) -> Any:
        counted = getattr(request, _SEARCH_COUNT, None)
        if counted is None:
            return super().get_paginator(request, queryset, per_page, *args, **kwargs)
        return SearchPaginator(queryset, per_page, *args, counted=counted, **kwargs)

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

    def delete_model(self, request: HttpRequest, obj: Ticket) -> None:
        purge.delete_tickets([obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        purge.delete_tickets(list(queryset.values_list("pk", flat=True)))

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
            services.assign(obj.pk, staff=data["assignee"], actor=account(request))
        if data.get("reply"):
            services.add_staff_reply(obj.pk, staff=account(request), text=data["reply"])
        if data.get("internal_note"):
            services.add_internal_note(obj.pk, staff=account(request), text=data["internal_note"])
        # Only a status the staff member chose: the one the page showed may be stale by now (the reply
        # or the assignment above moves a Submitted ticket to In Progress).
        target = Status(data["status"])
        current = Ticket.objects.only("status").get(pk=obj.pk).status
        if "status" in form.changed_data and target != current:
            try:
                services.change_status(
                    obj.pk, target, actor=account(request), action_taken=data.get("action_taken", "")
                )
            except InvalidTransition as exc:
                messages.error(request, f"The status was not changed: {exc}")
        obj.refresh_from_db()

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        ids = list(queryset.values_list("pk", flat=True)[:500])
        for ticket_id in ids:
            services.assign(ticket_id, staff=account(request), actor=account(request))
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
                services.change_status(ticket_id, Status.IN_PROGRESS, actor=account(request))
                moved += 1
            except InvalidTransition as exc:
                refused.append(f"{reference} ({exc})")
        if moved:
            self.message_user(request, f"Marked {moved} ticket(s) in progress.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)
