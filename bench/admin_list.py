"""The staff ticket list (TicketAdmin changelist), its search box and the dashboard at 1M tickets,
beside the bare-Django baseline and django-helpdesk.

usage (from the project root, PostgreSQL only):
    DATABASE_URL=postgres://…/loophole_bench .venv/bin/python bench/admin_list.py \
        [--runs 15] [--no-baseline] [--no-helpdesk] [--sql]

Uses the seed of bench/_common.py (made here if missing): 1M tickets, ~20M messages, 50,000
customers with a phone number each. Renders pages through django.test.Client as the seed's
superuser (DEBUG off, as served): the ticket list's first page, ?status__exact=in_progress, a search
by an existing reference and by a customer's whole email; the searches of the staff desk: a title
word ("declined", ~3 % of the titles), a product name from customers' messages (~2.7 % of the
tickets), part of a customer's email (its local part) and a customer's phone number as typed; and
/admin/dashboard/?period=90 (read from the daily rollup, recomputed here for the last 91 days
first, its time reported). 2 warm-ups, then --runs timed requests each: median and p90 in ms. The
SQL queries of each page are counted (CaptureQueriesContext), and of page 5 where the list has one:
they must be equal.

Then, unless --no-baseline, runs the baseline's admin_list.py (BASELINE_DIR, default /tmp/baseline,
services started and seeded: see its README) and prints our medians beside its plain changelist as
ratios; unless --no-helpdesk, runs bench/helpdesk_search.py with django-helpdesk (HELPDESK_DIR,
default /tmp/helpdesk-peer, set up and seeded with 1M tickets per the peer kit's README) and prints
each of our searches beside the same kind of search on its ticket list. Prints one
`metric: value unit` line per figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

TARGET_MS = 300
SEARCH_TARGET_MS = 100
CHANGELIST = "/admin/tickets/ticket/"
DASHBOARD = "/admin/dashboard/?period=90"
HELPDESK_DIR = Path(os.environ.get("HELPDESK_DIR", "/tmp/helpdesk-peer"))
TITLE_WORD = "declined"
PRODUCT = "Kelomadar"  # one of the seed's 360 product names
SEARCH_KINDS = ("title", "text", "email", "phone")


def timed_gets(client: "Client", path: str, runs: int, warmups: int = 2) -> list[float]:
    for _ in range(warmups):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]


def captured(client: "Client", path: str, show_sql: bool) -> tuple["HttpResponse", list[dict[str, str]]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as cq:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    if show_sql:
        for q in cq.captured_queries:
            common.note(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:160]}")
    return response, cq.captured_queries


def run_result(command: list[str], cwd: Path, what: str) -> dict[str, Any] | None:
    """Run another project's bench in its own directory and environment; its last `RESULT {json}` line."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG"}}
    out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    results = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not results:
        sys.stderr.write(out.stdout[-2000:] + out.stderr[-2000:])
        common.note(f"{what} failed: its ratios skipped (is it set up and seeded?)")
        return None
    return json.loads(results[-1].removeprefix("RESULT "))


def run_baseline() -> dict[str, Any] | None:
    if not (common.BASELINE_DIR / "admin_list.py").exists():
        common.note(f"no baseline at {common.BASELINE_DIR} (set BASELINE_DIR): ratios skipped")
        return None
    command = ["bash", "-c", ". ./env.sh && exec .venv/bin/python admin_list.py"]
    return run_result(command, common.BASELINE_DIR, "the baseline's admin_list.py")


def run_helpdesk(runs: int) -> dict[str, Any] | None:
    python = HELPDESK_DIR / ".venv" / "bin" / "python"
    if not python.exists():
        common.note(f"no django-helpdesk at {HELPDESK_DIR} (set HELPDESK_DIR): its ratios skipped")
        return None
    script = Path(__file__).with_name("helpdesk_search.py")
    command = [str(python), str(script), str(HELPDESK_DIR), "--repeat", str(runs)]
    return run_result(command, HELPDESK_DIR, "bench/helpdesk_search.py")


def refresh_rollup() -> float:
    """Recompute the dashboard's daily rows for the last 91 days, as backfill_daily_stats does; seconds."""
    from tickets.dashboard import recent_days, refresh_days

    started = time.perf_counter()
    refresh_days(recent_days(91))
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15, help="timed requests per case (after 2 warm-ups)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline's admin_list.py")
    ap.add_argument("--no-helpdesk", action="store_true", help="skip django-helpdesk's searches")
    ap.add_argument("--sql", action="store_true", help="print each captured SQL statement and its time")
    args = ap.parse_args()

    url = common.database_url("bench/admin_list.py")
    common.ensure_seed(url)
    # WhiteNoise warns that STATIC_ROOT was never collected; the admin page does not need it.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    common.setup_django(url)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from loophole.models import PhoneNumber
    from tickets.models import Ticket
    from tickets.search import matching

    # DEBUG off serves static files through the manifest storage, which needs collectstatic first;
    # the plain storage renders the same page without it (a manifest lookup is one dict get).
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain_static}).enable()

    client = Client()
    client.force_login(get_user_model().objects.get(email=common.ADMIN_EMAIL))
    sample = Ticket.objects.select_related("customer").get(pk=common.TOTAL // 2 + 2)  # an open, recent one
    customer_tickets = Ticket.objects.filter(customer_id=sample.customer_id).count()
    phone = PhoneNumber.objects.get(user_id=sample.customer_id).number
    typed_phone = f"{phone[:2]} {phone[2:5]} {phone[5:8]} {phone[8:]}"  # +1 555 000 1234
    partial_email = sample.customer.email.split("@")[0]
    common.note(
        f"samples: reference {sample.reference}; a customer with {customer_tickets} tickets "
        f"(email of {len(sample.customer.email)} chars, searched by {partial_email!r}, phone {typed_phone!r})"
    )
    searches = {
        "title": TITLE_WORD,
        "text": PRODUCT,
        "email": partial_email,
        "phone": typed_phone,
    }
    for kind, term in searches.items():
        found = matching(Ticket.objects.all(), term).count()  # every match (the page reads the newest only)
        common.metric(f"search_{kind}_tickets_found", found, "tickets")
        assert found, f"the search for {term!r} finds nothing: is the seed current?"
    # (name, path, text the page must show, has a page 5, target)
    cases = [
        ("first_page", CHANGELIST, None, True, TARGET_MS),
        ("status_in_progress", f"{CHANGELIST}?status__exact=in_progress", "In Progress", True, TARGET_MS),
        ("search_reference", f"{CHANGELIST}?q={sample.reference}", sample.reference, False, SEARCH_TARGET_MS),
        ("search_whole_email", f"{CHANGELIST}?q={quote(sample.customer.email)}", sample.customer.email, False,
         SEARCH_TARGET_MS),
        ("search_title", f"{CHANGELIST}?q={TITLE_WORD}", "Card declined", True, SEARCH_TARGET_MS),
        ("search_text", f"{CHANGELIST}?q={PRODUCT}", None, True, SEARCH_TARGET_MS),
        ("search_email", f"{CHANGELIST}?q={quote(partial_email)}", sample.customer.email, False, SEARCH_TARGET_MS),
        ("search_phone", f"{CHANGELIST}?q={quote(typed_phone)}", sample.reference, False, SEARCH_TARGET_MS),
        ("dashboard_90_days", DASHBOARD, "<svg", False, TARGET_MS),
    ]  # fmt: skip
    info_cases = [
        ("info_search_title_common_word", f"{CHANGELIST}?q=refund", "Refund"),
        ("info_search_no_match", f"{CHANGELIST}?q=zebra", None),
    ]

    common.metric("dashboard_rollup_91_days", refresh_rollup(), "s")
    common.metric("background_busy", common.background_busy(), "%")
    medians: dict[str, float] = {}
    slow = []
    for name, path, expect, paged, target in cases:
        response, queries = captured(client, path, args.sql)
        body = response.content.decode()
        assert expect is None or expect in body, f"{name}: {expect!r} not on the page"
        assert "result_list" in body or name.startswith("dashboard"), f"{name}: no result table"
        times = timed_gets(client, path, args.runs)
        medians[name] = statistics.median(times)
        if medians[name] >= target:
            slow.append(f"{name} ({target} ms)")
        common.metric(f"{name}_median", medians[name], "ms")
        common.metric(f"{name}_p90", p90(times), "ms")
        common.metric(f"{name}_queries_p1", len(queries), "queries")
        common.metric(f"{name}_sql_ms_p1", sum(float(q["time"]) for q in queries) * 1000, "ms")
        if paged:
            sep = "&" if "?" in path else "?"
            _, queries5 = captured(client, f"{path}{sep}p=5", args.sql)
            common.metric(f"{name}_queries_p5", len(queries5), "queries")
            if len(queries5) != len(queries):
                common.note(f"QUERY COUNT GROWS: {name} page 1 = {len(queries)}, page 5 = {len(queries5)}")
    for name, path, expect in info_cases:
        response, queries = captured(client, path, args.sql)
        assert expect is None or expect in response.content.decode(), f"{name}: {expect!r} not on the page"
        times = timed_gets(client, path, max(5, args.runs // 3), warmups=1)
        common.metric(f"{name}_median", statistics.median(times), "ms")
        common.metric(f"{name}_sql_ms", sum(float(q["time"]) for q in queries) * 1000, "ms")
    common.note(
        f"targets: searches < {SEARCH_TARGET_MS} ms, list and dashboard < {TARGET_MS} ms (median): "
        + ("met" if not slow else "MISSED by " + ", ".join(slow))
    )

    if not args.no_helpdesk:
        helpdesk = run_helpdesk(args.runs)
        if helpdesk is not None:
            common.note(f"django-helpdesk: {helpdesk['tickets']:,} tickets; its terms: {helpdesk['terms']}")
            for kind in SEARCH_KINDS:
                theirs = helpdesk[kind]
                for where in ("list", "admin"):
                    ms = theirs[f"{where}_ms"]
                    if ms is None:
                        common.metric(f"helpdesk_{where}_search_{kind}_median", theirs[f"{where}_status"])
                        continue
                    common.metric(f"helpdesk_{where}_search_{kind}_median", ms, "ms")
                    common.metric(f"helpdesk_{where}_search_{kind}_queries", theirs[f"{where}_queries"], "queries")
                    common.metric(f"search_{kind}_ratio_to_helpdesk_{where}", medians[f"search_{kind}"] / ms, "x")
    if args.no_baseline:
        return
    baseline = run_baseline()
    if baseline is None:
        return
    plain, composite = baseline["admin"], baseline.get("admin_composite", {})
    base_all = plain["changelist, no filter"]["page_ms"]
    base_status = plain["changelist, status=in_progress"]["page_ms"]
    common.metric("baseline_background_busy", baseline.get("bg_busy_pct", "?"), "%")
    common.metric("baseline_first_page_median", base_all, "ms")
    common.metric("baseline_status_in_progress_median", base_status, "ms")
    if composite:
        common.metric("baseline_composite_first_page_median", composite["changelist, no filter"]["page_ms"], "ms")
        common.metric(
            "baseline_composite_status_in_progress_median", composite["changelist, status=in_progress"]["page_ms"], "ms"
        )
    common.metric("first_page_ratio_to_baseline", medians["first_page"] / base_all, "x")
    common.metric("status_in_progress_ratio_to_baseline", medians["status_in_progress"] / base_status, "x")
    common.metric("search_reference_ratio_to_baseline_first_page", medians["search_reference"] / base_all, "x")
    for name in ("search_whole_email", "search_title", "search_text", "search_email", "search_phone"):
        common.metric(f"{name}_ratio_to_baseline_first_page", medians[name] / base_all, "x")


if __name__ == "__main__":
    main()
