"""The staff dashboard page (/admin/dashboard/) and its CSV export, read from the daily rollup."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse

from tickets import channels, durations
from tickets.dashboard import PERIODS, ChannelFigures, Figures, Median, figures

DEFAULT_PERIOD = 30
CHART_WIDTH, CHART_HEIGHT, LABEL_WIDTH = 600, 160, 110


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def _day_bars(days: Sequence[tuple[object, int]]) -> list[Bar]:
    top = max((n for _day, n in days), default=0) or 1
    width = CHART_WIDTH / len(days)
    bars = []
    for index, (day, count) in enumerate(days):
        height = round(count / top * (CHART_HEIGHT - 20), 1)
        bars.append(
            Bar(round(index * width, 1), CHART_HEIGHT - height, round(max(width - 1, 1), 1), height, str(day), count)
        )
    return bars


def _channel_bars(rows: list[ChannelFigures]) -> list[Bar]:
    top = max((row.conversations for row in rows), default=0) or 1
    return [
        Bar(LABEL_WIDTH, index * 24, round(row.conversations / top * (CHART_WIDTH - LABEL_WIDTH - 60), 1), 18,
            channels.label(row.channel), row.conversations)
        for index, row in enumerate(rows)
    ]  # fmt: skip


def _median_text(value: Median | None) -> str:
    if value is None:
        return "—"
    if value.high is None:
        return f"over {durations.human(value.low)}"
    return f"{durations.human(value.low)} to {durations.human(value.high)}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _seconds(value: timedelta | None) -> str:
    return "" if value is None else str(int(value.total_seconds()))


def _rows(data: Figures) -> list[dict[str, object]]:
    return [
        {
            "label": "All channels" if row is data.total else channels.label(row.channel),
            "figures": row,
            "answered_share": _share(row.answered, row.conversations),
            "first_response": _median_text(row.first_response_median),
            "resolution": _median_text(row.resolution_median),
        }
        for row in [*data.channels, data.total]
    ]


def _csv(data: Figures) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dashboard-{data.period}-days-{data.last_day}.csv"'
    out = csv.writer(response)
    out.writerow(["period_days", "first_day", "last_day"])
    out.writerow([data.period, data.first_day, data.last_day])
    out.writerow([])
    out.writerow([
        "channel", "conversations", "answered_without_ticket", "answered_share", "offers", "accepted", "declined",
        "tickets_created", "resolved", "median_first_response_low_s", "median_first_response_high_s",
        "median_resolution_low_s", "median_resolution_high_s",
    ])  # fmt: skip
    for row in [*data.channels, data.total]:
        first, resolution = row.first_response_median, row.resolution_median
        out.writerow([
            row.channel or "all", row.conversations, row.answered,
            f"{row.answered_share:.4f}" if row.answered_share is not None else "",
            row.offered, row.accepted, row.declined, row.tickets_created, row.resolved,
            _seconds(first.low if first else None), _seconds(first.high if first else None),
            _seconds(resolution.low if resolution else None), _seconds(resolution.high if resolution else None),
        ])  # fmt: skip
    out.writerow([])
    out.writerow(["status", "tickets_now"])
    for status, count in data.statuses:
        out.writerow([status.value, count])
    return response


def dashboard(request: HttpRequest) -> HttpResponse:
    """Staff with tickets.view_ticket; `period` is 7, 30 or 90 days, `format=csv` for the export."""
    if not request.user.has_perm("tickets.view_ticket"):
        raise PermissionDenied("You may not view the dashboard.")
    raw = request.GET.get("period", str(DEFAULT_PERIOD))
    if raw not in {str(p) for p in PERIODS}:
        return HttpResponseBadRequest("period must be 7, 30 or 90 (days)")
    export = request.GET.get("format", "")
    if export not in {"", "csv"}:
        return HttpResponseBadRequest("format must be csv, or left out for the page")
    data = figures(int(raw))
    if export == "csv":
        return _csv(data)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": data,
        "periods": PERIODS,
        "rows": _rows(data),
        "day_bars": _day_bars(data.days),
        "channel_bars": _channel_bars(data.channels),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "channel_chart_height": max(len(data.channels), 1) * 24,
        "status_total": sum(n for _s, n in data.statuses),
    }
    return TemplateResponse(request, "admin/tickets/dashboard.html", context)
