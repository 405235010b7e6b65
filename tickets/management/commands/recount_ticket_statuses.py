from typing import Any

from django.core.management.base import BaseCommand

from tickets import status_counts


class Command(BaseCommand):
    help = (
        "Count the tickets in each status afresh for the dashboard (kept as tickets change; run this after "
        "tickets were deleted outside the admin and the retention job, e.g. with a customer's account)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counted = status_counts.recount()
        self.stdout.write(", ".join(f"{status.label}: {n}" for status, n in counted.items()))
