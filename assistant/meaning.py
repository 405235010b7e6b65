"""Closeness in meaning between a question and the help centre: one embedding (assistant.embeddings)
per article title and per passage, read with the article's title and the passage's heading.

Embedding a passage costs milliseconds, so an article's vectors are kept with it (`HelpArticle.vectors`,
see `pack`) and reused while its passages are the same; only new or edited articles are embedded. The
static model's vectors cost microseconds: they are made again with each index and read only for the
articles already in the running (`blend`), so a question costs the same at 30 articles or 5,000.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.embeddings import DIMENSION, MODEL_ID, Encoder, encoder, static_encoder

_DIGEST = 32  # bytes of sha256 before the vectors in a packed blob


def units(title: str, sections: Sequence[tuple[str, str]]) -> list[str]:
    """What is embedded of an article: its title, then each passage with the title and its heading."""
    return [title] + [f"{title}. {heading}. {text}" if heading else f"{title}. {text}" for heading, text in sections]


def _digest(texts: Sequence[str]) -> bytes:
    h = hashlib.sha256(MODEL_ID.encode())
    for text in texts:
        h.update(b"\x00" + text.encode())
    return h.digest()


def pack(texts: Sequence[str], vectors: np.ndarray) -> bytes:
    """The blob kept with an article: which texts and model it was made from, then the vectors."""
    return _digest(texts) + np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def unpack(texts: Sequence[str], blob: bytes | memoryview | None) -> np.ndarray | None:
    """The vectors in `blob` if it was made from exactly these texts by this model, else None."""
    if blob is None:
        return None
    blob = bytes(blob)
    if len(blob) != _DIGEST + len(texts) * DIMENSION * 4 or blob[:_DIGEST] != _digest(texts):
        return None
    return np.frombuffer(blob, dtype="<f4", offset=_DIGEST).reshape(len(texts), DIMENSION)


@dataclass
class Meaning:
    vectors: np.ndarray  # unit length, one per article title and per passage
    start: list[int]  # each document's first vector (its title's); its passages' follow in order
    fresh: dict[int, bytes] = field(default_factory=dict)  # article id -> blob, for vectors made by this build
    static: np.ndarray | None = None  # the static model's vectors of the same texts, in the same order

    # Of a closeness, the share that is the static model's cosine (the sentence model's is the rest).
    STATIC_SHARE = 0.25

    @classmethod
    def build(
        cls, documents: Sequence[tuple[int, list[str]]], kept: Mapping[int, bytes | memoryview | None] | None = None
    ) -> "Meaning | None":
        """Vectors for (article id, unit texts) documents, reusing the `kept` blobs that still fit.
        None when the embedding model is unavailable or there is nothing to embed."""
        model: Encoder | None = encoder()
        if model is None or not documents:
            return None
        kept = kept or {}
        parts: list[np.ndarray | None] = [unpack(texts, kept.get(article_id)) for article_id, texts in documents]
        missing = [i for i, part in enumerate(parts) if part is None]
        encoded = model.encode([text for i in missing for text in documents[i][1]])
        fresh, at = {}, 0
        for i in missing:
            article_id, texts = documents[i]
            made = encoded[at : at + len(texts)]
            at += len(texts)
            parts[i], fresh[article_id] = made, pack(texts, made)
        start, at = [], 0
        for _article_id, texts in documents:
            start.append(at)
            at += len(texts)
        vectors = np.vstack([p for p in parts if p is not None]).astype(np.float32)
        static = static_encoder()
        texts = [text for _article_id, texts in documents for text in texts]
        return cls(vectors, start, fresh, static.encode(texts) if static is not None else None)

    def similarity(self, query: str) -> np.ndarray | None:
        """The query's cosine with every vector; None without the model."""
        model = encoder()
        return None if model is None else self.vectors @ model.encode([query[:1000]])[0]

    def blend(self, similarity: np.ndarray, query: str, documents: Iterable[int]) -> np.ndarray:
        """`similarity` with the static model's cosine blended in for the vectors of `documents`, the
        articles still in the running (a copy; the other documents' entries are left as they were)."""
        static = static_encoder()
        if self.static is None or static is None:
            return similarity
        chosen = sorted(set(documents))
        if not chosen:
            return similarity
        rows = np.concatenate([np.arange(self.start[d], self._end(d)) for d in chosen])
        blended = similarity.copy()
        cosines = self.static[rows] @ static.encode([query[:1000]])[0]
        blended[rows] = (1 - self.STATIC_SHARE) * similarity[rows] + self.STATIC_SHARE * cosines
        return blended

    def _end(self, doc_id: int) -> int:
        return self.start[doc_id + 1] if doc_id + 1 < len(self.start) else len(self.vectors)

    def per_document(self, similarity: np.ndarray) -> np.ndarray:
        """Each document's closeness to the query: that of its closest vector."""
        return np.maximum.reduceat(similarity, self.start)  # each document's vectors are contiguous

    @staticmethod
    def closest(best: np.ndarray, depth: int) -> dict[int, tuple[int, float]]:
        """The `depth` documents closest to the query, from per_document(): doc -> (rank, cosine)."""
        depth = min(depth, len(best))
        if depth <= 0:
            return {}
        top = np.argpartition(-best, depth - 1)[:depth]
        top = top[np.lexsort((top, -best[top]))]
        return {int(d): (rank, float(best[d])) for rank, d in enumerate(top)}

    def passages(self, similarity: np.ndarray, doc_id: int, count: int) -> list[float]:
        """The closeness of each of the document's `count` passages, from its farthest (0) to its closest
        (1). Every passage is embedded with the article's title, so the raw cosines of one article's
        passages differ by a few hundredths: rescaled, they can outvote the words that tie."""
        first = self.start[doc_id] + 1
        cosines = [float(c) for c in similarity[first : first + count]]
        low, high = min(cosines, default=0.0), max(cosines, default=0.0)
        return [(c - low) / (high - low) if high > low else 1.0 for c in cosines]
