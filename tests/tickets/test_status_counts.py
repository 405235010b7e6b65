"""The dashboard's tickets by status, kept as tickets change instead of counted on each view: they
match a fresh count after every kind of change, folding keeps them, and the page never counts tickets."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from time_machine import travel

from assistant import services as assistant
from tests.factories import StaffFactory, UserFactory, make_ticket
from tickets import services, status_counts, tasks
from tickets.models import Status, StatusCount, Ticket

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")


def counted_afresh() -> dict[Status, int]:
    rows = dict(Ticket.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return {status: rows.get(status, 0) for status in Status}


def assert_kept() -> None:
    assert status_counts.current() == counted_afresh()


def test_the_counts_follow_every_change_of_every_path(client):
    staff = StaffFactory()
    assert_kept()
    with travel(timezone.now() - timedelta(days=40), tick=False):
        old = make_ticket(channel="email")  # created
        services.change_status(old.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")  # moved
    assert_kept()
    a, b, c, d = (make_ticket(channel=channel) for channel in ("chat", "sms", "email", "voice"))
    assert_kept()
    services.assign(a.pk, staff=staff, actor=staff)  # picked up: submitted -> in progress
    services.add_staff_reply(b.pk, staff=staff, text="Looking at it.")  # replied: submitted -> in progress
    services.change_status(c.pk, Status.WAITING_ON_CUSTOMER, actor=staff)
    assert_kept()
    services.store_customer_message(c.conversation_id, "Here is the photo.")  # waiting -> in progress
    services.change_status(d.pk, Status.RESOLVED, actor=staff, action_taken="Fixed.")
    message = assistant.receive(d.conversation_id, "It broke again.", external_id="voice-again")  # reopened
    assert Ticket.objects.get(pk=d.pk).status == Status.IN_PROGRESS and message.kind == "reopened"
    assert_kept()

    assert services.purge_closed_tickets().tickets == 1  # the one resolved 40 days ago
    assert not Ticket.objects.filter(pk=old.pk).exists()
    assert_kept()

    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.post(reverse("admin:tickets_ticket_delete", args=[a.pk]), {"post": "yes"}).status_code == 302
    response = client.post(LIST, {"action": "delete_selected", "_selected_action": [b.pk, c.pk], "post": "yes"})
    assert response.status_code == 302
    assert list(Ticket.objects.values_list("pk", flat=True)) == [d.pk]
    assert_kept()
    assert status_counts.current()[Status.IN_PROGRESS] == 1


def test_a_deleted_customer_account_takes_its_tickets_out_of_the_counts():
    kept = make_ticket()
    gone = make_ticket()
    services.change_status(gone.pk, Status.RESOLVED, actor=None, action_taken="Done.")
    make_ticket(customer=gone.customer)
    gone.customer.delete()  # its two tickets go with it
    assert list(Ticket.objects.values_list("pk", flat=True)) == [kept.pk]
    assert_kept()
    assert status_counts.current()[Status.SUBMITTED] == 1 and status_counts.current()[Status.RESOLVED] == 0


def test_a_refused_move_changes_no_count():
    ticket = make_ticket()
    before = status_counts.current()
    with pytest.raises(services.InvalidTransition):
        services.change_status(ticket.pk, Status.SUBMITTED, actor=None)
    with pytest.raises(services.InvalidTransition):
        services.change_status(ticket.pk, Status.RESOLVED, actor=None, action_taken=" ")
    assert status_counts.current() == before == counted_afresh()


def test_folding_keeps_the_counts_in_one_row_per_status_and_twice_changes_nothing():
    staff = StaffFactory()
    for _ in range(3):
        ticket = make_ticket()
        services.change_status(ticket.pk, Status.IN_PROGRESS, actor=staff)
        services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Done.")
    assert StatusCount.objects.count() > len(Status)
    tasks.refresh_daily_stats.delay().get()  # the beat task folds them
    assert StatusCount.objects.count() <= len(Status)
    assert_kept()
    rows = list(StatusCount.objects.values_list("pk", "status", "change"))
    assert status_counts.fold() == 0
    assert list(StatusCount.objects.values_list("pk", "status", "change")) == rows


def test_the_recount_command_repairs_counts_after_tickets_went_around_the_services():
    make_ticket()
    Ticket.objects.filter(pk=make_ticket().pk).delete()  # a ticket deleted around the services
    assert status_counts.current() != counted_afresh()
    out = StringIO()
    call_command("recount_ticket_statuses", stdout=out)
    assert_kept()
    assert "Submitted: 1" in out.getvalue()


def test_the_dashboard_shows_the_kept_counts_without_counting_tickets(client):
    make_ticket()
    services.change_status(make_ticket().pk, Status.WAITING_ON_CUSTOMER, actor=None)
    client.force_login(StaffFactory())
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("dashboard:index"), {"period": "7"})
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert dict(response.context["data"].statuses) == counted_afresh()
