"""Saved replies in the admin: their pages, and the picker on a ticket's page."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join, json_script

from loophole.http import account
from tickets.models import SavedReply, Ticket
from tickets.saved_replies import PLACEHOLDERS, fill

PICKER_DATA_ID = "loophole-saved-replies"


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "is_active", "created_by", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("title",)
    readonly_fields = ("created_by", "created_at", "updated_at")
    fields = ("title", "body", "is_active", "created_by", "created_at", "updated_at")

    def get_form(
        self, request: HttpRequest, obj: SavedReply | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        if "body" in form.base_fields:
            names = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            form.base_fields["body"].help_text = f"Placeholders filled in for the ticket: {names}."
        return form

    def save_model(self, request: HttpRequest, obj: SavedReply, form: ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = account(request)
        super().save_model(request, obj, form, change)


def active_replies() -> QuerySet[SavedReply]:
    return SavedReply.objects.filter(is_active=True).only("pk", "title", "body").order_by("title", "pk")


def picker(ticket: Ticket) -> str:
    """A select of the active saved replies and, beside it, their texts filled in for this ticket as
    JSON (escaped by json_script); static/js/admin_saved_replies.js puts the chosen one in the reply."""
    replies = list(active_replies())
    if not replies:
        return "No saved replies yet."
    texts = {str(reply.pk): fill(reply.body, ticket) for reply in replies}
    return format_html(
        '<select class="loophole-saved-reply" data-texts="{}" data-target="id_reply" aria-label="Insert a saved reply">'
        '<option value="">Insert a saved reply…</option>{}</select>{}',
        PICKER_DATA_ID,
        format_html_join("", '<option value="{}">{}</option>', ((reply.pk, reply.title) for reply in replies)),
        json_script(texts, PICKER_DATA_ID),
    )
