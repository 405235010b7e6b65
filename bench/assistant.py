"""The local assistant at 5,000 help articles: index build time, memory, reply latency, and searches
while the index is rebuilt.

usage: .venv/bin/python bench/assistant.py [--articles 5000] [--queries 2000]
Prints one `metric: value unit` line per figure. The first figures need no database: the index is
built from generated articles and the engine is called directly, as respond() would. The last ones
store the same articles as HelpArticle rows in a throwaway SQLite database (as tests/eval/run.py
does), change one, and time searches through current_index() from this thread while another thread
of the same process rebuilds the index.
"""

import argparse
import gc
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "baseline"))

# Django is set up in main(), once DATABASE_URL names the throwaway database.

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
    def __init__(self, index) -> None:
        self.index = index

    def search_help(self, query, limit=5):
        return self.index.search(query, limit)

    def my_tickets(self):
        return []

    def withheld_tickets(self):
        return None

    def ticket(self, reference):
        return None

    def article_url(self, slug):
        return f"http://127.0.0.1:8000/help/{slug}/"

    def product_nouns(self):
        return self.index.product_nouns


def question(q: int, rows: list[tuple[int, str, str, str]], rng: random.Random) -> tuple[str, str]:
    """A question about one of the articles, and that article's slug: the title as asked, with swapped
    letters, a casual rewording or a complaint, in turn."""
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
    return text, slug


def percentiles(name: str, latencies: list[float]) -> None:
    latencies = sorted(latencies)
    print(f"{name}_p50: {statistics.median(latencies):.2f} ms")
    print(f"{name}_p99: {latencies[max(int(len(latencies) * 0.99) - 1, 0)]:.2f} ms")
    print(f"{name}_max: {latencies[-1]:.2f} ms")


def in_memory(args: argparse.Namespace, rows: list[tuple[int, str, str, str]]) -> None:
    """Build time, memory and reply latency with the index built straight from the generated rows."""
    from assistant.engines.base import Request
    from assistant.engines.local import LocalEngine
    from assistant.retrieval import Index

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
        text, slug = question(q, rows, rng)
        started = time.perf_counter()
        decision = engine.decide(Request(text=text), tools)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += any(link.url.endswith(f"/{slug}/") for link in decision.links)
    percentiles("reply_latency", latencies)
    print(f"queries: {len(latencies)} count")
    print(f"right_article_linked: {100 * hits / len(latencies):.1f} %")


def during_rebuild(rows: list[tuple[int, str, str, str]]) -> None:
    """Searches and replies through current_index() from this thread while another thread rebuilds."""
    from django.core.management import call_command
    from django.db import connection

    from assistant import retrieval
    from assistant.engines.base import Request
    from assistant.engines.local import LocalEngine
    from assistant.models import HelpArticle
    from assistant.tools import CustomerTools

    call_command("migrate", interactive=False, verbosity=0)
    HelpArticle.objects.bulk_create(
        HelpArticle(id=article_id, slug=slug, title=title, body=body) for article_id, slug, title, body in rows
    )
    started = time.perf_counter()
    old = retrieval.current_index()
    print(f"first_index_from_database_seconds: {time.perf_counter() - started:.2f} s")
    rng = random.Random(13)
    engine, tools = LocalEngine(), CustomerTools(None)
    engine.decide(Request(text=question(0, rows, rng)[0]), tools)  # loads the URLconf for article links

    # An article saved in this process: its post_save makes the next search check, and rebuild.
    HelpArticle.objects.create(
        slug="bench-new-article", title="How do I frobnicate a zanzibar widget?", body="Open the widget and frobnicate."
    )
    built: dict[str, object] = {}

    def rebuild() -> None:
        try:
            started = time.perf_counter()
            built["index"] = retrieval.current_index()
            built["seconds"] = time.perf_counter() - started
        finally:
            connection.close()

    builder = threading.Thread(target=rebuild)
    builder.start()
    deadline = time.monotonic() + 30
    while not retrieval._cache.building:  # the builder has claimed the rebuild: ours must not
        if not builder.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the rebuild did not start in another thread")
        time.sleep(0.001)

    searches, replies, stale = [], [], 0
    q = 0
    while builder.is_alive():
        text, _slug = question(q, rows, rng)
        q += 1
        stale += retrieval.current_index() is old
        started = time.perf_counter()
        retrieval.search_articles(text, limit=5)
        searches.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.decide(Request(text=text), tools)
        replies.append((time.perf_counter() - started) * 1000)
    builder.join()
    if "index" not in built:
        raise SystemExit("the rebuild failed")
    found = [hit.slug for hit in retrieval.search_articles("frobnicate zanzibar widget", limit=1)]
    print(f"rebuild_seconds: {built['seconds']:.2f} s")
    percentiles("search_during_rebuild", searches)
    percentiles("reply_during_rebuild", replies)
    print(f"searches_during_rebuild: {len(searches)} count")
    print(f"searches_answered_from_old_index: {100 * stale / max(len(searches), 1):.1f} %")
    print(f"new_article_found_after_swap: {'yes' if found == ['bench-new-article'] else 'no'}")


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

    with tempfile.TemporaryDirectory(prefix="loophole-bench-assistant-") as tmp:
        from tests.eval.harness import throwaway_environment

        throwaway_environment(Path(tmp))
        import django

        django.setup()
        rows = articles(args.articles)
        in_memory(args, rows)
        gc.collect()
        during_rebuild(rows)


if __name__ == "__main__":
    main()
