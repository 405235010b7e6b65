"""Inbound email under hostile input: the parse of each adversarial mail, and the web process meanwhile.

    [DATABASE_URL=postgres://…] .venv/bin/python bench/email_parse.py [--runs 5] [--seconds 15]
        [--skip parse,worker,eager,bare]

(a) in this process, `channels_io.email.parsing.parse` (what the worker runs before storing) on each
    case of tests/channels_io/email/adversarial.py and on an ordinary reply, --runs times each: the
    worst time per case, and in a separate run under tracemalloc the peak memory growth;
(b) one uvicorn process (`loophole.asgi:application --workers 1`, DEBUG off; a fresh database
    `loophole_emailbench_<mode>` on DATABASE_URL's PostgreSQL, else SQLite in a temporary directory):
    /healthz probed every 10 ms by a process of its own, first idle, then for --seconds while 4 hostile
    mails (LOAD: the original attack's blank lines, and the costliest of the rest in (a)) are posted to
    Postmark's webhook at once (RawEmail, basic auth, a new Message-ID each, bodies encoded beforehand),
    a round a second: healthz p50/p99/max, webhook p50/p99.
    worker: REDIS_URL at a private redis-server (if installed) and a separate `celery worker` (prefork,
        1 process, nice 10, so the task's time limits apply): the web process only keeps the mail;
    eager: no REDIS_URL (Celery eager, as `make run`): the web process also reads and answers it;
(c) the bare-Django ceiling: the baseline kit's bare_django (../shared/baseline, copied to a temporary
    directory) under the same uvicorn and the same probe on /ping (no database), idle; our p99s over it.

Needs nothing running; with SQLite, its one writer at a time (and a 10 MB row's fsync) queues the
webhook's inserts behind one another. About 1.5 minutes.
"""

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

from _common import (
    ROOT,
    SHARED_BASELINE,
    background_busy,
    free_port,
    libpq,
    metric,
    note,
    percentile,
    stop,
    wait_http,
    with_database,
)

BIN = Path(sys.executable).parent
SECRET = "bench:" + "b" * 32
TARGET_MS, TARGET_MB, TARGET_P99_MS = 100, 20, 50
LOAD = ["blank_lines", "deep_html_quotes", "many_lines", "big_html"]  # 64 KB, 283 KB, 781 KB, 9.4 MB


def setup(tmp: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="loophole.settings", DEBUG="false", SECRET_KEY="bench-only",
        ANYMAIL_WEBHOOK_SECRET=SECRET, DATABASE_URL=f"sqlite:///{tmp / 'parse.sqlite3'}",
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def parse_figures(runs: int) -> None:
    """(a): prints the figures."""
    from channels_io.email.parsing import RefusedEmail, parse
    from tests.channels_io.email import adversarial

    cases = {"normal": adversarial.normal, **adversarial.CASES}
    worst: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for name, build in cases.items():
        raw = build()
        times, outcome = [], "stored"
        for _ in range(runs + 1):  # the first run warms up
            started = time.perf_counter()
            try:
                parse(raw)
            except RefusedEmail as exc:
                outcome = f"refused ({str(exc)[:50]})"
            times.append(time.perf_counter() - started)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        with contextlib.suppress(RefusedEmail):
            parse(raw)
        peak = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        tracemalloc.stop()
        worst[name], peaks[name] = max(times[1:]) * 1000, peak
        metric(f"email_parse_{name}_worst", worst[name], "ms")
        metric(f"email_parse_{name}_peak_growth", peak, "MB")
        note(f"{name}: {len(raw) / 1024:.0f} KB, {outcome}")
        if name != "normal" and (worst[name] >= TARGET_MS or peak >= TARGET_MB):
            note(f"{name} misses a target (< {TARGET_MS} ms, < {TARGET_MB} MB)")
    hostile = {name: ms for name, ms in worst.items() if name != "normal"}
    slowest = max(hostile, key=hostile.__getitem__)
    metric("email_parse_worst_case", hostile[slowest], "ms")
    metric("email_parse_worst_over_normal", hostile[slowest] / worst["normal"], "x")
    metric("email_parse_peak_growth_max", max(peaks.values()), "MB")
    note(f"worst case {slowest}, beside a normal mail's {worst['normal']:.1f} ms in the same run")


def probe(port: int, path: str, seconds: float, out: "multiprocessing.Queue[list[float]]") -> None:
    """GET `path` every 10 ms over one keep-alive connection for `seconds`; the latencies of its 200s."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    out.put(latencies)


def probed(port: int, path: str, seconds: float) -> tuple[multiprocessing.Process, "multiprocessing.Queue"]:
    """A prober in a process of its own: the load generator's work never delays its readings."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=probe, args=(port, path, seconds, queue))
    process.start()
    return process, queue


async def hostile_load(base: str, bodies: list[list[bytes]]) -> dict:
    """One round a second: the round's bodies posted at once."""
    import aiohttp

    headers = {"Authorization": aiohttp.encode_basic_auth(*SECRET.split(":", 1)), "Content-Type": "application/json"}
    posted: list[float] = []
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def post(body: bytes) -> None:
            started = time.perf_counter()
            async with session.post(base + "/anymail/postmark/inbound/", data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            posted.append(time.perf_counter() - started)

        for round_bodies in bodies:
            began = time.perf_counter()
            await asyncio.gather(*(post(body) for body in round_bodies))
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
    return {"posted": posted, "statuses": statuses}


def kept_counts(url: str) -> tuple[int, int, int]:
    """(customer messages stored, kept mails pending, kept mails set aside)."""
    queries = [
        "SELECT count(*) FROM tickets_message WHERE author = 'customer'",
        "SELECT count(*) FROM channels_io_inboundemail WHERE status = 'pending'",
        "SELECT count(*) FROM channels_io_inboundemail WHERE status <> 'pending'",
    ]
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(urlsplit(url).path[1:])) as c:
            return tuple(c.execute(query).fetchone()[0] for query in queries)  # type: ignore[return-value]  # one count per query
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as c:
        return tuple(c.execute(query).fetchone()[0] for query in queries)  # type: ignore[return-value]  # one count per query


def fresh_database(server_url: str, mode: str, tmp: Path) -> str:
    """A new, empty database for one set-up: on the PostgreSQL server of `server_url`, else SQLite."""
    if not server_url:
        return f"sqlite:///{tmp / f'{mode}.sqlite3'}"
    import psycopg

    name = f"loophole_emailbench_{mode}"
    with psycopg.connect(libpq(server_url, "postgres"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    import psycopg

    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.strip("/")}" WITH (FORCE)')


def web_figures(mode: str, names: list[str], args: argparse.Namespace, tmp: Path) -> tuple[float, float] | None:
    """(b) in one set-up: returns (idle p99, loaded p99) of /healthz in ms."""
    from tests.channels_io.email import adversarial

    if mode == "worker" and not shutil.which("redis-server"):
        note("worker: redis-server is not installed; skipped")
        return None
    port, url = free_port(), fresh_database(args.database_url, mode, tmp)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "DATABASE_URL": url, "PUBLIC_URL": base,
        "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": "", "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }  # fmt: skip
    started: list[subprocess.Popen] = []
    try:
        if mode == "worker":
            redis_port = free_port()
            started.append(subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                 "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        log = tmp / f"{mode}-uvicorn.log"
        started.append(subprocess.Popen(
            [str(BIN / "uvicorn"), "loophole.asgi:application", "--workers", "1", "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        ))  # fmt: skip
        if mode == "worker":
            started.append(subprocess.Popen(
                ["nice", "-n", "10", str(BIN / "celery"), "-A", "loophole", "worker", "--pool=prefork",
                 "--concurrency=1", "--loglevel=warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=(tmp / "celery.log").open("w"), stderr=subprocess.STDOUT,
            ))  # fmt: skip
        wait_http(base + "/healthz", started[-1 if mode == "eager" else -2], log, tries=200, any_status=False)
        prober, queue = probed(port, "/healthz", 3)
        idle = queue.get()
        prober.join()
        payloads = [adversarial.postmark_payload(adversarial.CASES[name]()) for name in names]
        encoded = [json.dumps(payload).encode() for payload in payloads]
        rounds = int(args.seconds)
        bodies = [[body.replace(b"<adversarial.", f"<adversarial.r{i}.".encode(), 1) for body in encoded]
                  for i in range(rounds)]  # fmt: skip
        metric(f"background_busy_before_{mode}", background_busy(1.0), "%")
        prober, queue = probed(port, "/healthz", rounds)
        load = asyncio.run(hostile_load(base, bodies))
        healthz = queue.get()
        prober.join()
        idle_p99, loaded_p99 = percentile(idle, 99) * 1000, percentile(healthz, 99) * 1000
        metric(f"healthz_{mode}_idle_p99", idle_p99, "ms")
        metric(f"healthz_{mode}_under_mail_p50", percentile(healthz, 50) * 1000, "ms")
        metric(f"healthz_{mode}_under_mail_p99", loaded_p99, "ms")
        metric(f"healthz_{mode}_under_mail_max", max(healthz, default=float("nan")) * 1000, "ms")
        metric(f"webhook_{mode}_p50", percentile(load["posted"], 50) * 1000, "ms")
        metric(f"webhook_{mode}_p99", percentile(load["posted"], 99) * 1000, "ms")
        note(f"{mode}: {len(load['posted'])} mails posted ({', '.join(names)}), statuses {load['statuses']}, "
             f"{len(healthz)} health probes")  # fmt: skip
        waited = time.perf_counter()
        for _ in range(240):
            stored, pending, aside = kept_counts(url)
            if not pending:
                break
            time.sleep(0.5)
        note(f"{mode}: {time.perf_counter() - waited:.1f} s later {stored} messages stored, {pending} mails "
             f"pending, {aside} set aside")  # fmt: skip
        return idle_p99, loaded_p99
    finally:
        for proc in reversed(started):
            stop(proc)
        drop_database(url)


def bare_ceiling(tmp: Path) -> float | None:
    """(c): /ping p99 of the bare Django project under the same uvicorn and probe, in ms."""
    kit = SHARED_BASELINE / "bare_django"
    if not kit.is_dir():
        note(f"bare ceiling: {kit} not found; skipped")
        return None
    copy = tmp / "bare_django"
    shutil.copytree(kit, copy, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    log = tmp / "bare.log"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [str(BIN / "uvicorn"), "bare.asgi:application", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=copy, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", proc, log, tries=200, any_status=False)
        prober, queue = probed(port, "/ping", 5)
        latencies = queue.get()
        prober.join()
        p99 = percentile(latencies, 99) * 1000
        metric("bare_ping_idle_p99", p99, "ms")
        return p99
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--skip", default="", help="comma-separated: parse, worker, eager, bare")
    args = parser.parse_args()
    given = os.environ.get("DATABASE_URL", "")
    args.database_url = given if urlsplit(given).scheme in ("postgres", "postgresql") else ""
    note(f"web set-ups on {'PostgreSQL ' + urlsplit(given).netloc if args.database_url else 'SQLite'}")
    metric("background_busy", background_busy(2.0), "%")
    skip = set(filter(None, args.skip.split(",")))
    tmp = Path(tempfile.mkdtemp(prefix="email-bench-"))
    try:
        setup(tmp)
        if "parse" not in skip:
            parse_figures(args.runs)
        web = {mode: web_figures(mode, LOAD, args, tmp) for mode in ("worker", "eager") if mode not in skip}
        bare = bare_ceiling(tmp) if "bare" not in skip else None
        for mode, figures in web.items():
            if figures and bare:
                metric(f"healthz_{mode}_idle_p99_over_bare", figures[0] / bare, "x")
                metric(f"healthz_{mode}_under_mail_p99_over_bare", figures[1] / bare, "x")
            if figures and figures[1] >= TARGET_P99_MS:
                note(f"{mode}: /healthz p99 under mail misses the target (< {TARGET_P99_MS} ms)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
