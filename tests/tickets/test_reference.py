"""Ticket references: readable, unguessable, and parsed however a customer types them."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.reference import ALPHABET, PATTERN, new_reference, parse_reference

body = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


def test_the_alphabet_has_no_look_alike_characters():
    assert not set("0O1I") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 32


def test_new_references_match_the_format_and_do_not_repeat():
    refs = {new_reference() for _ in range(5000)}
    assert len(refs) == 5000
    assert all(re.match(PATTERN, r) for r in refs)


def test_new_references_are_not_sequential():
    a, b = new_reference(), new_reference()
    assert a != b
    assert sum(x != y for x, y in zip(a, b, strict=True)) >= 2 or a[3:] != b[3:]


@given(
    body=body, case=st.sampled_from([str.lower, str.upper, str.title]), sep=st.sampled_from(["-", " ", "", "  ", "_"])
)
def test_any_typing_of_a_reference_parses_to_the_canonical_form(body, case, sep):
    canonical = f"LH-{body[:4]}-{body[4:]}"
    for typed in (
        f"LH{sep}{body[:4]}{sep}{body[4:]}",
        f"{body[:4]}{sep}{body[4:]}",
        f"  lh {body}  ",
        " ".join(f"LH{body}"),
    ):
        assert parse_reference(case(typed)) == canonical


@given(st.text(max_size=20))
def test_parsing_never_crashes_and_only_returns_valid_references(text):
    result = parse_reference(text)
    assert result is None or re.match(PATTERN, result)


@pytest.mark.parametrize(
    "typed",
    ["", "LH-", "LH-7K3M-QX9", "LH-7K3M-QX9PP", "LH-0K3M-QX9P", "LH-7K3M-QXIP", "hello there", "LH-7K3M-QX9P; DROP"],
    ids=["empty", "prefix", "short", "long", "zero", "letter-i", "words", "trailing"],
)
def test_things_that_are_not_references_parse_to_none(typed):
    assert parse_reference(typed) is None
