"""The labelled evaluation (cases.json) as a test: the case file is sound, and the assistant meets the bar."""

import string
from collections import Counter

import pytest

from assistant.help import import_articles
from tests.eval.run import (
    ARTICLES_DIR,
    CLASSES,
    article_slugs,
    describe_failure,
    evaluate,
    fill,
    load_cases,
    reference_variants,
)

MIN_CASES = 150
MIN_PER_CLASS = 10
MIN_ACCURACY = 90.0  # % of all cases handled as labelled
MAX_FALSE_OFFERS = 1.0  # % of answerable questions that were offered a ticket instead


def test_the_case_file_is_big_balanced_and_points_at_real_articles():
    cases = load_cases()
    assert len(cases) >= MIN_CASES
    counts = Counter(case["expect"] for case in cases)
    assert set(counts) <= set(CLASSES), counts
    for cls in CLASSES:
        assert counts[cls] >= MIN_PER_CLASS, f"only {counts[cls]} {cls} cases"

    ids = [case["id"] for case in cases]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]

    slugs = article_slugs()
    placeholders = set(reference_variants("LH-2345-6789"))
    for case in cases:
        assert case["text"].strip(), case["id"]
        assert all(isinstance(text, str) and text.strip() for text in case.get("history", [])), case["id"]
        if case["expect"] == "answer":
            assert case.get("slug") in slugs, f"{case['id']}: no article {case.get('slug')!r}"
            assert set(case.get("also", [])) <= slugs, f"{case['id']}: unknown slug in also"
        else:
            assert "slug" not in case and "also" not in case, f"{case['id']}: only answers name an article"
        for text in [*case.get("history", []), case["text"]]:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            assert names <= placeholders, f"{case['id']}: unknown placeholder {names - placeholders}"
            fill(text, "LH-2345-6789")


@pytest.mark.django_db
def test_the_local_assistant_handles_the_labelled_cases():
    imported = import_articles(ARTICLES_DIR)
    assert not imported.errors
    result = evaluate()

    failures = "\n".join(describe_failure(failure) for failure in result["failures"])
    figures = ", ".join(f"{cls} {result['accuracy'][cls]:.1f}%" for cls in CLASSES)
    assert result["overall"] >= MIN_ACCURACY, f"overall {result['overall']:.1f}% ({figures}); failing:\n{failures}"
    assert result["false_offers"] <= MAX_FALSE_OFFERS, (
        f"{result['false_offers']:.1f}% of answerable questions were offered a ticket; failing:\n{failures}"
    )
