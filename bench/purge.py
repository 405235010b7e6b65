"""The retention purge at 1M tickets: our purge_closed_tickets() beside one raw cascading DELETE.

usage (from the project root, PostgreSQL only):
    DATABASE_URL=postgres://bench@127.0.0.1:55432/loophole_bench .venv/bin/python bench/purge.py [--keep]

The database named by DATABASE_URL is migrated and seeded once (see bench/_common.py: 1M tickets,
100k of them resolved 31+ days ago with 20 messages and 3 events each) and is never purged itself:
each run copies it twice (CREATE DATABASE ... TEMPLATE) and measures
  (a) tickets.services.purge_closed_tickets() in a fresh Python process on the first copy:
      wall time and that process's peak RSS;
  (b) one DELETE FROM tickets_conversation on the second copy, whose foreign keys were changed to
      ON DELETE CASCADE: what PostgreSQL alone needs for the same rows.
Both use the seed's reference time as "now", so the same 100k tickets are due whatever the date.
Then it checks that the purged copy holds exactly the seed's other 900k tickets, untouched, with
their conversations, messages and events (row fingerprints), and that the raw copy matches it.
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
    "conversations": "WHERE c.id NOT IN (SELECT conversation_id FROM due)",
    "messages": "WHERE m.conversation_id NOT IN (SELECT conversation_id FROM due)",
    "events": "WHERE e.ticket_id NOT IN (SELECT id FROM due)",
}
DUE_COUNTS = """
    WITH due AS MATERIALIZED ({due})
    SELECT (SELECT count(*) FROM due),
           (SELECT count(*) FROM tickets_message WHERE conversation_id IN (SELECT conversation_id FROM due)),
           (SELECT count(*) FROM tickets_ticketevent WHERE ticket_id IN (SELECT id FROM due))
"""


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
                "messages": result.messages,
                "events": result.events,
            }
        )
    )


def raw_cascade_delete(url: str, cutoff: datetime) -> tuple[float, int]:
    """ON DELETE CASCADE on the copy's foreign keys, then one DELETE of the due conversations."""
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
        return time.perf_counter() - t, deleted


def fingerprints(url: str, cutoff: datetime, *, of_kept_rows: bool) -> dict[str, tuple[int, int]]:
    import psycopg

    due = DUE_TICKETS.replace("%(cutoff)s", "%s")
    out = {}
    with psycopg.connect(common.libpq(url)) as c:
        for name, sql in KEPT.items():
            if of_kept_rows:
                query = f"WITH due AS MATERIALIZED ({due}) " + sql.format(where=NOT_DUE[name])
                out[name] = tuple(c.execute(query, [cutoff]).fetchone())
            else:
                out[name] = tuple(c.execute(sql.format(where="")).fetchone())
    return out


def due_counts(url: str, cutoff: datetime) -> tuple[int, int, int]:
    import psycopg

    with psycopg.connect(common.libpq(url)) as c:
        return tuple(c.execute(DUE_COUNTS.format(due=DUE_TICKETS.replace("%(cutoff)s", "%s")), [cutoff]).fetchone())


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
        for kind in ("tickets", "conversations", "messages", "events"):
            common.metric(f"purge_deleted_{kind}", purge[kind], "rows")
        common.metric("raw_cascade_delete_seconds", raw_s, "s")
        common.metric("raw_cascade_deleted_conversations", raw_deleted, "rows")
        ratio = purge["seconds"] / raw_s
        common.metric("purge_ratio_to_raw", ratio, "x")

        expected = dict(zip(("tickets", "messages", "events"), due_counts(url, cutoff), strict=True))
        kept = fingerprints(url, cutoff, of_kept_rows=True)
        after_purge = fingerprints(purge_url, cutoff, of_kept_rows=False)
        after_raw = fingerprints(raw_url, cutoff, of_kept_rows=False)
        problems = [f"{k}: expected {v} deleted, purge says {purge[k]}" for k, v in expected.items() if purge[k] != v]
        if purge["conversations"] != expected["tickets"]:
            problems.append(f"conversations: expected {expected['tickets']}, purge says {purge['conversations']}")
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
