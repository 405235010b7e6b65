"""Fill what 0021 added for the tickets stored before it: each ticket's search text from its
conversation's messages and, on PostgreSQL, its search words from that (in batches of ticket ids,
each its own transaction), and the tickets per status counted once. Re-runnable: only what is
empty is filled; the counts are recounted."""

from django.db import migrations, transaction
from django.db.models import Count, F, Func, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Lower

BATCH = 20_000


def _fill_on_postgresql(Ticket, Message) -> None:
    from django.contrib.postgres.aggregates import StringAgg

    # Each distinct text once, one per line (the order does not matter to a search).
    texts = (
        Message.objects.filter(conversation_id=OuterRef("conversation_id"))
        .order_by()
        .values("conversation_id")
        .annotate(text=StringAgg("text", "\n", distinct=True, order_by="text"))
        .values("text")
    )
    last = Ticket.objects.aggregate(last=Max("pk"))["last"] or 0
    for start in range(0, last, BATCH):
        batch = Ticket.objects.filter(pk__gt=start, pk__lte=start + BATCH)
        with transaction.atomic():
            batch.filter(search_text=None).update(search_text=Coalesce(Subquery(texts), Value("")))
            batch.filter(search_words=None).update(search_words=_words_of(F("search_text")))


def _words_of(text):
    """tickets.search_text.words_of, as of this migration."""
    from django.contrib.postgres.search import SearchVectorField

    lowered = Func(Lower(text), Value(r"(\w{100})\w+"), Value(r"\1"), Value("g"), function="REGEXP_REPLACE")
    runs = Func(lowered, Value(r"\W+"), function="REGEXP_SPLIT_TO_ARRAY")
    return Func(
        Func(runs, Value(""), function="ARRAY_REMOVE"), function="ARRAY_TO_TSVECTOR", output_field=SearchVectorField()
    )


def _fill_elsewhere(Ticket, Message) -> None:
    for ticket in Ticket.objects.filter(search_text=None).only("pk", "conversation_id").iterator():
        texts = set(Message.objects.filter(conversation_id=ticket.conversation_id).values_list("text", flat=True))
        Ticket.objects.filter(pk=ticket.pk).update(search_text="\n".join(sorted(texts)))


def fill_search_text(apps, schema_editor) -> None:
    Ticket, Message = apps.get_model("tickets", "Ticket"), apps.get_model("tickets", "Message")
    if schema_editor.connection.vendor == "postgresql":
        _fill_on_postgresql(Ticket, Message)
    else:
        _fill_elsewhere(Ticket, Message)


def count_statuses(apps, schema_editor) -> None:
    Ticket, StatusCount = apps.get_model("tickets", "Ticket"), apps.get_model("tickets", "StatusCount")
    with transaction.atomic():
        StatusCount.objects.all().delete()
        counted = Ticket.objects.order_by().values_list("status").annotate(n=Count("pk"))
        StatusCount.objects.bulk_create(StatusCount(status=status, change=n) for status, n in counted)


class Migration(migrations.Migration):
    atomic = False  # one transaction per batch

    dependencies = [("tickets", "0021_ticket_search_text_and_status_counts")]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(count_statuses, migrations.RunPython.noop, elidable=True),
    ]
