"""What a customer's message asks for, read from how it is said: a small learned classifier.

Classes: `answer` (a how-to or policy question), `offer` (a report that something is broken, wrong,
missing or charged wrongly, a request only staff can carry out, a request for a person), `status`
(their own tickets), `clarify` (too vague to act on) and `smalltalk`.

The model is multinomial logistic regression over words and word pairs, with numbers, codes, amounts
and addresses folded to placeholders so that no product's vocabulary or numbers are learned.
Training is plain Python with a fixed order and seed: the same examples give the same file, byte for
byte (`manage.py train_intents` writes it; a test checks the shipped `intents.json` is what the
training data gives). Reading a message is a dot product: linear in its length, capped at MAX_TEXT.
"""

import functools
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from assistant import charges, language, status
from assistant.vocabulary import stem

CLASSES = ("answer", "offer", "status", "clarify", "smalltalk")
MODEL_FILE = Path(__file__).with_name("data") / "intents.json"
MAX_TEXT = 2000  # what the classifier reads of a message

_TOKEN = re.compile(r"[£$€]\s?\d[\d,.]*|[a-z0-9@._%+-]*@[a-z0-9.-]+|[a-z0-9]+(?:'[a-z]+)?|[?!]")


def tokens(text: str) -> list[str]:
    """Words of `text`, stemmed, with amounts, numbers, codes and addresses as placeholders."""
    out: list[str] = []
    for token in _TOKEN.findall((text or "")[:MAX_TEXT].lower().replace("\u2019", "'")):
        if token[0] in "£$€":
            out.append("<money>")
        elif "@" in token:
            out.append("<email>")
        elif token.isdigit():
            out.append("<num>")
        elif any(c.isdigit() for c in token):
            out.append("<code>")
        else:
            out.append(stem(token))
    return out


def features(text: str, context: frozenset[str] = frozenset()) -> list[str]:
    """The message's features, with `context`: what the help centre's best answer says about it
    (assistant.passages.help_context), so the model learns how far to trust the help centre."""
    words = tokens(text)
    feats = [f"w:{w}" for w in words]
    feats += [f"p:{a} {b}" for a, b in pairwise(words)]
    if words:
        feats.append(f"s:{words[0]}")
        feats.append(f"s:{' '.join(words[:2])}")
    feats.append(f"n:{min(len(words), 40) // 5}")
    feats += sorted(context)
    # The same help-centre verdict means one thing after a question and another after a report.
    form = "q" if _QUESTION_FORM.search((text or "")[:MAX_TEXT].lower().strip()) else "s"
    feats += [f"x:{form}|{c}" for c in sorted(context)]
    feats += _rules(text)
    return feats


_QUESTION_FORM = re.compile(r"\?|^(how|what|when|where|which|why|is|are|does|do|can|could|will|would|should)\b")


def _rules(text: str) -> list[str]:
    """The hand-written readers' verdicts as features: the model learns how far to trust each."""
    found = []
    reason = language.needs_person(text)
    if reason:
        found.append(f"rule:{reason}")
    if status.is_status_request(text):
        found.append("rule:status")
    if language.smalltalk(text):
        found.append("rule:smalltalk")
    if language.is_fragment(text):
        found.append("rule:fragment")
    if language.asks_staff_to_act(text):
        found.append("rule:staff_request")
    if language.polite_request(text):
        found.append("rule:polite_request")
    if charges.price_mismatch(text):
        found.append("rule:price_mismatch")
    return found


@dataclass
class Model:
    classes: tuple[str, ...]
    bias: list[float]
    weights: dict[str, list[float]]

    def scores(self, text: str, context: frozenset[str] = frozenset()) -> dict[str, float]:
        """The probability of each class for `text`, given what the help centre says (`context`)."""
        totals = list(self.bias)
        for feature in set(features(text, context)):
            row = self.weights.get(feature)
            if row is not None:
                for i, w in enumerate(row):
                    totals[i] += w
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        whole = sum(exps)
        return {c: e / whole for c, e in zip(self.classes, exps, strict=True)}

    def to_json(self) -> str:
        data = {
            "classes": list(self.classes),
            "bias": [round(b, 5) for b in self.bias],
            "weights": {f: [round(w, 5) for w in row] for f, row in sorted(self.weights.items())},
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Model":
        data = json.loads(text)
        classes = tuple(data["classes"])
        if not set(classes) <= set(CLASSES) or not classes:
            raise ValueError(f"unknown classes {classes}")
        weights = {str(f): [float(w) for w in row] for f, row in data["weights"].items()}
        if any(len(row) != len(classes) for row in weights.values()) or len(data["bias"]) != len(classes):
            raise ValueError("weights do not match the classes")
        return cls(classes, [float(b) for b in data["bias"]], weights)


Example = tuple[str, str, float, frozenset[str]]  # text, class, weight, help-centre context


def train(
    examples: Iterable[Example],
    *,
    epochs: int = 12,
    l2: float = 1e-4,
    min_count: int = 2,
    seed: int = 7,
    rate: float = 0.05,
) -> Model:
    """Fit the model on (text, class, weight, context) examples. Deterministic: same examples, same model.

    Raises ValueError when there is nothing to learn from or a class is unknown.
    """
    rows = [(features(text, context), label, weight) for text, label, weight, context in examples]
    if not rows:
        raise ValueError("no labelled messages to train on")
    unknown = {label for _, label, _ in rows} - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown classes: {', '.join(sorted(unknown))}")
    classes = tuple(c for c in CLASSES if any(label == c for _, label, _ in rows))
    seen = Counter(f for feats, _, _ in rows for f in set(feats))
    vocabulary = {f for f, n in seen.items() if n >= min_count}
    index = {c: i for i, c in enumerate(classes)}
    data = [
        ([f for f in dict.fromkeys(feats) if f in vocabulary], index[label], weight) for feats, label, weight in rows
    ]
    weights: dict[str, list[float]] = {f: [0.0] * len(classes) for f in sorted(vocabulary)}
    bias = [0.0] * len(classes)
    order = list(range(len(data)))
    rng = random.Random(seed)
    step = 0
    for epoch in range(epochs):
        rng.shuffle(order)
        step_size = rate / (1 + epoch)
        for i in order:
            feats, target, weight = data[i]
            totals = list(bias)
            for f in feats:
                row = weights[f]
                for k in range(len(classes)):
                    totals[k] += row[k]
            top = max(totals)
            exps = [math.exp(t - top) for t in totals]
            whole = sum(exps)
            grads = [(e / whole - (1.0 if k == target else 0.0)) * weight for k, e in enumerate(exps)]
            for f in feats:
                row = weights[f]
                for k in range(len(classes)):
                    row[k] -= step_size * (grads[k] + l2 * row[k])
            for k in range(len(classes)):
                bias[k] -= step_size * grads[k]
            step += 1
    weights = {f: row for f, row in weights.items() if any(abs(w) >= 5e-5 for w in row)}
    return Model(classes, bias, weights)


@functools.cache
def shipped() -> Model:
    """The model shipped in MODEL_FILE (read once)."""
    return Model.from_json(MODEL_FILE.read_text(encoding="utf-8"))
