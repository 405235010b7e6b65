"""Soak and scale-out: two web processes and two Celery workers on one PostgreSQL and Redis, for minutes.

    .venv/bin/python bench/soak.py [--minutes 20] [--chat-clients 32] [--ring 3] [--sms-rate 10] [--skip-baseline]

As `docker-compose up --scale web=2 --scale worker=2` would run them: two separate
`uvicorn loophole.asgi:application --workers 1` processes on two ports (the same PUBLIC_URL, as two
replicas behind one proxy) and two separate `celery -A loophole worker --pool=threads
--concurrency=4` processes, on one fresh database `loophole_soak` (on BENCH_POSTGRES_URL's server, the baseline's PostgreSQL;
migrated, help_articles imported, 300 customers with a PhoneNumber) and db 8 of BENCH_REDIS_URL
(only that db is flushed). SMS replies go through SMS_BACKEND=file into a temporary directory.
The bench is the web processes' proxy: each customer and Twilio request comes from an address of its
own in X-Forwarded-For (_common.BENCH_PROXY).
No beat runs: nothing dropped is re-queued by the sweeper, so a loss shows.

For --warmup seconds and then --minutes, at once:
- chat: --chat-clients clients, each rotating over --ring customers (each with one conversation) so
  that no customer nears the widget's limit of 30 messages a minute: POST a help question, wait for
  the assistant's reply on the conversation's SSE stream, think 1-2 s, next customer. Half the
  clients POST to web A and hold their streams on web B, the other half the reverse: every message
  reaches its stream across processes through Redis pub/sub (the customer's own message from the
  other web process, and the reply too: the built-in assistant answers in the request that stored
  the message). Round trip: POST sent to reply received.
- SMS: signed Twilio webhooks (bench/sms_webhook.py's presign: unique MessageSids, 1 in 6 from 60
  unknown numbers) at a steady --sms-rate per second, open loop, alternately to web A and web B.
Every 5 s the RSS of each web and worker process (with its children) is sampled; every --every
seconds a `# progress` note. RSS start is the median of the samples in the first 30 s after the
warm-up, RSS end the median of the last 30 s of the load.

After the load the worker queue drains (no customer message unhandled, no SMS reply undelivered,
no inbound text unfiled), the streams get 2 more seconds, then everything is checked in the
database: every acknowledged message stored once and answered once (Message.reply_to), every
stored chat message seen on its stream exactly once, every SMS reply sent once by the backend.
Then the processes stop and the baseline's `insert` (BARE_MIDDLEWARE=standard, as bench/chat.py
runs it) is measured, and chat + SMS acknowledgements per second over it. Exits 1 when errors, lost
or doubled are not 0, or any process's RSS grew by 10 % or more.

Needs the baseline kit's services (`./services.sh start` in BASELINE_DIR). Takes --minutes + about 3 minutes.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import _common as common
import chat
import sms_webhook
from _common import ROOT, background, free_port, libpq, metric, note, percentile, stop

DB_URL = common.bench_database_url("loophole_soak")
REDIS_URL = common.bench_redis_url(8)

BIN = Path(sys.executable).parent
THINK = (1.0, 2.0)  # seconds between a reply and the client's next message
SAMPLE_EVERY = 5.0  # seconds between RSS samples
RSS_WINDOW = 30.0  # seconds of samples whose median is the start (after warm-up) and the end figure
GROWTH_LIMIT = 10.0  # %
SMS_CUSTOMERS = 300
SMS_UNKNOWN = 60


# --- chat clients -------------------------------------------------------------------------------------


class SoakStream(chat.Stream):
    """chat.Stream on a given web process, counting a message event that comes twice."""

    def __init__(self, customer: chat.Customer, conversation_id: int, server: int) -> None:
        super().__init__(customer, conversation_id)
        self.server = server
        self.repeats = 0

    def _dispatch(self, event: str, data: str, now: float) -> None:
        if event == "message" and json.loads(data)["id"] in self.seen:
            self.repeats += 1
        super()._dispatch(event, data, now)


@dataclass
class ChatSent:
    stream: SoakStream
    client_id: str
    post_to: int
    sent_at: float
    status: int = 0  # the POST's HTTP status, 0 for a transport error
    message_id: int = 0
    round_trip: float | None = None  # POST sent to the assistant's reply on the stream


@dataclass
class ChatLoad:
    messages: list[ChatSent] = field(default_factory=list)
    errors: chat.Errors = field(default_factory=chat.Errors)


async def chat_client(session, bases: list[str], ring: list[SoakStream], until: float, load: ChatLoad,
                      rng: random.Random) -> None:  # fmt: skip
    """Send to the web process not holding the stream, wait for the reply on the stream, think, repeat."""
    import aiohttp

    i = rng.randrange(len(ring))
    while time.perf_counter() < until:
        stream = ring[i % len(ring)]
        i += 1
        post_to = 1 - stream.server
        sent = ChatSent(stream, uuid.uuid4().hex, post_to, time.perf_counter())
        load.messages.append(sent)
        body = json.dumps({"text": rng.choice(chat.QUESTIONS), "client_id": sent.client_id}).encode()
        customer = stream.customer
        headers = {"Cookie": customer.cookie, "X-CSRFToken": customer.csrf, "Content-Type": "application/json",
                   "X-Forwarded-For": customer.address}  # fmt: skip
        url = f"{bases[post_to]}/chat/conversations/{stream.conversation_id}/messages/"
        try:
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                sent.status = response.status
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            load.errors.add(f"chat post {type(exc).__name__}")
            await asyncio.sleep(rng.uniform(*THINK))
            continue
        if sent.status != 201:
            load.errors.add(f"chat post http {sent.status}")
            await asyncio.sleep(rng.uniform(*THINK))
            continue
        sent.message_id = json.loads(payload)["id"]
        try:
            arrived = await stream.wait_for(
                lambda mid, author, after=sent.message_id: author == "assistant" and mid > after, chat.REPLY_TIMEOUT
            )
            sent.round_trip = arrived - sent.sent_at
        except TimeoutError:
            load.errors.add("chat reply not on SSE in 20 s")
        await asyncio.sleep(rng.uniform(*THINK))


# --- processes and memory -------------------------------------------------------------------------------


def tree_rss_kb(pid: int) -> int:
    total = 0
    with contextlib.suppress(OSError):  # the process or a child is gone
        for p in [pid, *chat.children(pid)]:
            total += chat.rss_kb(p)
    return total


class Sampler:
    """RSS of each process (with its children) every SAMPLE_EVERY s, and CPU per interval."""

    def __init__(self, procs: dict[str, subprocess.Popen]) -> None:
        self.procs = procs
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in procs}
        self.groups = {name: (lambda pid=p.pid: [pid, *chat.children(pid)]) for name, p in procs.items()}
        self.groups["postgres"] = lambda: chat.pids_named("postgres")
        self.groups["redis"] = lambda: chat.pids_named("redis-server")
        self.groups["bench"] = lambda: [os.getpid()]
        self.cpu_at = (time.perf_counter(), self.cpu())

    def cpu(self) -> dict[str, int]:
        return {name: chat.cpu_ticks(f()) for name, f in self.groups.items()}

    def sample(self) -> None:
        now = time.perf_counter()
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.samples[name].append((now, tree_rss_kb(proc.pid)))

    def cpu_since_last(self) -> str:
        then, before = self.cpu_at
        now, after = time.perf_counter(), self.cpu()
        self.cpu_at = (now, after)
        hz = os.sysconf("SC_CLK_TCK")
        return ", ".join(f"{k} {100 * (after[k] - before[k]) / hz / (now - then):.0f}" for k in after)

    def last(self, name: str) -> float:
        return self.samples[name][-1][1] if self.samples[name] and self.procs[name].poll() is None else float("nan")

    def median(self, name: str, start: float, end: float) -> float:
        values = [kb for at, kb in self.samples[name] if start <= at <= end]
        return statistics.median(values) if values else float("nan")


def start_processes(env: dict[str, str], ports: list[int], tmp: Path, concurrency: int) -> dict[str, subprocess.Popen]:
    procs: dict[str, subprocess.Popen] = {}
    for name, port in zip(("web-a", "web-b"), ports, strict=True):
        procs[name] = subprocess.Popen(
            [str(BIN / "uvicorn"), "loophole.asgi:application", "--loop", "uvloop", "--http", "httptools",
             "--workers", "1", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--log-level", "warning", "--no-proxy-headers"],
            cwd=ROOT, env=env, stdout=(tmp / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
    for n in (1, 2):
        procs[f"worker-{n}"] = subprocess.Popen(
            [str(BIN / "celery"), "-A", "loophole", "worker", "--pool=threads", f"--concurrency={concurrency}",
             "-n", f"soak{n}@%h", "--loglevel=warning"],
            cwd=ROOT, env=env, stdout=(tmp / f"worker-{n}.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
    return procs


# --- the run --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    chat: ChatLoad
    sms: sms_webhook.Sent
    streams: list[SoakStream]
    sms_latencies: list[float]
    sms_lag: float
    load_seconds: float
    measured_from: float  # end of the warm-up
    load_end: float
    drained_in: float
    db_messages: dict[int, set[int]]  # chat conversation -> message ids stored


def unhandled() -> dict[str, int]:
    import psycopg

    with psycopg.connect(libpq(DB_URL), autocommit=True) as c:
        row = c.execute(
            """SELECT count(*) FILTER (WHERE author = 'customer' AND handled_at IS NULL),
                      count(*) FILTER (WHERE author <> 'customer' AND channel = 'sms' AND handled_at IS NULL),
                      (SELECT count(*) FROM channels_io_inboundtext)
               FROM tickets_message"""
        ).fetchone()
    return {"unanswered": row[0], "undelivered": row[1], "unfiled": row[2]}


def drain(timeout: float, stuck: float = 60.0) -> float:
    """Seconds until nothing is queued or unhandled; gives up after `timeout`, or `stuck` s without progress."""
    started = last_change = time.perf_counter()
    last = None
    while time.perf_counter() - started < timeout and time.perf_counter() - last_change < stuck:
        state = (common.queue_length(REDIS_URL), *unhandled().values())
        if not any(state):
            break
        if state != last:
            last, last_change = state, time.perf_counter()
        time.sleep(1.0)
    return time.perf_counter() - started


def chat_messages_by_conversation() -> dict[int, set[int]]:
    import psycopg

    out: dict[int, set[int]] = {}
    with psycopg.connect(libpq(DB_URL), autocommit=True) as c:
        for conversation_id, message_id in c.execute(
            "SELECT conversation_id, id FROM tickets_message WHERE channel = 'chat'"
        ):
            out.setdefault(conversation_id, set()).add(message_id)
    return out


async def soak(args, bases: list[str], customers: list[chat.Customer], sms_items: list,
               sampler: Sampler) -> Outcome:  # fmt: skip
    import aiohttp

    rng = random.Random(8)
    load = ChatLoad()
    rings = []
    for k in range(args.chat_clients):
        server = (k + 1) % 2  # client 0 streams on B (1) and posts to A (0), client 1 the reverse, ...
        rings.append([SoakStream(c, c.conversations[0], server) for c in customers[k :: args.chat_clients]])
    streams = [s for ring in rings for s in ring]
    sse = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        cookie_jar=aiohttp.DummyCookieJar(),
    )  # fmt: skip
    posts = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.chat_clients * 2), timeout=aiohttp.ClientTimeout(total=30),
        cookie_jar=aiohttp.DummyCookieJar(),
    )  # fmt: skip
    sent = sms_webhook.Sent()
    try:
        tasks = []
        for server in (0, 1):
            mine = [s for s in streams if s.server == server]
            tasks += await chat.open_streams(sse, bases[server], mine, load.errors, 16)
        live = sum(1 for s in streams if s.status == 200 and not s.closed)
        note(f"{live} of {len(streams)} streams open ({sum(1 for s in streams if s.server == 0)} on web-a, "
             f"{sum(1 for s in streams if s.server == 1)} on web-b)")  # fmt: skip

        started = time.perf_counter()
        measured_from = started + args.warmup
        until = measured_from + args.minutes * 60
        clients = [asyncio.create_task(chat_client(posts, bases, ring, until, load, rng)) for ring in rings]
        # Alternate texts between the two web processes: each gets half the rate, interleaved.
        half = args.sms_rate / 2

        async def sms_half(server: int) -> tuple[list[float], float]:
            await asyncio.sleep(server / args.sms_rate)
            return await sms_webhook.steady(bases[server], sms_items[server::2], half, sent)

        sms_tasks = [asyncio.create_task(sms_half(server)) for server in (0, 1)]

        async def progress() -> None:
            last = {"t": started, "chat": 0, "sms": 0}
            next_note = started + args.every
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                sampler.sample()
                now = time.perf_counter()
                if now < next_note:
                    continue
                next_note += args.every
                msgs = load.messages
                recent = [m.round_trip for m in msgs[last["chat"] :] if m.round_trip is not None]
                sms_now = len(sent.status)
                dt = now - last["t"]
                rss = ", ".join(f"{name} {sampler.last(name) / 1024:.0f}" for name in sampler.procs)
                note(f"progress {now - started:.0f} s{' (warm-up)' if now < measured_from else ''}: "
                     f"chat {(len(msgs) - last['chat']) / dt:.1f} msg/s, round trip p50 "
                     f"{percentile(recent, 50) * 1000:.0f} p99 {percentile(recent, 99) * 1000:.0f} ms; "
                     f"sms {(sms_now - last['sms']) / dt:.1f}/s; errors chat {load.errors.total()} "
                     f"sms {sum(sent.errors.values())}; queue {await asyncio.to_thread(common.queue_length, REDIS_URL)}; "
                     f"RSS MB {rss}; CPU % {sampler.cpu_since_last()}")  # fmt: skip
                last = {"t": now, "chat": len(msgs), "sms": sms_now}

        sampler.sample()
        reporter = asyncio.create_task(progress())
        await asyncio.gather(*clients)
        (sms_a, lag_a), (sms_b, lag_b) = await asyncio.gather(*sms_tasks)
        load_end = time.perf_counter()
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
        sampler.sample()
        load_seconds = load_end - started
        note(f"load over after {load_seconds:.0f} s; draining the worker queue")
        drained_in = await asyncio.to_thread(drain, 300)
        await asyncio.sleep(2.0)  # the last pushes reach their streams
        db_messages = await asyncio.to_thread(chat_messages_by_conversation)
        await chat.close_streams(tasks)  # a stream that ended before this is an error of chat.Stream.run's
    finally:
        await posts.close()
        await sse.close()
    return Outcome(load, sent, streams, sms_a + sms_b, max(lag_a, lag_b), load_seconds, measured_from, load_end,
                   drained_in, db_messages)  # fmt: skip


# --- the checks -----------------------------------------------------------------------------------------


def stored_by_external_id(channel: str) -> tuple[dict[str, tuple[int, int, int]], int]:
    """{external_id: (rows, replies, replies delivered)} of customer messages, and unlinked replies."""
    import psycopg

    with psycopg.connect(libpq(DB_URL), autocommit=True) as c:
        rows = c.execute(
            """SELECT m.external_id, count(DISTINCT m.id), count(r.id), count(r.handled_at)
               FROM tickets_message m LEFT JOIN tickets_message r ON r.reply_to_id = m.id
               WHERE m.channel = %s AND m.author = 'customer' GROUP BY m.external_id""",
            [channel],
        ).fetchall()
        unlinked = c.execute(
            "SELECT count(*) FROM tickets_message WHERE channel = %s AND author = 'assistant' AND reply_to_id IS NULL",
            [channel],
        ).fetchone()[0]
    return {r[0]: (r[1], r[2], r[3]) for r in rows}, unlinked


def check(out: Outcome, sms_dir: Path) -> dict[str, dict[str, int]]:
    """Metric lines for chat and SMS; returns {"errors"|"lost"|"doubled": {kind: n}}."""
    errors = dict(out.chat.errors.kinds)
    for kind, n in out.sms.errors.items():
        errors[f"sms {kind}"] = n
    lost: dict[str, int] = {}
    doubled: dict[str, int] = {}

    def add(d: dict[str, int], kind: str, n: int) -> None:
        if n:
            d[kind] = d.get(kind, 0) + n

    # chat: by external id "<conversation>:<client_id>"
    msgs = out.chat.messages
    acked = {f"{m.stream.conversation_id}:{m.client_id}" for m in msgs if m.status == 201}
    stored, unlinked = stored_by_external_id("chat")
    chat_stored = acked & stored.keys()
    answered = {k for k in chat_stored if stored[k][1] >= 1}
    round_trips = [m.round_trip for m in msgs if m.round_trip is not None]
    measured = [m.round_trip for m in msgs if m.round_trip is not None and m.sent_at >= out.measured_from]
    metric("chat_sent", len(msgs))
    metric("chat_acknowledged", len(acked))
    metric("chat_stored", len(chat_stored))
    metric("chat_answered", len(answered))
    metric("chat_replies_on_sse", len(round_trips))
    metric("chat_round_trip_p50", percentile(measured, 50) * 1000, "ms")
    metric("chat_round_trip_p99", percentile(measured, 99) * 1000, "ms")
    metric("chat_round_trip_max", max(measured, default=float("nan")) * 1000, "ms")
    add(lost, "chat acknowledged, not stored", len(acked - stored.keys()))
    add(lost, "chat stored, not answered", len(chat_stored - answered))
    add(doubled, "chat stored twice", sum(rows - 1 for rows, _, _ in stored.values()))
    add(doubled, "chat answered twice", sum(max(0, replies - rows) for rows, replies, _ in stored.values()))
    add(doubled, "chat assistant message answering nothing", unlinked)
    not_acked = len(stored.keys() - acked)
    if not_acked:
        note(f"chat: {not_acked} messages stored whose POST was not acknowledged (a transport error)")

    # pushes: every chat message stored in a conversation reaches its stream once
    seen = echoes = replies = missing = repeats = 0
    for s in out.streams:
        ids = out.db_messages.get(s.conversation_id, set())
        seen += len(ids & s.seen.keys())
        missing += len(ids - s.seen.keys())
        repeats += s.repeats
        authors = [author for _, author in s.seen.values()]
        echoes += authors.count("customer")
        replies += authors.count("assistant")
    metric("cross_process_pushes", seen)
    note(f"each stream is on the web process the customer did not POST to: {echoes} customer messages "
         f"and {replies} replies pushed from the other web process (answered in the POST); "
         f"{missing} stored messages never reached their stream, {repeats} reached it twice")  # fmt: skip
    add(lost, "chat message never pushed to its stream", missing)
    add(doubled, "chat message pushed twice to a stream", repeats)

    # SMS: by MessageSid
    sids = set(out.sms.status)
    sms_acked = {sid for sid, status in out.sms.status.items() if status == 200}
    stored, unlinked = stored_by_external_id("sms")
    sms_stored = sms_acked & stored.keys()
    sms_answered = {k for k in sms_stored if stored[k][1] >= 1}
    delivered = sum(d for _, _, d in stored.values())
    files = len(list(sms_dir.glob("*.json"))) if sms_dir.exists() else 0
    metric("sms_sent", len(sids))
    metric("sms_acknowledged", len(sms_acked))
    metric("sms_stored", len(sms_stored))
    metric("sms_answered", len(sms_answered))
    metric("sms_replies_sent", files)
    metric("sms_ack_p50", percentile(out.sms_latencies, 50) * 1000, "ms")
    metric("sms_ack_p99", percentile(out.sms_latencies, 99) * 1000, "ms")
    metric("sms_ack_max", max(out.sms_latencies, default=float("nan")) * 1000, "ms")
    note(f"SMS latency from each request's scheduled time; the client's worst scheduling lag "
         f"{out.sms_lag * 1000:.0f} ms")  # fmt: skip
    add(lost, "sms acknowledged, not stored", len(sms_acked - stored.keys()))
    add(lost, "sms stored, not answered", len(sms_stored - sms_answered))
    add(lost, "sms reply not delivered", sum(r - d for _, r, d in stored.values()))
    add(lost, "sms replies delivered, not sent by the backend", max(0, delivered - files))
    add(doubled, "sms stored twice", sum(rows - 1 for rows, _, _ in stored.values()))
    add(doubled, "sms answered twice", sum(max(0, replies - rows) for rows, replies, _ in stored.values()))
    add(doubled, "sms assistant message answering nothing", unlinked)
    add(doubled, "sms replies sent more often than delivered", max(0, files - delivered))
    left = unhandled()  # each is one of the losses above
    if any(left.values()):
        note(f"left after the drain: {left}")
    return {"errors": errors, "lost": lost, "doubled": doubled}


def count_log_errors(tmp: Path, names: list[str]) -> dict[str, int]:
    out = {}
    for name in names:
        log = tmp / f"{name}.log"
        common.log_errors(name, log)
        text = log.read_text(errors="replace")
        n = sum(1 for line in text.splitlines() if "ERROR" in line or "Traceback" in line)
        if n:
            out[f"{name} log error lines"] = n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="measured load, after the warm-up")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of the same load before RSS start")
    parser.add_argument("--chat-clients", type=int, default=32)
    parser.add_argument("--ring", type=int, default=3, help="customers per chat client (the 30/min limit)")
    parser.add_argument("--sms-rate", type=float, default=10.0, help="signed SMS webhooks per second")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per Celery worker")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between progress notes")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the database loophole_soak")
    args = parser.parse_args()

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    metric("background_busy", background(), "%")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    tmp = Path(tempfile.mkdtemp(prefix="soak-bench-"))
    env = common.server_env(bases[0], DB_URL, REDIS_URL, **sms_webhook.twilio_env(tmp), EMAIL_URL="consolemail://")
    procs: dict[str, subprocess.Popen] = {}
    verdict = 1
    try:
        t = time.perf_counter()
        common.recreate_database(DB_URL)
        common.flush_redis(REDIS_URL)
        known = sms_webhook.seed(env, SMS_CUSTOMERS)  # migrates, then customers with a PhoneNumber
        chat.manage(env, "import_help_articles", str(ROOT / "help_articles"))
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
                                               "ANYMAIL_WEBHOOK_SECRET", "PUBLIC_URL", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY")})  # fmt: skip
        import django

        django.setup()
        from django.db import connection

        customers = chat.make_customers("soak", args.chat_clients * args.ring)
        connection.close()
        unknown = [f"+1555{7000000 + i:07d}" for i in range(SMS_UNKNOWN)]
        total = int(args.sms_rate * (args.warmup + args.minutes * 60))
        sms_items = sms_webhook.presign(total, bases[0], known, unknown, "soak")

        procs = start_processes(env, ports, tmp, args.concurrency)
        for name, base in zip(("web-a", "web-b"), bases, strict=True):
            common.wait_http(base + "/healthz", procs[name], tmp / f"{name}.log")
        asyncio.run(chat.new_conversations(bases[0], customers))
        note(f"setup {time.perf_counter() - t:.0f} s: web-a {bases[0]} (pid {procs['web-a'].pid}), web-b {bases[1]} "
             f"(pid {procs['web-b'].pid}), workers pid {procs['worker-1'].pid} and {procs['worker-2'].pid} "
             f"(threads x {args.concurrency}); {args.chat_clients} chat clients over {len(customers)} customers, "
             f"{args.sms_rate:g} SMS/s from {SMS_CUSTOMERS} known and {SMS_UNKNOWN} unknown numbers; "
             f"{args.warmup:.0f} s warm-up then {args.minutes:g} min")  # fmt: skip
        note(f"CPU % columns (100 = one core): {', '.join(procs)}, postgres (all clusters), redis, bench")

        sampler = Sampler(procs)
        out = asyncio.run(soak(args, bases, customers, sms_items, sampler))
        exited = {f"{name} exited ({proc.returncode})": 1 for name, proc in procs.items() if proc.poll() is not None}
        metric("load_seconds", out.load_seconds, "s")
        metric("worker_drain_seconds", out.drained_in, "s")
        found = check(out, tmp / "sms")
        found["errors"].update(count_log_errors(tmp, list(procs)))
        found["errors"].update(exited)

        # memory
        growths = []
        for name in procs:
            start = sampler.median(name, out.measured_from, out.measured_from + RSS_WINDOW)
            end = sampler.median(name, out.load_end - RSS_WINDOW, out.load_end)
            peak = max((kb for _, kb in sampler.samples[name]), default=float("nan"))
            growth = 100 * (end - start) / start
            growths.append(growth)
            metric(f"rss_start_{name.replace('-', '_')}", start / 1024, "MB")
            metric(f"rss_end_{name.replace('-', '_')}", end / 1024, "MB")
            metric(f"rss_growth_{name.replace('-', '_')}", growth, "%")
            warm = sampler.median(name, 0, out.measured_from)
            note(f"{name}: RSS median during the warm-up {warm / 1024:.1f} MB, peak {peak / 1024:.1f} MB")
        # a process without samples (it died) has a NaN growth, which fails the check below
        worst = float("nan") if any(math.isnan(g) for g in growths) else max(growths)
        metric("rss_growth_max", worst, "%")

        for what in ("errors", "lost", "doubled"):
            metric(what, sum(found[what].values()))
            if found[what]:
                note(f"{what} by kind: {found[what]}")
        acked = sum(1 for m in out.chat.messages if m.status == 201)
        sms_acked = sum(1 for s in out.sms.status.values() if s == 200)
        rate = (acked + sms_acked) / out.load_seconds
        metric("chat_per_second", acked / out.load_seconds, "msg/s")
        metric("sms_per_second", sms_acked / out.load_seconds, "msg/s")
        metric("chat_sms_per_second", rate, "msg/s")
        ok = not any(found[w] for w in ("errors", "lost", "doubled")) and worst < GROWTH_LIMIT  # False for NaN
        verdict = 0 if ok else 1

        for proc in procs.values():
            stop(proc)
        if not args.skip_baseline:
            bare = common.baseline_insert()
            if bare:
                metric("bare_insert_mw_rps", bare, "req/s")
                metric("soak_ratio_to_bare_insert", rate / bare, "x")
                note("the ratio is of the offered load (paced clients), not of a capacity")
        metric("soak_passed", "yes" if ok else "no")
    finally:
        common.clean_up(list(procs.values()), tmp, DB_URL, keep=args.keep)
    sys.exit(verdict)


if __name__ == "__main__":
    main()
