"""What an answer quotes of an article (the passage that answers, its section's heading and the paragraphs
before it in the section, the runner-up, within the budget), and when a question is answered at all."""

from pathlib import Path

import pytest
from django.core.management import call_command

from assistant.engines import local
from assistant.engines.base import Outcome
from assistant.models import HelpArticle
from assistant.passages import PASSAGE_BUDGET, choose_passages, labelled
from assistant.retrieval import Index, search_articles
from assistant.vocabulary import SYNONYM_OF, stem
from tests.assistant.helpers import chat, say
from tests.factories import UserFactory

TIERS = """Three tiers, each with the gym floor and free weights.

## Core - £24.99 a month

- Access to your home club only
- Book group classes up to 3 days ahead

## Plus - £34.99 a month

- Access to every club in your home region
- Book group classes up to 7 days ahead
"""

NUMBER = """## Bringing your number to us

Text PAC to 65075 from your old phone, then enter the code under Mobile > Bring my number.

Your old contract ends automatically when your number moves. Early termination charges still apply.

## Leaving us

Text STAC to 75075 to leave without your number.
"""


@pytest.mark.parametrize(
    ("heading", "text", "quoted"),
    [
        ("Plus - £34.99 a month", "Access to every club", "Plus - £34.99 a month: Access to every club"),
        ("Which tier am I on?", "Open the app.", "Which tier am I on? Open the app."),
        ("Upgrading:", "Upgrades are immediate.", "Upgrading: Upgrades are immediate."),
        ("", "Access to every club", "Access to every club"),
        ("Refunds", "Refunds take 5 days.", "Refunds take 5 days."),  # the passage begins with it
        ("  Refunds  ", "Take 5 days.", "Refunds: Take 5 days."),
    ],
)
def test_a_passage_is_quoted_after_its_heading_unless_that_says_nothing_new(heading, text, quoted):
    assert labelled(heading, text) == quoted


def test_a_heading_that_repeats_the_title_is_not_quoted():
    body = "## Tiers\n\nAccess to every club.\n\n## Prices\n\nPlus costs £34.99 a month."
    index = Index.build([(1, "tiers", "Tiers", body)])
    assert index.docs[0].headings == ["", "Prices"]
    assert index.search("access to every club", limit=1)[0].passage.startswith("Access to every club.")


def test_the_paragraphs_before_the_answering_one_in_its_section_come_with_it_and_its_heading_once():
    passages = ["Text PAC to 65075.", "Your old contract ends when your number moves.", "Text STAC to leave."]
    headings = ["Bringing your number", "Bringing your number", "Leaving"]
    quote, best = choose_passages(passages, [0.1, 1.0, 0.0], "bring my number", headings)
    assert quote == "Bringing your number: Text PAC to 65075.\n\nYour old contract ends when your number moves."
    assert best == "Bringing your number: Your old contract ends when your number moves."


def test_a_section_never_pulls_in_more_than_the_budget_nor_another_section():
    long = "x" * (PASSAGE_BUDGET - 10)
    passages = ["Other section.", long, "The answer is here."]
    headings = ["Other", "Same", "Same"]
    quote, _best = choose_passages(passages, [0.0, 0.0, 1.0], "answer", headings)
    assert quote == "Same: The answer is here."
    quote, _best = choose_passages(["Other section.", "The answer."], [0.0, 1.0], "answer", ["Other", "Same"])
    assert quote == "Same: The answer."


def test_passages_without_headings_are_quoted_as_they_are_and_nothing_is_chosen_from_nothing():
    quote, best = choose_passages(["First.", "Second."], [1.0, 0.9], "first")
    assert quote == "First.\n\nSecond." and best == "First."
    assert choose_passages([], [], "anything") == ("", "")


@pytest.mark.django_db
def test_an_answer_says_which_section_it_quotes():
    HelpArticle.objects.create(slug="tiers", title="Membership tiers explained", body=TIERS)
    reply = say(chat(UserFactory()), "How much extra per month is Plus?")
    assert reply.outcome == Outcome.ANSWERED
    assert "Plus - £34.99 a month: Access to every club in your home region" in reply.text


@pytest.mark.django_db
def test_an_answer_from_deep_in_a_section_brings_the_paragraph_it_leans_on():
    HelpArticle.objects.create(slug="keeping-your-number", title="Keeping your number", body=NUMBER)
    reply = say(chat(UserFactory()), "does my old contract end when my number moves over?")
    assert reply.outcome == Outcome.ANSWERED
    assert "Mobile > Bring my number" in reply.text and "Your old contract ends automatically" in reply.text
    assert "STAC" not in reply.text


def test_upgrade_and_downgrade_each_count_as_a_change_but_not_as_each_other():
    assert stem("change") in SYNONYM_OF[stem("upgrade")] and stem("change") in SYNONYM_OF[stem("downgrade")]
    assert stem("downgrade") not in SYNONYM_OF[stem("upgrade")]
    assert stem("upgrade") not in SYNONYM_OF[stem("downgrade")]


SHOP = Path(__file__).resolve().parents[1] / "eval" / "domains" / "shop" / "articles"


@pytest.mark.django_db
def test_a_question_is_answered_from_an_article_close_in_meaning_though_it_shares_few_of_its_words():
    call_command("import_help_articles", str(SHOP), verbosity=0)
    question = "how old do u need to be to make an account"
    best = search_articles(question, limit=3)[0]
    assert best.slug == "creating-an-account"
    assert best.score < local.ASKS_CONFIDENT and best.meaning >= local.MEANING_CONFIDENT
    reply = say(chat(UserFactory()), question)
    assert reply.outcome == Outcome.ANSWERED and "Creating a Brightcart account" in reply.text


@pytest.mark.django_db
def test_a_message_neither_close_in_meaning_nor_in_words_to_any_article_is_asked_about():
    call_command("import_help_articles", str(SHOP), verbosity=0)
    text = "old enough to make an account"
    best = search_articles(text, limit=3)[0]
    assert best.score < local.CONFIDENT and best.meaning < local.MEANING_CONFIDENT
    assert say(chat(UserFactory()), text).outcome == Outcome.CLARIFIED
