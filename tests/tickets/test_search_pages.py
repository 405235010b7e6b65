"""The search box at scale: the same tickets as a search over every message finds, the newest matches
page by page, the count capped ("1,000+"), and a constant number of queries on any page."""

import datetime
import re
from pathlib import Path

import django
import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from loophole.models import PhoneNumber
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.tickets.test_admin import listed
from tickets import search, services
from tickets.admin_lists import SEARCH_COUNT_CAP
from tickets.models import Author, Conversation, Message, Status, Ticket
from tickets.reference import new_reference

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")
TEMPLATE = Path(__file__).resolve().parents[2] / "templates/admin/tickets/ticket/pagination.html"


@pytest.fixture
def staff(client):
    user = StaffFactory(name="Agent Smith")
    client.force_login(user)
    return user


def every_message(term: str) -> set[str]:
    """The references a term finds when each kind is looked for in every row: the customer, the
    reference, the phone, the title, and all the words in one of the messages."""
    term = term.strip()
    kinds = Q(customer__email__contains=term.lower()) | Q(customer__name__icontains=term)
    if reference := search.parse_reference(term):
        kinds |= Q(reference=reference)
    elif prefix := search._reference_prefix(term):
        kinds |= Q(reference__startswith=prefix)
    if digits := search._phone_digits(term):
        kinds |= Q(Exists(PhoneNumber.objects.filter(user=OuterRef("customer_id"), number__endswith=digits)))
    if words := search._words(term):
        one = Message.objects.filter(*[Q(text__icontains=w) for w in words], conversation=OuterRef("conversation_id"))
        kinds |= Q(*[Q(title__icontains=w) for w in words]) | Q(Exists(one))
    return set(Ticket.objects.filter(kinds).values_list("reference", flat=True))


def found(client, term: str, **params: str) -> list[str]:
    response = client.get(LIST, {"q": term, **params})
    assert response.status_code == 200
    return listed(response)


@pytest.fixture
def desk(staff) -> dict[str, Ticket]:
    """Tickets whose messages arrive on every path: before the ticket, from the customer after it,
    the assistant's and the staff's replies."""
    zoe = UserFactory(email="zoe.muller@example.com", name="Zoë Müller")
    PhoneNumber.objects.create(user=zoe, number="+15555550177")
    made = {
        "zoe": make_ticket(zoe, title="Grüße aus Zürich", channel="sms"),
        "pct": make_ticket(title="Discount 100% off", channel="email"),
        "und": make_ticket(title="Path a_b broken", channel="voice"),
        "two": make_ticket(title="Printer jam"),
        "old": make_ticket(title="Quiet one"),
    }
    services.store_customer_message(made["zoe"].conversation_id, "Die Straße ist gesperrt 東京 🙂")
    services.store_customer_message(made["two"].conversation_id, "The quasar flux report is empty.")
    services.store_customer_message(made["two"].conversation_id, "Another nebula here.")
    services.add_staff_reply(made["old"].pk, staff=staff, text="We reset the zeppelin gateway for you.")
    conversation = Conversation.objects.get(pk=made["pct"].conversation_id)
    services.store_reply(conversation, "Your refund of 50% is on its way (ref_42).")
    return made


TERMS = [
    "zoe.muller@exa",
    "MÜLLER",
    "müller",
    "+1 (555) 555-0177",
    "0177",
    "Zürich",
    "straße",
    "東京",
    "🙂",
    "quasar",
    "FLUX quasar",
    "quasar nebula",  # in two messages, not in one
    "printer quasar",  # one in the title, one in a message
    "zeppelin",
    "100%",
    "50%",
    "%",
    "%%%",
    "_",
    "a_b",
    "ref_42",
    "ab",
    "a b",
    "!!!",
    "...",
    "-",
    "'; DROP TABLE tickets_ticket; --",
    "LH-",
    "nothing like this",
]


@pytest.mark.parametrize("term", TERMS)
def test_the_search_finds_what_a_search_of_every_message_finds(client, desk, term):
    assert set(found(client, term)) == every_message(term)


def test_the_search_finds_a_reference_whole_and_by_its_start(client, desk):
    reference = desk["two"].reference
    for term in (reference, reference.lower(), reference[:7], reference.replace("-", " ")):
        assert set(found(client, term)) == every_message(term)
        assert reference in found(client, term)


def test_a_word_of_a_later_message_is_found_and_a_word_never_written_is_not(client, desk):
    assert found(client, "gesperrt") == [desk["zoe"].reference]
    assert found(client, "gesperrtx") == []
    services.store_customer_message(desk["old"].conversation_id, "Now the gateway says gesperrtx.")
    assert found(client, "gesperrtx") == [desk["old"].reference]


def aged_tickets(count: int, title: str, *, status: str = Status.SUBMITTED) -> list[Ticket]:
    """`count` tickets written straight to the table (a search needs no conversation history), a
    minute apart, newest first."""
    customer = UserFactory()
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(customer=customer, channel="chat") for _ in range(count)
    )
    made = Ticket.objects.bulk_create(
        Ticket(
            reference=new_reference(),
            title=title,
            description="d",
            status=status,
            action_taken="done" if status == Status.RESOLVED else "",
            resolved_at=now if status == Status.RESOLVED else None,
            customer=customer,
            conversation=conversation,
            channel="chat",
            created_at=now - datetime.timedelta(minutes=i),
            last_activity_at=now,
            search_text="",
        )
        for i, conversation in enumerate(conversations)
    )
    return made


def test_the_pages_list_every_match_newest_first_each_once(client, staff):
    tickets = aged_tickets(130, "Zeppelin export")
    newest_first = [t.reference for t in tickets]
    pages = [found(client, "zeppelin", p=str(page)) for page in (1, 2, 3)]
    assert pages == [newest_first[:50], newest_first[50:100], newest_first[100:]]
    assert found(client, "zeppelin", all="") == newest_first  # "Show all" is offered up to 200


def test_a_search_with_a_filter_finds_the_older_matches_behind_newer_ones_filtered_out(client, staff):
    aged_tickets(120, "Zeppelin export", status=Status.RESOLVED)
    older = make_ticket(title="Zeppelin export")
    Ticket.objects.filter(pk=older.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    assert found(client, "zeppelin", status__exact=Status.SUBMITTED) == [older.reference]


def test_past_the_cap_the_count_reads_1000_plus(client, staff):
    aged_tickets(SEARCH_COUNT_CAP + 5, "Zeppelin export")
    html = client.get(LIST, {"q": "zeppelin"}).content.decode()
    assert f"{SEARCH_COUNT_CAP:,}+ tickets" in html
    html = client.get(LIST, {"q": "zeppelin", "p": "21"}).content.decode()  # the last page the count allows
    assert len(listed(client.get(LIST, {"q": "zeppelin", "p": "21"}))) == 1
    assert f"{SEARCH_COUNT_CAP:,}+ tickets" in html


def test_under_the_cap_the_count_is_exact(client, staff):
    aged_tickets(7, "Zeppelin export")
    assert "7 tickets" in client.get(LIST, {"q": "zeppelin"}).content.decode()


@pytest.mark.parametrize("page", ["0", "-3", "x", "99999999999999999999"], ids=["zero", "negative", "word", "huge"])
def test_a_bad_page_number_is_no_error(client, staff, page):
    aged_tickets(3, "Zeppelin export")
    response = client.get(LIST, {"q": "zeppelin", "p": page})
    assert response.status_code in (200, 302)


def test_pages_1_and_5_of_a_search_cost_the_same_statements(client, staff, django_assert_num_queries):
    aged_tickets(230, "Zeppelin export")
    # session; user; the user's permissions; the user's groups' permissions; the capped count of the
    # matches; the page's tickets with what the columns show
    for page in ("1", "5"):
        with django_assert_num_queries(6):
            assert len(found(client, "zeppelin", p=page)) == (50 if page == "1" else 30)


def test_on_postgresql_a_kind_past_the_cap_gives_only_its_newest_matches(requires_postgres):
    ticket = make_ticket(title="Zeppelin export")
    services.store_customer_message(ticket.conversation_id, "The zeppelin flux is low.")
    many = search.search(Ticket.objects.all(), "zeppelin flux", newest=100, cap=0)  # 1 match is many
    few = search.search(Ticket.objects.all(), "zeppelin flux", newest=100, cap=5)
    assert many.count == 1 and few.count == 1
    assert list(many.rows) == list(few.rows) == [ticket]
    newest_first = r'ORDER BY \w+\."created_at" DESC, \w+\."id" DESC LIMIT 100\)'
    # the messages' kind (the title has "flux" nowhere): walked newest first, not read whole
    assert len(re.findall(newest_first, str(many.rows.query))) == 1, many.rows.query
    assert len(re.findall(newest_first, str(few.rows.query))) == 0, few.rows.query


def test_the_pagination_template_is_djangos_but_for_the_count():
    """templates/admin/tickets/ticket/pagination.html copies Django's: compare them again on upgrading."""
    theirs = (Path(django.__file__).parent / "contrib/admin/templates/admin/pagination.html").read_text()
    ours = [line for line in TEMPLATE.read_text().splitlines() if not line.startswith("{% comment %}")]
    expected = theirs.replace("{{ cl.result_count }} {% if", "{{ cl.paginator.shown_count }} {% if").splitlines()
    assert ours == expected


def test_message_authors_are_all_searched(client, desk):
    """A staff reply and an assistant reply are messages too."""
    assert Message.objects.filter(author=Author.STAFF, text__contains="zeppelin").exists()
    assert found(client, "zeppelin") == [desk["old"].reference]
    assert found(client, "ref_42") == [desk["pct"].reference]


def test_a_message_word_is_found_by_its_start_and_on_postgresql_only_by_its_start(client, staff):
    ticket = make_ticket(title="Broken gadget")
    services.store_customer_message(ticket.conversation_id, "My Kelomadar arrived broken, order INV-20931.")
    for term in ("kelomadar", "Kelo", "KELOMADAR arrived", "inv-2093", "20931"):
        assert found(client, term) == [ticket.reference], term
    inside = found(client, "omadar")
    assert inside == ([] if connection.vendor == "postgresql" else [ticket.reference])


def test_a_word_longer_than_the_index_keeps_is_stored_and_found_by_its_start(client, staff):
    ticket = make_ticket(title="Log attached")
    long_word = "x" * 150 + "y" * 3800
    services.store_customer_message(ticket.conversation_id, f"Here is the log: {long_word}")
    assert found(client, "x" * 150 + "yyy") == [ticket.reference]
    assert found(client, "x" * 150 + "z") == []
