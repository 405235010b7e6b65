"""Labelled messages for the intent classifier (assistant.intents): where they come from, read strictly.

Help centres written for training only live in `data/training/` (each folder `articles/` and `cases.json`,
as an evaluation domain): their messages are learned from by every model and never scored.

Two kinds of file: a JSON list of labelled messages, each {"text", "expect"} (the evaluation's case
files are such lists; `history`, `created` and `declined` cases are about a conversation, not one
message, and are left out), and Banking77-style CSV rows `text,category` with a JSON file labelling
each category `answer` or `offer`.
"""

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

from assistant.intents import CLASSES, Example
from assistant.passages import help_context
from assistant.retrieval import Index

MAX_FILE_BYTES = 20 * 1024 * 1024
SAMPLE_REFERENCE = "LH-4TR8-W2KD"  # what a case's {ref} placeholders read as while training
BANKING_WEIGHT = 0.5  # one row of real wording, beside a hand-written case of a whole domain
# A message of a help centre written for training only (six businesses, one brief), beside a case of an
# evaluated domain: chosen on the development domains (0.3, 0.5, 1.0 gave 86.3, 86.2, 86.0 %).
TRAINING_WEIGHT = 0.5


class TrainingDataError(ValueError):
    """A training file that cannot be used; the message names the file and the place."""


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TrainingDataError(f"{path}: over {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"{path}: cannot be read ({exc})") from exc


def articles_index(directory: Path) -> Index:
    """An index of the Markdown articles in `directory`, as import_help_articles would read them."""
    from assistant.help import ArticleFormatError, parse_article_file

    articles = []
    for n, path in enumerate(sorted(directory.glob("*.md")), 1):
        try:
            article = parse_article_file(path)
        except ArticleFormatError as exc:
            raise TrainingDataError(str(exc)) from exc
        articles.append((n, article.slug, article.title, article.body))
    if not articles:
        raise TrainingDataError(f"{directory}: no articles to read the messages against")
    return Index.build(articles)


def articles_for(cases_file: Path, default: Path) -> Path:
    """The help centre a case file's messages were written against: `articles/` beside it, else `default`."""
    beside = cases_file.parent / "articles"
    return beside if beside.is_dir() else default


def _context(index: Index | None, text: str) -> frozenset[str]:
    return help_context(index.search(text, limit=3)) if index is not None else frozenset()


def labelled_messages(path: Path, index: Index | None = None, weight: float = 1.0) -> list[Example]:
    """(text, class, weight, context) from a JSON list of {"text", "expect"}, each read against the help
    centre in `index`; conversation cases (`created`, `declined`) are skipped."""
    try:
        cases = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(cases, list):
        raise TrainingDataError(f"{path}: expected a JSON list of labelled messages")
    examples = []
    for n, case in enumerate(cases, 1):
        if not isinstance(case, dict) or not isinstance(case.get("text"), str) or not case["text"].strip():
            raise TrainingDataError(f"{path}: item {n} has no text")
        expect = case.get("expect")
        if expect in {"created", "declined"} or (case.get("history") and expect not in CLASSES):
            continue
        if expect not in CLASSES:
            raise TrainingDataError(f"{path}: item {n} has expect={expect!r}, not one of {', '.join(CLASSES)}")
        text = case["text"].replace("{ref}", SAMPLE_REFERENCE)
        for name in ("{ref_lower_spaces}", "{ref_compact}", "{ref_spoken}"):
            text = text.replace(name, SAMPLE_REFERENCE)
        examples.append((text, expect, weight, _context(index, text)))
    return examples


def banking_messages(
    rows_file: Path, labels_file: Path, per_category: int = 0, index: Index | None = None
) -> list[Example]:
    """(text, class, weight, context) from `text,category` rows, each category labelled answer or offer.

    With `per_category`, at most that many rows of each category, chosen by a fixed seed.
    """
    try:
        labels = json.loads(_read(labels_file))
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"{labels_file}: not JSON ({exc.msg})") from exc
    by_category: dict[str, list[str]] = defaultdict(list)
    for n, row in enumerate(csv.DictReader(_read(rows_file).splitlines()), 2):
        if not row.get("text") or not row.get("category"):
            raise TrainingDataError(f"{rows_file}: line {n} needs text and category")
        by_category[row["category"]].append(row["text"])
    examples = []
    for category in sorted(by_category):
        expect = (labels.get(category) or {}).get("expect")
        if expect not in {"answer", "offer"}:
            raise TrainingDataError(f"{labels_file}: category {category!r} is not labelled answer or offer")
        texts = by_category[category]
        if per_category and len(texts) > per_category:
            texts = random.Random(category).sample(texts, per_category)
        examples += [(text, expect, BANKING_WEIGHT, _context(index, text)) for text in texts]
    return examples


BANK = "bank"  # the domain whose help centre the Banking77 rows are labelled against
TRAINING_DIR = Path(__file__).resolve().parent / "data" / "training"  # help centres never scored


def shipped_examples(
    domains: Path, default_articles: Path, banking_rows: Path, *, leave_out: str = "", extra: Path = TRAINING_DIR
) -> list[Example]:
    """The shipped training data: every domain folder's `cases.json` in `domains` and in `extra` (the help
    centres written for training only), each read against its own help centre (`articles_for`), and the
    Banking77 rows read against the bank's. `leave_out` names a domain of `domains` to train without (the
    evaluation's held-out one); leaving out the bank leaves out its rows too.
    """
    examples: list[Example] = []
    for cases in sorted(domains.glob("*/cases.json")):
        if cases.parent.name != leave_out:
            examples += labelled_messages(cases, articles_index(articles_for(cases, default_articles)))
    for cases in sorted(extra.glob("*/cases.json")):
        examples += labelled_messages(cases, articles_index(cases.parent / "articles"), TRAINING_WEIGHT)
    if leave_out != BANK:
        bank = domains / BANK
        index = articles_index(bank / "articles")
        examples += banking_messages(banking_rows, bank / "banking77_labels.json", index=index)
    return examples
