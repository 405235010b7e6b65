"""The signed Twilio webhook POST /channels/sms/inbound under the production server, with a Celery worker.

    .venv/bin/python bench/sms_webhook.py [--server asgi|split|asgi-nginx] [--customers 300] [--unknown 60] [--seconds 20] [--rate 50]

Starts (and stops) uvicorn loophole.asgi:application (--loop uvloop --http httptools, 2 workers as the baseline runs,
DEBUG=false; with `--server split` nginx in front of gunicorn loophole.wsgi:application, which then takes the
webhook, and uvicorn: _common.WebServer) and `nice -n 10 celery -A loophole worker --pool=threads --concurrency=4` (--worker-nice) on a fresh database
`loophole_smsbench` (on BENCH_POSTGRES_URL's server, the baseline's PostgreSQL) and db 6 of BENCH_REDIS_URL. SMS
replies go through SMS_BACKEND=file into a temporary directory. Requests are signed beforehand with
twilio's RequestValidator, each with its own MessageSid, from customers with PhoneNumber rows and
from unknown numbers, and sent with aiohttp, the bench acting as the server's proxy (each request
from one of TWILIO_ADDRESSES in X-Forwarded-For: _common.BENCH_PROXY):

(a) saturation: 32 concurrent senders for --seconds: acknowledgements (200 with TwiML) per second,
    errors; then the baseline's `insert` bench with Django's standard middleware in the same run,
    and our rate over its rate;
(b) steady --rate per second, open loop, for --seconds: acknowledgement latency p50/p99 measured
    from each request's scheduled time;
(c) once the worker has drained: inbound messages stored vs sent (no loss, no duplicates), and how
    many got a reply (an assistant message, delivered).

Needs the baseline kit's services (`./services.sh start` in BASELINE_DIR). About 2.5 minutes.
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlencode

import _common as common
from _common import ROOT, background, client_address, free_port, libpq, metric, note, percentile

DB_URL = common.bench_database_url("loophole_smsbench")
REDIS_URL = common.bench_redis_url(6)
TOKEN = "benchtoken"
ACCOUNT = "ACbench" + "0" * 27
OUR_NUMBER = "+15555550000"
PATH = "/channels/sms/inbound"
CONCURRENCY = 32
# Twilio calls from many addresses: each request from one of these many (the limit is per address a minute).
TWILIO_ADDRESSES = 256
TWILIO_FIRST = 1 << 16  # past the chat bench's customers (client_address by user id)
QUESTIONS = [
    "How do I reset my password?",
    "My package has not arrived yet, where is it?",
    "Can I get a refund for a duplicate charge?",
    "How do I change my delivery address?",
    "The app crashes when I open settings",
    "How do I cancel my subscription?",
    "My discount code is not accepted at checkout",
    "Where can I download my invoice?",
]
BIN = Path(sys.executable).parent


def twilio_env(tmp: Path) -> dict[str, str]:
    """Twilio as the requests are signed for; replies written by SMS_BACKEND=file under `tmp`/sms."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PHONE_NUMBER": OUR_NUMBER,
        "SMS_BACKEND": "file", "SMS_FILE_PATH": str(tmp / "sms"),
    }  # fmt: skip


def seed(env: dict[str, str], customers: int) -> list[str]:
    """Migrate env's DATABASE_URL, then `customers` active users each with one PhoneNumber; returns their numbers."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "--skip-checks", "-v0"],
        env=env, cwd=ROOT, check=True,
    )  # fmt: skip
    import psycopg

    numbers = [f"+1555{2000000 + i:07d}" for i in range(customers)]
    with psycopg.connect(libpq(env["DATABASE_URL"]), autocommit=True) as c, c.transaction():
        c.execute(
            """INSERT INTO loophole_user (password, is_superuser, email, name, is_staff, is_active, date_joined,
                                          notify_by_email)
               SELECT '!bench', false, 'sms' || g || '@bench.example', 'SMS customer ' || g, false, true, now(), true
               FROM generate_series(1, %s) g""",
            [customers],
        )
        c.execute(
            """INSERT INTO loophole_phonenumber (user_id, number, created_at)
               SELECT u.id, '+1555' || lpad((2000000 + g - 1)::text, 7, '0'), now()
               FROM generate_series(1, %s) g JOIN loophole_user u ON u.email = 'sms' || g || '@bench.example'""",
            [customers],
        )
    return numbers


def presign(
    count: int, public_url: str, known: list[str], unknown: list[str], tag: str
) -> list[tuple[str, bytes, str]]:
    """(MessageSid, form body, signature) for `count` inbound texts; about 1 in 6 from an unknown number."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = public_url + PATH
    out = []
    for i in range(count):
        sid = "SM" + uuid.uuid4().hex
        sender = unknown[i % len(unknown)] if i % 6 == 5 else known[(i * 7919) % len(known)]
        form = {
            "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": f"{QUESTIONS[i % len(QUESTIONS)]} ({tag} {i})", "To": OUR_NUMBER, "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT, "From": sender, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        out.append((sid, urlencode(form).encode(), validator.compute_signature(url, form)))
    return out


class Sent:
    """Every request sent, by MessageSid: the HTTP status (0 for a transport error)."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def record(self, sid: str, status: int, ok: bool, what: str = "") -> None:
        self.status[sid] = status if ok else -abs(status or 1)
        if not ok:
            key = what or f"http {status}"
            self.errors[key] = self.errors.get(key, 0) + 1


async def post(session, base: str, item: tuple[str, bytes, str], sent: Sent) -> bool:
    import aiohttp

    sid, body, signature = item
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
               "X-Forwarded-For": client_address(TWILIO_FIRST + zlib.crc32(sid.encode()) % TWILIO_ADDRESSES)}  # fmt: skip
    try:
        async with session.post(base + PATH, data=body, headers=headers) as response:
            text = await response.text()
            ok = response.status == 200 and "<Response" in text
            sent.record(sid, response.status, ok)
            return ok
    except (TimeoutError, aiohttp.ClientError) as exc:
        sent.record(sid, 0, False, type(exc).__name__)
        return False


async def saturate(base: str, items: list, seconds: float, sent: Sent) -> tuple[int, float, list[float]]:
    import aiohttp

    it = iter(items)
    acks = 0
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY), timeout=timeout) as session:
        deadline = time.perf_counter() + seconds

        async def sender() -> None:
            nonlocal acks
            while time.perf_counter() < deadline:
                item = next(it, None)
                if item is None:
                    return
                t = time.perf_counter()
                if await post(session, base, item, sent):
                    acks += 1
                    latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return acks, elapsed, latencies


async def steady(base: str, items: list, rate: float, sent: Sent) -> tuple[list[float], float]:
    """Open loop: request i leaves at start + i/rate whatever came before; latency from that time."""
    import aiohttp

    latencies: list[float] = []
    lags: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2

        async def one(i: int, item) -> None:
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - loop.time()))
            lags.append(loop.time() - at)
            if await post(session, base, item, sent):
                latencies.append(loop.time() - at)

        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return latencies, max(lags, default=0.0)


def counts() -> dict[str, int]:
    import psycopg

    with psycopg.connect(libpq(DB_URL), autocommit=True) as c:
        row = c.execute(
            """SELECT
                 count(*) FILTER (WHERE author = 'customer'),
                 count(DISTINCT external_id) FILTER (WHERE author = 'customer'),
                 count(*) FILTER (WHERE author = 'customer' AND handled_at IS NULL),
                 count(*) FILTER (WHERE author <> 'customer'),
                 count(*) FILTER (WHERE author <> 'customer' AND handled_at IS NULL)
               FROM tickets_message WHERE channel = 'sms'"""
        ).fetchone()
        replied = c.execute(
            """SELECT count(DISTINCT m.id) FROM tickets_message m
               JOIN tickets_message r ON r.reply_to_id = m.id AND r.handled_at IS NOT NULL
               WHERE m.channel = 'sms' AND m.author = 'customer'"""
        ).fetchone()[0]
        dup_conv = c.execute(
            """SELECT count(*) FROM (SELECT sender FROM tickets_conversation WHERE channel = 'sms'
               AND state <> 'closed' GROUP BY sender HAVING count(*) > 1) s"""
        ).fetchone()[0]
        conversations = c.execute("SELECT count(*) FROM tickets_conversation WHERE channel = 'sms'").fetchone()[0]
        unfiled = c.execute("SELECT count(*) FROM channels_io_inboundtext").fetchone()[0]
    return {
        "customer": row[0], "distinct_sids": row[1], "unanswered": row[2], "outbound": row[3],
        "undelivered": row[4], "replied": replied, "dup_conversations": dup_conv, "conversations": conversations,
        "unfiled": unfiled,
    }  # fmt: skip


def stored_sids() -> set[str]:
    import psycopg

    with psycopg.connect(libpq(DB_URL), autocommit=True) as c:
        rows = c.execute("SELECT external_id FROM tickets_message WHERE channel = 'sms' AND author = 'customer'")
        return {r[0] for r in rows}


def drain(timeout: float) -> tuple[float, dict[str, int]]:
    """Wait until the queue is empty and no text is left unfiled, unanswered or undelivered; seconds waited."""
    started = time.perf_counter()
    last = None
    while time.perf_counter() - started < timeout:
        c = counts()
        idle = common.queue_length(REDIS_URL) == 0
        if idle and c["unfiled"] == 0 and c["unanswered"] == 0 and c["undelivered"] == 0:
            return time.perf_counter() - started, c
        if c != last:
            last = c
        time.sleep(1.0)
    return time.perf_counter() - started, counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--unknown", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--keep", action="store_true", help="leave the database loophole_smsbench")
    parser.add_argument("--worker-nice", type=int, default=10,
                        help="the Celery worker's nice level: on a shared host Twilio's acknowledgements come "
                             "first and the replies catch up (0: equal footing)")  # fmt: skip
    parser.add_argument("--server", choices=common.SERVERS, default="asgi",
                        help="asgi: uvicorn serves everything; split: gunicorn the plain views (the webhook), "
                             "uvicorn the streams, nginx in front")  # fmt: skip
    parser.add_argument("--app", type=Path, default=ROOT,
                        help="run the server and worker from this copy of the project (to measure a candidate change)")  # fmt: skip
    args = parser.parse_args()
    common.check_server(args.server)

    metric("background_busy", background(), "%")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="sms-bench-"))
    env = common.server_env(base, DB_URL, REDIS_URL, PYTHONPATH=str(args.app.resolve()), **twilio_env(tmp))
    server = common.WebServer(args.server, port, tmp, env, args.app)
    worker = None
    try:
        common.recreate_database(DB_URL)
        common.flush_redis(REDIS_URL)
        known = seed(env, args.customers)
        unknown = [f"+1555{7000000 + i:07d}" for i in range(args.unknown)]
        note(f"{args.customers} customers with a phone number, {args.unknown} unknown numbers; "
             f"{args.server} server on {base}")  # fmt: skip
        sat_items = presign(int(args.seconds * 600) + 2000, base, known, unknown, "sat")
        warm_items, sat_items = sat_items[:200], sat_items[200:]
        steady_items = presign(int(args.seconds * args.rate), base, known, unknown, "steady")

        worker_log = tmp / "celery.log"
        worker = subprocess.Popen(
            ["nice", "-n", str(args.worker_nice), str(BIN / "celery"), "-A", "loophole", "worker", "--pool=threads", "--concurrency=4",
             "--loglevel=warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=args.app, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        server.start(2)
        sent = Sent()

        # (a) saturation
        asyncio.run(saturate(base, warm_items, 2.0, sent))
        acks, elapsed, sat_lat = asyncio.run(saturate(base, sat_items, args.seconds, sent))
        sat_errors = sum(1 for s in sent.status.values() if s < 0)
        rate = acks / elapsed
        metric("sms_saturation_acks_per_second", rate, "req/s")
        metric("sms_saturation_ack_p50", percentile(sat_lat, 50) * 1000, "ms")
        metric("sms_saturation_ack_p99", percentile(sat_lat, 99) * 1000, "ms")
        metric("sms_saturation_errors", sat_errors, "")
        if sent.errors:
            note(f"errors by kind: {sent.errors}")
        waited, c = drain(300)
        metric("sms_worker_drain_after_saturation", waited, "s")
        bare = common.baseline_insert()
        if bare:
            metric("bare_insert_mw_rps", bare, "req/s")
            metric("sms_saturation_ratio_to_bare_insert", rate / bare, "x")

        # (b) steady open-loop load
        before = len(sent.errors) and sum(sent.errors.values())
        latencies, lag = asyncio.run(steady(base, steady_items, args.rate, sent))
        steady_errors = sum(sent.errors.values()) - (before or 0)
        metric("sms_steady_rate", args.rate, "req/s")
        metric("sms_steady_ack_p50", percentile(latencies, 50) * 1000, "ms")
        metric("sms_steady_ack_p99", percentile(latencies, 99) * 1000, "ms")
        metric("sms_steady_ack_max", max(latencies, default=float("nan")) * 1000, "ms")
        metric("sms_steady_errors", steady_errors, "")
        note(f"latency is from each request's scheduled send time; the client's worst scheduling lag was "
             f"{lag * 1000:.1f} ms")  # fmt: skip

        # (c) after the load
        waited, c = drain(300)
        metric("sms_worker_drain_seconds", waited, "s")
        stored = stored_sids()
        sids = set(sent.status)
        acked = {sid for sid, s in sent.status.items() if s == 200}
        metric("sms_inbound_sent", len(sids), "")
        metric("sms_inbound_acknowledged", len(acked), "")
        metric("sms_inbound_stored", c["customer"], "")
        metric("sms_inbound_duplicates", c["customer"] - c["distinct_sids"], "")
        metric("sms_inbound_lost", len(acked - stored), "")
        metric("sms_inbound_stored_not_sent", len(stored - sids), "")
        metric("sms_inbound_replied", c["replied"], "")
        metric("sms_inbound_unanswered", c["unanswered"], "")
        files = len(list((tmp / "sms").glob("*.json"))) if (tmp / "sms").exists() else 0
        metric("sms_replies_sent_by_backend", files, "")
        note(f"sms conversations {c['conversations']}, numbers with more than one open conversation "
             f"{c['dup_conversations']}, outbound messages {c['outbound']}")  # fmt: skip
        server.log_errors()
        common.log_errors("celery", worker_log)
    finally:
        server.stop()
        common.clean_up([worker], tmp, DB_URL, keep=args.keep)


if __name__ == "__main__":
    main()
