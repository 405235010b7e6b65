"""The staff ticket list's search box: what each kind of term finds, the ranking, hostile input, cost."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loophole.models import PhoneNumber
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.tickets.test_admin import listed
from tickets import search, services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")


@pytest.fixture
def staff(client):
    user = StaffFactory(name="Agent Smith")
    client.force_login(user)
    return user


def customer(email: str, name: str = "Pat Doe", phone: str = "") -> object:
    user = UserFactory(email=email, name=name)
    if phone:
        PhoneNumber.objects.create(user=user, number=phone)
    return user


def found(client, term: str) -> set[str]:
    response = client.get(LIST, {"q": term})
    assert response.status_code == 200
    return set(listed(response))


@pytest.fixture
def tickets() -> dict[str, Ticket]:
    made = {
        "ana": make_ticket(customer("ana.lopez@example.com", "Ana Lopez"), title="Cannot log in"),
        "bea": make_ticket(customer("bea@example.org", "Beatrix Holloway"), title="Invoice address wrong"),
        "cal": make_ticket(customer("cal@example.net", "Cal Ray", phone="+15555550142"), title="App crashes"),
        "dan": make_ticket(customer("dan@example.net", "Dan Ek", phone="+447700900199"), title="Zeppelin export"),
        "eve": make_ticket(customer("eve@example.net", "Eve Ng"), title="Billing question"),
    }
    services.store_customer_message(made["eve"].conversation_id, "The quasar flux report is empty.")
    return made


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ana.lopez@exa", {"ana"}),
        ("LOPEZ@EXAMPLE", {"ana"}),
        ("example.org", {"bea"}),
        ("holloway", {"bea"}),
        ("trix holl", {"bea"}),
        ("+1 (555) 555-0142", {"cal"}),
        ("555 0142", {"cal"}),
        ("0142", {"cal"}),
        ("0044 7700 900199", {"dan"}),
        ("zeppelin", {"dan"}),
        ("quasar", {"eve"}),
        ("FLUX quasar", {"eve"}),
        ("quasar zeppelin", set()),  # every word, in the title or in one message
        ("nothing like this", set()),
    ],
    ids=[
        "partial-email",
        "email-other-case",
        "email-domain",
        "name",
        "name-across-words",
        "phone-us-format",
        "phone-tail-spaced",
        "phone-last-digits",
        "phone-00-prefix",
        "title-word",
        "message-word",
        "message-words-any-order",
        "words-split-between-title-and-message",
        "no-match",
    ],
)
def test_the_search_finds_the_right_tickets_and_no_others(client, staff, tickets, term, expected):
    assert found(client, term) == {tickets[key].reference for key in expected}


def test_the_search_finds_a_reference_typed_in_lower_case_whole_or_its_start(client, staff, tickets):
    ana = tickets["ana"].reference
    assert found(client, ana.lower()) == {ana}
    assert found(client, ana.lower().replace("-", "")) == {ana}
    starts = {t.reference for t in tickets.values() if t.reference.startswith(ana[:9])}
    assert found(client, ana[:9].lower()) == starts
    assert ana in starts


def test_the_search_lists_the_reference_then_title_matches_then_the_rest_newest_first(client, staff):
    now = timezone.now()
    aged = []
    for days, title in [(5, "Cannot log in"), (4, "Zeppelin export"), (3, "Zeppelin sync"), (2, "Printer"), (1, "Fax")]:
        ticket = make_ticket(customer(f"c{days}@example.com"), title=title)
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now - datetime.timedelta(days=days))
        aged.append(ticket)
    oldest, title_old, title_new, message_old, message_new = aged
    Ticket.objects.filter(pk=title_new.pk).update(title=f"Zeppelin sync, like {oldest.reference.lower()}")
    for ticket in (message_old, message_new):
        services.store_customer_message(ticket.conversation_id, f"Same as {oldest.reference}, zeppelin again.")

    assert listed(client.get(LIST, {"q": oldest.reference})) == [
        oldest.reference,
        title_new.reference,
        message_new.reference,
        message_old.reference,
    ]
    assert listed(client.get(LIST, {"q": "zeppelin"})) == [
        title_new.reference,
        title_old.reference,
        message_new.reference,
        message_old.reference,
    ]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("100%", "percent"),
        ("under_score", "underscore"),
        ("back\\slash", "backslash"),
        ("o'brien", "quote"),
        ("%%%", None),
        ("_", "underscore"),
        ("\\\\\\", None),
        ("'", "quote"),
        ("'; DROP TABLE tickets_ticket; --", None),
        ("(a+)+$", None),
    ],
    ids=["percent", "underscore", "backslash", "quote", "only-%", "lone-_", "only-\\", "lone-'", "sql", "regex"],
)
def test_sql_and_regex_metacharacters_match_literally(client, staff, term, expected):
    made = {
        "percent": make_ticket(customer("p1@example.com"), title="Discount 100% off"),
        "percent_decoy": make_ticket(customer("p2@example.com"), title="Discount 1000 off"),
        "underscore": make_ticket(customer("under_score@example.com")),
        "underscore_decoy": make_ticket(customer("underXscore@example.com")),
        "backslash": make_ticket(customer("b1@example.com"), title="Path back\\slash broken"),
        "backslash_decoy": make_ticket(customer("b2@example.com"), title="Path backslash broken"),
        "quote": make_ticket(customer("q1@example.com", "Sean O'Brien")),
        "quote_decoy": make_ticket(customer("q2@example.com", "Sean OBrien")),
    }
    assert found(client, term) == ({made[expected].reference} if expected else set())
    assert Ticket.objects.count() == len(made)


def test_an_over_long_search_is_refused_with_a_message(client, staff, tickets):
    term = "zeppelin " * 1200  # about 10 KB
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"q": term})
    assert response.status_code == 200
    assert listed(response) == []
    assert f"A search is at most {search.MAX_LENGTH} characters." in response.content.decode()
    assert max(len(q["sql"]) for q in queries.captured_queries) < 4000  # the term never reached the database
    assert found(client, "zeppelin" + " " * (search.MAX_LENGTH - 8)) == {tickets["dan"].reference}


def test_a_search_costs_the_same_queries_however_many_tickets_and_messages_match(client, staff):
    make_ticket(customer("first@example.com"), title="Zeppelin one", messages=1)
    client.get(LIST, {"q": "zeppelin"})
    with CaptureQueriesContext(connection) as one:
        assert len(listed(client.get(LIST, {"q": "zeppelin"}))) == 1
    for i in range(12):
        ticket = make_ticket(customer(f"more{i}@example.com"), messages=3)
        services.store_customer_message(ticket.conversation_id, "zeppelin zeppelin")
        services.store_customer_message(ticket.conversation_id, "Zeppelin, again.")
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client.get(LIST, {"q": "zeppelin"}))) == 13  # each ticket once
    assert len(one) == len(many)


@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("quasar", "ticket_search_words"),
        ("zeppelin", "ticket_title_trgm"),
        ("lopez@exa", "user_email_trgm"),
        ("holloway", "user_name_trgm"),
        ("555 0142", "phone_number_trgm"),
    ],
    ids=["message-text", "title", "email", "name", "phone"],
)
def test_on_postgresql_the_search_reads_the_trigram_indexes(requires_postgres, tickets, term, index):
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows: scans are cheaper than any index; without them each part must use its own.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = search.matching(Ticket.objects.all(), term).order_by(search.rank(term).asc(), "-created_at").explain()
    assert index in plan, plan
