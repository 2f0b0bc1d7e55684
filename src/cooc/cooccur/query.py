"""The query module: questions asked of an index through `Analyzer(index)`.

What lives where: `CoocIndex` (`cooc.cooccur.reader`) is the artefact and answers what its
arrays hold: rows, pair counts, degrees, statistics (`stats()`) and checks (`verify()`), as
every cooc artefact does. `Analyzer` adds the questions that need names or more than one row,
and stays here: naming tokens (`resolve`, below), neighbours by count or an association measure
(see `cooc.cooccur.association`), most connected tokens, mutual and common neighbours, the
association of a pair; its `stats()` is the index's.

Tokens are named by id (`#42`) or by text. A text is first matched against the display
texts stored in the index (so ' hello' and 'hello' are different tokens); otherwise it is
encoded with the index's tokenizer, and a text that is several tokens is explained, not
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cooc.cooccur import association
from cooc.cooccur.association import MEASURES
from cooc.errors import CoocError

__all__ = ["MEASURES", "Analyzer", "Neighbour"]

# rows of non-neighbours decoded to join two runs of neighbour rows (see `_shared_with`)
_GAP_ENTRIES = 1 << 14


def _check_alpha(alpha, by: str) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            or not np.isfinite(alpha) or alpha <= 0:
        raise CoocError(f"alpha must be a number > 0 (0.75 is the usual smoothing), "
                        f"got {alpha!r}")
    if alpha != 1 and by != "ppmi":
        raise CoocError(f"alpha={alpha} smooths ppmi only; use by='ppmi' or alpha=1 "
                        f"(got by={by!r})")


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
        from cooc.tokenizers import GROWN_KINDS, grown_tokenizer, load_tokenizer

        spec = self.index.meta.get("tokenizer", {}).get("spec", "")
        try:
            if spec in GROWN_KINDS:  # the vocabulary was grown from the corpus: use the index's
                tok = grown_tokenizer(spec, self.index.token_texts)
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
                   min_count: int = 1, alpha: float = 1.0) -> list[Neighbour]:
        """Top-k neighbours met at least `min_count` times, by `by` (one of MEASURES; see
        `cooc.cooccur.association`), highest score first, ties by id. `alpha` smooths the context
        distribution of ppmi (1: plain ppmi; 0.75 is Levy et al.'s choice)."""
        if by not in MEASURES:
            raise CoocError(f"unknown measure {by!r}; choose one of {', '.join(MEASURES)}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise CoocError(f"k must be an integer >= 1, got {k!r}")
        if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) \
                or min_count < 1:
            raise CoocError(f"min_count must be an integer >= 1, got {min_count!r}")
        _check_alpha(alpha, by)
        a = self.resolve(token)
        row_cols, row_counts = self.index.row(a)
        keep = row_counts >= min_count  # rare pairs must not dominate pmi-like scores
        cols, counts = row_cols[keep], row_counts[keep]
        if by == "jaccard":
            deg = self.index.degree(cols)
            scores = association.jaccard(self._shared_with(row_cols, cols), len(row_cols), deg)
        else:
            scores = self._scores(a, cols, counts, by, alpha)
        # highest score first, ties by id: a total order, so results are reproducible
        order = np.lexsort((cols, -scores))[:k]
        return [Neighbour(int(cols[i]), self.index.token_text(int(cols[i])), int(counts[i]),
                          float(scores[i])) for i in order]

    @property
    def _total_windows(self) -> int:
        return int(self.index.meta.get("corpus", {}).get("windows", 0))

    def _scores(self, a: int, cols: np.ndarray, counts: np.ndarray, by: str,
                alpha: float = 1.0) -> np.ndarray:
        w = self.index.windows
        wb = w[cols]
        if by == "ppmi" and alpha != 1:
            wb = association.smoothed_windows(w, alpha)[cols]
        return association.score(by, counts, float(w[a]), wb, self._total_windows)

    def _shared_with(self, row: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """|set(row) & N(t)| for every t of `targets` (sorted, unique token ids).

        Performance notes: the targets' rows are decoded in runs of consecutive ids, a run
        broken where the rows between two targets hold more than _GAP_ENTRIES entries, so a
        hub's thousands of neighbours cost a few range decodes instead of one call each, and
        a token with few, scattered neighbours decodes little more than their rows. Each
        decoded range is scored in one vectorised pass (`association.shared_neighbours`).
        """
        out = np.zeros(len(targets), np.int64)
        if not len(targets) or not len(row):
            return out
        t = np.asarray(targets, dtype=np.int64)
        ptr = np.zeros(self.index.vocab_size + 1, np.int64)
        np.cumsum(self.index.degree(), out=ptr[1:])
        gaps = ptr[t[1:]] - ptr[t[:-1] + 1]
        cuts = (np.flatnonzero(gaps > _GAP_ENTRIES) + 1).tolist()
        for s, e in zip([0, *cuts], [*cuts, len(t)], strict=True):
            for start, row_ptr, cols, _ in self.index.iter_rows(int(t[s]), int(t[e - 1]) + 1):
                shared = association.shared_neighbours(row, row_ptr, cols)
                i0, i1 = np.searchsorted(t, [start, start + len(row_ptr) - 1])
                out[i0:i1] = shared[t[i0:i1] - start]
        return out

    def pair_association(self, a: str | int, b: str | int, alpha: float = 1.0) -> dict:
        """Every measure for one pair: count, windows, pmi, ppmi (smoothed by `alpha`), npmi,
        llr, jaccard. A pair that never met has count 0, pmi -inf, ppmi 0, npmi -1."""
        _check_alpha(alpha, "ppmi")
        ia, ib = self.resolve(a), self.resolve(b)
        idx = self.index
        c = idx.pair_count(ia, ib)
        w = idx.windows
        n = self._total_windows
        wa, wb = float(w[ia]), float(w[ib])
        wb_alpha = float(association.smoothed_windows(w, alpha)[ib]) if alpha != 1 else wb
        ra, rb = idx.row(ia)[0], idx.row(ib)[0]
        shared = len(np.intersect1d(ra, rb, assume_unique=True))
        return {
            "a": ia, "b": ib, "a_text": idx.token_text(ia), "b_text": idx.token_text(ib),
            "count": c, "windows_a": int(w[ia]), "windows_b": int(w[ib]), "windows": n,
            "pmi": float(association.pmi(c, wa, wb, n)),
            "ppmi": float(association.ppmi(c, wa, wb_alpha, n)),
            "alpha": float(alpha),
            "npmi": float(association.npmi(c, wa, wb, n)),
            "llr": float(association.llr(c, wa, wb, n)),
            "jaccard": float(association.jaccard(shared, len(ra), len(rb))),
            "shared_neighbours": shared,
        }

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
        """The index's figures (`CoocIndex.stats`)."""
        return self.index.stats()
