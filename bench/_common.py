"""Shared by the benchmarks: the PostgreSQL check, the 1M-ticket seed, database clones, metric lines.

The seed lives in the database named by DATABASE_URL (migrated here, filled once, then reused):
1,000,000 tickets, each with its own conversation, messages and events (about 20,000,000 messages);
50,000 customers, 20 staff and one superuser. 100,000 tickets (every tenth id) were resolved 31-90
days before the seed's reference time and carry 20 messages and 3 events each; the other 900,000
are open or were resolved within the last 30 days, with 1-39 messages (20 on average) and 1-2
events. Titles come from 30 templates; customers' messages name a product and an order number. Each
assistant message answers (reply_to) the customer message before it. Row values derive from the
id, so two seeds are identical except for the reference time, which `bench_seed_info` keeps.
Seeding is raw SQL (INSERT ... SELECT generate_series) in one transaction, the indexes built after
the rows.
"""

import ast
import contextlib
import ipaddress
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_BASELINE = ROOT.parent / "shared" / "baseline"  # the kit, beside the project
# Where the load benchmarks (chat, sms_webhook, soak) find their servers: each makes a database of its
# own on BENCH_POSTGRES_URL's server and uses one Redis db on BENCH_REDIS_URL's. The defaults are the
# baseline kit's throwaway services, set up in BASELINE_DIR (bench/README.md).
BENCH_POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://bench@127.0.0.1:55432")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:56379")
BASELINE_DIR = Path(os.environ.get("BASELINE_DIR", "/tmp/baseline"))
ORIGINAL_ENV = dict(os.environ)  # for the baseline's scripts: before a bench configures Django
SEED_VERSION = 4  # bump when the seed changes: an older seed database is rebuilt
TOTAL = 1_000_000
DUE = 100_000  # ids with id % 10 = 1
DUE_MESSAGES = 20
DUE_EVENTS = 3
MESSAGE_SPREAD = 39  # the other tickets have 1-39 messages (id % 39 + 1): 20 on average, ~20M in all
# 30 title templates as a help desk sees them: a word of one template ("declined") is in ~3.3 % of the
# titles, as in the django-helpdesk peer's seed; "refund" is in three (~10 %).
TITLES = [
    "Cannot log in to my account",
    "Refund for a duplicate charge",
    "Card declined at checkout",
    "Package has not arrived",
    "Wrong size delivered",
    "Change the delivery address",
    "Cancel my subscription",
    "Invoice shows the wrong VAT number",
    "App crashes when I open settings",
    "Password reset email never arrives",
    "Discount code not accepted",
    "Two-factor code not received",
    "Refund not received for my order",
    "Charged after cancelling the trial",
    "Item arrived damaged",
    "Missing item in my parcel",
    "How do I change my email address",
    "Update the billing address on invoices",
    "Gift card balance is wrong",
    "Tracking link shows no updates",
    "Return label does not print",
    "Refund went to an old card",
    "Order stuck in processing",
    "Account locked after too many attempts",
    "Export of my data",
    "Delete my account",
    "Loyalty points missing",
    "Coupon expired before the end date",
    "Notifications arrive twice",
    "Wrong currency on the receipt",
]
CUSTOMERS = 50_000
STAFF = 20
ADMIN_EMAIL = "bench-admin@loophole.example"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
SEEDED_TABLES = [
    "loophole_phonenumber",
    "tickets_conversation",
    "tickets_ticket",
    "tickets_message",
    "tickets_ticketevent",
]


def metric(name: str, value: float | int | str, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def database_url(script: str) -> str:
    """DATABASE_URL when it names PostgreSQL; otherwise exit with a message saying what to set."""
    url = os.environ.get("DATABASE_URL", "")
    scheme = urlsplit(url).scheme
    if scheme not in POSTGRES_SCHEMES or not urlsplit(url).path.strip("/"):
        shown = f"a {scheme}:// URL" if scheme else "unset"
        sys.exit(
            f"{script} measures PostgreSQL only, and DATABASE_URL is {shown}.\n"
            f"Set it to a database of its own, e.g.\n"
            f"  DATABASE_URL={with_database(BENCH_POSTGRES_URL, 'loophole_bench')} .venv/bin/python {script}"
        )
    return url


def libpq(url: str, dbname: str | None = None) -> str:
    """The URL as libpq takes it (postgresql://), optionally naming another database."""
    parts = urlsplit(url)
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def dbname_of(url: str) -> str:
    return urlsplit(url).path.strip("/")


def setup_django(url: str, *, debug: bool = False) -> None:
    """Configure loophole.settings on `url`, as production runs it (DEBUG off) unless asked."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "loophole.settings"
    os.environ["DEBUG"] = "true" if debug else "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("ANYMAIL_WEBHOOK_SECRET", "bench:bench-only-not-a-secret")
    import django

    django.setup()


def background_busy(secs: float = 2.0) -> int:
    """Busy % of all cores over `secs` while we run nothing: the other tenants' noise."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return v[0] + v[1] + v[2] + v[5] + v[6], v[3] + v[4] + v[7]

    b0, i0 = snap()
    time.sleep(secs)
    b1, i1 = snap()
    return round(100 * (b1 - b0) / ((b1 - b0) + (i1 - i0) or 1))


# --- the seed -----------------------------------------------------------------------------------

# A message's text, from two hashes of its id (h, h2): a customer names one of 360 made-up product
# names (so a name is in about 1 customer message in 360, and in the messages of ~2.7 % of the
# tickets) and an order number; the assistant and staff answer in one of a few sentences each.
PRODUCT_SQL = """initcap((ARRAY['bra', 'cle', 'dro', 'fen', 'gal', 'hux', 'jor', 'kel'])[1 + h2 %% 8]
         || (ARRAY['ami', 'ebo', 'iru', 'ole', 'uva', 'ape', 'eki', 'oma', 'ute'])[1 + (h2 / 8) %% 9]
         || (ARRAY['nix', 'tor', 'vel', 'dar', 'sun'])[1 + (h2 / 72) %% 5])"""
MESSAGE_TEXT_SQL = f"""CASE m.author
  WHEN 'customer' THEN
    (ARRAY['Hi,', 'Hello,', 'Hi there,', 'Good morning,', 'Hey,', 'Dear support,'])[1 + h %% 6]
    || ' my ' || {PRODUCT_SQL} || ' '
    || (ARRAY['arrived broken.', 'stopped charging after a week.', 'was charged twice on my card.',
              'never arrived.', 'is not the colour I ordered.', 'shows an error when I start it.',
              'came without the charger.', 'was refunded only in part.', 'makes a loud noise.',
              'cannot connect to the app.', 'is missing from my account.', 'was delivered to a neighbour.'])[1 + (h / 6) %% 12]
    || ' Order ' || (100000 + (h2 / 360) %% 900000) || ', placed '
    || (ARRAY['last Monday', 'two weeks ago', 'yesterday', 'on the 3rd', 'in March', 'a month ago'])[1 + (h / 72) %% 6]
    || '. ' || (ARRAY['Can you help?', 'Please sort this out.', 'What are my options?', 'I would like a replacement.',
                     'Thank you.', 'This is the second time I write.'])[1 + (h / 432) %% 6]
  WHEN 'assistant' THEN
    (ARRAY['Thanks for the details. Returns are free within 30 days: start one from your orders page.',
           'Sorry about that. A replacement ships within two working days once we confirm the fault.',
           'Refunds reach your card within five to ten working days after we receive the item.',
           'You can track the parcel from the link in your confirmation email.',
           'A colleague will look at the duplicate payment and write back.',
           'Try holding the power button for ten seconds, then charge it for an hour.'])[1 + h %% 6]
  ELSE
    (ARRAY['Thanks for waiting. I have issued the refund; it shows on your statement within a week.',
           'I have arranged a replacement with express delivery, tracking follows by email.',
           'I checked with the warehouse: the parcel is on its way and arrives tomorrow.',
           'I corrected the order and emailed you the new invoice.',
           'Could you send a photo of the damage? Then I can send the replacement.',
           'The duplicate charge was a pending authorisation and has been released.'])[1 + h %% 6]
END"""

SEED_SQL = [
    # Every reference comes from a bijection on 40 bits (an odd multiplier mod 2^40), written in the
    # 32-letter alphabet: unique for distinct ids, random-looking, and passing the CHECK.
    """
    CREATE FUNCTION pg_temp.bench_ref(g bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT 'LH-' || substr(a, (x & 31)::int + 1, 1) || substr(a, ((x >> 5) & 31)::int + 1, 1)
             || substr(a, ((x >> 10) & 31)::int + 1, 1) || substr(a, ((x >> 15) & 31)::int + 1, 1) || '-'
             || substr(a, ((x >> 20) & 31)::int + 1, 1) || substr(a, ((x >> 25) & 31)::int + 1, 1)
             || substr(a, ((x >> 30) & 31)::int + 1, 1) || substr(a, ((x >> 35) & 31)::int + 1, 1)
      FROM (SELECT (g * 2654435761 + 40503) %% 1099511627776 AS x, '23456789ABCDEFGHJKLMNPQRSTUVWXYZ' AS a) s
    $$
    """,
    """
    INSERT INTO loophole_user (id, password, is_superuser, email, name, is_staff, is_active, date_joined, notify_by_email)
    SELECT %(user_base)s + g, '!bench', false,
           (ARRAY['maria','james','aisha','wei','lucas','fatima','noah','sofia','ivan','amara',
                  'liam','yuki','omar','elena','raj','chloe','kofi','ines','mateo','hana'])[1 + g %% 20]
           || '.' ||
           (ARRAY['garcia','smith','khan','chen','silva','haddad','brown','rossi','petrov','okafor',
                  'murphy','tanaka','saleh','novak','patel','martin','mensah','costa','lopez','kim'])[1 + (g / 20) %% 20]
           || g || '@' || (ARRAY['example.com','example.org','example.net','mail.example.com'])[1 + g %% 4],
           '', false, true, %(now)s - (g %% 700) * interval '1 day', true
    FROM generate_series(1, %(customers)s) g
    """,
    """
    INSERT INTO loophole_user (id, password, is_superuser, email, name, is_staff, is_active, date_joined, notify_by_email)
    SELECT %(user_base)s + %(customers)s + g, '!bench', false, 'staff' || lpad(g::text, 2, '0') || '@loophole.example',
           'Staff member ' || g, true, true, %(now)s - interval '800 days', true
    FROM generate_series(1, %(staff)s) g
    """,
    """
    INSERT INTO loophole_user (id, password, is_superuser, email, name, is_staff, is_active, date_joined, notify_by_email)
    VALUES (%(user_base)s + %(customers)s + %(staff)s + 1, '!bench', true, %(admin)s, 'Bench admin', true, true, %(now)s,
            true)
    """,
    # Every customer has the phone number their SMS and voice conversations come from.
    """
    INSERT INTO loophole_phonenumber (user_id, number, created_at)
    SELECT %(user_base)s + g, '+1555' || lpad(((%(user_base)s + g) %% 10000000)::text, 7, '0'), %(now)s - interval '700 days'
    FROM generate_series(1, %(customers)s) g
    """,
    # One row per ticket with everything the other tables derive from it.
    """
    CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
    WITH r AS (
      SELECT g, g %% 10 = 1 AS due,
             hashint4(g)::bigint + 2147483648 AS r1,
             hashint4(g + 1000003)::bigint + 2147483648 AS r2,
             hashint4(g + 2000003)::bigint + 2147483648 AS r3
      FROM generate_series(1, %(total)s) g
    ), s AS (
      SELECT r.*,
             CASE WHEN due THEN 'resolved'
                  WHEN r3 %% 100 < 40 THEN 'resolved'
                  WHEN r3 %% 100 < 55 THEN 'submitted'
                  WHEN r3 %% 100 < 80 THEN 'in_progress'
                  ELSE 'waiting_on_customer' END AS status,
             CASE WHEN due THEN %(now)s - interval '31 days' - (r1 %% (59 * 86400)) * interval '1 second' END AS due_at,
             %(now)s - (600 + r1 %% (29 * 86400)) * interval '1 second' AS recent_created_at,
             ((5 + r2 %% 90) / 100.0)::float8 AS frac
      FROM r
    ), t AS (
      SELECT g, due, r1, r2, r3, status,
             CASE WHEN due THEN due_at - (3600 + r2 %% (10 * 86400)) * interval '1 second'
                  ELSE recent_created_at END AS created_at,
             CASE WHEN due THEN due_at
                  WHEN status = 'resolved' THEN recent_created_at + (%(now)s - recent_created_at) * frac END AS resolved_at,
             CASE WHEN due THEN due_at
                  ELSE recent_created_at + (%(now)s - recent_created_at) * frac END AS last_activity_at
      FROM s
    )
    SELECT t.*,
           (ARRAY['chat','chat','chat','chat','email','email','email','sms','sms','voice'])[1 + r2 %% 10] AS channel,
           %(user_base)s + 1 + (r3 / 100) %% %(customers)s AS customer_id,
           CASE WHEN status <> 'submitted' THEN %(user_base)s + %(customers)s + 1 + (r3 / 7) %% %(staff)s END AS assignee_id,
           CASE WHEN due THEN %(due_messages)s ELSE 1 + g %% %(message_spread)s END AS n_messages,
           CASE WHEN due THEN %(due_events)s WHEN status = 'submitted' THEN 1 ELSE 2 END AS n_events,
           -- messages get explicit ids (so a reply can name the message it answers): this ticket's start
           coalesce(sum(CASE WHEN due THEN %(due_messages)s ELSE 1 + g %% %(message_spread)s END)
                      OVER (ORDER BY g ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS msg_base
    FROM t
    """,
    """
    INSERT INTO tickets_conversation (id, customer_id, channel, sender, thread, state, offer, created_at, last_message_at)
    SELECT p.g, p.customer_id, p.channel,
           CASE p.channel WHEN 'email' THEN u.email WHEN 'chat' THEN ''
                ELSE '+1555' || lpad((p.customer_id %% 10000000)::text, 7, '0') END,
           CASE WHEN p.channel = 'email' THEN '<' || md5('thread' || p.g) || '@mail.example.com>' ELSE '' END,
           CASE WHEN p.status = 'resolved' THEN 'closed' ELSE 'handed_off' END,
           NULL, p.created_at - interval '5 minutes', p.last_activity_at
    FROM bench_plan p JOIN loophole_user u ON u.id = p.customer_id
    ORDER BY p.g
    """,
    """
    INSERT INTO tickets_ticket (id, reference, title, description, summary, status, channel, action_taken, created_at,
                                updated_at, last_activity_at, resolved_at, assignee_id, conversation_id, customer_id,
                                first_response_time, resolution_time)
    SELECT g, pg_temp.bench_ref(g),
           (%(titles)s::text[])[1 + r1 %% %(title_count)s],
           'The customer writes: ' || md5('d' || g) || ' ' || md5('e' || g) || '. They tried again and it still fails.',
           CASE WHEN r2 %% 3 = 0 THEN 'Summary: ' || md5('s' || g) ELSE '' END,
           status, channel,
           CASE WHEN status = 'resolved' THEN
             (ARRAY['Reset the password and confirmed the customer could log in.', 'Refunded the duplicate charge.',
                    'Sent a replacement with express delivery.', 'Corrected the invoice and emailed it again.'])[1 + r3 %% 4]
           ELSE '' END,
           created_at, last_activity_at, last_activity_at, resolved_at, assignee_id, g, customer_id,
           -- staff answered 1 minute to ~10 hours after the ticket was made (not yet when it is still submitted)
           CASE WHEN status <> 'submitted' THEN (60 + r2 %% 36000) * interval '1 second' END,
           resolved_at - created_at
    FROM bench_plan ORDER BY g
    """,
    """
    INSERT INTO tickets_message (id, author, staff_id, text, channel, external_id, created_at, handled_at, kind,
                                 reply_to_id, conversation_id)
    SELECT p.msg_base + k, m.author,
           CASE WHEN m.author = 'staff' THEN coalesce(p.assignee_id, %(user_base)s + %(customers)s + 1) END,
           {message_text},
           p.channel,
           CASE WHEN m.author <> 'customer' THEN ''
                WHEN p.channel = 'sms' THEN 'SM' || md5('sid' || p.g || '.' || k)
                WHEN p.channel = 'email' THEN '<' || md5('mid' || p.g || '.' || k) || '@mail.example.com>'
                ELSE '' END,
           m.at, m.at + interval '2 seconds',
           CASE WHEN m.author = 'assistant' THEN (ARRAY['answer','clarify','offer','status'])[1 + (p.g + k) %% 4]
                ELSE '' END,
           -- an assistant message answers the customer message just before it
           CASE WHEN m.author = 'assistant' THEN p.msg_base + k - 1 END,
           p.g
    FROM bench_plan p,
         LATERAL generate_series(1, p.n_messages) k,
         LATERAL (SELECT CASE k %% 4 WHEN 1 THEN 'customer' WHEN 2 THEN 'assistant' WHEN 3 THEN 'customer'
                                     ELSE 'staff' END AS author,
                         p.created_at - interval '5 minutes'
                           + (k - 1) * ((p.last_activity_at - p.created_at + interval '5 minutes') / p.n_messages) AS at,
                         hashint4((p.msg_base + k)::int)::bigint + 2147483648 AS h,
                         hashint4((p.msg_base + k)::int + 7777777)::bigint + 2147483648 AS h2) m
    ORDER BY p.g, k
    """.replace("{message_text}", MESSAGE_TEXT_SQL),
    """
    INSERT INTO tickets_ticketevent (kind, actor_id, old_status, new_status, detail, created_at, email, emailed_at, ticket_id)
    SELECT e.kind, e.actor_id, e.old_status, e.new_status, e.detail, e.at, e.email,
           CASE WHEN e.email <> '' THEN e.at + interval '1 minute' END, p.g
    FROM bench_plan p,
         LATERAL (VALUES
           (1, 'created', NULL::bigint, '', 'submitted', '', p.created_at, 'created'),
           (2, 'status', p.assignee_id, 'submitted', CASE WHEN p.due THEN 'in_progress' ELSE p.status END, 'picked up',
               CASE WHEN p.due THEN p.created_at + (p.resolved_at - p.created_at) / 3 ELSE p.last_activity_at END,
               CASE WHEN p.due THEN '' WHEN p.status = 'resolved' THEN 'resolved'
                    WHEN p.status = 'waiting_on_customer' THEN 'waiting' ELSE '' END),
           (3, 'status', p.assignee_id, 'in_progress', 'resolved', '', p.resolved_at, 'resolved')
         ) e(n, kind, actor_id, old_status, new_status, detail, at, email)
    WHERE e.n <= p.n_events
    ORDER BY p.g, e.n
    """,
    # What migration 0022 writes (tickets.search_text): each ticket's distinct message texts, one per
    # line, their words, and the tickets per status counted once.
    """
    UPDATE tickets_ticket t SET search_text = coalesce(
      (SELECT string_agg(DISTINCT m.text, E'\\n' ORDER BY m.text) FROM tickets_message m
       WHERE m.conversation_id = t.conversation_id), '')
    """,
    r"""
    UPDATE tickets_ticket SET search_words = array_to_tsvector(array_remove(regexp_split_to_array(
      regexp_replace(lower(search_text), '(\w{100})\w+', '\1', 'g'), '\W+'), ''))
    """,
    "INSERT INTO tickets_statuscount (status, change) SELECT status, count(*) FROM tickets_ticket GROUP BY status",
    "SELECT setval(pg_get_serial_sequence('loophole_user', 'id'), (SELECT max(id) FROM loophole_user))",
    "SELECT setval(pg_get_serial_sequence('tickets_conversation', 'id'), (SELECT max(id) FROM tickets_conversation))",
    "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), (SELECT max(id) FROM tickets_ticket))",
    "SELECT setval(pg_get_serial_sequence('tickets_message', 'id'), (SELECT max(id) FROM tickets_message))",
    "SELECT setval(pg_get_serial_sequence('tickets_ticketevent', 'id'), (SELECT max(id) FROM tickets_ticketevent))",
    """
    CREATE TABLE bench_seed_info (version int NOT NULL, seeded_at timestamptz NOT NULL, tickets int NOT NULL,
                                  user_base bigint NOT NULL)
    """,
    "INSERT INTO bench_seed_info VALUES (%(version)s, %(now)s, %(total)s, %(user_base)s)",
]


def _table_exists(c: "psycopg.Connection", name: str) -> bool:
    return c.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0]


def _migrate(url: str) -> None:
    import subprocess

    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "loophole.settings"}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "--skip-checks", "-v0"],
        env=env,
        check=True,
        cwd=ROOT,
    )


def ensure_seed(url: str) -> tuple[datetime, int]:
    """Migrate and fill the database at `url` unless it already holds this seed.

    Returns (the seed's reference time, the id offset of its users). Refuses a database with
    tickets it did not write.
    """
    import psycopg

    _migrate(url)
    with psycopg.connect(libpq(url), autocommit=True) as c:
        stale = False
        if _table_exists(c, "bench_seed_info"):
            row = c.execute("SELECT version, seeded_at, tickets, user_base FROM bench_seed_info").fetchone()
            if row and row[0] == SEED_VERSION and row[2] == TOTAL:
                n = c.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]
                if n == TOTAL:
                    note(f"seed reused: {TOTAL:,} tickets, reference time {row[1]:%Y-%m-%d %H:%M} UTC")
                    return row[1], row[3]
            stale = True
        elif c.execute("SELECT EXISTS (SELECT 1 FROM tickets_ticket)").fetchone()[0]:
            sys.exit(
                f"database {dbname_of(url)!r} already holds tickets the bench did not write; "
                "point DATABASE_URL at a database of its own (createdb loophole_bench)"
            )
    if stale:
        # The bench wrote this database (bench_seed_info says so): start it again from nothing.
        note("seed is stale or incomplete: recreating the database")
        recreate_database(url)
        _migrate(url)
    with psycopg.connect(libpq(url), autocommit=True) as c:
        t = time.perf_counter()
        now = c.execute("SELECT date_trunc('second', now())").fetchone()[0]
        user_base = c.execute("SELECT coalesce(max(id), 0) FROM loophole_user").fetchone()[0]
        params = {
            "now": now,
            "user_base": user_base,
            "customers": CUSTOMERS,
            "staff": STAFF,
            "admin": ADMIN_EMAIL,
            "total": TOTAL,
            "due_messages": DUE_MESSAGES,
            "due_events": DUE_EVENTS,
            "message_spread": MESSAGE_SPREAD,
            "titles": TITLES,
            "title_count": len(TITLES),
            "version": SEED_VERSION,
        }
        c.execute("SET synchronous_commit = off")
        c.execute("SET maintenance_work_mem = '1GB'")
        c.execute("SET work_mem = '64MB'")
        steps = []
        with c.transaction():
            if c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
                # Skips the foreign-key triggers (~10M deferred checks at commit): the rows are
                # consistent by construction.
                c.execute("SET LOCAL session_replication_role = replica")
            else:
                note("not a superuser: foreign keys are checked row by row while seeding (slower)")
            # Building an index once after the load is several times faster than 4M random inserts
            # into it. Indexes behind constraints (primary keys, unique) stay; the rest come back
            # exactly as pg_indexes defines them, in this same transaction.
            indexes = c.execute(
                """SELECT i.indexname, i.indexdef FROM pg_indexes i
                   WHERE i.schemaname = current_schema() AND i.tablename = ANY (%s)
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conname = i.indexname)""",
                [SEEDED_TABLES],
            ).fetchall()
            for name, _definition in indexes:
                c.execute(f'DROP INDEX "{name}"')
            for sql in SEED_SQL:
                started = time.perf_counter()
                c.execute(sql, params)
                words = sql.split()
                target = words[2] if words[0] == "INSERT" else words[0].lower()
                steps.append(f"{target} {time.perf_counter() - started:.0f}s")
            started = time.perf_counter()
            for _name, definition in indexes:
                c.execute(definition)
            steps.append(f"{len(indexes)} indexes {time.perf_counter() - started:.0f}s")
        note("seed steps: " + ", ".join(steps))
        seeded = time.perf_counter() - t
        c.execute(
            "VACUUM (FREEZE, ANALYZE) loophole_user, loophole_phonenumber, tickets_conversation, tickets_ticket, tickets_message, "
            "tickets_ticketevent"
        )
        note(f"seeded {TOTAL:,} tickets in {seeded:.0f} s, vacuumed in {time.perf_counter() - t - seeded:.0f} s")
        return now, user_base


def clone_database(url: str, source: str, target: str) -> float:
    """(Re)create database `target` as a file copy of `source`; returns seconds. Nobody may be on `source`."""
    import psycopg

    t = time.perf_counter()
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        strategy = " STRATEGY FILE_COPY" if c.info.server_version >= 150000 else ""
        c.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"{strategy}')
    return time.perf_counter() - t


def recreate_database(url: str) -> None:
    """Drop (if it exists) and create the database `url` names, empty."""
    import psycopg

    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{dbname_of(url)}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{dbname_of(url)}"')


def checkpoint(url: str) -> None:
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute("CHECKPOINT")


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes and figures shared by the load benchmarks ---------------------------------------------

# The load benchmarks run the server as production runs it behind its reverse proxy: the bench is that
# proxy (TRUSTED_PROXIES names loopback, uvicorn --no-proxy-headers) and names each simulated client in
# X-Forwarded-For, with an address of its own from 198.18.0.0/15 (reserved for benchmarks, RFC 2544).
# The per-IP limits count each client as they count real ones, at the price they cost in production.
BENCH_PROXY = "127.0.0.1/32"
BENCH_CLIENTS = ipaddress.ip_network("198.18.0.0/15")


def client_address(n: int) -> str:
    """The address of simulated client `n`."""
    return str(BENCH_CLIENTS[n % BENCH_CLIENTS.num_addresses])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def background() -> int:
    sys.path.insert(0, str(SHARED_BASELINE))
    from noise import background_busy

    busy, steal, load = background_busy(2.0)
    note(f"background: steal {steal}%, loadavg {load}")
    return busy


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values)) - 1))]


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_database_url(name: str) -> str:
    """The URL of database `name` on the load benchmarks' PostgreSQL server."""
    return with_database(BENCH_POSTGRES_URL, name)


def bench_redis_url(db: int) -> str:
    """The URL of Redis db `db` on the load benchmarks' Redis server (a bench flushes only its own)."""
    return with_database(BENCH_REDIS_URL, str(db))


def server_env(public_url: str, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a load bench's web and worker processes: production settings (DEBUG off)
    behind the bench as their proxy, on the bench's database and Redis db, no OpenAI; `extra` on top."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loophole.settings",
        "DEBUG": "false", "SECRET_KEY": "bench", "ANYMAIL_WEBHOOK_SECRET": "bench:bench-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1", "PUBLIC_URL": public_url,
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "OPENAI_API_KEY": "",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "TRUSTED_PROXIES": BENCH_PROXY,
        **extra,
    }  # fmt: skip


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def queue_length(url: str) -> int:
    """Tasks waiting in the Celery queues on Redis `url`."""
    import redis

    r = redis.Redis.from_url(url)
    return sum(r.llen(key) for key in r.scan_iter("celery*") if r.type(key) == b"list")


def wait_http(url: str, proc: subprocess.Popen, log: Path, *, tries: int = 150, any_status: bool = True) -> None:
    """Wait until `url` answers (with any HTTP status, else a 2xx); exit with the log's tail if it does not."""
    import urllib.error
    import urllib.request

    for _ in range(tries):
        if proc.poll() is not None:
            sys.exit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the server did not start:\n{log.read_text()[-3000:]}")


def baseline_insert() -> float | None:
    """The baseline's `insert` with Django's standard middleware (req/s), run in BASELINE_DIR."""
    cmd = "set -e; . ./env.sh; RUNS=1 BARE_MIDDLEWARE=standard TAG=mw ./http_bench.sh uvicorn insert"
    result = subprocess.run(["bash", "-c", cmd], cwd=BASELINE_DIR, env=ORIGINAL_ENV, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("#") or re.match(r"^\s+insert\s", line):
            note(f"baseline: {line.strip().lstrip('# ')}")
    m = re.search(r"^\s+insert\s+(\d+) req/s.*errors (\d+)", result.stdout, re.M)
    if result.returncode or not m:
        note(f"baseline insert failed ({result.returncode}): {(result.stdout + result.stderr)[-800:]}")
        return None
    return float(m.group(1))


def log_errors(name: str, log: Path) -> None:
    """Note a server or worker log's error lines and the kinds of exception in it."""
    text = log.read_text(errors="replace")
    lines = [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]
    if lines:
        note(f"{name} log: {len(lines)} error lines, first: {lines[0][:200]}")
    kinds = sorted({m.group(0)[:160] for m in re.finditer(r"^[\w.]+(Error|Exception|Timeout)\b.*$", text, re.M)})
    if kinds:
        note(f"{name} log exceptions: {'; '.join(kinds[:5])}")


def clean_up(procs: Iterable[subprocess.Popen | None], tmp: Path, url: str, *, keep: bool) -> None:
    """A load bench's end: stop its processes, remove `tmp`, close this process's Django connections,
    then drop its database unless `keep`."""
    for proc in procs:
        stop(proc)
    shutil.rmtree(tmp, ignore_errors=True)
    if "django.db" in sys.modules:
        from django.db import connections

        with contextlib.suppress(Exception):
            connections.close_all()
    if not keep:
        try:
            drop_database(url, dbname_of(url))
        except Exception as exc:
            note(f"could not drop {dbname_of(url)}: {exc}")


# --- the web server: uvicorn alone (asgi), or gunicorn and uvicorn behind nginx (split) ---------------

SERVERS = ("asgi", "split", "asgi-nginx")
# What needs the ASGI application, as nginx locations: the widget's event stream and long poll (async
# views) and the staff desk's streams (sync views answering with an async iterator, which a WSGI server
# would read to its end in one thread). Static files go there too: loophole.asgi serves them without a thread.
STREAM_LOCATIONS = (
    r"~ ^/chat/conversations/\d+/(events|poll)/$",
    r"~ ^/admin/tickets/ticket/(\d+/)?events/$",
)
KEEPALIVE = 5  # seconds an app server keeps an idle connection; nginx gives its own up a second earlier


def module_constant(source: str, name: str) -> object:
    """The literal a module's source assigns to `name` at its top level, read without importing it.
    Raises LookupError when there is none."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def request_threads(app: Path) -> int:
    """`loophole.asgi.REQUEST_THREADS` of the project at `app`, read from the source (importing it sets Django up)."""
    source = app / "loophole" / "asgi.py"
    try:
        threads = module_constant(source.read_text(), "REQUEST_THREADS")
    except LookupError:
        threads = None
    if not isinstance(threads, int):
        sys.exit(f"no REQUEST_THREADS number in {source}")
    return threads


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def check_server(mode: str) -> None:
    """Exit with a message when the programs `mode` runs are missing."""
    if mode == "asgi":
        return
    missing = []
    if nginx_binary() is None:
        missing.append("nginx (a Debian package: apt-get install -y nginx)")
    if mode == "split" and not (Path(sys.executable).parent / "gunicorn").exists():
        missing.append("gunicorn (in the bench extra, which make installs into .venv)")
    if missing:
        sys.exit(f"--server {mode} needs " + " and ".join(missing))


def nginx_conf(tmp: Path, port: int, wsgi_port: int, asgi_port: int) -> str:
    """nginx on `port` in front of gunicorn and uvicorn, as deploy/nginx.conf is in front of uvicorn, except
    that X-Forwarded-For is appended to (the bench is the outer proxy naming each client) and every file
    is in `tmp`."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = " ".join(f"{kind}_temp_path {tmp / kind};" for kind in kinds)
    streams = "\n".join(
        f"        location {where} {{ proxy_buffering off; proxy_read_timeout 1h; proxy_pass http://loophole_asgi; }}"
        for where in STREAM_LOCATIONS
    )
    return f"""{"user root root;" if os.geteuid() == 0 else ""}
worker_processes 1;
worker_rlimit_nofile {resource.getrlimit(resource.RLIMIT_NOFILE)[0]};
pid {tmp / "nginx.pid"};
error_log {tmp / "nginx.log"} warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    {temp_paths}
    upstream loophole_wsgi {{ server 127.0.0.1:{wsgi_port}; keepalive 64; keepalive_timeout {KEEPALIVE - 1}s; }}
    upstream loophole_asgi {{ server 127.0.0.1:{asgi_port}; keepalive 64; keepalive_timeout {KEEPALIVE - 1}s; }}
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        server_tokens off;
        client_max_body_size 3m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location / {{ proxy_pass http://loophole_wsgi; }}
        location /static/ {{ proxy_pass http://loophole_asgi; }}
{streams}
    }}
}}
"""


class WebServer:
    """The web tier a load bench measures, on `port`. asgi: `uvicorn loophole.asgi:application` with
    `workers` processes (each with REQUEST_THREADS request threads). split: gunicorn serving
    loophole.wsgi:application with `workers` gthread processes of REQUEST_THREADS threads each (the sync
    capacity the asgi mode has), uvicorn with `workers` processes for the streams (STREAM_LOCATIONS), and nginx
    on `port` routing between them. asgi-nginx: the asgi mode behind the same nginx (both routes to uvicorn),
    so that split is compared with the same proxy hop. The app servers trust the bench (and nginx) as
    proxies: server_env."""

    def __init__(self, mode: str, port: int, tmp: Path, env: dict[str, str], app: Path,
                 uvicorn_args: Iterable[str] = ()) -> None:  # fmt: skip
        self.mode, self.port, self.tmp, self.env, self.app = mode, port, tmp, env, app
        self.uvicorn_args = list(uvicorn_args)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = {name: tmp / f"{name}.log" for name in ("uvicorn", "gunicorn", "nginx")}

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = self.logs[name].open("a")
        self.procs[name] = subprocess.Popen(cmd, cwd=self.app, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def _uvicorn(self, workers: int, port: int) -> subprocess.Popen:
        bin_dir = Path(sys.executable).parent
        return self._spawn("uvicorn", [
            str(bin_dir / "uvicorn"), "loophole.asgi:application", "--loop", "uvloop", "--http", "httptools",
            "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--no-proxy-headers", "--log-level", "warning", "--timeout-keep-alive", str(KEEPALIVE), *self.uvicorn_args,
        ])  # fmt: skip

    def start(self, workers: int) -> None:
        """Start the servers and wait until the bench's port answers; exits with a log's tail if one fails."""
        if self.mode == "asgi":
            wait_http(f"http://127.0.0.1:{self.port}/healthz", self._uvicorn(workers, self.port), self.logs["uvicorn"])
            return
        asgi_port = free_port()
        servers = [("uvicorn", asgi_port, self._uvicorn(workers, asgi_port))]
        wsgi_port = asgi_port  # asgi-nginx: both of nginx's routes go to uvicorn
        if self.mode == "split":
            wsgi_port = free_port()
            servers.append(("gunicorn", wsgi_port, self._spawn("gunicorn", [
                str(Path(sys.executable).parent / "gunicorn"), "loophole.wsgi:application", "--worker-class", "gthread",
                "--workers", str(workers), "--threads", str(request_threads(self.app)), "--bind", f"127.0.0.1:{wsgi_port}",
                "--keep-alive", str(KEEPALIVE), "--backlog", "2048", "--graceful-timeout", "5", "--log-level", "warning",
            ])))  # fmt: skip
        servers.append(("nginx", self.port, self._nginx(wsgi_port, asgi_port)))
        for name, port, proc in servers:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, self.logs[name])

    def _nginx(self, wsgi_port: int, asgi_port: int) -> subprocess.Popen:
        conf = self.tmp / "nginx.conf"
        conf.write_text(nginx_conf(self.tmp, self.port, wsgi_port, asgi_port))
        return self._spawn("nginx", [
            str(nginx_binary()), "-c", str(conf), "-p", str(self.tmp), "-e", str(self.logs["nginx"]), "-g", "daemon off;",
        ])  # fmt: skip

    def stop(self) -> None:
        for name in ("nginx", "gunicorn", "uvicorn"):
            stop(self.procs.pop(name, None))

    @property
    def roots(self) -> dict[str, int]:
        """The process of each server (with its children, the workers), by name: `web` for the asgi mode."""
        if self.mode == "asgi":
            return {"web": self.procs["uvicorn"].pid}
        return {name: proc.pid for name, proc in self.procs.items()}

    @property
    def stream_pid(self) -> int:
        """The process holding the event streams (with one worker: the one that serves them)."""
        return self.procs["uvicorn"].pid

    def log_errors(self) -> None:
        for name, log in self.logs.items():
            if log.exists():
                log_errors(name, log)
