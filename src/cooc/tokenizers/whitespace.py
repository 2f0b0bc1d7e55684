"""Words split on Unicode whitespace (`str.split()` semantics), with a vocabulary grown from the
corpus: the tokenizer for GloVe/word2vec-style studies.

Ids are provisional (first-seen order, which with threads depends on timing) until `freeze()`,
which fixes the vocabulary in canonical order and returns the map old id -> final id, so the
final ids do not depend on file order, batch size or thread count.

End of text: id 0 is reserved for the word "</s>", the end-of-sentence/document marker of
word2vec and GloVe, and is `eot_id` (concat packing joins documents with it). The literal word
"</s>" in a text is that same token: every display text then names exactly one id. The
other words follow in Unicode code-point order (Python's `sorted`), as ids 1..N.

The vocabulary lives in numpy arrays (`cooc.kernels.vocab`'s growing table): the words'
UTF-8, each followed by "\\n", in id order, and a hash table of them. Text that cannot be
UTF-8 (lone surrogates) has them replaced by U+FFFD first, as the other tokenizers do.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.kernels import vocab as kv
from cooc.tokenizers.base import Tokenizer, check_text, fix_surrogates

EOT_TEXT = "</s>"
EOT_ID = 0
# Growing arrays start this small and double; tests make them tiny to exercise the growth.
_FIRST_BITS = 12  # hash table slots: 2**12
_FIRST_BYTES = 1 << 16  # word buffer
_BYTES_PER_ID = 4  # a batch's ids buffer starts at one id per 4 bytes of text
_MAX_LOAD = 0.7  # of the hash table (linear probing; 0.3 to 0.7 ran alike)
_MAX_WORDS = (1 << 32) - 1  # ids are uint32
_SLACK = kv.READ_SLACK  # bytes after the text and the words: the kernels read 8 at a time
# A frozen vocabulary is read-only: batches of this many bytes or more are split on threads.
_PARALLEL_BYTES = 1 << 20


class WhitespaceTokenizer(Tokenizer):
    """Whitespace-separated words; a growing vocabulary until `freeze()`.

    Performance notes (`bench/bench_whitespace.py`: 28 MB of English, 8,461 documents, 4.19 M
    words, 339 k distinct, 1024 texts a batch, 2-core VM shared with other jobs): the naive
    `[vocab.setdefault(w, len(vocab)) for w in text.split()]` ran at 1.8 M words/s;
    `str.split()`, Arrow's dictionary encoding and one dict lookup per distinct word of a
    batch at 3.9 M words/s (1.1 s; +175 MB RSS: millions of short-lived str objects, Arrow,
    the dict). Now the texts of a batch are encoded and joined into one UTF-8 buffer and
    one numba kernel (`cooc.kernels.vocab.encode_grow`) splits it and looks every word up
    in a growing hash table: 0.19 s (22 M words/s; ~0.03 s of it encoding and joining the
    texts), +32 MB RSS (the table, the word buffer, a batch's bytes and ids). `freeze()`
    sorts the words' bytes in a kernel (0.1 s, was 0.4 s), `describe()` hashes the word
    buffer (3 ms, was 85 ms); `token_texts()` builds its list of str on first call (50 ms,
    +47 MB), then only decodes the words added since.

    Threads: growing batches run on one thread under the lock (the table is shared; the
    kernel is fast enough that splitting the text on threads first was not tried). Frozen
    vocabularies are read-only: batches of 1 MB or more are split over `num_threads` threads,
    without the lock (with another job holding the second core, 2 threads ran as fast as 1
    here: not measured on an idle machine).
    """

    kind = "whitespace"
    eot_id = EOT_ID
    splits_on_whitespace = True

    def __init__(self, num_threads: int = 1) -> None:
        self.spec = "whitespace"
        self.num_threads = num_threads
        self._lock = threading.Lock()
        self._frozen = False
        self._load((EOT_TEXT + "\n").encode("utf-8"))

    def _load(self, blob: bytes, check: bool = True) -> tuple[int, int, int]:
        """Make the vocabulary the newline-terminated words of blob, in that order; returns
        `kv.build_table`'s (words added, first bad word or -1, why)."""
        count = blob.count(b"\n")
        bits = _FIRST_BITS
        while count >= _max_words(bits):
            bits += 1
        self._words = np.zeros(max(len(blob) + _SLACK, _FIRST_BYTES), np.uint8)
        self._words[: len(blob)] = np.frombuffer(blob, np.uint8)
        self._slots = np.full((1 << bits, 2), -1, np.int64)
        self._bits = bits
        self._max_words = _max_words(bits)
        self._texts: list[str] = []  # token_texts() cache: the first len() words
        self._texts_used = 0  # bytes of the words in the cache
        found, bad, why = (int(x) for x in kv.build_table(self._words, len(blob), self._slots,
                                                          bits, check))
        self._state = np.array([found, len(blob)], np.int64)  # (words, bytes used)
        return found, bad, why

    @classmethod
    def from_vocabulary(cls, words: Sequence[str], num_threads: int = 1,
                        frozen: bool = True) -> WhitespaceTokenizer:
        """A tokenizer whose id i is `words[i]` (e.g. an index's `token_texts()`); with
        frozen=False it goes on growing (a resumed or stored tokenization)."""
        words = list(words)
        if not words or words[0] != EOT_TEXT:
            raise ValueError(f"a whitespace vocabulary starts with {EOT_TEXT!r} (id 0)")
        tok = cls(num_threads)
        # surrogatepass: a word with a lone surrogate is kept (and never matches text, whose
        # surrogates become U+FFFD), as before
        found, bad, _ = tok._load(("\n".join(words) + "\n").encode("utf-8", "surrogatepass"))
        if bad >= 0 or found != len(words):  # the kernel stopped: name the problem
            for w in words:
                if not w or w.split() != [w]:
                    raise ValueError(
                        f"whitespace vocabulary word {w!r} is empty or contains whitespace")
            raise ValueError("whitespace vocabulary has duplicate words")
        tok._frozen = frozen
        return tok

    @property
    def vocab_size(self) -> int:  # type: ignore[override]
        return int(self._state[0])

    @property
    def frozen(self) -> bool:
        return self._frozen

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([check_text(text)])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        data = [self._text_bytes(check_text(t)) for t in texts]
        n = len(data)
        if n == 0:
            return []
        data.append(bytes(_SLACK - 1))  # after the last text: TEXT_END and 7 bytes of slack
        blob = b"\xff".join(data)  # kv.TEXT_END between texts
        del data
        text = np.frombuffer(blob, np.uint8)
        end = len(blob) - _SLACK
        if not self._frozen:
            with self._lock:
                return self._encode(text, 0, end, n, self._frozen)
        # frozen: read-only from here on, no lock
        parts = min(self.num_threads, n, end // _PARALLEL_BYTES) or 1
        if parts == 1:
            return self._encode(text, 0, end, n, True)
        cuts = [0]  # where the parts start: after a TEXT_END
        for k in range(1, parts):
            c = blob.find(b"\xff", max(cuts[-1], end * k // parts), end)
            if c < 0:
                break
            cuts.append(c + 1)
        cuts.append(end + 1)
        spans = [(cuts[k], cuts[k + 1] - 1) for k in range(len(cuts) - 1)]
        with ThreadPoolExecutor(len(spans)) as pool:
            done = list(pool.map(
                lambda ab: self._encode(text, ab[0], ab[1], blob.count(b"\xff", *ab) + 1, True),
                spans))
        return [a for part in done for a in part]

    def _text_bytes(self, text: str) -> bytes:
        """The UTF-8 the kernel splits into words (subclasses normalize the text here)."""
        return _utf8(text)

    def _encode(self, text: np.ndarray, start: int, end: int, n: int,
                frozen: bool) -> list[np.ndarray]:
        """Ids of the n texts in text[start:end] (kv.TEXT_END between them, 8 bytes of slack
        after); a growing vocabulary is updated, so the caller holds the lock."""
        ids = np.empty((end - start) // _BYTES_PER_ID + 1, np.uint32)
        ptr = np.empty(n + 1, np.int64)
        ptr[0] = 0
        pos, doc, nid = start, 0, 0
        while True:
            status, pos, doc, nid, extra = kv.encode_grow(
                text, pos, end, doc, nid, ids, ptr, self._words, self._state, self._slots,
                self._bits, self._max_words, frozen)
            if status == kv.DONE:
                break
            if status == kv.GROW_IDS:  # at most one word per 2 bytes of the rest
                ids = _grown(ids, nid, nid + (end - pos) // 2 + 1)
            elif status == kv.GROW_WORDS:
                self._words = _grown(self._words, int(self._state[1]),
                                     max(int(extra), 2 * self._words.size))
            elif status == kv.GROW_TABLE:
                self._grow_table()
            else:
                word = text[pos:extra].tobytes().decode("utf-8")
                raise CoocError(f"word {word!r} is not in the frozen {self.kind} vocabulary "
                                f"({self.vocab_size} words)")
        if ids.size - nid > nid // 8:
            ids = ids[:nid].copy()  # the rest of the guess is not kept alive by the views
        b = ptr.tolist()
        return [ids[b[k] : b[k + 1]] for k in range(n)]

    def _grow_table(self) -> None:
        if self._state[0] >= _MAX_WORDS:
            raise CoocError(f"the whitespace vocabulary is full ({_MAX_WORDS} words: ids are "
                            "uint32)")
        bits = self._bits + 1
        slots = np.full((1 << bits, 2), -1, np.int64)
        kv.build_table(self._words, int(self._state[1]), slots, bits, False)
        self._slots, self._bits, self._max_words = slots, bits, _max_words(bits)

    def freeze(self) -> np.ndarray | None:
        """Sort the vocabulary (</s> first, then code-point order); return old id -> new id.

        Returns None when the vocabulary was already frozen (ids are final). Encoding a word not
        seen before the freeze then raises CoocError.
        """
        with self._lock:
            if self._frozen:
                return None
            count, used = int(self._state[0]), int(self._state[1])
            off = kv.word_starts(self._words, used, count)
            order = kv.sort_words(self._words, off)
            self._words, remap = kv.renumber(self._words, off, order, self._slots)
            self._texts, self._texts_used = [], 0
            self._frozen = True  # last: lock-free readers then see the final arrays
            return remap

    def token_texts(self) -> list[str]:
        with self._lock:
            used = int(self._state[1])
            if self._texts_used < used:  # decode the words added since the last call
                new = self._words[self._texts_used : used].tobytes()
                self._texts += new.decode("utf-8", "surrogatepass").split("\n")[:-1]
                self._texts_used = used
            return list(self._texts)

    def describe(self) -> dict[str, Any]:
        with self._lock:  # sha256 of every word's UTF-8 + b"\n": the word buffer itself
            digest = hashlib.sha256(self._words[: int(self._state[1])]).hexdigest()
            size = self.vocab_size
        return {
            "spec": self.spec,
            "kind": self.kind,
            "vocab_size": size,
            "eot_id": self.eot_id,
            "vocab_sha256": digest,
            "frozen": self._frozen,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        with self._lock:  # the word buffer (a few MB), not a list of str
            blob = self._words[: int(self._state[1])].tobytes()
        return (_restore, (self.num_threads, blob, self._frozen, type(self)))


def _restore(num_threads: int, blob: bytes, frozen: bool,
             cls: type | None = None) -> WhitespaceTokenizer:
    tok = (cls or WhitespaceTokenizer)(num_threads)
    tok._load(blob, check=False)
    tok._frozen = frozen
    return tok


def _max_words(bits: int) -> int:
    return min(int((1 << bits) * _MAX_LOAD), _MAX_WORDS)


def _grown(a: np.ndarray, used: int, size: int) -> np.ndarray:
    """A copy of a[:used] with room for `size` items."""
    out = np.empty(size, a.dtype)
    out[:used] = a[:used]
    return out


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text).encode("utf-8")
