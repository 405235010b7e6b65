"""The evaluation as tests: every domain's case file is sound, and the assistant holds its held-out floors.

The floors are what the assistant reaches today, each domain scored while held out (see harness.py), so a
change that makes it worse on help centres it was not fitted on fails here. The targets it is working
towards are higher: a held-out mean of 88 %, every domain 85 %, false offers at most 2 %, Banking77 85 %.
"""

import csv
import json
import string

import pytest

from assistant import training
from assistant.help import parse_article_file
from assistant.intents import CLASSES
from tests.eval import harness
from tests.eval.run import table

FLOOR_MEAN = 85.5  # % held-out accuracy, mean over the domains (the demo left out)
# % held-out accuracy of the weakest domain (`bank`: 73.9 with the static model read beside the sentence
# model, 75.4 with a passage quoted after its heading and the readers of 2026-12-07, night, 76.9 late at night,
# 77.6 with disputed payments offered; README)
FLOOR_DOMAIN = 76.5
# % of answerable questions offered a ticket instead (2.9 before retrieval by meaning, 4.7 before the help
# centres written for training, 4.2 before the readers of 2026-12-07, late at night: README)
CEILING_FALSE_OFFERS = 3.5
# % of the Banking77 sample told apart: answerable versus needs a person (81.1 before a payment said not to be
# the customer's own was always offered, 84.4 after: README)
FLOOR_BANKING77 = 83.5

MIN_ARTICLES = 20
MIN_CASES = 100
PLACEHOLDERS = set(harness.reference_variants("LH-2345-6789"))


def _squash(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).lower()


@pytest.mark.parametrize("domain", harness.load_domains(), ids=lambda d: d.name)
def test_each_domain_has_enough_articles_and_sound_labelled_cases(domain):
    articles = {path.stem: parse_article_file(path) for path in sorted(domain.articles.glob("*.md"))}
    if domain.headline:
        assert len(articles) >= MIN_ARTICLES
        assert len(domain.cases) >= MIN_CASES
    ids = [case["id"] for case in domain.cases]
    assert len(ids) == len(set(ids))
    for case in domain.cases:
        assert case["expect"] in harness.CLASSES, case["id"]
        for text in [*case.get("history", []), case["text"]]:
            assert isinstance(text, str) and text.strip(), case["id"]
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            assert names <= PLACEHOLDERS, f"{case['id']}: unknown placeholder {names - PLACEHOLDERS}"
        if case["expect"] == "answer":
            assert case["slug"] in articles, f"{case['id']}: no article {case['slug']!r}"
            assert set(case.get("also", [])) <= set(articles), case["id"]
            body = _squash(articles[case["slug"]].body)
            for fact in case.get("facts", []):
                assert _squash(fact) in body, f"{case['id']}: {fact!r} is not in {case['slug']}"
        else:
            assert "slug" not in case and "facts" not in case, f"{case['id']}: only answers name an article"
        if case["expect"] in {"created", "declined"}:
            assert case.get("history"), f"{case['id']}: an answer to an offer needs the conversation before it"


@pytest.mark.parametrize("folder", sorted(training.TRAINING_DIR.iterdir()), ids=lambda p: p.name)
def test_each_help_centre_written_for_training_is_sound_and_never_scored(folder):
    articles = {path.stem: parse_article_file(path) for path in sorted(folder.glob("articles/*.md"))}
    cases = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
    assert len(articles) >= MIN_ARTICLES and len(cases) >= MIN_CASES
    assert len({case["id"] for case in cases}) == len(cases)
    for case in cases:
        assert case["expect"] in CLASSES and case["text"].strip(), case["id"]
        assert (case["expect"] == "answer") == (case.get("slug") in articles), f"{case['id']}: {case.get('slug')!r}"
    assert folder.name not in {domain.name for domain in harness.load_domains()}


def test_banking77_labels_cover_every_intent_with_a_real_article():
    labels = json.loads((harness.DOMAINS_DIR / harness.BANK / "banking77_labels.json").read_text(encoding="utf-8"))
    categories = json.loads((harness.BANKING77_CSV.parent / "categories.json").read_text(encoding="utf-8"))
    assert set(labels) == set(categories) and len(labels) == 77
    slugs = {path.stem for path in (harness.DOMAINS_DIR / harness.BANK / "articles").glob("*.md")}
    for intent, label in labels.items():
        assert label["expect"] in {"answer", "offer"}, intent
        assert label["slug"] in slugs and set(label.get("also", [])) <= slugs, intent
    with open(harness.BANKING77_CSV, encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) >= harness.BANKING77_SAMPLE


@pytest.mark.django_db
def test_the_assistant_holds_its_floors_on_help_centres_it_was_not_fitted_on():
    scores, banking = harness.evaluate(harness.load_domains())
    top = harness.headline(scores, banking)
    report = table(scores, banking)
    assert top["held_out_accuracy"] >= FLOOR_MEAN, report
    assert top["worst_domain"] >= FLOOR_DOMAIN, report
    assert top["false_offers"] <= CEILING_FALSE_OFFERS, report
    assert top["quiet_offers"] == 0, f"a ticket offered on a status question or small talk\n{report}"
    assert top["banking77_accuracy"] >= FLOOR_BANKING77, report
