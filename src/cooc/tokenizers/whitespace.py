"""Words split on Unicode whitespace (`str.split()` semantics), with a vocabulary grown from the
corpus: the tokenizer for GloVe/word2vec-style studies.

Ids are provisional (first-seen order, which with threads depends on timing) until `freeze()`,
which fixes the vocabulary in canonical order and returns the map old id -> final id, so the
final ids do not depend on file order, batch size or thread count.

End of text: id 0 is reserved for the word "</s>", the end-of-sentence/document marker of
word2vec and GloVe, and is `eot_id` (concat packing joins documents with it). The literal word
"</s>" in a text is that same token: every display text then names exactly one id. The
other words follow in Unicode code-point order (Python's `sorted`), as ids 1..N.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.tokenizers.base import Tokenizer, check_text, fix_surrogates

EOT_TEXT = "</s>"
EOT_ID = 0
# Below this many texts per thread, thread start-up costs more than it saves.
_MIN_TEXTS_PER_THREAD = 64


class WhitespaceTokenizer(Tokenizer):
    """Whitespace-separated words; a growing vocabulary until `freeze()`.

    Performance notes (3,888 en+zh docs from the shared corpus, 3.4 M words, 377 k distinct,
    1024 texts a batch, best of 3): the naive `[vocab.setdefault(w, len(vocab)) for w in
    text.split()]` runs at 1.8 M words/s; Arrow's `utf8_split_whitespace` -> `dictionary_encode`
    ran at 2.7 M words/s but its split was wrong and nondeterministic on some Unicode
    whitespace (see `_split_and_dictionary_encode`). Now: `str.split()`, then Arrow's
    dictionary encoding (C++), one dict lookup per DISTINCT word of the batch and a numpy take.
    """

    kind = "whitespace"
    eot_id = EOT_ID

    def __init__(self, num_threads: int = 1) -> None:
        self.spec = "whitespace"
        self.num_threads = num_threads
        self._lock = threading.Lock()
        self._words: list[str] = [EOT_TEXT]
        self._ids: dict[str, int] = {EOT_TEXT: EOT_ID}
        self._frozen = False

    @classmethod
    def from_vocabulary(cls, words: Sequence[str], num_threads: int = 1,
                        frozen: bool = True) -> WhitespaceTokenizer:
        """A tokenizer whose id i is `words[i]` (e.g. an index's `token_texts()`); with
        frozen=False it goes on growing (a resumed or stored tokenization)."""
        words = list(words)
        if not words or words[0] != EOT_TEXT:
            raise ValueError(f"a whitespace vocabulary starts with {EOT_TEXT!r} (id 0)")
        if any(not w or w.split() != [w] for w in words):
            bad = next(w for w in words if not w or w.split() != [w])
            raise ValueError(f"whitespace vocabulary word {bad!r} is empty or contains whitespace")
        if len(set(words)) != len(words):
            raise ValueError("whitespace vocabulary has duplicate words")
        tok = cls(num_threads)
        tok._words = words
        tok._ids = {w: i for i, w in enumerate(words)}
        tok._frozen = frozen
        return tok

    @property
    def vocab_size(self) -> int:  # type: ignore[override]
        return len(self._words)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([check_text(text)])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        texts = list(texts)
        for t in texts:
            check_text(t)
        n = len(texts)
        if n == 0:
            return []
        parts = min(self.num_threads, n // _MIN_TEXTS_PER_THREAD) or 1
        bounds = [n * k // parts for k in range(parts + 1)]
        chunks = [texts[bounds[k] : bounds[k + 1]] for k in range(parts)]
        if parts == 1:
            out = self._encode_chunk(chunks[0])
        else:
            with ThreadPoolExecutor(parts) as pool:
                out = [a for part in pool.map(self._encode_chunk, chunks) for a in part]
        return out

    def _encode_chunk(self, texts: list[str]) -> list[np.ndarray]:
        words, indices, offsets = _split_and_dictionary_encode(texts)
        lut = self._lookup(words)
        ids = lut[indices]
        keep = ids >= 0  # drop the '' Arrow yields between adjacent whitespace
        if not keep.all():
            offsets = np.concatenate(([0], np.cumsum(keep)))[offsets]
            ids = ids[keep]
        ids = ids.astype(np.uint32)
        return [ids[offsets[k] : offsets[k + 1]] for k in range(len(texts))]

    def _lookup(self, words: list[str]) -> np.ndarray:
        """Global ids of the batch's distinct words (-1 for ''); new words get new ids."""
        lut = np.empty(len(words), dtype=np.int64)
        with self._lock:
            get = self._ids.get
            for j, w in enumerate(words):
                i = get(w)
                if i is None:
                    if not w:
                        i = -1
                    elif self._frozen:
                        raise CoocError(
                            f"word {w!r} is not in the frozen whitespace vocabulary "
                            f"({len(self._words)} words)"
                        )
                    else:
                        i = len(self._words)
                        self._words.append(w)
                        self._ids[w] = i
                lut[j] = i
        return lut

    def freeze(self) -> np.ndarray | None:
        """Sort the vocabulary (</s> first, then code-point order); return old id -> new id.

        Returns None when the vocabulary was already frozen (ids are final). Encoding a word not
        seen before the freeze then raises CoocError.
        """
        with self._lock:
            if self._frozen:
                return None
            old = self._words
            new = [EOT_TEXT, *sorted(old[1:])]
            self._ids = {w: i for i, w in enumerate(new)}
            remap = np.fromiter((self._ids[w] for w in old), dtype=np.uint32, count=len(old))
            self._words = new
            self._frozen = True
            return remap

    def token_texts(self) -> list[str]:
        return list(self._words)

    def describe(self) -> dict[str, Any]:
        h = hashlib.sha256()
        for w in self._words:
            h.update(w.encode("utf-8") + b"\n")  # words never contain '\n'
        return {
            "spec": self.spec,
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "eot_id": self.eot_id,
            "vocab_sha256": h.hexdigest(),
            "frozen": self._frozen,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.num_threads, list(self._words), self._frozen))


def _restore(num_threads: int, words: list[str], frozen: bool) -> WhitespaceTokenizer:
    tok = WhitespaceTokenizer(num_threads)
    tok._words = words
    tok._ids = {w: i for i, w in enumerate(words)}
    tok._frozen = frozen
    return tok


def _split_and_dictionary_encode(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All words of `texts` as (distinct words, index per word, doc offsets).

    Words come from `str.split()`, the definition of a word here; Arrow's C++ dictionary
    encoding then maps them to indices. Arrow's own `utf8_split_whitespace` was dropped: on
    random Unicode it disagreed with `str.split()` and was not even deterministic (a trailing
    '\xa0' sometimes came back as a word), found by the order-independence property test.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    splits = [t.split() for t in texts]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in splits], out=offsets[1:])
    if offsets[-1] == 0:
        return [], np.zeros(0, dtype=np.int64), offsets
    flat = list(itertools.chain.from_iterable(splits))
    try:
        arr = pa.array(flat, type=pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        arr = pa.array([_fix(w) for w in flat], type=pa.large_string())
    encoded = pc.dictionary_encode(arr)
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(), offsets


def _fix(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return fix_surrogates(text)
