"""The chat widget under the production server: round trips through the assistant, and idle streams.

    .venv/bin/python bench/chat.py [--server asgi|split|asgi-nginx] [--pool threads|prefork] [--seconds 30] [--ring 20] [--idle 1000] [--keep]

Recreates the database `loophole_chatbench` on BENCH_POSTGRES_URL's server (the baseline's PostgreSQL),
migrates it, imports help_articles, flushes db 5 of BENCH_REDIS_URL's Redis, creates customers (one password
hash made once and reused) with database sessions and a csrftoken, and starts
`uvicorn loophole.asgi:application --workers 2 --loop uvloop --http httptools` (DEBUG off; as the
baseline runs; --web-workers) and one process for (c), behind the bench as its proxy (each customer
from an address of its own in X-Forwarded-For: _common.BENCH_PROXY); with `--server split`, gunicorn
(loophole.wsgi, gthread) for the plain views and uvicorn for the streams, each with as many processes, and
nginx in front (_common.WebServer); and a Celery worker (`--pool=threads
--concurrency=8`, or `--pool prefork` with 2 processes) as production has one. The local assistant
answers in the web request that stored the message, so the worker stays idle unless an answer
fails there (its CPU is printed: 0 % says none did). Clients use aiohttp: POST /chat/conversations/<id>/messages/
{"text", "client_id"} (201), and one SSE stream GET /chat/conversations/<id>/events/ per conversation,
on which the assistant's reply arrives as `event: message`.

(a) saturation: 32 concurrent clients, each sending a help question as soon as the assistant's reply
    to its previous one arrives on the SSE stream, for --seconds: completed round trips per second,
    errors. Each client rotates over --ring customers (each with its own conversation and open
    stream) so that no customer passes the widget's rate limit (30 messages a minute: rings of 20,
    640 customers, allow 320 msg/s in all); `--ring 1` measures the literal 32 customers, and then the limit (429) is what is measured. Then the
    baseline's `insert` with Django's standard middleware (`http_bench.sh uvicorn insert`, wrk at 32
    connections) in the same run, and our rate over its rate.
(b) realistic: 32 clients each waiting 0.8-1.2 s between messages for --seconds (2 customers per
    client, for the same reason), each starting at a random moment of its first second (customers
    do not all type at once), the warm-up running on into the measured window: round trip from the
    POST sent to the reply on SSE, p50/p99.
(c) --idle idle open SSE widgets (100 customers x 10 conversations, each with a ticket) on the one
    web process: its VmRSS before and after, then 200 staff replies through
    tickets.services.add_staff_reply in this process, each into a random one of them, timed until
    that stream receives the message.

Needs the baseline kit's services (`./services.sh start` in BASELINE_DIR). About 3 minutes. `--profile DIR`
records py-spy (if installed in the venv; --gil, non-blocking) on the web and worker processes during
(a), the opening of its streams included.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import string
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import _common as common
from _common import ROOT, background, client_address, free_port, metric, note, percentile, stop

DB_URL = common.bench_database_url("loophole_chatbench")
REDIS_URL = common.bench_redis_url(5)
BIN = Path(sys.executable).parent
CLIENTS = 32
RATE_LIMIT = 30  # channels_io.chat.views.RATE_LIMIT: messages per customer per minute
REPLY_TIMEOUT = 20.0
QUESTIONS = [
    "how do I reset my password?",
    "How do I reset my password?",
    "How can I reset my password please",
    "I forgot my password, how do I reset it?",
    "how to reset password",
    "Where do I reset my password?",
    "How do I change my password?",
    "password reset, how does it work?",
]


# --- processes ------------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total


def pids_named(name: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "comm").read_text().strip() == name:
                    out.append(int(p.name))
            except OSError:
                pass
    return out


class CpuMeter:
    """CPU seconds of the web servers and the worker (each with its children), PostgreSQL, Redis, this bench."""

    def __init__(self, web: dict[str, int], worker: int) -> None:
        self.groups = {
            **{name: (lambda pid=pid: [pid, *children(pid)]) for name, pid in web.items()},
            "worker": lambda: [worker, *children(worker)],
            "postgres": lambda: pids_named("postgres"),
            "redis": lambda: pids_named("redis-server"),
            "bench": lambda: [os.getpid()],
        }

    def snap(self) -> dict[str, int]:
        return {k: cpu_ticks(f()) for k, f in self.groups.items()}

    def report(self, before: dict[str, int], seconds: float, what: str) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        after = self.snap()
        parts = [f"{k} {100 * (after[k] - before[k]) / hz / seconds:.0f}%" for k in after]
        note(f"CPU during {what} (100% = one core of 2): " + ", ".join(parts))


# --- the database -----------------------------------------------------------------------------------


def redis_connections() -> int:
    import redis

    return int(redis.Redis.from_url(REDIS_URL).info("stats")["total_connections_received"])


def redis_clients() -> int:
    import redis

    return int(redis.Redis.from_url(REDIS_URL).info("clients")["connected_clients"])


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )


@dataclass
class Customer:
    user_id: int
    cookie: str
    csrf: str
    conversations: list[int] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Where this customer connects from, as the bench (their proxy) tells the server."""
        return client_address(self.user_id)


def make_customers(prefix: str, count: int) -> list[Customer]:
    """`count` active customers, each with a database session (logged in) and a csrftoken."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from loophole.models import User

    password = make_password("bench-password-not-secret")  # hashed once, shared by all
    verified = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@bench.example", name=f"{prefix} {i}", password=password, email_verified_at=verified)
        for i in range(count)
    )
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    sessions, customers = [], []
    alphabet = string.ascii_letters + string.digits
    for user in users:
        key = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        csrf = "".join(secrets.choice(alphabet) for _ in range(32))
        customers.append(Customer(user.pk, f"sessionid={key}; csrftoken={csrf}", csrf))
    Session.objects.bulk_create(sessions)
    return customers


def make_idle_conversations(customers: list[Customer], per_customer: int) -> dict[int, int]:
    """`per_customer` chat conversations each, handed off with an in-progress ticket: {conversation: ticket}."""
    from django.utils import timezone

    from tickets.models import Conversation, ConversationState, Status, Ticket
    from tickets.reference import new_reference

    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(customer_id=c.user_id, channel="chat", sender=f"c{c.user_id}", state=ConversationState.HANDED_OFF)
        for c in customers
        for _ in range(per_customer)
    )
    by_user = {c.user_id: c for c in customers}
    for conv in conversations:
        by_user[conv.customer_id].conversations.append(conv.pk)
    tickets = Ticket.objects.bulk_create(
        Ticket(
            reference=new_reference(),
            title="Cannot log in",
            description="The customer cannot log in.",
            status=Status.IN_PROGRESS,
            channel="chat",
            customer_id=conv.customer_id,
            conversation=conv,
            created_at=now,
            last_activity_at=now,
        )
        for conv in conversations
    )
    return {t.conversation_id: t.pk for t in tickets}


# --- clients ----------------------------------------------------------------------------------------


class Errors:
    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    def add(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def total(self, *, without: tuple[str, ...] = ()) -> int:
        return sum(n for k, n in self.kinds.items() if k not in without)


class Stream:
    """One open SSE stream of one conversation: when each message id arrived, and by whom."""

    def __init__(self, customer: Customer, conversation_id: int) -> None:
        self.customer = customer
        self.conversation_id = conversation_id
        self.seen: dict[int, tuple[float, str]] = {}
        self.wall: dict[int, tuple[float, str]] = {}  # id: (wall clock on arrival, the server's created_at)
        self.pending: list[tuple[object, asyncio.Future]] = []
        self.opened = asyncio.Event()
        self.status = 0
        self.closed = False

    def _dispatch(self, event: str, data: str, now: float) -> None:
        if event != "message":
            return
        message = json.loads(data)
        self.seen[message["id"]] = (now, message["author"])
        self.wall[message["id"]] = (time.time(), message["created_at"])
        for item in list(self.pending):
            pred, future = item
            if not future.done() and pred(message["id"], message["author"]):  # type: ignore[operator]  # pending holds (predicate, future) pairs
                future.set_result(now)
                self.pending.remove(item)

    async def wait_for(self, pred, timeout: float) -> float:
        for mid, (at, author) in self.seen.items():
            if pred(mid, author):
                return at
        future = asyncio.get_running_loop().create_future()
        item = (pred, future)
        self.pending.append(item)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if item in self.pending:
                self.pending.remove(item)

    async def run(self, session, base: str, errors: Errors) -> None:
        import aiohttp

        url = f"{base}/chat/conversations/{self.conversation_id}/events/"
        customer = self.customer
        headers = {"Cookie": customer.cookie, "Accept": "text/event-stream", "X-Forwarded-For": customer.address}
        try:
            async with session.get(url, headers=headers) as response:
                self.status = response.status
                if response.status != 200:
                    errors.add(f"sse http {response.status}")
                    return
                event, data = "", []
                async for raw in response.content:
                    line = raw.decode().rstrip("\r\n")
                    if not self.opened.is_set():
                        self.opened.set()
                    if not line:
                        if data:
                            self._dispatch(event or "message", "\n".join(data), time.perf_counter())
                        event, data = "", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                errors.add("sse closed by server")
        except asyncio.CancelledError:
            raise
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            errors.add(f"sse {type(exc).__name__}")
        finally:
            self.closed = True
            self.opened.set()


async def open_streams(session, base: str, streams: list[Stream], errors: Errors, parallel: int,
                       give_up_after: int = 100) -> list[asyncio.Task]:  # fmt: skip
    """Start every stream, at most `parallel` handshakes at a time; returns once each is open or failed
    (or, after `give_up_after` failures, without starting the rest: each failure may cost seconds)."""
    sem = asyncio.Semaphore(parallel)
    tasks = []
    failed = 0

    async def start(stream: Stream) -> None:
        nonlocal failed
        async with sem:
            if failed >= give_up_after:
                errors.add("sse not attempted")
                return
            tasks.append(asyncio.create_task(stream.run(session, base, errors)))
            try:
                await asyncio.wait_for(stream.opened.wait(), 30)
            except TimeoutError:
                errors.add("sse open timeout")
            if stream.status != 200:
                failed += 1

    await asyncio.gather(*(start(s) for s in streams))
    return tasks


async def close_streams(tasks: list[asyncio.Task]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Run:
    round_trips: list[tuple[float, float]] = field(default_factory=list)  # (finished at, seconds)
    # per round trip, seconds: POST sent -> customer message stored, -> reply stored, -> reply on the stream
    legs: list[tuple[float, float, float]] = field(default_factory=list)
    errors: Errors = field(default_factory=Errors)
    sent: int = 0


async def chat_client(session, base: str, ring: list[Stream], measure_from: float, until: float, run: Run,
                      think: tuple[float, float] | None, rng: random.Random) -> None:  # fmt: skip
    """Send, wait for the assistant's reply on the SSE stream, (think), repeat; next customer each time.
    Only what is sent from `measure_from` on is counted in `run` (before it, the warm-up). A thinking
    client first waits a random part of its think time: customers do not all start typing at once."""
    import aiohttp

    i = rng.randrange(len(ring))
    if think:
        await asyncio.sleep(rng.uniform(0, think[1]))
    warm = Run()
    while time.perf_counter() < until:
        record = run if time.perf_counter() >= measure_from else warm
        stream = ring[i % len(ring)]
        i += 1
        customer = stream.customer
        text = f"{rng.choice(QUESTIONS)}"
        body = json.dumps({"text": text, "client_id": uuid.uuid4().hex}).encode()
        headers = {"Cookie": customer.cookie, "X-CSRFToken": customer.csrf, "Content-Type": "application/json",
                   "X-Forwarded-For": customer.address}  # fmt: skip
        url = f"{base}/chat/conversations/{stream.conversation_id}/messages/"
        started, started_wall = time.perf_counter(), time.time()
        record.sent += 1
        try:
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            run.errors.add(f"post {type(exc).__name__}")
            continue
        if status != 201:
            run.errors.add("rate limited (429)" if status == 429 else f"post http {status}")
            await asyncio.sleep(0.2)
            continue
        sent = json.loads(payload)
        sent_id = sent["id"]
        try:
            arrived = await stream.wait_for(
                lambda mid, author, sent_id=sent_id: author == "assistant" and mid > sent_id, REPLY_TIMEOUT
            )
        except TimeoutError:
            run.errors.add("no reply on SSE")
            continue
        record.round_trips.append((arrived, arrived - started))
        reply_id = min(m for m, (_, author) in stream.seen.items() if author == "assistant" and m > sent_id)
        reply_wall, reply_created = stream.wall[reply_id]
        stored_at = datetime.fromisoformat(sent["created_at"]).timestamp()
        replied_at = datetime.fromisoformat(reply_created).timestamp()
        record.legs.append((stored_at - started_wall, replied_at - stored_at, reply_wall - replied_at))
        if think:
            await asyncio.sleep(rng.uniform(*think))


async def chat_load(base: str, rings: list[list[Stream]], seconds: float, warmup: float,
                    think: tuple[float, float] | None, seed: int) -> tuple[Run, float, float]:  # fmt: skip
    """Open every stream of `rings`, run one client per ring for warmup + seconds; (run, start, end)."""
    import aiohttp

    rng = random.Random(seed)
    streams = [s for ring in rings for s in ring]
    open_errors = Errors()
    sse = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        cookie_jar=aiohttp.DummyCookieJar(),
    )  # fmt: skip
    posts = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CLIENTS * 2), timeout=aiohttp.ClientTimeout(total=30),
        cookie_jar=aiohttp.DummyCookieJar(),
    )  # fmt: skip
    try:
        t = time.perf_counter()
        tasks = await open_streams(sse, base, streams, open_errors, 32)
        live = sum(1 for s in streams if s.status == 200 and not s.closed)
        note(f"{live} of {len(streams)} streams open in {time.perf_counter() - t:.1f} s")
        run = Run(errors=open_errors)
        start = time.perf_counter() + warmup  # one continuous run: the warm-up ends without a pause
        until = start + seconds
        await asyncio.gather(*(chat_client(posts, base, ring, start, until, run, think, rng) for ring in rings))
        lost = sum(1 for s in streams if s.closed)
        if lost:
            run.errors.add(f"{lost} streams closed")
        await close_streams(tasks)
        return run, start, until
    finally:
        await posts.close()
        await sse.close()


async def new_conversations(base: str, customers: list[Customer]) -> None:
    """POST /chat/conversations/ for each customer (201 {"id"}); appends the id to the customer."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        sem = asyncio.Semaphore(16)

        async def one(c: Customer) -> None:
            async with sem:
                headers = {"Cookie": c.cookie, "X-CSRFToken": c.csrf, "X-Forwarded-For": c.address}
                async with session.post(f"{base}/chat/conversations/", headers=headers) as response:
                    if response.status != 201:
                        sys.exit(
                            f"POST /chat/conversations/ answered {response.status}: {(await response.text())[:300]}"
                        )
                    c.conversations.append((await response.json())["id"])

        await asyncio.gather(*(one(c) for c in customers))


# --- (c) idle widgets ---------------------------------------------------------------------------------


async def idle_widgets(base: str, server_pid: int, customers: list[Customer], tickets: dict[int, int],
                       staff, publishes: int, seed: int) -> None:  # fmt: skip
    import aiohttp
    from django.db import connection

    from tickets.services import add_staff_reply

    rng = random.Random(seed)
    streams = [Stream(c, cid) for c in customers for cid in c.conversations]
    errors = Errors()
    await asyncio.sleep(2.0)
    before = rss_kb(server_pid)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        cookie_jar=aiohttp.DummyCookieJar(),
    )  # fmt: skip
    try:
        t = time.perf_counter()
        tasks = await open_streams(session, base, streams, errors, 50)
        opened = time.perf_counter() - t
        open_failures = errors.total()
        await asyncio.sleep(3.0)
        after = rss_kb(server_pid)
        live = sum(1 for s in streams if s.status == 200 and not s.closed)
        note(f"{live} of {len(streams)} widgets open in {opened:.1f} s; "
             f"server fds {len(os.listdir(f'/proc/{server_pid}/fd'))}")  # fmt: skip
        metric("idle_widgets_open", live, "")
        metric("idle_server_rss_before", before / 1024, "MB")
        metric("idle_server_rss_after", after / 1024, "MB")
        metric("idle_rss_per_widget", (after - before) / max(live, 1), "KB")

        def reply(ticket_id: int, n: int) -> tuple[int, float]:
            try:
                message = add_staff_reply(ticket_id, staff=staff, text=f"Staff reply {n}: we are on it.")
                return message.pk, time.perf_counter()
            finally:
                connection.close()

        latencies, calls = [], []
        targets = [s for s in streams if s.status == 200 and not s.closed]
        for n in range(publishes if targets else 0):
            if errors.total() - open_failures >= 20:
                note("(c) gave up publishing after 20 replies not received")
                break
            stream = rng.choice(targets)
            started = time.perf_counter()
            mid, returned = await asyncio.to_thread(reply, tickets[stream.conversation_id], n)
            calls.append(returned - started)
            try:
                arrived = await stream.wait_for(lambda m, author, mid=mid: m == mid, 5.0)
                latencies.append(arrived - started)
            except TimeoutError:
                errors.add("staff reply not received")
            await asyncio.sleep(0.01)
        metric("idle_publish_to_widget_p50", percentile(latencies, 50) * 1000, "ms")
        metric("idle_publish_to_widget_p99", percentile(latencies, 99) * 1000, "ms")
        metric("idle_publish_errors", errors.total(), "")
        if errors.kinds:
            note(f"(c) errors by kind: {errors.kinds}")
        note(f"latency is from the add_staff_reply() call (its own p50 {percentile(calls, 50) * 1000:.1f} ms, "
             f"p99 {percentile(calls, 99) * 1000:.1f} ms, commit then Redis PUBLISH) to the event on the stream; "
             f"{len(latencies)} of {publishes} received")  # fmt: skip
        still = sum(1 for s in streams if s.status == 200 and not s.closed)
        note(f"{still} widgets still open after the publishes (RSS now {rss_kb(server_pid) / 1024:.1f} MB)")
        await close_streams(tasks)
    finally:
        await session.close()


def wait_worker(timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and common.queue_length(REDIS_URL):
        time.sleep(0.2)
    return time.perf_counter() - started


def report_chat(prefix: str, run: Run, start: float, until: float) -> float:
    done = [(at, rtt) for at, rtt in run.round_trips if at <= until]
    rate = len(done) / (until - start)
    rtts = [rtt for _, rtt in run.round_trips]
    metric(f"{prefix}_messages_per_second", rate, "msg/s")
    metric(f"{prefix}_round_trip_p50", percentile(rtts, 50) * 1000, "ms")
    metric(f"{prefix}_round_trip_p99", percentile(rtts, 99) * 1000, "ms")
    for k, leg in enumerate(("post_to_stored", "stored_to_reply_stored", "reply_stored_to_stream")):
        values = [legs[k] for legs in run.legs]
        metric(f"{prefix}_{leg}_p50", percentile(values, 50) * 1000, "ms")
        metric(f"{prefix}_{leg}_p99", percentile(values, 99) * 1000, "ms")
    metric(f"{prefix}_errors", run.errors.total(without=("rate limited (429)",)), "")
    metric(f"{prefix}_rate_limited", run.errors.kinds.get("rate limited (429)", 0), "")
    if run.errors.kinds:
        note(f"{prefix} errors by kind: {run.errors.kinds}")
    note(f"{prefix}: {len(run.round_trips)} round trips of {run.sent} messages sent")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", choices=["threads", "prefork"], default="threads",
                        help="Celery pool: threads (8) or prefork (2 processes)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--web-workers", type=int, default=2,
                        help="web processes in (a) and (b), as the baseline runs; (c) runs one")  # fmt: skip
    parser.add_argument("--server", choices=common.SERVERS, default="asgi",
                        help="asgi: uvicorn serves everything; split: gunicorn the plain views, uvicorn the streams, "
                             "nginx in front")  # fmt: skip
    parser.add_argument("--ring", type=int, default=20, help="customers per saturating client (1: the literal 32)")
    parser.add_argument("--idle", type=int, default=1000, help="idle widgets in (c): 100 customers x idle/100")
    parser.add_argument("--publishes", type=int, default=200)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a,baseline,b,c")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the web and worker processes during (a)")
    parser.add_argument(
        "--app",
        type=Path,
        default=ROOT,
        help="run the server and worker from this copy of the project (to measure a candidate fix)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the database loophole_chatbench")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="run the Celery worker at this nice level (the web process keeps the CPU first)")  # fmt: skip
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    common.check_server(args.server)

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    metric("background_busy", background(), "%")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    env = common.server_env(
        base, DB_URL, REDIS_URL, SMS_BACKEND="locmem", EMAIL_URL="consolemail://", PYTHONPATH=str(args.app.resolve())
    )
    uvicorn_args = ["--limit-concurrency", "2000", "--backlog", "2048"]
    server = common.WebServer(args.server, port, tmp, env, args.app, uvicorn_args)
    worker = None
    spies: list[subprocess.Popen] = []
    try:
        t = time.perf_counter()
        common.recreate_database(DB_URL)
        common.flush_redis(REDIS_URL)
        manage(env, "migrate", "--noinput", "--skip-checks", "-v0")
        manage(env, "import_help_articles", str(ROOT / "help_articles"))
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
                                               "ANYMAIL_WEBHOOK_SECRET", "PUBLIC_URL", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY")})  # fmt: skip
        import django

        django.setup()
        from django.db import connection

        from loophole.models import User

        sat = make_customers("sat", CLIENTS * args.ring)
        real = make_customers("real", CLIENTS * 2)
        idle_customers = make_customers("idle", 100)
        tickets = make_idle_conversations(idle_customers, max(1, args.idle // 100))
        staff = User.objects.create_user("staff@bench.example", "bench-password-not-secret", is_staff=True)
        connection.close()
        note(f"setup {time.perf_counter() - t:.1f} s: {len(sat)} + {len(real)} + {len(idle_customers)} customers, "
             f"{len(tickets)} idle conversations with tickets; {args.server} server on {base}, Celery pool {args.pool}"
             + ("" if args.app.resolve() == ROOT else f"; app from {args.app}"))  # fmt: skip

        worker_log = tmp / "celery.log"
        pool = (
            ["--pool=threads", "--concurrency=8"] if args.pool == "threads" else ["--pool=prefork", "--concurrency=2"]
        )
        worker = subprocess.Popen(
            ["nice", "-n", str(args.worker_nice), str(BIN / "celery"), "-A", "loophole", "worker", *pool, "--loglevel=warning",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=args.app, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        server.start(args.web_workers)
        asyncio.run(new_conversations(base, sat + real))
        cpu = CpuMeter(server.roots, worker.pid)

        # (a) saturation
        if "a" not in skip:
            rings = [[Stream(c, c.conversations[0]) for c in sat[k::CLIENTS]] for k in range(CLIENTS)]
            if args.profile and (BIN / "py-spy").exists():
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                python = [(name, pid) for name, pid in server.roots.items() if name != "nginx"]
                for name, pid in (*python, ("worker", worker.pid)):
                    spies.append(subprocess.Popen(
                        [str(BIN / "py-spy"), "record", "-p", str(pid), "-d", str(int(args.seconds) - 5), "-r", "100",
                         "--subprocesses", "--nonblocking", "--gil", "-f", "raw", "-o", str(Path(args.profile) / f"{name}.txt")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    ))  # fmt: skip
            before, conns = cpu.snap(), redis_connections()
            run, start, until = asyncio.run(chat_load(base, rings, args.seconds, 3.0, None, 1))
            cpu.report(before, args.seconds + 3.0, "(a)")
            note(f"Redis connections opened during (a): {redis_connections() - conns} for {run.sent} messages "
                 f"(and the warm-up); Redis clients connected now: {redis_clients()}")  # fmt: skip
            for spy in spies:
                spy.wait(timeout=60)
            rate = report_chat("chat_saturation", run, start, until)
            note(f"(a) 32 clients over {len(sat)} customers ({args.ring} each, one conversation and open stream "
                 f"each); the rate limit allows {RATE_LIMIT}/min per customer = "
                 f"{RATE_LIMIT * len(sat) / 60:.0f} msg/s over all")  # fmt: skip
            note(f"worker queue drained in {wait_worker(60):.1f} s")
            if "baseline" not in skip:
                bare = common.baseline_insert()
                if bare:
                    metric("bare_insert_mw_rps", bare, "req/s")
                    metric("chat_saturation_ratio_to_bare_insert", rate / bare, "x")

        # (b) realistic pace
        if "b" not in skip:
            rings = [[Stream(c, c.conversations[0]) for c in real[k::CLIENTS]] for k in range(CLIENTS)]
            before = cpu.snap()
            run, start, until = asyncio.run(chat_load(base, rings, args.seconds, 2.0, (0.8, 1.2), 2))
            cpu.report(before, args.seconds + 2.0, "(b)")
            report_chat("chat_realistic", run, start, until)
            note(f"worker queue drained in {wait_worker(60):.1f} s")

        # (c) idle widgets
        if "c" not in skip:
            if args.web_workers != 1:  # (c) measures one web process (in split mode, one of each server)
                server.stop()
                server.start(1)
            asyncio.run(idle_widgets(base, server.stream_pid, idle_customers, tickets, staff, args.publishes, 3))
        server.log_errors()
        common.log_errors("celery", worker_log)
    finally:
        for spy in spies:
            stop(spy)
        server.stop()
        common.clean_up([worker], tmp, DB_URL, keep=args.keep)


if __name__ == "__main__":
    main()
