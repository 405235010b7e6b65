"""The staff ticket list's search box: one term over the reference, the customer's email, name and
phone numbers, the title and every message's text.

On PostgreSQL the `contains` lookups below use the pg_trgm GIN indexes the migrations make (on
UPPER(...) where the lookup is case-insensitive, as Django writes it), and a page takes only the
newest matches of each kind, walked newest first; elsewhere they scan.
"""

import re
from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When

from loophole.models import PhoneNumber
from tickets import search_text
from tickets.models import Message, Ticket
from tickets.reference import ALPHABET, LENGTH, PREFIX, parse_reference

MAX_LENGTH = 200  # longer input is refused, not cut
MAX_WORDS = 8
MIN_WORD = 3  # a trigram index has nothing to look up for shorter words
MIN_PHONE_DIGITS = 4

_SEPARATORS = re.compile(r"[\s\-_.#:]+")
_REFERENCE_PREFIX = re.compile(rf"^{PREFIX}[{ALPHABET}]{{1,{LENGTH}}}$")
_PHONE = re.compile(r"^\+?[\d\s().\-]+$")
_NOT_DIGIT = re.compile(r"\D")


class SearchTooLong(ValueError):
    """A search term past MAX_LENGTH characters."""


def _reference_prefix(term: str) -> str | None:
    """`lh-7k3` -> `LH-7K3`: the start of a reference, typed with its `LH` prefix."""
    compact = _SEPARATORS.sub("", term).upper()
    if not _REFERENCE_PREFIX.match(compact):
        return None
    body = compact[len(PREFIX) :]
    return f"{PREFIX}-{body[:4]}" + (f"-{body[4:]}" if len(body) > 4 else "")


def _phone_digits(term: str) -> str | None:
    """The digits of a phone number as typed (`+1 (555) 555-0100`, `0044 20…`, `555 0100`), or None."""
    if not _PHONE.match(term):
        return None
    digits = _NOT_DIGIT.sub("", term)
    if term.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def _words(term: str) -> list[str]:
    return [w for w in term.split()[:MAX_WORDS] if len(w) >= MIN_WORD]


def _each_word(field: str, words: list[str]) -> list[Q]:
    return [Q(**{f"{field}__icontains": w}) for w in words]


def _check(term: str) -> str:
    term = term.strip()
    if len(term) > MAX_LENGTH:
        raise SearchTooLong(f"A search is at most {MAX_LENGTH} characters.")
    return term


def _kinds(rows: QuerySet[Ticket], term: str) -> list[QuerySet[Ticket]]:
    """One query per kind of match among `rows`: each reads its own index, where an OR across the
    ticket, customer and message tables would scan every ticket.

    Message words are looked up in the ticket's search text (every message's text, one per line: a
    word, which has no whitespace, is in it exactly when it is in one of the messages); several words
    must also be in one message, checked on those tickets only. On PostgreSQL they are looked up in
    the search words' index instead, so a message word is found from the start of a word of the
    message ("kelo", "INV-10"), not from inside one ("omadar" in "Kelomadar"), and needs a letter or
    digit."""
    kinds = [rows.filter(Q(customer__email__contains=term.lower()) | Q(customer__name__icontains=term))]
    if reference := parse_reference(term):
        kinds.append(rows.filter(reference=reference))
    elif prefix := _reference_prefix(term):
        kinds.append(rows.filter(reference__startswith=prefix))
    if digits := _phone_digits(term):
        kinds.append(
            rows.filter(Exists(PhoneNumber.objects.filter(user=OuterRef("customer_id"), number__endswith=digits)))
        )
    if words := _words(term):
        kinds.append(rows.filter(*_each_word("title", words)))
        if (in_messages := _in_messages(rows, words)) is not None:
            kinds.append(in_messages)
    return kinds


def _in_messages(rows: QuerySet[Ticket], words: list[str]) -> QuerySet[Ticket] | None:
    if connection.vendor != "postgresql":
        found = rows.filter(*_each_word("search_text", words))
    elif (has_words := search_text.has_words(words)) is None:
        return None
    else:
        # The word index finds the tickets; a word that is more than one run of letters and digits
        # ("INV-1000", "100%") is checked as typed in the text too.
        typed = [w for w in words if not search_text.is_one_word(w)]
        found = rows.filter(has_words, *_each_word("search_text", typed))
    if len(words) > 1:
        one = Message.objects.filter(*_each_word("text", words), conversation=OuterRef("conversation_id"))
        found = found.filter(Exists(one))
    return found


def matching(rows: QuerySet[Ticket], term: str) -> QuerySet[Ticket]:
    """Every ticket among `rows` the term finds, a ticket with many matches once. Raises SearchTooLong."""
    ids = [kind.order_by().values("pk") for kind in _kinds(rows, _check(term))]
    return rows.filter(pk__in=ids[0].union(*ids[1:]))


@dataclass(frozen=True)
class Found:
    count: int  # the matches, counted up to the cap + 1
    rows: QuerySet[Ticket]  # holding the first `newest` matches, newest first or ranked by rank()


def search(rows: QuerySet[Ticket], term: str, *, newest: int, cap: int) -> Found:
    """The tickets among `rows` the term finds, for a page that shows up to the `newest`-th. Raises
    SearchTooLong. Runs one query: the count.

    The count reads at most `cap` + 1 matches of each kind, and tells the kinds with more apart: in
    `rows` those give only their `newest` most recent matches (walked newest first through an
    index), the others all of theirs (found through their index: `cap` at most). So a page never
    finds every match, and no kind walks the tickets looking for matches it has few or none of."""
    kinds = [kind.order_by().values("pk") for kind in _kinds(rows, _check(term))]
    if not connection.features.supports_slicing_ordering_in_compound:  # SQLite: no LIMIT in a UNION
        union = kinds[0].union(*kinds[1:])
        return Found(count=min(union.count(), cap + 1), rows=rows.filter(pk__in=union))
    tagged = [
        kind.annotate(kind=Value(n, output_field=IntegerField())).values_list("pk", "kind")[: cap + 1]
        for n, kind in enumerate(kinds)
    ]
    pairs = list(tagged[0].union(*tagged[1:], all=True))
    per_kind = Counter(n for _pk, n in pairs)
    many = {n for n, found in per_kind.items() if found > cap}
    parts = [kind.order_by("-created_at", "-id")[:newest] if n in many else kind for n, kind in enumerate(kinds)]
    count = min(len({pk for pk, _n in pairs}), cap + 1)
    return Found(count=count, rows=rows.filter(pk__in=parts[0].union(*parts[1:])))


def rank(term: str) -> Case:
    """0 for the exact reference, 1 for a title match, 2 for the rest (sorted ascending)."""
    term = term.strip()[:MAX_LENGTH]
    reference, words = parse_reference(term), _words(term)
    nothing = Q(pk__in=[])
    return Case(
        When(Q(reference=reference) if reference else nothing, then=Value(0)),
        When(Q(*_each_word("title", words)) if words else nothing, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
