"""The assistant's evaluation across help centres: each domain scored while it is held out.

A domain is a folder in domains/: `articles/` (Markdown, one article a file, as `import_help_articles`
reads them) and `cases.json`, a list of labelled customer messages:

    {"id", "text", "expect": answer|offer|status|clarify|smalltalk|created|declined,
     "history": [earlier customer messages, each answered first], "slug" and "also" (answers: the
     articles that answer it), "facts" (answers: words the reply must carry), "title_words" (offers:
     words the drafted ticket title must carry), "note"}

Texts may hold {ref}, {ref_lower_spaces}, {ref_compact} or {ref_spoken}: the evaluation customer's
own ticket. The `bank` domain also scores a sample of Banking77 (../shared/data/banking77, CC BY 4.0,
PolyAI: Casanueva et al. 2020) through `banking77_labels.json`: each intent answerable from the help
centre or needing a person. `loophole` is the product's demo help centre: scored, never the headline.

Leave one domain out: whatever the engine learns (assistant.intents) is trained on the other domains
only, and the figure reported for a domain is the one it got while held out.
"""

import csv
import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).resolve().parent
ROOT = EVAL_DIR.parents[1]
DOMAINS_DIR = EVAL_DIR / "domains"
DEMO = "loophole"
BANK = "bank"
BANKING77_CSV = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
BANKING77_SAMPLE = 1200
# The rows the classifier learns from (a fixed per-intent sample, kept in the repo with its licence).
BANKING77_TRAINING = ROOT / "assistant" / "data" / "banking77.csv"
BANKING77_SEED = 77
CLASSES = ("answer", "offer", "status", "clarify", "smalltalk", "created", "declined")
CUSTOMER_EMAIL = "eval-customer@example.com"
# Pinned so that every run reads the same references (typed, spoken) and gets the same figures.
TICKET_REFERENCE = "LH-4TR8-W2KD"
_SPOKEN_DIGITS = dict(zip("23456789", "two three four five six seven eight nine".split(), strict=True))
_CLASS_OF_OUTCOME = {
    "answered": "answer",
    "offered": "offer",
    "status": "status",
    "clarified": "clarify",
    "smalltalk": "smalltalk",
    "created": "created",
    "declined": "declined",
}


def throwaway_environment(directory: Path) -> None:
    """Settings for a run of its own: a new SQLite database in `directory`, mail and SMS kept in memory,
    Celery tasks run in-process. Call before django.setup()."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "loophole.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(directory).resolve() / 'run.sqlite3'}"
    os.environ["EMAIL_URL"] = "memorymail://"
    os.environ["SMS_BACKEND"] = "locmem"
    os.environ["REDIS_URL"] = ""


@dataclass
class Domain:
    name: str
    articles: Path
    cases: list[dict[str, Any]]
    banking77: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def headline(self) -> bool:
        return self.name != DEMO


def load_domains(names: list[str] | None = None) -> list[Domain]:
    domains = []
    for folder in sorted(p for p in DOMAINS_DIR.iterdir() if (p / "cases.json").is_file()):
        if names and folder.name not in names:
            continue
        articles = ROOT / "help_articles" if folder.name == DEMO else folder / "articles"
        cases = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
        labels_file = folder / "banking77_labels.json"
        labels = json.loads(labels_file.read_text(encoding="utf-8")) if labels_file.is_file() else {}
        domains.append(Domain(folder.name, articles, cases, labels))
    return domains


def banking77_rows(labels: dict[str, dict[str, Any]], size: int = BANKING77_SAMPLE) -> list[dict[str, Any]]:
    """A fixed random sample of Banking77 rows as cases (the same rows on every run)."""
    with open(BANKING77_CSV, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    sample = random.Random(BANKING77_SEED).sample(range(len(rows)), min(size, len(rows)))
    cases = []
    for i in sorted(sample):
        label = labels[rows[i]["category"]]
        case = {
            "id": f"banking77-{i}",
            "text": rows[i]["text"],
            "expect": label["expect"],
            "intent": rows[i]["category"],
        }
        if label["expect"] == "answer":
            case |= {"slug": label["slug"], "also": label.get("also", [])}
        cases.append(case)
    return cases


def reference_variants(reference: str) -> dict[str, str]:
    compact = reference.replace("-", "")
    return {
        "ref": reference,
        "ref_lower_spaces": reference.lower().replace("-", " "),
        "ref_compact": compact,
        "ref_spoken": " ".join(_SPOKEN_DIGITS.get(c, c) for c in compact),
    }


def fill(text: str, reference: str) -> str:
    return text.format(**reference_variants(reference))


def slug_of(url: str) -> str:
    parts = url.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "help" else ""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).strip().lower()


def use_articles(directory: Path) -> None:
    """Make `directory` the whole help centre."""
    from assistant.help import import_articles
    from assistant.models import HelpArticle
    from assistant.retrieval import forget_index

    HelpArticle.objects.all().delete()
    result = import_articles(directory)
    if result.errors:
        raise ValueError(f"articles refused in {directory}: {result.errors}")
    forget_index()


def customer_and_ticket():
    """The evaluation customer and one ticket of theirs, with the pinned reference (created once)."""
    from django.contrib.auth import get_user_model

    from tickets import services as ticket_services
    from tickets.models import Ticket

    user_model = get_user_model()
    customer = user_model.objects.filter(email=CUSTOMER_EMAIL).first()
    if customer is None:
        customer = user_model.objects.create_user(email=CUSTOMER_EMAIL, name="Eval Customer")
    ticket = Ticket.objects.filter(customer=customer).order_by("pk").first()
    if ticket is None:
        conversation = ticket_services.open_conversation(channel="chat", customer=customer, sender=CUSTOMER_EMAIL)
        ticket_services.store_customer_message(conversation.pk, "My order arrived damaged.")
        ticket = ticket_services.create_ticket(
            conversation.pk,
            title="Damaged delivery",
            description="The order arrived damaged.",
            summary="Damaged delivery; customer wants a replacement.",
        )
        Ticket.objects.filter(pk=ticket.pk).update(reference=TICKET_REFERENCE)
        ticket.refresh_from_db()
    return customer, ticket


def run_case(case: dict[str, Any], customer, reference: str, engine) -> dict[str, Any]:
    """One case in a fresh live-chat conversation: history first, then the text. Returns the verdict.

    Whatever the case wrote is rolled back after it is scored: each case meets the same database (one
    ticket of the customer's, however many earlier cases opened), and the tables stay as small as one
    conversation, so no statement's cost grows with the number of cases run before it.
    """
    from django.db import transaction

    with transaction.atomic():
        verdict = _run_case(case, customer, reference, engine)
        transaction.set_rollback(True)
    return verdict


def _run_case(case: dict[str, Any], customer, reference: str, engine) -> dict[str, Any]:
    from assistant import services
    from tickets import services as ticket_services
    from tickets.models import Conversation

    conversation = ticket_services.open_conversation(channel="chat", customer=customer, sender=customer.email)
    reply = None
    for text in [*case.get("history", []), case["text"]]:
        message = services.receive(conversation.pk, fill(text, reference))
        reply = services.respond(message.pk, hands_off=True, engine=engine)
    outcome = str(reply.outcome)
    got = _CLASS_OF_OUTCOME.get(outcome, outcome)
    slug = slug_of(reply.links[0].url) if reply.links else ""
    expected = case["expect"]
    correct = got == expected
    facts_ok = title_ok = None
    if got == "answer" and expected == "answer":
        right = slug == case.get("slug") or slug in case.get("also", [])
        facts_ok = all(_squash(f) in _squash(reply.text) for f in case.get("facts", [])) or slug != case.get("slug")
        correct = right and facts_ok
    title = ""
    if got == "offer":
        offer = Conversation.objects.get(pk=conversation.pk).offer or {}
        title = offer.get("draft", {}).get("title", "")
        if expected == "offer" and case.get("title_words"):
            title_ok = all(_squash(w) in _squash(title) for w in case["title_words"])
    return {
        "id": case["id"],
        "text": case["text"],
        "expected": expected,
        "expected_slug": case.get("slug", ""),
        "got": got,
        "slug": slug if got == "answer" else "",
        "title": title,
        "correct": correct,
        "facts_ok": facts_ok,
        "title_ok": title_ok,
    }


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


MISS_KINDS = ("wrong article", "facts missing", "offered", "clarified", "other")


def miss_kind(result: dict[str, Any]) -> str:
    """Why an answerable case was not answered right: another article, the right one without the asked-for
    facts, a ticket offer, a clarifying question, or anything else (small talk, a status reply)."""
    if result["got"] == "answer":
        return "facts missing" if result["facts_ok"] is False else "wrong article"
    return {"offer": "offered", "clarify": "clarified"}.get(result["got"], "other")


def score(results: list[dict[str, Any]]) -> dict[str, Any]:
    totals = Counter(r["expected"] for r in results)
    right = Counter(r["expected"] for r in results if r["correct"])
    answers = [r for r in results if r["expected"] == "answer"]
    offers = [r for r in results if r["expected"] == "offer"]
    titled = [r for r in offers if r["title_ok"] is not None]
    quiet = [r for r in results if r["expected"] in {"status", "smalltalk"}]
    return {
        "cases": len(results),
        "counts": {cls: totals[cls] for cls in CLASSES if totals[cls]},
        "accuracy": {cls: _percent(right[cls], totals[cls]) for cls in CLASSES if totals[cls]},
        "overall": _percent(sum(right.values()), len(results)),
        "false_offers": _percent(sum(r["got"] == "offer" for r in answers), len(answers)),
        "missed_offers": _percent(sum(r["got"] != "offer" for r in offers), len(offers)),
        "quiet_offers": sum(r["got"] == "offer" for r in quiet),
        "titles": _percent(sum(bool(r["title_ok"]) for r in titled), len(titled)),
        "answer_misses": Counter(miss_kind(r) for r in answers if not r["correct"]),
        "failures": [r for r in results if not r["correct"]],
    }


def score_banking77(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Answerable versus needs-a-person: an answerable row must be answered, a needs-a-person row offered."""
    decided = [r for r in results if (r["got"] == "answer") == (r["expected"] == "answer")]
    binary = [r for r in decided if r["got"] in {"answer", "offer"}]
    answers = [r for r in results if r["expected"] == "answer"]
    return {
        "rows": len(results),
        "accuracy": _percent(len(binary), len(results)),
        "right_article": _percent(sum(r["correct"] for r in answers), len(answers)),
        "false_offers": _percent(sum(r["got"] == "offer" for r in answers), len(answers)),
        "missed_offers": _percent(
            sum(r["got"] != "offer" for r in results if r["expected"] == "offer"),
            sum(r["expected"] == "offer" for r in results),
        ),
        "failures": [r for r in results if r not in binary],
    }


def engine_without(held_out: str):
    """The local engine with its classifier trained on every domain but `held_out`."""
    from assistant.engines.local import LocalEngine

    try:
        from assistant import intents, training
    except ImportError:  # an engine from before the classifier: nothing to hold out
        return LocalEngine()
    examples = training.shipped_examples(DOMAINS_DIR, ROOT / "help_articles", BANKING77_TRAINING, leave_out=held_out)
    return LocalEngine(intents.train(examples))


def evaluate(domains: list[Domain], make_engine=engine_without, banking77_size: int = BANKING77_SAMPLE):
    """Score each domain while held out. Returns {domain: score} and the Banking77 score (or None)."""
    customer, ticket = customer_and_ticket()
    scores: dict[str, dict[str, Any]] = {}
    banking = None
    for domain in domains:
        engine = make_engine(domain.name)
        use_articles(domain.articles)
        results = [run_case(case, customer, ticket.reference, engine) for case in domain.cases]
        scores[domain.name] = score(results)
        if domain.banking77 and banking77_size:
            rows = banking77_rows(domain.banking77, banking77_size)
            banking = score_banking77([run_case(case, customer, ticket.reference, engine) for case in rows])
    return scores, banking


def headline(scores: dict[str, dict[str, Any]], banking: dict[str, Any] | None) -> dict[str, float]:
    held = [s for name, s in scores.items() if name != DEMO]
    answers = sum(s["counts"].get("answer", 0) for s in held)
    false = sum(s["false_offers"] * s["counts"].get("answer", 0) / 100 for s in held)
    return {
        "held_out_accuracy": sum(s["overall"] for s in held) / len(held) if held else 0.0,
        "worst_domain": min((s["overall"] for s in held), default=0.0),
        "false_offers": _percent(false, answers),
        "quiet_offers": sum(s["quiet_offers"] for s in held),
        "banking77_accuracy": banking["accuracy"] if banking else 0.0,
    }
