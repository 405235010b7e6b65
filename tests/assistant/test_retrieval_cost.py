"""A search reads an article's word pairs once, not again for every question (they were most of a
search's CPU on a help centre of a few dozen articles)."""

from itertools import pairwise

from assistant import retrieval
from assistant.vocabulary import terms

ARTICLES = [
    (1, "refunds", "Refunds", "A refund goes back to the card you paid with within 5 working days."),
    (2, "card-payments", "Card payments", "We take Visa and Mastercard. A declined card payment is not charged."),
    (3, "delivery", "Delivery times", "Standard delivery takes 3 to 5 working days; next day costs extra."),
]


def test_an_article_s_word_pairs_are_read_once_for_many_questions():
    index = retrieval.Index.build(ARTICLES)
    retrieval._word_pairs.cache_clear()
    questions = ["refund to my card", "when does my refund reach the card", "card refund how long", "refund card days"]
    for question in questions * 5:
        assert index.search(question, limit=3)[0].slug == "refunds"
    texts = 2 * len(ARTICLES)  # each article's title and its one passage
    assert 0 < retrieval._word_pairs.cache_info().misses <= texts  # each text read once at most


def test_remembered_word_pairs_are_the_text_s_own():
    for _id, _slug, title, body in ARTICLES:
        for text in (title, body):
            assert retrieval._word_pairs(text) == frozenset(pairwise(terms(text)))


# The same words in both, the question's pair standing together only in the second (ties go to the first).
FEES = [
    (1, "fees-apart", "Membership", "Joining is done online and the fee is paid at sign-up."),
    (2, "fees-together", "Membership", "Online sign-up is done and the joining fee is paid."),
]


def test_the_question_s_word_pair_standing_together_ranks_its_article_first(monkeypatch):
    index = retrieval.Index.build(FEES)
    index.meaning = None  # words alone: the pair decides
    assert [hit.slug for hit in index.search("joining fee", limit=2)] == ["fees-together", "fees-apart"]
    monkeypatch.setattr(retrieval.Index, "PHRASE_SHARE", 0.0)
    assert [hit.slug for hit in index.search("joining fee", limit=2)] == ["fees-apart", "fees-together"]


def test_a_text_without_both_words_of_a_question_pair_is_not_read_for_pairs():
    index = retrieval.Index.build(ARTICLES)
    retrieval._word_pairs.cache_clear()
    assert index.search("refund mastercard", limit=3)  # no title or passage holds both words
    assert retrieval._word_pairs.cache_info().misses == 0
    index.search("working days refund", limit=3)  # "working days" stands together in two passages
    assert retrieval._word_pairs.cache_info().misses >= 1
