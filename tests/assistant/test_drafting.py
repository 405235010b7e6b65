"""Ticket drafts say what the problem is: from the messages about it, with the customer's numbers."""

import pytest

from assistant import drafting
from assistant.engines.base import Turn
from tests.assistant.helpers import add_articles, chat, say
from tests.factories import UserFactory
from tickets.models import Ticket


def turns(*pairs: tuple[str, str, str]) -> tuple[Turn, ...]:
    return tuple(Turn(author, text, kind) for author, text, kind in pairs)


def test_an_earlier_topic_that_was_answered_is_left_out_and_the_person_request_is_not_the_title():
    history = turns(
        ("customer", "How do I reset my password?", ""),
        ("assistant", "From our help centre ...", "answered"),
        ("customer", "Also, I need someone to fix the seat count on invoice INV-3F2A9B7C, it says 12 seats", ""),
        ("assistant", "Could you tell me a bit more?", "clarified"),
    )
    draft = drafting.draft(history, "Talk to a human please", "human", "chat")
    assert "seat count" in draft.title.lower() and "INV-3F2A9B7C" in draft.title
    assert "password" not in draft.title.lower() and "human" not in draft.title.lower()
    assert "password" not in draft.summary.lower() and "seat count" in draft.summary.lower()
    assert "INV-3F2A9B7C" in draft.description and "12 seats" in draft.description


def test_a_question_that_did_not_help_is_part_of_the_problem():
    history = turns(
        ("customer", "How do I claim the price drop on my tv?", ""),
        ("assistant", "From our help centre ...", "answered"),
    )
    text = "there's no Claim button on order 5RJ8W2HX, I tried the app and the website"
    draft = drafting.draft(history, text, "unresolved", "chat")
    assert "5RJ8W2HX" in draft.title
    assert "price drop" in draft.description and "Claim button" in draft.description


def test_a_new_problem_after_a_declined_offer_starts_afresh():
    history = turns(
        ("customer", "My parcel 7QK2M9XD never arrived", ""),
        ("assistant", "Shall I open a ticket?", "offered"),
        ("customer", "no thanks", ""),
        ("assistant", "OK, I won't open a ticket.", "declined"),
    )
    draft = drafting.draft(history, "I was charged twice for order 4KD9XP2M", "billing", "chat")
    assert "4KD9XP2M" in draft.title and "7QK2M9XD" not in draft.description


@pytest.mark.parametrize(
    "text",
    ["Can I talk to an actual human please, the installers left my washing machine leaking", "x" * 500],
    ids=["person-first", "one-long-word"],
)
def test_titles_are_one_line_of_at_most_80_characters(text):
    draft = drafting.draft((), text, "unresolved", "chat")
    assert 0 < len(draft.title) <= 80 and "\n" not in draft.title
    if text.startswith("Can I"):
        assert draft.title.lower().startswith("the installers left my washing machine leaking")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "This is the THIRD time an engineer has not shown up. I want this escalated to a manager today.",
            "This is the THIRD time an engineer has not shown up",
        ),
        (
            "SIM activated yesterday and still says 'SIM not provisioned'. Restarted the phone like 5 times.",
            "SIM activated yesterday and still says 'SIM not provisioned'",
        ),
        (
            "Hi there! I have a question. My gift card XK4T92MB says it's already been redeemed.",
            "My gift card XK4T92MB says it's already been redeemed",
        ),
        (
            "Honestly just get me a real person. The Plus trial charged me on day 3.",
            "The Plus trial charged me on day 3",
        ),
        ("Get me a human.", "Get me a human"),
    ],
    ids=["problem-before-demand", "problem-before-details", "greeting-and-vague-first", "person-first", "only-that"],
)
def test_the_title_is_the_first_sentence_that_names_the_problem(text, title):
    assert drafting.draft((), text, "unresolved", "chat").title == title


def test_a_code_cut_off_with_the_end_of_a_long_sentence_is_put_back():
    text = (
        "I paid my balance two hours ago and the pass on my phone still says suspended even after a restart, "
        "receipt INV-7M2K9QX4"
    )
    title = drafting.draft((), text, "unresolved", "chat").title
    assert len(title) <= 80 and title.endswith(" (INV-7M2K9QX4)") and title.startswith("I paid my balance")


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("order 7QK2M9XD and invoice INV-3F2A9B7C, card ending 4821", ["7QK2M9XD", "INV-3F2A9B7C", "4821"]),
        ("I have an iPhone15 on Windows11, 900mbps at 10am on the 1st", []),
        ("promo SAVE20X, account FA20391847", ["SAVE20X", "FA20391847"]),
    ],
    ids=["order-invoice-card", "not-codes", "promo-account"],
)
def test_the_codes_a_customer_gives_are_kept(text, codes):
    from assistant.details import codes as found

    assert found(text) == codes


@pytest.mark.django_db
def test_the_ticket_made_after_several_topics_is_titled_by_the_problem_that_needed_a_person():
    add_articles()
    customer = UserFactory(email="dana@example.com")
    conversation = chat(customer)
    say(conversation, "How do I reset my password?")
    say(conversation, "I was charged twice for invoice INV-7M2K9QX4, $49 each time")
    say(conversation, "talk to a human please")
    say(conversation, "yes please")
    ticket = Ticket.objects.get()
    assert "INV-7M2K9QX4" in ticket.title and "password" not in ticket.title.lower()
    assert "charged twice" in ticket.summary and "password" not in ticket.summary.lower()
