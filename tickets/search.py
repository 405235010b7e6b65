"""The staff ticket list's search box: one term over the reference, the customer's email, name and
phone numbers, the title and every message's text.

On PostgreSQL the `contains` lookups below use the pg_trgm GIN indexes the migrations make (on
UPPER(...) where the lookup is case-insensitive, as Django writes it); elsewhere they scan.
"""

import re

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When

from loophole.models import PhoneNumber
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


def matching(term: str) -> Q:
    """Tickets the term finds. Raises SearchTooLong.

    One id query per kind of match, combined with UNION: each reads its own index, where an OR across
    the ticket, customer and message tables would scan every ticket. Messages and phone numbers are
    EXISTS subqueries, so a ticket with many matches is listed once."""
    term = term.strip()
    if len(term) > MAX_LENGTH:
        raise SearchTooLong(f"A search is at most {MAX_LENGTH} characters.")
    ids = Ticket.objects.values("pk")
    kinds = [ids.filter(Q(customer__email__contains=term.lower()) | Q(customer__name__icontains=term))]
    if reference := parse_reference(term):
        kinds.append(ids.filter(reference=reference))
    elif prefix := _reference_prefix(term):
        kinds.append(ids.filter(reference__startswith=prefix))
    if digits := _phone_digits(term):
        kinds.append(
            ids.filter(Exists(PhoneNumber.objects.filter(user=OuterRef("customer_id"), number__endswith=digits)))
        )
    if words := _words(term):
        in_message = Message.objects.filter(*_each_word("text", words), conversation=OuterRef("conversation_id"))
        kinds += [ids.filter(*_each_word("title", words)), ids.filter(Exists(in_message))]
    return Q(pk__in=kinds[0].union(*kinds[1:]))


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
