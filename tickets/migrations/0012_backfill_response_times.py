"""Response times of the tickets made before they were stored: the first staff reply from the messages,
the resolution from `resolved_at`. Re-runnable: it only fills what is empty."""

from django.db import migrations
from django.db.models import Min, OuterRef, Subquery

BATCH = 1000


def backfill(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    Message = apps.get_model("tickets", "Message")
    first_reply = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"), author="staff", created_at__gte=OuterRef("created_at")
        )
        .order_by()
        .values("conversation_id")
        .annotate(first=Min("created_at"))
        .values("first")
    )
    after = 0
    while True:
        batch = list(
            Ticket.objects.filter(pk__gt=after)
            .order_by("pk")
            .annotate(first_reply_at=Subquery(first_reply))
            .only("pk", "created_at", "resolved_at", "first_response_time", "resolution_time")[:BATCH]
        )
        if not batch:
            break
        after = batch[-1].pk
        changed = []
        for ticket in batch:
            first = ticket.first_response_time
            if first is None and ticket.first_reply_at is not None:
                first = ticket.first_reply_at - ticket.created_at
            resolution = ticket.resolution_time
            if resolution is None and ticket.resolved_at is not None:
                resolution = ticket.resolved_at - ticket.created_at
            if (first, resolution) != (ticket.first_response_time, ticket.resolution_time):
                ticket.first_response_time, ticket.resolution_time = first, resolution
                changed.append(ticket)
        Ticket.objects.bulk_update(changed, ["first_response_time", "resolution_time"])


class Migration(migrations.Migration):
    dependencies = [("tickets", "0011_saved_replies_and_response_times")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
