from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from assistant.help import import_articles
from loophole.models import PhoneNumber

CUSTOMER_EMAIL = "demo@loophole.localhost"
CUSTOMER_PASSWORD = "demo-password"  # noqa: S105 - the documented demo account
CUSTOMER_PHONE = "+15555550100"
STAFF_EMAIL = "staff@loophole.localhost"
STAFF_PASSWORD = "staff-password"  # noqa: S105 - the documented demo account
STAFF_GROUP = "Support staff"


class Command(BaseCommand):
    help = "Create the demo customer, the demo staff user and the help articles (idempotent; DEBUG only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo refuses to create demo accounts with known passwords when DEBUG is off.")
        User = get_user_model()
        with transaction.atomic():
            customer, _ = User.objects.get_or_create(email=CUSTOMER_EMAIL, defaults={"name": "Dana Demo"})
            customer.set_password(CUSTOMER_PASSWORD)
            customer.email_verified_at = customer.email_verified_at or timezone.now()
            customer.save()
            PhoneNumber.objects.update_or_create(number=CUSTOMER_PHONE, defaults={"user": customer})
            staff, _ = User.objects.get_or_create(email=STAFF_EMAIL, defaults={"name": "Sam Staff"})
            staff.is_staff = True
            staff.set_password(STAFF_PASSWORD)
            staff.email_verified_at = staff.email_verified_at or timezone.now()
            staff.save()
            try:
                staff.groups.add(Group.objects.get(name=STAFF_GROUP))
            except Group.DoesNotExist as exc:
                raise CommandError(f"The {STAFF_GROUP!r} group is missing: run `manage.py migrate` first.") from exc
        articles_dir = settings.BASE_DIR / "help_articles"
        try:
            result = import_articles(articles_dir)
        except NotADirectoryError as exc:
            raise CommandError(f"The help articles directory {articles_dir} is missing.") from exc
        if result.errors:
            raise CommandError(
                f"Some help articles in {articles_dir} could not be imported:\n" + "\n".join(result.errors)
            )
        self.stdout.write(
            f"Help articles: {result.created} new, {result.updated} updated, {result.unchanged} unchanged "
            f"(from {articles_dir})\n"
        )
        self.stdout.write(
            "Demo ready on http://127.0.0.1:8000\n"
            f"  customer: {CUSTOMER_EMAIL} / {CUSTOMER_PASSWORD} (phone {CUSTOMER_PHONE}) at /accounts/login/\n"
            f"  staff:    {STAFF_EMAIL} / {STAFF_PASSWORD} at /admin/\n"
        )
