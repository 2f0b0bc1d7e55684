"""Scoring text with a backoff model, as KenLM's `query` does: every sentence starts in the
`<s>` context and ends with `</s>`; a word not in the vocabulary is `<unk>` (an OOV).

Perplexities are `query`'s: including OOVs 10**(-total / tokens), excluding them
10**(-(total - OOV log10 probs) / (tokens - OOVs)), where tokens count each `</s>`.

Performance notes: a token costs one dense unigram read and one hash probe per order it
extends (tables at most half full); sentences are cut into groups scored on threads (the
kernel releases the GIL). Text is split on whitespace and looked up in a dict (or encoded with
the model's tokenizer), which dominates for short sentences: `score_ids` takes model ids.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.errors import IndexFormatError
from cooc.kernels import lm as kl
from cooc.lm.model import NgramModel

_PARALLEL_BELOW = 1 << 16  # fewer tokens than this are scored on the calling thread


@dataclass
class Scores:
    """Per-token log10 probabilities of a batch of sentences (each ends with `</s>`)."""

    token_logprob: np.ndarray  # float32[tokens + sentences]
    sent_ptr: np.ndarray  # int64[sentences + 1]: sentence s is token_logprob[sent_ptr[s]:sent_ptr[s+1]]
    oov: np.ndarray  # bool, like token_logprob

    @property
    def sentence_logprob(self) -> np.ndarray:
        """log10 p of every sentence (float64)."""
        c = np.concatenate([[0.0], np.cumsum(self.token_logprob, dtype=np.float64)])
        return c[self.sent_ptr[1:]] - c[self.sent_ptr[:-1]]

    @property
    def tokens(self) -> int:
        return int(self.token_logprob.shape[0])

    @property
    def oovs(self) -> int:
        return int(self.oov.sum())

    @property
    def total(self) -> float:
        return float(self.token_logprob.sum(dtype=np.float64))

    @property
    def perplexity(self) -> float:
        """Including OOVs (KenLM query's 'Perplexity including OOVs')."""
        return float(10.0 ** (-self.total / self.tokens)) if self.tokens else float("nan")

    @property
    def perplexity_excluding_oovs(self) -> float:
        t = self.tokens - self.oovs
        oov_total = float(self.token_logprob[self.oov].sum(dtype=np.float64))
        return float(10.0 ** (-(self.total - oov_total) / t)) if t else float("nan")

    def summary(self) -> dict:
        return {"sentences": len(self.sent_ptr) - 1, "tokens": self.tokens, "oovs": self.oovs,
                "total_log10": self.total, "perplexity": self.perplexity,
                "perplexity_excluding_oovs": self.perplexity_excluding_oovs}


def vocab_table(vocab: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(UTF-8 bytes, offsets, hash slots, slot bits) of a vocabulary for `cooc.kernels.lm`'s
    `vocab_find`. A word that appears again (byte-level tokenizers have a few tokens with
    the same display text) is found as its first id: the later ones get a key with a newline,
    which no whitespace-split word holds."""
    if len(set(vocab)) != len(vocab):
        seen: set[str] = set()
        vocab = [w if not (w in seen or seen.add(w)) else f"\n{i}" for i, w in enumerate(vocab)]
    enc = [w.encode("utf-8", "surrogatepass") for w in vocab]
    off = np.zeros(len(enc) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, enc), np.int64, len(enc)), out=off[1:])
    words = np.frombuffer(b"".join(enc), np.uint8)
    bits = int(kl.table_bits(max(1, len(enc))))
    slots = np.full((1 << bits, 2), -1, np.int64)
    bad = int(kl.vocab_insert(words, off[:-1], off[1:], 0, len(enc), slots, bits))
    if bad >= 0:  # duplicates were renamed: a word of 16 MiB or more
        raise ValueError(f"word {bad} of the vocabulary is longer than 16 MiB")
    return words, off, slots, bits


class LanguageModel:
    """A backoff model compiled for scoring (hash tables; see `cooc.kernels.lm`).

    Parameters
    ----------
    model : an `NgramModel` (from `cooc.lm.estimate` or `cooc.lm.read_arpa`).
    num_threads : threads for large batches (1: the calling thread only).
    """

    def __init__(self, model: NgramModel, num_threads: int = 1):
        self.model = model
        self.order = model.order
        self.vocab_size = len(model.vocab)
        self.num_threads = max(1, num_threads)
        self.unk, self.bos, self.eos = model.unk_id, model.bos_id, model.eos_id
        self._words, self._word_off, self._slots, self._slot_bits = vocab_table(model.vocab)
        v = self.vocab_size
        n = self.order
        self.slot_base = np.zeros(n + 1, np.int64)
        self.slot_bits = np.zeros(n + 1, np.int64)
        self.row_base = np.zeros(n + 1, np.int64)
        sizes = [0] * (n + 1)
        for k in range(2, n + 1):
            self.slot_bits[k] = kl.table_bits(model.counts[k - 1])
            sizes[k] = 1 << int(self.slot_bits[k])
        total = 0
        for k in range(2, n + 1):
            self.slot_base[k] = total
            total += sizes[k]
        self.tkeys = np.zeros(max(1, total), np.int64)
        self.tvals = np.zeros(max(1, total), np.int32)
        for k in range(2, n + 1):
            parents = model.parents(k)
            if len(parents) and parents.min() < 0:
                raise ValueError(f"a {k}-gram's prefix is not a {k - 1}-gram of the model")
            keys = parents * v + model.grams[k - 1][:, -1].astype(np.int64) + 1
            b = int(self.slot_base[k])
            kl.fill_table(keys, np.arange(len(keys), dtype=np.int64), int(self.slot_bits[k]),
                          self.tkeys[b : b + sizes[k]], self.tvals[b : b + sizes[k]])
        base = 0
        for k in range(1, n + 1):
            self.row_base[k] = base
            base += model.counts[k - 1]
        self.logprob = np.concatenate(model.logprob).astype(np.float32)
        self.backoff = np.concatenate(model.backoff).astype(np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes of the scoring structure (tables, probabilities, backoffs)."""
        return int(self.tkeys.nbytes + self.tvals.nbytes + self.logprob.nbytes + self.backoff.nbytes)

    # -- statistics and checks -----------------------------------------------------------------

    @property
    def source(self) -> str:
        """The file the model was read from (`read_arpa`), or a description."""
        return str(self.model.meta.get("source") or "the language model (in memory)")

    def _table_slots(self, k: int) -> int:
        return 1 << int(self.slot_bits[k]) if k >= 2 else 0

    def stats(self) -> dict:
        """Grams, bytes and bytes per n-gram per order of the scoring structure (hash-table
        slots of 12 bytes for orders >= 2, float32 probability and backoff per n-gram), as
        `TrieLanguageModel.stats` gives them for the compressed model."""
        counts = self.model.counts
        per = {}
        for k in range(1, self.order + 1):
            g = counts[k - 1]
            size = 12 * self._table_slots(k) + 8 * g
            per[k] = {"grams": g, "bytes": size, "bytes_per_gram": size / g if g else 0.0}
        n_all = sum(counts)
        total = self.nbytes
        src = self.model.meta.get("source")
        file_bytes = Path(src).stat().st_size if src and Path(src).is_file() else None
        return {"path": str(src) if src else None, "order": self.order,
                "vocab_size": self.vocab_size, "grams": n_all, "bytes": total,
                "bytes_per_gram": total / n_all if n_all else 0.0, "file_bytes": file_bytes,
                "orders": per}

    def verify(self) -> None:
        """Check that the arrays agree (cheap, O(n-grams)): a vocabulary with <s>, </s> and
        <unk>, n-gram ids inside it, one probability and backoff per n-gram and none NaN,
        every n-gram of order >= 2 in its hash table, no backoff at the highest order.
        IndexFormatError naming the model's file on the first problem; None when sound."""
        m = self.model

        def bad(problem: str) -> IndexFormatError:
            return IndexFormatError(f"{self.source}: {problem}")

        if len(m.vocab) != self.vocab_size or self.vocab_size != len(m.grams[0]):
            raise bad(f"{len(m.vocab)} words but {len(m.grams[0])} unigrams")
        for name, i in (("<s>", self.bos), ("</s>", self.eos), ("<unk>", self.unk)):
            if i < 0:
                raise bad(f"the model has no {name} unigram")
        counts = m.counts
        if len(self.logprob) != sum(counts) or len(self.backoff) != sum(counts):
            raise bad(f"{len(self.logprob)} probabilities and {len(self.backoff)} backoffs for "
                      f"{sum(counts)} n-grams")
        if np.isnan(self.logprob).any() or np.isnan(self.backoff).any():
            raise bad("a probability or backoff is NaN")
        for k in range(1, self.order + 1):
            g = m.grams[k - 1]
            if g.shape != (counts[k - 1], k) or (len(g) and (g.min() < 0 or g.max() >= self.vocab_size)):
                raise bad(f"the {k}-grams hold ids outside the vocabulary of {self.vocab_size}")
            if k >= 2:
                b = int(self.slot_base[k])
                filled = int(np.count_nonzero(self.tkeys[b : b + self._table_slots(k)]))
                if filled != counts[k - 1]:
                    raise bad(f"{filled} of the {counts[k - 1]} {k}-grams are in the hash table")
        top = int(self.row_base[self.order])
        if (self.backoff[top:] != 0).any():
            raise bad(f"a {self.order}-gram (the highest order) has a backoff")

    # -- encoding ------------------------------------------------------------------------------

    def encode(self, sentences: list[str], ascii_spaces: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """(model ids int32, sentence pointers int64) of sentences split on whitespace as
        `str.split` does, or with ascii_spaces on ASCII whitespace only, as KenLM does
        (unknown words: `<unk>`)."""
        if not isinstance(sentences, list | tuple):
            sentences = list(sentences)
        blob = "\n".join(sentences).encode("utf-8", "surrogatepass")
        text = np.frombuffer(blob, np.uint8)
        nl = np.flatnonzero(text == 10)
        bounds = np.empty(len(sentences) + 1, np.int64)
        if len(nl) == len(sentences) - 1:  # one "\n" between sentences, none inside
            bounds[0], bounds[-1] = 0, len(text)
            bounds[1:-1] = nl + 1
        else:
            lens = np.fromiter((len(x.encode("utf-8", "surrogatepass")) + 1 for x in sentences),
                               np.int64, len(sentences))
            bounds[0] = 0
            np.cumsum(lens, out=bounds[1:])
            bounds[1:] -= 1  # the separators: whitespace, skipped anyway
            bounds[-1] = len(text)
        ns = len(sentences)
        parts = 1 if self.num_threads <= 1 or len(text) < 4 * _PARALLEL_BELOW or ns < 2 \
            else self.num_threads
        cuts = np.searchsorted(bounds, np.linspace(0, len(text), parts + 1)).clip(0, ns)
        cuts[0], cuts[-1] = 0, ns

        def part(i: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = int(cuts[i]), int(cuts[i + 1])
            ids = np.empty((int(bounds[b] - bounds[a]) + 1) // 2 + 1, np.int32)
            ptr = np.empty(b - a + 1, np.int64)
            n = kl.encode_words(text, bounds[a : b + 1], self._words, self._slots,
                                self._slot_bits, self.unk, ids, ptr, ascii_spaces)
            return ids[:n], ptr
        if parts == 1:
            ids, ptr = part(0)
            return ids.copy(), ptr
        with ThreadPoolExecutor(parts) as pool:
            res = list(pool.map(part, range(parts)))
        ptr = np.empty(ns + 1, np.int64)
        ptr[0] = base = 0
        for i, (ids_i, ptr_i) in enumerate(res):
            ptr[int(cuts[i]) + 1 : int(cuts[i + 1]) + 1] = ptr_i[1:] + base
            base += len(ids_i)
        return np.concatenate([r[0] for r in res]), ptr

    # -- scoring -------------------------------------------------------------------------------

    def score_ids(self, words: np.ndarray, sent_ptr: np.ndarray) -> Scores:
        """Scores of sentences given as model ids (words[sent_ptr[s]:sent_ptr[s+1]])."""
        words, sent_ptr = checked_ids(words, sent_ptr, self.vocab_size, self.unk)
        args = (self.order, np.int64(self.vocab_size), self.bos, self.eos, self.slot_base,
                self.slot_bits, self.tkeys, self.tvals, self.row_base, self.logprob, self.backoff)
        return score_sentences_threaded(kl.score_sentences, words, sent_ptr, args,
                                        self.num_threads, self.unk)

    def score(self, sentences: list[str] | str) -> Scores:
        """Scores of whitespace-tokenized sentences (a str is one sentence)."""
        if isinstance(sentences, str):
            sentences = [sentences]
        return self.score_ids(*self.encode(sentences))

    def score_documents(self, documents: list[list[str]]) -> tuple[Scores, np.ndarray]:
        """Scores of documents given as lists of sentences, and the document pointers into
        the sentences (document d is sentences doc_ptr[d]:doc_ptr[d+1])."""
        flat = [s for d in documents for s in d]
        ptr = np.zeros(len(documents) + 1, np.int64)
        np.cumsum([len(d) for d in documents], out=ptr[1:])
        return self.score(flat), ptr


def checked_ids(words, sent_ptr, vocab_size: int, unk: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentences as model ids (words[sent_ptr[s]:sent_ptr[s+1]]), checked and contiguous."""
    words = np.ascontiguousarray(words, dtype=np.int32)
    sent_ptr = np.ascontiguousarray(sent_ptr, dtype=np.int64)
    if sent_ptr.ndim != 1 or len(sent_ptr) < 1 or sent_ptr[0] != 0 \
            or sent_ptr[-1] != len(words) or (np.diff(sent_ptr) < 0).any():
        raise ValueError("sent_ptr must rise from 0 to len(words)")
    if len(words) and (int(words.min()) < 0 or int(words.max()) >= vocab_size):
        raise ValueError(f"word ids must be in [0, {vocab_size}); map OOVs to <unk> ({unk})")
    return words, sent_ptr


def score_sentences_threaded(kernel, words: np.ndarray, sent_ptr: np.ndarray, args: tuple,
                             num_threads: int, unk: int) -> Scores:
    """Run a sentence-scoring kernel (`kernel(words, sent_ptr, *args, out)`, writing word i
    of its s-th sentence at i + s and each sentence's </s> after it) over the sentences, cut
    into `num_threads` parts of similar size; OOVs are the words equal to `unk`."""
    ns = len(sent_ptr) - 1
    out = np.empty(len(words) + ns, np.float32)
    if num_threads <= 1 or len(words) < _PARALLEL_BELOW or ns < 2:
        kernel(words, sent_ptr, *args, out)
    else:
        cuts = np.searchsorted(sent_ptr, np.linspace(0, len(words), num_threads + 1))
        cuts[0], cuts[-1] = 0, ns

        def part(i: int) -> None:
            a, b = int(cuts[i]), int(cuts[i + 1])
            if a < b:
                kernel(words, sent_ptr[a : b + 1], *args, out[a:])
        with ThreadPoolExecutor(num_threads) as pool:
            list(pool.map(part, range(num_threads)))
    oov = np.zeros(len(out), bool)
    pos = np.arange(len(words)) + np.repeat(np.arange(ns), np.diff(sent_ptr))
    oov[pos] = words == unk
    return Scores(out, sent_ptr + np.arange(ns + 1), oov)
