"""Where the business sells tickets, "my tickets" is about its products, not support tickets."""

import pytest

from assistant.engines.base import Outcome
from assistant.models import HelpArticle
from assistant.retrieval import Index, current_index
from assistant.vocabulary import noun_uses, product_nouns
from tests.assistant.helpers import chat, say
from tests.factories import UserFactory, make_ticket

EVENTS = [
    ("buying-tickets", "How to buy tickets", "Pick the event, choose seats and pay. Your tickets appear in the app."),
    ("wallet", "Adding tickets to your wallet", "Open My Tickets and tap Add to Wallet on each ticket."),
    ("transfers", "Transferring tickets to friends", "Open the ticket, tap Transfer and enter their email."),
    ("refunds", "Refunds for cancelled events", "If an event is cancelled we refund your tickets within 14 days."),
]
SUPPORT = [
    ("support", "How do support tickets work?", "Every support ticket gets a reference. Closed tickets are kept."),
    ("status", "Checking a support ticket", "Ask the assistant about your support ticket by its reference."),
    ("kept", "How long do you keep resolved tickets?", "A support ticket is deleted 30 days after it is closed."),
    ("password", "Resetting your password", "Use the reset link on the sign-in page."),
]


def test_an_article_says_which_support_nouns_it_uses_and_which_for_a_support_request():
    assert noun_uses("Open My Tickets and tap Add to Wallet") == ({"ticket"}, set())
    assert noun_uses("Every support ticket gets a reference") == ({"ticket"}, {"ticket"})
    assert noun_uses("In that case, ticketing opens at noon") == (set(), set())  # "ticketing" is not "ticket"
    assert noun_uses("") == (set(), set())


@pytest.mark.parametrize(
    ("uses", "nouns"),
    [
        ([({"ticket"}, set())] * 4, {"ticket"}),  # an events company
        ([({"ticket"}, {"ticket"})] * 3 + [({"ticket"}, set())], set()),  # a support desk's own help centre
        ([({"ticket"}, set())] * 2 + [(set(), set())] * 2, set()),  # two mentions are not a product
        ([({"ticket"}, set())] * 3 + [(set(), set())] * 40, set()),  # nor three among 43 articles
        ([], set()),
    ],
)
def test_a_help_centre_uses_a_support_noun_for_its_products_when_most_of_its_mentions_are_not_support(uses, nouns):
    assert product_nouns(uses) == frozenset(nouns)


def test_the_index_knows_its_product_nouns():
    events = Index.build([(n, slug, title, body) for n, (slug, title, body) in enumerate(EVENTS, 1)])
    support = Index.build([(n, slug, title, body) for n, (slug, title, body) in enumerate(SUPPORT, 1)])
    assert events.product_nouns == frozenset({"ticket"}) and support.product_nouns == frozenset()


@pytest.mark.django_db
@pytest.mark.parametrize(("articles", "status"), [(EVENTS, False), (SUPPORT, True)])
def test_my_tickets_are_looked_up_only_where_tickets_are_not_the_product(articles, status):
    for slug, title, body in articles:
        HelpArticle.objects.create(slug=slug, title=title, body=body)
    customer = UserFactory()
    make_ticket(customer, title="Refund for order 1234")
    reply = say(chat(customer), "my tickets for the concert on friday have disappeared from my account")
    assert current_index().product_nouns == (frozenset() if status else frozenset({"ticket"}))
    assert (reply.outcome == Outcome.STATUS) is status
    assert ("Refund for order 1234" in reply.text) is status
