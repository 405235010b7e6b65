"""The retention purge at 1M tickets: our purge_closed_tickets() beside raw cascading DELETEs.

usage (from the project root, PostgreSQL only):
    DATABASE_URL=postgres://…/loophole_bench .venv/bin/python bench/purge.py [--keep]

The database named by DATABASE_URL is migrated and seeded once (see bench/_common.py: 1M tickets,
100k of them resolved 31+ days ago with 20 messages and 3 events each) and is never purged itself:
each run copies it twice (CREATE DATABASE ... TEMPLATE) and measures
  (a) tickets.services.purge_closed_tickets() in a fresh Python process on the first copy:
      wall time and that process's peak RSS;
  (b) DELETE FROM tickets_conversation on the second copy, whose foreign keys were changed to
      ON DELETE CASCADE: the due tickets' conversations, then those without a ticket whose last
      message is as old: what PostgreSQL alone needs for the same rows.
Both use the seed's reference time as "now", so the same 100k tickets are due whatever the date.
Then it checks that the purged copy holds exactly the seed's other 900k tickets, untouched, with
their conversations, messages and events (row fingerprints), and that the raw copy matches it.
The seed has no conversation without a ticket and no admin log entry: the purge still looks for
them (one walk over the conversations; one indexed DELETE of log entries per batch), and the
counts it reports for them are checked, but neither side deletes any.
Prints one `metric: value unit` line per figure. --keep leaves the two copies for inspection.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

PEAK_RSS_TARGET_MB = 200
RATIO_TARGET = 3.0

# The purge deletes rows of these tables; every foreign key between two of them (Django CASCADEs
# all: message -> conversation, ticket -> conversation, event -> ticket, message.reply_to ->
# message) becomes ON DELETE CASCADE on the raw copy.
PURGED_TABLES = ["tickets_conversation", "tickets_ticket", "tickets_message", "tickets_ticketevent"]

DUE_TICKETS = "SELECT id, conversation_id FROM tickets_ticket WHERE status = 'resolved' AND resolved_at <= %(cutoff)s"
DUE_TICKETLESS = (
    "SELECT c.id FROM tickets_conversation c WHERE c.last_message_at <= %(cutoff)s "
    "AND NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.conversation_id = c.id)"
)
# `due` (tickets) and `due_conversations` (theirs and those without a ticket) for the queries below.
DUE = (
    f"WITH due AS MATERIALIZED ({DUE_TICKETS}), "
    f"due_conversations AS MATERIALIZED (SELECT conversation_id AS id FROM due UNION ALL {DUE_TICKETLESS}) "
)

# Fingerprints (row count, sum of row hashes) of what must survive. On the seed they are taken
# over the rows that are not due; on a purged copy over whole tables: equal means nothing else
# was touched and nothing due is left.
KEPT = {
    "tickets": "SELECT count(*), sum(hashtext(t::text)::bigint) FROM tickets_ticket t {where}",
    "conversations": "SELECT count(*), sum(hashtext(c::text)::bigint) FROM tickets_conversation c {where}",
    "messages": "SELECT count(*), sum(hashtext(m::text)::bigint) FROM tickets_message m {where}",
    "events": "SELECT count(*), sum(hashtext(e::text)::bigint) FROM tickets_ticketevent e {where}",
}
NOT_DUE = {
    "tickets": "WHERE t.id NOT IN (SELECT id FROM due)",
    "conversations": "WHERE c.id NOT IN (SELECT id FROM due_conversations)",
    "messages": "WHERE m.conversation_id NOT IN (SELECT id FROM due_conversations)",
    "events": "WHERE e.ticket_id NOT IN (SELECT id FROM due)",
}
DUE_COUNTS = (
    DUE
    + """
    SELECT (SELECT count(*) FROM due),
           (SELECT count(*) FROM due_conversations) - (SELECT count(*) FROM due),
           (SELECT count(*) FROM tickets_message WHERE conversation_id IN (SELECT id FROM due_conversations)),
           (SELECT count(*) FROM tickets_ticketevent WHERE ticket_id IN (SELECT id FROM due)),
           (SELECT count(*) FROM django_admin_log l JOIN django_content_type ct ON ct.id = l.content_type_id
             WHERE ct.app_label = 'tickets'
               AND (ct.model = 'ticket' AND l.object_id IN (SELECT id::text FROM due)
                    OR ct.model = 'conversation' AND l.object_id IN (SELECT id::text FROM due_conversations)))
"""
)
COUNTED = ("tickets", "ticketless_conversations", "messages", "events", "log_entries")


def run_purge(url: str, now: str) -> None:
    """In a fresh process: purge_closed_tickets() on `url`; prints one JSON line."""
    common.setup_django(url)
    from django.db import connection

    from tickets.services import purge_closed_tickets, purge_cutoff

    reference_now = datetime.fromisoformat(now)
    connection.ensure_connection()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    result = purge_closed_tickets(now=reference_now)
    seconds = time.perf_counter() - t
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_mb": rss_before,
                "rss_peak_mb": rss_peak,
                "cutoff": purge_cutoff(reference_now).isoformat(),
                "tickets": result.tickets,
                "conversations": result.conversations,
                "ticketless_conversations": result.ticketless_conversations,
                "messages": result.messages,
                "events": result.events,
                "log_entries": result.log_entries,
            }
        )
    )


def raw_cascade_delete(url: str, cutoff: datetime) -> tuple[float, int]:
    """ON DELETE CASCADE on the copy's foreign keys, then one DELETE of the due tickets' conversations
    and one of the due conversations without a ticket."""
    import psycopg

    with psycopg.connect(common.libpq(url), autocommit=True) as c:
        fks = c.execute(
            """SELECT con.conname, con.conrelid::regclass::text, a.attname, con.confrelid::regclass::text
               FROM pg_constraint con
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
               WHERE con.contype = 'f' AND con.conrelid::regclass::text = ANY (%(t)s)
                 AND con.confrelid::regclass::text = ANY (%(t)s)""",
            {"t": PURGED_TABLES},
        ).fetchall()
        for name, table, column, target in fks:
            c.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            # NOT VALID: the rows were valid in the seed; skip re-checking millions of them.
            c.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT bench_{table}_{column}_cascade FOREIGN KEY ({column}) "
                f"REFERENCES {target} (id) ON DELETE CASCADE NOT VALID"
            )
        common.note("raw copy: ON DELETE CASCADE on " + ", ".join(f"{t}.{col}" for _n, t, col, _r in fks))
        c.execute("CHECKPOINT")
        t = time.perf_counter()
        with c.transaction():
            cur = c.execute(
                "DELETE FROM tickets_conversation WHERE id IN "
                "(SELECT conversation_id FROM tickets_ticket WHERE status = 'resolved' AND resolved_at <= %s)",
                [cutoff],
            )
            deleted = cur.rowcount
            cur = c.execute(f"DELETE FROM tickets_conversation WHERE id IN ({DUE_TICKETLESS})", {"cutoff": cutoff})
            deleted += cur.rowcount
        return time.perf_counter() - t, deleted


def fingerprints(url: str, cutoff: datetime, *, of_kept_rows: bool) -> dict[str, tuple[int, int]]:
    import psycopg

    out = {}
    with psycopg.connect(common.libpq(url)) as c:
        for name, sql in KEPT.items():
            if of_kept_rows:
                query = DUE + sql.format(where=NOT_DUE[name])
                out[name] = tuple(c.execute(query, {"cutoff": cutoff}).fetchone())
            else:
                out[name] = tuple(c.execute(sql.format(where="")).fetchone())
    return out


def due_counts(url: str, cutoff: datetime) -> tuple[int, ...]:
    import psycopg

    with psycopg.connect(common.libpq(url)) as c:
        return tuple(c.execute(DUE_COUNTS, {"cutoff": cutoff}).fetchone())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the two purged copies (dropped by default)")
    ap.add_argument("--_purge", nargs=2, metavar=("URL", "NOW"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._purge:
        run_purge(*args._purge)
        return

    url = common.database_url("bench/purge.py")
    seed_db = common.dbname_of(url)
    t = time.perf_counter()
    now, _ = common.ensure_seed(url)
    common.metric("seed_ready_seconds", time.perf_counter() - t, "s")

    purge_db, raw_db = f"{seed_db}_purge", f"{seed_db}_cascade"
    clone_s = common.clone_database(url, seed_db, purge_db) + common.clone_database(url, seed_db, raw_db)
    common.metric("clone_seconds", clone_s, "s")
    purge_url, raw_url = common.with_database(url, purge_db), common.with_database(url, raw_db)
    try:
        common.metric("background_busy", common.background_busy(), "%")
        common.checkpoint(purge_url)  # both runs start with no dirty buffers (the raw one does the same)
        out = subprocess.run(
            [sys.executable, __file__, "--_purge", purge_url, now.isoformat()],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            sys.stderr.write(out.stderr)
            sys.exit(f"purge_closed_tickets() failed (exit {out.returncode})")
        purge = json.loads(out.stdout.strip().splitlines()[-1])
        cutoff = datetime.fromisoformat(purge["cutoff"])
        raw_s, raw_deleted = raw_cascade_delete(raw_url, cutoff)

        common.note(f"due: resolved on or before {cutoff:%Y-%m-%d %H:%M} UTC (seed time minus the retention days)")
        common.metric("purge_seconds", purge["seconds"], "s")
        common.metric("purge_peak_rss", purge["rss_peak_mb"], "MB")
        common.metric("purge_rss_growth", purge["rss_peak_mb"] - purge["rss_before_mb"], "MB")
        for kind in ("tickets", "conversations", "ticketless_conversations", "messages", "events", "log_entries"):
            common.metric(f"purge_deleted_{kind}", purge[kind], "rows")
        common.metric("raw_cascade_delete_seconds", raw_s, "s")
        common.metric("raw_cascade_deleted_conversations", raw_deleted, "rows")
        ratio = purge["seconds"] / raw_s
        common.metric("purge_ratio_to_raw", ratio, "x")

        expected = dict(zip(COUNTED, due_counts(url, cutoff), strict=True))
        kept = fingerprints(url, cutoff, of_kept_rows=True)
        after_purge = fingerprints(purge_url, cutoff, of_kept_rows=False)
        after_raw = fingerprints(raw_url, cutoff, of_kept_rows=False)
        problems = [f"{k}: expected {v} deleted, purge says {purge[k]}" for k, v in expected.items() if purge[k] != v]
        if purge["conversations"] != expected["tickets"] + expected["ticketless_conversations"]:
            problems.append(
                f"conversations: expected {expected['tickets'] + expected['ticketless_conversations']}, "
                f"purge says {purge['conversations']}"
            )
        problems += [f"{k} after purge differ from the seed's kept rows" for k in kept if after_purge[k] != kept[k]]
        problems += [
            f"{k} after the raw delete differ from the seed's kept rows" for k in kept if after_raw[k] != kept[k]
        ]
        common.metric("kept_tickets", after_purge["tickets"][0], "rows")
        common.metric("kept_messages", after_purge["messages"][0], "rows")
        common.metric("kept_events", after_purge["events"][0], "rows")
        common.metric("purge_verified", "no" if problems else "yes")
        for problem in problems:
            common.note(f"VERIFY FAILED {problem}")
        common.note(
            f"targets: peak RSS < {PEAK_RSS_TARGET_MB} MB "
            f"({'met' if purge['rss_peak_mb'] < PEAK_RSS_TARGET_MB else 'MISSED'}), "
            f"ratio <= {RATIO_TARGET:g}x ({'met' if ratio <= RATIO_TARGET else 'MISSED'})"
        )
        if problems:
            sys.exit(1)
    finally:
        if not args.keep:
            common.drop_database(url, purge_db)
            common.drop_database(url, raw_db)


if __name__ == "__main__":
    main()
