"""The local assistant at 5,000 help articles: index build time, memory, and reply latency.

usage: .venv/bin/python bench/assistant.py [--articles 5000] [--queries 2000]
Prints one `metric: value unit` line per figure. Needs no database: the index is built from
generated articles and the engine is called directly, as respond() would.
"""

import argparse
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "baseline"))

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loophole.settings")
django.setup()

from assistant.engines.base import Request  # noqa: E402
from assistant.engines.local import LocalEngine  # noqa: E402
from assistant.retrieval import Index  # noqa: E402

NOUNS = "invoice project workspace seat member report dashboard export integration calendar webhook token badge "
NOUNS += "timesheet budget milestone template folder comment label filter view widget reminder approval contract"
VERBS = "create rename archive restore delete share export import connect disconnect schedule move copy merge "
VERBS += "assign approve lock unlock duplicate print sync"
PLACES = "web app, mobile app, desktop app, admin console, billing page, settings, project board, team page"


def fake_word(rng: random.Random) -> str:
    return "".join(
        rng.choice(["ka", "lo", "mi", "ne", "su", "tra", "vel", "dor", "pin", "qua"]) for _ in range(rng.randint(2, 4))
    )


def articles(n: int, seed: int = 7) -> list[tuple[int, str, str, str]]:
    rng = random.Random(seed)
    nouns, verbs, places = NOUNS.split(), VERBS.split(), PLACES.split(", ")
    jargon = [fake_word(rng) for _ in range(4000)]
    out = []
    for i in range(n):
        noun, verb, place = rng.choice(nouns), rng.choice(verbs), rng.choice(places)
        topic = rng.choice(jargon)
        title = f"How do I {verb} a {topic} {noun} in the {place}?"
        paragraphs = []
        for _ in range(rng.randint(3, 6)):
            words = [rng.choice(jargon + nouns + verbs) for _ in range(rng.randint(25, 60))]
            paragraphs.append(" ".join(words).capitalize() + ".")
        steps = "\n".join(f"{k}. Open {place} and {rng.choice(verbs)} the {topic} {noun}." for k in range(1, 4))
        out.append((i + 1, f"article-{i}", title, "\n\n".join([*paragraphs[:1], steps, *paragraphs[1:]])))
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


class Tools:
    def __init__(self, index: Index) -> None:
        self.index = index

    def search_help(self, query, limit=5):
        return self.index.search(query, limit)

    def my_tickets(self):
        return []

    def ticket(self, reference):
        return None

    def article_url(self, slug):
        return f"http://127.0.0.1:8000/help/{slug}/"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    try:
        from noise import background_busy

        busy, _steal, _load = background_busy(1.0)
        print(f"background_busy: {busy} %")
    except ImportError:
        pass

    rows = articles(args.articles)
    gc.collect()
    rss_before = rss_mb()
    started = time.perf_counter()
    index = Index.build(rows)
    build = time.perf_counter() - started
    gc.collect()
    print(f"articles: {len(rows)} count")
    print(f"index_build_seconds: {build:.2f} s")
    print(f"index_memory: {rss_mb() - rss_before:.1f} MB")
    print(f"process_rss: {rss_mb():.1f} MB")

    rng = random.Random(11)
    engine, tools = LocalEngine(), Tools(index)
    latencies, hits = [], 0
    for q in range(args.queries):
        _id, slug, title, _body = rng.choice(rows)
        words = title.rstrip("?").split()
        kind = q % 4
        if kind == 0:
            text = title
        elif kind == 1:
            text = " ".join(typo(w, rng) for w in words)
        elif kind == 2:
            text = f"hey, {words[3]} {words[4]} {words[5]} thing, how to {words[3]} it?"
        else:
            text = "my " + " ".join(rng.sample(words, k=min(4, len(words)))) + " is broken and i'm upset"
        started = time.perf_counter()
        decision = engine.decide(Request(text=text), tools)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += any(link.url.endswith(f"/{slug}/") for link in decision.links)
    latencies.sort()
    print(f"reply_latency_p50: {statistics.median(latencies):.2f} ms")
    print(f"reply_latency_p99: {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms")
    print(f"reply_latency_max: {latencies[-1]:.2f} ms")
    print(f"queries: {len(latencies)} count")
    print(f"right_article_linked: {100 * hits / len(latencies):.1f} %")


if __name__ == "__main__":
    main()
