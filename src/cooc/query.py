"""Questions asked of an index: neighbours, most connected tokens, mutual and common neighbours.

Tokens are named by id (`#42`) or by text. A text is first matched against the display
texts stored in the index (so ' hello' and 'hello' are different tokens); otherwise it is
encoded with the index's tokenizer, and a text that is several tokens is explained, not
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cooc.errors import CoocError

MEASURES = ("count", "pmi")


@dataclass(frozen=True)
class Neighbour:
    token_id: int
    text: str
    count: int
    score: float


class Analyzer:
    """Query helpers over an open `CoocIndex`."""

    def __init__(self, index):
        self.index = index

    # --- naming tokens -------------------------------------------------------------------
    @cached_property
    def _text_to_id(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, t in enumerate(self.index.token_texts):
            if t and t not in out:
                out[t] = i
        return out

    def resolve(self, name: str | int) -> int:
        """Token id for `#id`, an int, or a token's text."""
        v = self.index.vocab_size
        if isinstance(name, (int, np.integer)):
            tid = int(name)
        elif name.startswith("#") and name[1:].isdigit():
            tid = int(name[1:])
        else:
            tid = self._text_to_id.get(name, -1)
            if tid < 0:
                tid = self._encode_single(name)
        if not 0 <= tid < v:
            raise CoocError(f"token id {tid} is out of range: this index has ids 0..{v - 1}")
        return tid

    def _encode_single(self, text: str) -> int:
        from cooc.tokenizers import load_tokenizer

        spec = self.index.meta.get("tokenizer", {}).get("spec", "")
        try:
            if spec == "whitespace":  # the vocabulary was grown from the corpus: use the index's
                from cooc.tokenizers.whitespace import WhitespaceTokenizer

                tok = WhitespaceTokenizer.from_vocabulary(self.index.token_texts, num_threads=1)
            else:
                tok = load_tokenizer(spec, num_threads=1)
            ids = [int(i) for i in tok.encode(text)]
        except CoocError:
            ids = []
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise CoocError(f"{text!r} is not a token of this index; name a token by id as #ID")
        parts = ", ".join(f"#{i} {self.index.token_text(i)!r}" for i in ids)
        raise CoocError(
            f"{text!r} is {len(ids)} tokens, not one: {parts}; query one of them (e.g. #{ids[0]})"
        )

    def describe(self, tid: int) -> str:
        return f"#{tid} {self.index.token_text(tid)!r}"

    # --- questions -----------------------------------------------------------------------
    def neighbours(self, token: str | int, k: int = 20, by: str = "count",
                   min_count: int = 1) -> list[Neighbour]:
        """Top-k neighbours by count or PMI (log of observed over expected windows)."""
        if by not in MEASURES:
            raise CoocError(f"unknown measure {by!r}; choose one of {', '.join(MEASURES)}")
        if k < 1:
            raise CoocError(f"--top-k must be >= 1, got {k}")
        a = self.resolve(token)
        cols, counts = self.index.row(a)
        keep = counts >= min_count
        cols, counts = cols[keep], counts[keep]
        scores = self._scores(a, cols, counts, by)
        # highest score first, ties by id: a total order, so results are reproducible
        order = np.lexsort((cols, -scores))[:k]
        return [Neighbour(int(cols[i]), self.index.token_text(int(cols[i])), int(counts[i]),
                          float(scores[i])) for i in order]

    def _scores(self, a: int, cols: np.ndarray, counts: np.ndarray, by: str) -> np.ndarray:
        if by == "count":
            return counts.astype(np.float64)
        n = float(self.index.meta["corpus"]["windows"])
        w = self.index.windows
        return np.log(counts * n / (float(w[a]) * w[cols].astype(np.float64)))

    def top_connected(self, n: int = 20) -> list[tuple[int, str, int]]:
        """Tokens with the most distinct neighbours."""
        deg = self.index.degree()
        order = np.lexsort((np.arange(len(deg)), -deg.astype(np.int64)))[:n]
        return [(int(t), self.index.token_text(int(t)), int(deg[t])) for t in order if deg[t] > 0]

    def mutual(self, a: str | int, b: str | int) -> dict:
        ia, ib = self.resolve(a), self.resolve(b)
        c = self.index.pair_count(ia, ib)
        return {"a": ia, "b": ib, "a_text": self.index.token_text(ia),
                "b_text": self.index.token_text(ib), "met": c > 0, "count": c}

    def common(self, a: str | int, b: str | int) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
        """Neighbours shared by a and b: (a, b, ids, count with a, count with b)."""
        ia, ib = self.resolve(a), self.resolve(b)
        ca, na = self.index.row(ia)
        cb, nb = self.index.row(ib)
        ids, i, j = np.intersect1d(ca, cb, assume_unique=True, return_indices=True)
        return ia, ib, ids, na[i], nb[j]

    def stats(self) -> dict:
        idx = self.index
        m = idx.meta
        deg = idx.degree()
        seen = deg[deg > 0]
        corpus = m.get("corpus", {})
        sizes = idx.nbytes()
        return {
            "documents": corpus.get("documents"),
            "tokens": corpus.get("tokens"),
            "windows": corpus.get("windows"),
            "vocab_size": idx.vocab_size,
            "vocab_seen": int(np.count_nonzero(idx.occurrences)),
            "pairs": idx.num_pairs,
            "directed_entries": idx.num_entries,
            "degree": {
                "min": int(seen.min()) if len(seen) else 0,
                "median": float(np.median(seen)) if len(seen) else 0.0,
                "mean": float(seen.mean()) if len(seen) else 0.0,
                "p90": float(np.percentile(seen, 90)) if len(seen) else 0.0,
                "p99": float(np.percentile(seen, 99)) if len(seen) else 0.0,
                "max": int(seen.max()) if len(seen) else 0,
            },
            "index_bytes": sizes,
            "bytes_per_entry": idx.bytes_per_entry,
            "tokenizer": m.get("tokenizer", {}).get("spec"),
            "window": m.get("config", {}).get("window"),
            "skipped": m.get("skip_report", {}),
        }
