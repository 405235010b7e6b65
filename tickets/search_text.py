"""A ticket's search text and search words, written with each message (tickets.services).

`search_text`: its conversation's message texts, each once, one per line. A search word holds no
whitespace, so it is in the search text exactly when it is in one of the messages; a text already
inside it adds nothing and is left out.

`search_words` (PostgreSQL): the distinct words of those texts (runs of letters, digits and `_`,
lower-cased, as-is: no stemming, no stop words) as a tsvector with a GIN index, so a search finds the
tickets with a word starting with each searched word through one index entry, newest first.
"""

import re
from collections.abc import Iterable

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db import connection
from django.db.models import BooleanField, Case, F, Func, IntegerField, Q, TextField, Value, When
from django.db.models.expressions import CombinedExpression, Expression
from django.db.models.functions import Cast, Concat, Lower, StrIndex
from django.db.models.lookups import GreaterThan

from tickets.models import Conversation, Message, Ticket

SEPARATOR = "\n"
WORD_CAP = 100  # a longer run of letters and digits is kept (and looked up) by its start
MAX_WORDS = 50_000  # words kept per ticket: a tsvector holds at most 1 MB
_RUN = re.compile(r"\w+")


def of(texts: Iterable[str]) -> str:
    """The search text of these messages (as migration 0022 and the bench seed write it)."""
    return SEPARATOR.join(sorted(set(texts)))


def with_text(text: str) -> Case:
    """The ticket's search text with `text` added unless it is in it already: an UPDATE's value, so
    nothing is read first."""
    return Case(
        When(Q(search_text__isnull=True) | Q(search_text=""), then=Value(text)),
        When(GreaterThan(StrIndex(F("search_text"), Value(text)), 0), then=F("search_text")),
        default=Concat(F("search_text"), Value(SEPARATOR + text)),
        output_field=TextField(),
    )


def words_of(text: Expression) -> Func:
    """PostgreSQL: the words of `text` as a tsvector (lower-cased runs of \\w, each cut to WORD_CAP)."""
    lowered = Func(Lower(text), Value(rf"(\w{{{WORD_CAP}}})\w+"), Value(r"\1"), Value("g"), function="REGEXP_REPLACE")
    runs = Func(lowered, Value(r"\W+"), function="REGEXP_SPLIT_TO_ARRAY")
    return Func(
        Func(runs, Value(""), function="ARRAY_REMOVE"), function="ARRAY_TO_TSVECTOR", output_field=SearchVectorField()
    )


def with_words(text: str) -> Case:
    """PostgreSQL: the ticket's search words with those of `text` added (past MAX_WORDS, none)."""
    return Case(
        When(search_words__isnull=True, then=words_of(Value(text))),
        When(
            GreaterThan(Func(F("search_words"), function="LENGTH", output_field=IntegerField()), MAX_WORDS),
            then=F("search_words"),
        ),
        default=CombinedExpression(F("search_words"), "||", words_of(Value(text)), output_field=SearchVectorField()),
        output_field=SearchVectorField(),
    )


def is_one_word(word: str) -> bool:
    """Whether `word` is one run of letters, digits and `_`: then has_words() is its exact match."""
    return _RUN.fullmatch(word) is not None and len(word) <= WORD_CAP


def has_words(words: list[str]) -> Func | None:
    """PostgreSQL: a condition on tickets whose search words include, for every run of \\w in `words`,
    one that starts with it; None when the words hold no letter or digit."""
    runs = [run[:WORD_CAP] for word in words for run in _RUN.findall(word)]
    if not runs:
        return None
    query = Cast(Lower(Value(" & ".join(f"'{run}':*" for run in runs))), SearchQueryField())
    return Func(F("search_words"), query, template="(%(expressions)s)", arg_joiner=" @@ ", output_field=BooleanField())


def of_conversation(conversation_id: int) -> dict[str, object]:
    """A new ticket's search fields, from the messages its conversation holds already."""
    text = of(Message.objects.filter(conversation_id=conversation_id).values_list("text", flat=True))
    if connection.vendor != "postgresql":
        return {"search_text": text}
    return {"search_text": text, "search_words": words_of(Value(text))}


def add(conversation: Conversation, text: str) -> None:
    """Add a message's text to the search fields of the conversation's ticket, in one UPDATE: found by
    its id when lock_conversation() read it (`ticket_pk`; None: no ticket, nothing written)."""
    if not hasattr(conversation, "ticket_pk"):
        tickets = Ticket.objects.filter(conversation=conversation)
    elif conversation.ticket_pk is not None:
        tickets = Ticket.objects.filter(pk=conversation.ticket_pk)
    else:
        return
    words = {"search_words": with_words(text)} if connection.vendor == "postgresql" else {}
    tickets.update(search_text=with_text(text), **words)
