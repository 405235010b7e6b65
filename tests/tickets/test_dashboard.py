"""The staff dashboard: figures from the daily rollup, periods, the CSV export, access and a constant cost."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from tests.factories import ConversationFactory, StaffFactory, UserFactory, make_ticket
from tests.tickets.helpers import conversations_of_each_outcome
from tickets import dashboard, services, tasks
from tickets.models import Conversation, DailyStats, Status, Ticket

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:index")
NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOON, tick=False)
    return NOON


def started_ago(conversation: Conversation, days: int) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(created_at=NOON - timedelta(days=days))
    Ticket.objects.filter(conversation=conversation).update(created_at=NOON - timedelta(days=days))


@pytest.fixture
def outcomes(now) -> dict[str, Conversation]:
    """Conversations made by talking to the assistant as a channel does, all started today."""
    return conversations_of_each_outcome()


def backfill() -> None:
    call_command("backfill_daily_stats", "--days", "90", stdout=io.StringIO())


def by_channel(period: int) -> dict[str, dashboard.ChannelFigures]:
    data = dashboard.figures(period)
    return {row.channel: row for row in [*data.channels, data.total]}


def test_the_figures_count_what_the_assistant_did_per_channel(client, staff, outcomes):
    backfill()
    rows = by_channel(30)
    chat_row, sms, total = rows["chat"], rows["sms"], rows[""]
    assert (chat_row.conversations, chat_row.answered, chat_row.offered) == (5, 1, 4)
    assert (chat_row.accepted, chat_row.declined, chat_row.tickets_created) == (1, 2, 1)
    assert (sms.conversations, sms.answered, sms.offered, sms.accepted, sms.declined) == (1, 1, 0, 0, 0)
    assert (total.conversations, total.answered, total.offered, total.accepted, total.declined) == (6, 2, 4, 1, 2)
    assert total.answered_share == pytest.approx(2 / 6)

    html = client.get(URL).content.decode()
    assert "Answered without a ticket" in html and "2 (33%)" in html
    assert html.count('<svg role="img"') == 2  # drawn here, no script or CDN
    assert "cdn" not in html.lower() and "<rect" in html


@pytest.mark.parametrize(("period", "expected"), [(7, 1), (30, 2), (90, 3)], ids=["7", "30", "90"])
def test_a_period_counts_only_its_days(client, staff, now, period, expected):
    for days in (0, 20, 60, 95):  # today, in 30, in 90, outside every period
        started_ago(ConversationFactory(channel="email"), days)
    backfill()
    assert by_channel(period)["email"].conversations == expected
    response = client.get(URL, {"period": str(period)})
    assert response.status_code == 200
    assert response.context["data"].total.conversations == expected
    assert len(response.context["day_bars"]) == period


@pytest.mark.parametrize(
    "params",
    [{"period": "8"}, {"period": "abc"}, {"period": ""}, {"period": "-7"}, {"period": "30 "}, {"period": "9" * 500},
     {"format": "xml"}, {"format": "CSV "}],
    ids=["8", "word", "empty", "negative", "padded", "huge", "xml", "padded-format"],
)  # fmt: skip
def test_a_bad_period_or_format_is_refused(client, staff, params):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert not DailyStats.objects.exists()


def test_medians_come_from_the_histogram_within_their_bucket(now):
    first_responses = [timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
    resolutions = [timedelta(hours=3), timedelta(days=2), timedelta(days=3), timedelta(days=9)]
    staff = StaffFactory()
    for minutes in first_responses:
        ticket = make_ticket(channel="sms")
        Ticket.objects.filter(pk=ticket.pk).update(first_response_time=minutes)
    for resolution in resolutions:
        ticket = make_ticket(channel="sms")
        services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded the charge.")
        Ticket.objects.filter(pk=ticket.pk).update(resolution_time=resolution)
    backfill()
    row = by_channel(7)["sms"]
    assert (row.tickets_created, row.resolved) == (7, 4)
    first = row.first_response_median
    assert first.samples == 3 and first.low <= timedelta(minutes=30) < first.high
    assert first.high < timedelta(minutes=60)  # a bucket, not the whole range
    resolution = row.resolution_median
    assert resolution.samples == 4 and resolution.low <= timedelta(days=2) < resolution.high


def test_the_median_of_an_empty_or_overflowing_histogram():
    assert dashboard.median([0] * dashboard.BUCKETS) is None
    overflow = dashboard.median([0] * (dashboard.BUCKETS - 1) + [3])
    assert overflow.high is None and overflow.low >= timedelta(days=60)
    assert dashboard.bucket(timedelta(0)) == 0 and dashboard.bucket(timedelta(days=400)) == dashboard.BUCKETS - 1


def test_tickets_by_status_are_the_current_state(client, staff, now):
    tickets = [make_ticket() for _ in range(4)]
    services.change_status(tickets[0].pk, Status.IN_PROGRESS, actor=staff)
    services.change_status(tickets[1].pk, Status.RESOLVED, actor=staff, action_taken="Done.")
    started_ago(tickets[2].conversation, 200)  # outside every period, still counted: it is open now
    statuses = dict(client.get(URL, {"period": "7"}).context["data"].statuses)
    assert statuses == {Status.SUBMITTED: 2, Status.IN_PROGRESS: 1, Status.WAITING_ON_CUSTOMER: 0, Status.RESOLVED: 1}


def test_the_csv_export_has_the_page_figures(client, staff, outcomes):
    backfill()
    response = client.get(URL, {"period": "30", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[1][0] == "30"
    header = lines[3]
    table = {line[0]: dict(zip(header, line, strict=True)) for line in lines[4:7]}
    assert set(table) == {"chat", "sms", "all"}
    assert table["all"]["conversations"] == "6" and table["all"]["answered_without_ticket"] == "2"
    assert (table["chat"]["offers"], table["chat"]["accepted"], table["chat"]["declined"]) == ("4", "1", "2")
    assert table["all"]["answered_share"] == "0.3333"
    assert ["submitted", "1"] in lines


def test_hostile_channel_names_are_escaped_on_the_page(client, staff, now):
    ConversationFactory(channel='<script>alert(1)</script>"')
    backfill()
    html = client.get(URL).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in html


def test_only_staff_with_ticket_access_see_the_dashboard(client, now):
    assert client.get(URL).status_code == 302  # anonymous: to the admin login
    client.force_login(UserFactory())
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(URL, {"format": "csv"}).status_code == 302

    stranger = StaffFactory()
    stranger.groups.remove(Group.objects.get(name="Support staff"))
    client.force_login(stranger)
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"format": "csv"}).status_code == 403

    client.force_login(StaffFactory())
    assert client.get(URL).status_code == 200
    assert reverse("dashboard:index") in client.get(reverse("admin:index")).content.decode()


def test_the_page_costs_the_same_queries_whatever_the_data(client, staff, now, django_assert_max_num_queries):
    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, {"period": "90"}).status_code == 200
            assert client.get(URL, {"period": "90", "format": "csv"}).status_code == 200
        return len(captured)

    empty = queries()
    for days in range(0, 90, 3):
        for channel in ("chat", "sms", "email", "voice"):
            started_ago(ConversationFactory(channel=channel), days)
        started_ago(make_ticket(channel="sms").conversation, days)
    backfill()
    assert DailyStats.objects.count() > 60
    with django_assert_max_num_queries(empty):
        assert client.get(URL, {"period": "90"}).status_code == 200
        assert client.get(URL, {"period": "90", "format": "csv"}).status_code == 200


def test_the_beat_schedule_refreshes_the_figures_after_migrate():
    task = PeriodicTask.objects.get(task="tickets.refresh_daily_stats")
    assert task.enabled and task.interval.every == 10 and task.interval.period == "minutes"


def test_the_refresh_task_is_idempotent_and_follows_the_data(outcomes):
    assert tasks.refresh_daily_stats.delay().get() == 2  # chat and sms today
    first = list(DailyStats.objects.order_by("channel").values())
    tasks.refresh_daily_stats.delay().get()
    again = list(DailyStats.objects.order_by("channel").values())
    assert [{**r, "id": 0, "refreshed_at": 0} for r in first] == [{**r, "id": 0, "refreshed_at": 0} for r in again]
    assert DailyStats.objects.count() == 2

    Conversation.objects.filter(channel="sms").delete()
    tasks.refresh_daily_stats.delay().get()
    assert set(DailyStats.objects.values_list("channel", flat=True)) == {"chat"}


@pytest.mark.parametrize("days", ["0", "-1", "401"], ids=["zero", "negative", "too-many"])
def test_the_backfill_command_refuses_a_bad_number_of_days(days):
    with pytest.raises(CommandError):
        call_command("backfill_daily_stats", "--days", days)
    assert not DailyStats.objects.exists()
