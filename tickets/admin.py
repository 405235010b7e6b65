"""Staff's view of tickets. Writes go through tickets.services; the list stays fast at a million rows."""

from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from tickets import channels, services
from tickets.forms import TicketAdminForm
from tickets.models import InvalidTransition, Message, Status, Ticket, TicketEvent
from tickets.reference import parse_reference

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
    list_display = ("reference", "title", "customer_email", "status", "channel_label", "assignee", "last_activity_at")
    list_display_links = ("reference", "title")
    list_filter = ("status", ChannelFilter, AssigneeFilter)
    list_select_related = ("customer", "assignee")
    list_per_page = 50
    ordering = ("-last_activity_at", "-id")
    sortable_by = ("last_activity_at",)
    show_full_result_count = False
    paginator = CappedCountPaginator

    class Media:
        css = {"all": ("css/admin.css",)}  # the transcript's styles (no inline styles: see the CSP)

    search_fields = ("title",)
    search_help_text = "A ticket ID (LH-…), a customer's email address, or words from the title."
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
    )
    fieldsets = (
        (None, {"fields": ("reference", "title", "customer", "channel_label", "created_at", "last_activity_at")}),
        ("What the customer asked", {"fields": ("description", "summary")}),
        ("Conversation", {"fields": ("transcript",)}),
        ("Work on it", {"fields": ("assignee", "status", "action_taken", "resolved_at", "reply")}),
        ("History", {"classes": ("collapse",), "fields": ("history",)}),
    )

    @admin.display(description="customer", ordering="customer__email")
    def customer_email(self, ticket: Ticket) -> str:
        return ticket.customer.email

    @admin.display(description="channel")
    def channel_label(self, ticket: Ticket) -> str:
        return channels.label(ticket.channel)

    @admin.display(description="messages")
    def transcript(self, ticket: Ticket) -> str:
        rows = Message.objects.filter(conversation_id=ticket.conversation_id).select_related("staff").order_by("id")
        return format_html(
            '<ol class="loophole-transcript">{}</ol>',
            format_html_join(
                "",
                "<li><strong>{}</strong> <small>{}</small><div>{}</div></li>",
                (
                    (
                        m.staff.get_full_name() if m.staff else m.get_author_display(),
                        m.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                        m.text,
                    )
                    for m in rows
                ),
            ),
        )

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
        term = search_term.strip()
        if not term:
            return queryset, False
        reference = parse_reference(term)
        if reference is not None:
            return queryset.filter(reference=reference), False
        if "@" in term:
            # Emails are stored lower-cased: an exact match uses the unique index.
            return queryset.filter(customer__email=term.lower()), False
        return queryset.filter(title__icontains=term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the assistant opens tickets, after the customer confirms

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request: HttpRequest, obj: Ticket, form: TicketAdminForm, change: bool) -> None:
        data = form.cleaned_data
        if "title" in form.changed_data:
            obj.save(update_fields=["title", "updated_at"])
        if "assignee" in form.changed_data:
            services.assign(obj.pk, staff=data["assignee"], actor=request.user)
        if data.get("reply"):
            services.add_staff_reply(obj.pk, staff=request.user, text=data["reply"])
        target = Status(data["status"])
        current = Ticket.objects.only("status").get(pk=obj.pk).status
        if target != current:
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
