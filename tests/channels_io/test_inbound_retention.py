"""Mail kept as refused or unread, and texts never filed, are deleted once as old as a closed ticket
may get: they hold senders' addresses, numbers and words."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_io import tasks
from channels_io.models import InboundEmail, InboundText

pytestmark = pytest.mark.django_db


def mail(n: int, status: str, age: timedelta) -> InboundEmail:
    return InboundEmail.objects.create(
        digest=f"{n:064x}", payload=b"From: a@example.com\r\n\r\nhi", status=status, received_at=timezone.now() - age
    )


def test_kept_mail_and_texts_go_after_the_retention_period_and_not_before(settings):
    days = timedelta(days=settings.TICKET_RETENTION_DAYS)
    old_refused = mail(1, InboundEmail.Status.REFUSED, days + timedelta(seconds=1))
    old_failed = mail(2, InboundEmail.Status.FAILED, days + timedelta(seconds=1))
    young = mail(3, InboundEmail.Status.REFUSED, days - timedelta(hours=1))
    old_text = InboundText.objects.create(sid="SM" + "1" * 32, sender="+15550100", body="hi")
    InboundText.objects.filter(pk=old_text.pk).update(received_at=timezone.now() - days - timedelta(seconds=1))
    young_text = InboundText.objects.create(sid="SM" + "2" * 32, sender="+15550101", body="hi")
    InboundText.objects.filter(pk=young_text.pk).update(received_at=timezone.now() - timedelta(minutes=5))

    assert tasks.forget_kept_inbound() == 3
    assert set(InboundEmail.objects.values_list("pk", flat=True)) == {young.pk}
    assert set(InboundText.objects.values_list("pk", flat=True)) == {young_text.pk}
    assert not InboundEmail.objects.filter(pk__in=[old_refused.pk, old_failed.pk]).exists()
    assert tasks.forget_kept_inbound() == 0


def test_the_minutely_sweeper_forgets_them(settings):
    mail(1, InboundEmail.Status.REFUSED, timedelta(days=settings.TICKET_RETENTION_DAYS, seconds=1))
    tasks.sweep_unanswered()
    assert not InboundEmail.objects.exists()
