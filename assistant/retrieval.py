"""Help-centre retrieval for the local assistant and the /help/ search: BM25 with typo and synonym care,
ranked again with closeness in meaning (assistant.meaning).

Works on whatever articles a company imports: nothing here knows our own articles. Queries are
stemmed, misspelt words are mapped to the closest word the help centre uses, and a small table of
everyday support synonyms bridges casual wording ("money back" -> refund).
"""

import heapq
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from time import monotonic

from rapidfuzz import process
from rapidfuzz.distance import OSA

from assistant.meaning import Meaning
from assistant.meaning import units as embedded_units
from assistant.passages import Hit, choose_passages, split_passages
from assistant.vocabulary import GENERIC, SYNONYM_OF, noun_uses, product_nouns, stem, terms, words


@dataclass
class _Doc:
    article_id: int
    slug: str
    title: str
    passages: list[str]
    headings: list[str]  # each passage's section heading as quoted ("" for none, or when it is the title)
    passage_terms: list[Counter]
    heading_terms: list[frozenset[str]]
    title_terms: frozenset[str]
    tf: Counter
    length: int
    # Each passage is ranked as a unit of its own, with its article's title and its heading: their lengths.
    unit_lengths: list[int] = field(default_factory=list)


@dataclass
class Index:
    """An in-memory BM25 index over published articles; build once, query from many threads."""

    docs: list[_Doc] = field(default_factory=list)
    weights: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    avg_length: float = 1.0
    vocabulary_by_head: dict[str, list[str]] = field(default_factory=dict)
    unit_idf: dict[str, float] = field(default_factory=dict)
    avg_unit_length: float = 1.0
    meaning: Meaning | None = None  # None when the embedding model is unavailable
    product_nouns: frozenset[str] = frozenset()  # "ticket" at an events company (vocabulary.product_nouns)

    K1 = 1.2
    B = 0.9
    TITLE_WEIGHT = 3
    TITLE_SHARE = 0.3  # of the confidence that comes from the question's words being in the title
    UNIT_TITLE_WEIGHT = 2  # a passage is ranked with its article's title (twice) and its heading
    PHRASE_SHARE = 0.2  # of the best passage's score added for the question's word pairs found together
    PHRASE_RERANK = 5  # how many of the best articles are looked at again for word pairs
    DOC_SHARE = 0.5  # of the best passage's score added for the article as a whole covering the question
    INFORMATIVE = 1.0  # query weight (summed idf) from which a question names its topic clearly
    FUSE_DEPTH = 10  # the articles of each ranking (words, meaning) that are ranked together again
    MEANING_SHARE = 0.7  # of that ranking that comes from closeness in meaning rather than word confidence
    MEANING_ALONE = 0.4  # the cosine from which an article with none of the question's words is a candidate
    PASSAGE_MEANING = 1.0  # weight of a passage's closeness in meaning beside its word score (best = 1)
    UNKNOWN_WEIGHT = 0.6  # a word the help centre never uses weighs this share of the rarest word

    @classmethod
    def build(
        cls, articles: Iterable[tuple[int, str, str, str]], kept: dict[int, bytes | memoryview | None] | None = None
    ) -> "Index":
        """Index (id, slug, title, markdown body) tuples; `kept` holds their stored vectors (meaning.pack)."""
        index = cls()
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        embedded: list[tuple[int, list[str]]] = []
        unit_df: Counter = Counter()
        nouns = []
        for article_id, slug, title, body in articles:
            nouns.append(noun_uses(f"{title}\n{body}"))
            sections = split_passages(body)
            passages = [text for _heading, text in sections]
            passage_terms = [Counter(terms(p)) for p in passages]
            heading_terms = [frozenset(terms(h)) for h, _text in sections]
            tf: Counter = Counter()
            for _ in range(cls.TITLE_WEIGHT):
                tf.update(terms(title))
            for counter in passage_terms:
                tf.update(counter)
            for heading in dict.fromkeys(h for h, _text in sections if h):
                tf.update(terms(heading))
            doc_id = len(index.docs)
            embedded.append((article_id, embedded_units(title, sections)))
            title_terms = frozenset(terms(title))
            unit_lengths = []
            for counter, heading_set in zip(passage_terms, heading_terms, strict=True):
                unit_df.update(set(counter) | title_terms | heading_set)
                unit_lengths.append(sum(counter.values()) + cls.UNIT_TITLE_WEIGHT * len(title_terms) + len(heading_set))
            headings = ["" if h.lower() == title.strip().lower() else h for h, _text in sections]  # no title twice
            length = sum(tf.values()) or 1
            read = (passages, headings, passage_terms, heading_terms, title_terms, tf, length, unit_lengths)
            index.docs.append(_Doc(article_id, slug, title, *read))
            for term, count in tf.items():
                postings[term].append((doc_id, count))
        n = len(index.docs) or 1
        unit_count = sum(len(d.unit_lengths) for d in index.docs) or 1
        index.unit_idf = {t: math.log(1 + (unit_count - m + 0.5) / (m + 0.5)) for t, m in unit_df.items()}
        index.avg_unit_length = sum(sum(d.unit_lengths) for d in index.docs) / unit_count or 1.0
        index.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        index.avg_length = sum(d.length for d in index.docs) / n
        k1, b, avg = cls.K1, cls.B, index.avg_length
        # BM25's term-frequency saturation, per posting, computed once.
        index.weights = {
            term: [
                (doc_id, tf * (k1 + 1) / (tf + k1 * (1 - b + b * index.docs[doc_id].length / avg)))
                for doc_id, tf in plist
            ]
            for term, plist in postings.items()
        }
        heads: dict[str, list[str]] = defaultdict(list)
        for term in index.idf:
            heads[term[:1]].append(term)
        index.vocabulary_by_head = dict(heads)
        index.meaning = Meaning.build(embedded, kept)
        index.product_nouns = product_nouns(nouns)
        return index

    def _correct(self, term: str) -> str | None:
        """The help centre's closest word to a misspelt one, or None."""
        if term in self.idf:
            return term
        if len(term) < 4 or term.isdigit():
            return None
        candidates = [t for t in self.vocabulary_by_head.get(term[:1], ()) if abs(len(t) - len(term)) <= 1]
        # One slip (two letters swapped, one missing, extra or wrong) in a short word, two in a long one.
        slips = 1 if len(term) <= 7 else 2
        match = process.extractOne(term, candidates, scorer=OSA.distance, score_cutoff=slips)
        if match is None:
            return None
        return match[0]

    def _expand(self, query: str) -> list[tuple[frozenset[str], float]]:
        """Each query word as the set of index terms that count for it, with its weight."""
        expanded: list[tuple[frozenset[str], float]] = []
        seen: set[str] = set()
        max_idf = max(self.idf.values(), default=1.0)
        for raw in words(query):
            term = stem(raw)
            if term in seen:
                continue
            seen.add(term)
            corrected = self._correct(term)
            group = {corrected} if corrected else set()
            for synonym in SYNONYM_OF.get(corrected or term, ()):
                if synonym in self.idf:
                    group.add(synonym)
            unknown = max_idf * self.UNKNOWN_WEIGHT
            weight = max((self.idf.get(t, 0.0) for t in group), default=unknown) if group else unknown
            if raw in GENERIC:
                weight *= 0.3  # "problem", "question": they say little about which article
            expanded.append((frozenset(group), weight))
        return expanded

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """The best articles for `query`, each with a confidence: how much of the question it covers,
        counting words in its title more than words only in its body."""
        expanded = self._expand(query)
        if not expanded or not self.docs:
            return []
        total_weight = sum(w for _, w in expanded) or 1.0
        scores: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        in_title: dict[int, float] = defaultdict(float)
        for group, weight in expanded:
            best_for_doc: dict[int, float] = {}
            for term in group:
                idf = self.idf[term]
                for doc_id, saturated in self.weights[term]:
                    score = idf * saturated
                    if score > best_for_doc.get(doc_id, 0.0):
                        best_for_doc[doc_id] = score
            for doc_id, score in best_for_doc.items():
                scores[doc_id] += score
                covered[doc_id] += weight
                if group & self.docs[doc_id].title_terms:
                    in_title[doc_id] += weight

        # A question of only common words ("my account") says little whichever article holds them.
        informative = min(1.0, total_weight / self.INFORMATIVE)

        def confidence(doc_id: int) -> float:
            coverage = covered[doc_id] / total_weight
            title = in_title[doc_id] / total_weight
            return (coverage * (1 - self.TITLE_SHARE) + title * self.TITLE_SHARE) * informative

        # Re-rank the best BM25 articles by their best passage, each passage scored with BM25 as a unit of
        # its own (with the title and its heading): a question is answered in one place, not across an article.
        candidates = heapq.nlargest(max(limit * 10, 50), scores, key=lambda d: (scores[d], -d))
        units = {d: self._unit_scores(self.docs[d], expanded) for d in candidates}
        top_unit = max((max(u, default=0.0) for u in units.values()), default=0.0) or 1.0

        def rank(doc_id: int) -> float:
            return max(units[doc_id], default=0.0) + self.DOC_SHARE * confidence(doc_id) * top_unit

        ranked = sorted(candidates, key=lambda d: (-rank(d), d))
        depth = max(limit, self.PHRASE_RERANK, self.FUSE_DEPTH)
        ranked = self._by_phrases(query, ranked[:depth], rank, units, top_unit)
        similarity = self.meaning.similarity(query) if self.meaning is not None else None
        if self.meaning is not None and similarity is not None:
            # The best articles by words and by meaning, ranked by closeness in meaning and word confidence.
            by_meaning = Meaning.closest(self.meaning.per_document(similarity), self.FUSE_DEPTH)
            # An article sharing no word with the question comes in only when it is close in meaning.
            close = {d for d, (_rank, cosine) in by_meaning.items() if d in scores or cosine >= self.MEANING_ALONE}
            pool = set(ranked[: self.FUSE_DEPTH]) | close
            similarity = self.meaning.blend(similarity, query, pool)  # the static model's say, for these
            closeness, share = self.meaning.per_document(similarity), self.MEANING_SHARE

            def fused(d: int) -> float:
                return share * float(closeness[d]) + (1 - share) * confidence(d)

            ranked = sorted(pool, key=lambda d: (-fused(d), d))
        ranked = ranked[:limit]
        hits = []
        for d in ranked:
            doc = self.docs[d]
            unit_scores = self._unit_scores(doc, expanded, with_title=False)
            if self.meaning is not None and similarity is not None and self.PASSAGE_MEANING:
                # Each passage by its words and by its closeness in meaning, both on one scale (best at 1).
                top = max(unit_scores, default=0.0) or 1.0
                cosines = self.meaning.passages(similarity, d, len(unit_scores))
                unit_scores = [s / top + self.PASSAGE_MEANING * c for s, c in zip(unit_scores, cosines, strict=True)]
            passage, best = choose_passages(doc.passages, unit_scores, query, doc.headings)
            near = round(float(closeness[d]), 4) if self.meaning is not None and similarity is not None else 0.0
            hits.append(Hit(doc.article_id, doc.slug, doc.title, round(confidence(d), 4), passage, best, near))
        return hits

    def _by_phrases(
        self, query: str, ranked: list[int], rank, units: dict[int, list[float]], top_unit: float
    ) -> list[int]:
        """The best few articles again, with a bonus for the question's word pairs ("joining fee",
        "direct debit") standing together in the title or one of the article's two best passages."""
        pairs = set(pairwise(terms(query[:1000])))
        if not pairs or not self.PHRASE_SHARE:
            return ranked

        def bonus(doc_id: int) -> float:
            doc, scores = self.docs[doc_id], units[doc_id]
            best = sorted(range(len(scores)), key=lambda i: -scores[i])[:2]
            found: set[tuple[str, str]] = set()
            read = [(doc.title, doc.title_terms)] + [(doc.passages[i], doc.passage_terms[i]) for i in best]
            for text, present in read:  # a text is read for pairs only if it holds both words of one
                possible = {(a, b) for a, b in pairs if a in present and b in present}
                if possible:
                    found |= possible & _word_pairs(text)
            weight = sum(self.idf.get(a, 0.0) + self.idf.get(b, 0.0) for a, b in found)
            return self.PHRASE_SHARE * top_unit * weight / (1.0 + weight)

        return sorted(ranked, key=lambda d: (-(rank(d) + bonus(d)), d))

    def _unit_scores(
        self, doc: _Doc, expanded: list[tuple[frozenset[str], float]], *, with_title: bool = True
    ) -> list[float]:
        """BM25 of each passage as a unit; `with_title` False leaves out the title every passage shares
        (to choose among them), keeping the heading."""
        k1, b, avg = self.K1, self.B, self.avg_unit_length
        title_weight = self.UNIT_TITLE_WEIGHT if with_title else 0
        scores = []
        for counter, heading, length in zip(doc.passage_terms, doc.heading_terms, doc.unit_lengths, strict=True):
            if not with_title:
                length -= self.UNIT_TITLE_WEIGHT * len(doc.title_terms)
            norm = k1 * (1 - b + b * length / avg)
            score = 0.0
            for group, _weight in expanded:
                best = 0.0
                for term in group:
                    tf = counter.get(term, 0) + (term in heading) + (title_weight if term in doc.title_terms else 0)
                    if tf:
                        best = max(best, self.unit_idf.get(term, 0.0) * tf * (k1 + 1) / (tf + norm))
                score += best
            scores.append(score)
        return scores


RECHECK_SECONDS = 1.0  # how stale another process's article edit may be seen here

_cache_lock = threading.Lock()


# The word pairs of a title or passage (phrases folded, words stemmed): costly to read, so remembered.
@lru_cache(maxsize=2048)
def _word_pairs(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairwise(terms(text)))


@dataclass
class _Cache:
    """The process's index and what it was built from; read and written under _cache_lock."""

    key: tuple | None = None  # (count, latest updated_at, highest id) of the published articles
    index: Index | None = None
    checked: float = float("-inf")  # monotonic time the key was last compared with the database
    building: bool = False  # single flight: one thread is building a replacement outside the lock


_cache = _Cache()


def forget_index(**_kwargs: object) -> None:
    """Check the articles again at the next search (an article saved or deleted in this process)."""
    with _cache_lock:
        _cache.checked = float("-inf")


def _build(rows) -> Index:
    """An index of (id, slug, title, body, vectors) rows; the vectors it had to make are stored."""
    from assistant.models import HelpArticle

    kept: dict[int, bytes | memoryview | None] = {}
    articles = []
    for article_id, slug, title, body, vectors in rows.iterator():
        articles.append((article_id, slug, title, body))
        kept[article_id] = vectors
    index = Index.build(articles, kept)
    # update() leaves updated_at alone: storing vectors is not an edit, and the index stays current.
    for article_id, blob in index.meaning.fresh.items() if index.meaning is not None else ():
        HelpArticle.objects.filter(pk=article_id).update(vectors=blob)
    return index


def _published_rows():
    """What an index is built from: (id, slug, title, body, vectors) of the published articles."""
    from assistant.models import HelpArticle

    return (
        HelpArticle.objects.filter(is_published=True)
        .order_by("id")
        .values_list("id", "slug", "title", "body", "vectors")
    )


def embed_articles() -> int:
    """Embed the published articles whose vectors are missing or stale, and store them (as the next
    index build would); returns how many were embedded. For the import command."""
    index = _build(_published_rows())
    return len(index.meaning.fresh) if index.meaning is not None else 0


def current_index() -> Index:
    """The index of the published articles, rebuilt when an article is added, edited or removed: at
    once in the process that saved it, within RECHECK_SECONDS in the others (a message would otherwise
    pay an aggregate over the articles). A rebuild is built aside by the one caller that noticed the
    change while the others keep answering from the old index; only the very first build is waited
    for. Raises what the build raises, to the caller that ran it, and keeps the old index then."""
    from django.db.models import Count, Max

    from assistant.models import HelpArticle

    now = monotonic()
    with _cache_lock:
        index = _cache.index
        # While a replacement is being built, the old index answers without another aggregate.
        if index is not None and (_cache.building or now - _cache.checked < RECHECK_SECONDS):
            return index
    published = HelpArticle.objects.filter(is_published=True)
    key = tuple(published.aggregate(n=Count("id"), latest=Max("updated_at"), ids=Max("id")).values())
    rows = _published_rows()
    with _cache_lock:
        if _cache.index is None:
            # Nothing to answer from yet: build under the lock, so every caller waits for this one build.
            _cache.index, _cache.key = _build(rows), key
        if _cache.key == key:
            _cache.checked = now
            return _cache.index
        if _cache.building:
            return _cache.index  # another thread is building the replacement
        # The key was read just now; a forget_index() during the build sets `checked` back, so an
        # edit saved while the rows are being read is compared again at the next call.
        _cache.building, _cache.checked = True, now
    # Seconds at thousands of articles: built outside the lock so that searches meanwhile (the fast
    # path above) get the old index at once instead of queueing behind the build.
    fresh: Index | None = None
    try:
        fresh = _build(rows)
        return fresh
    finally:
        with _cache_lock:
            _cache.building = False
            if fresh is None:
                _cache.checked = float("-inf")  # the build failed: the old index stays, the next call tries again
            else:
                _cache.index, _cache.key = fresh, key


def search_articles(query: str, limit: int = 10) -> list[Hit]:
    """Published articles best matching `query`, best first."""
    return current_index().search(query, limit=limit)
