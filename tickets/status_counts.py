"""How many tickets are in each status, without counting them: every write that creates, moves or
deletes tickets adds signed changes (StatusCount rows) in its own transaction, the beat task folds
them into one row per status, and the dashboard sums the few rows left.

Adding rows, never updating one, keeps concurrent moves from waiting on each other or deadlocking.
"""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Count, Sum

from tickets.models import Status, StatusCount, Ticket

FOLD_BATCH = 10_000


def record(changes: Mapping[str, int]) -> None:
    """Add the changes (status -> signed number of tickets) in the caller's transaction."""
    rows = [StatusCount(status=status, change=change) for status, change in changes.items() if change]
    if rows:
        StatusCount.objects.bulk_create(rows)


def current() -> dict[Status, int]:
    """Tickets per status now, every status present: one query over a handful of rows."""
    summed = dict(StatusCount.objects.order_by().values_list("status").annotate(n=Sum("change")))
    return {status: summed.get(status, 0) for status in Status}


def fold() -> int:
    """Replace the changes by their sums, one row per status (at most FOLD_BATCH rows a transaction).
    Safe beside writers and another fold: only the rows read, and locked, are replaced. Returns the
    number of rows folded."""
    folded = 0
    while True:
        with transaction.atomic():
            rows = list(
                StatusCount.objects.select_for_update()
                .order_by("pk")
                .values_list("pk", "status", "change")[:FOLD_BATCH]
            )
            if len(rows) <= len(Status):
                return folded
            sums: dict[str, int] = {}
            for _pk, status, change in rows:
                sums[status] = sums.get(status, 0) + change
            StatusCount.objects.filter(pk__in=[pk for pk, _status, _change in rows]).delete()
            StatusCount.objects.bulk_create(StatusCount(status=s, change=n) for s, n in sums.items())
        folded += len(rows)
        if len(rows) < FOLD_BATCH:
            return folded


def recount() -> dict[Status, int]:
    """Count the tickets afresh (one GROUP BY over every ticket) and keep that: to start the counts, or
    to repair them after tickets were deleted around the services (a customer's account deleted with
    its tickets). Exact when no ticket changes meanwhile."""
    with transaction.atomic():
        StatusCount.objects.all().delete()
        counted = Ticket.objects.order_by().values_list("status").annotate(n=Count("pk"))
        StatusCount.objects.bulk_create(StatusCount(status=status, change=n) for status, n in counted)
    return current()
