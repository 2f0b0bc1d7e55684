"""Corpus diff: how the co-occurrences of corpus B differ from those of corpus A, from their
indexes.

Both indexes must be built with the same tokenizer and window settings (the identity check of
`cooc merge`). Whitespace vocabularies, grown per corpus, are aligned by token text on the
vocabulary a merge of A and B would have; every id in a diff is such a union id (for a fixed
vocabulary, qwen, tiktoken: or hf:, the ids of both indexes).

Streaming: union row ranges of at most `range_entries` entries (A's and B's together; a longer
row comes alone) are decoded from both indexes, remapped and compared, so memory is
O(vocab_size + one range) and the matrices are never held whole. Results do not depend on the
range size (tested).

Conventions (choices where the issue was open):

- **Pairs** are unordered: {a, b} with a < b, plus the diagonal (a, a) of an index built with
  include_self, each counted once, as `CoocIndex.num_pairs` counts them. A pair is in an index
  when its count there is >= 1, so only_a + both = A.num_pairs and only_b + both = B.num_pairs.
  Count totals add each such pair's count once.
- **Changed pairs**: each pair gets a score in A and in B, delta = B - A, ranked by |delta|
  (largest first), then by (a, b); delta 0 is no change. `by="count"` compares rates c / N
  (N = that corpus's windows) over pairs met >= min_count times in A or in B (a pair absent
  from a corpus has rate 0 there). `pmi`, `ppmi` (unsmoothed) and `npmi` compare pairs met >=
  min_count times in both: a pair that never met has no finite pmi, and pairs that appear or
  disappear are what by=count and a token's gained/lost lists show.
- **Changed tokens**: a token's neighbourhood N(t) is the set of neighbours met >= min_count
  times. Tokens are ranked by 1 - Jaccard(N_A(t), N_B(t)), largest first, then by
  |N_A(t) | N_B(t)| (more evidence first), then by id, among tokens with |N(t)| >= min_degree
  in both corpora: a token with two neighbours changes completely by chance, and tokens new
  to or gone from a corpus are counted apart (`TokenSets`). Unchanged tokens are not listed.
- **One token** (`token=`): neighbours gained (in N_B, not N_A; by count in B), lost (in N_A,
  not N_B; by count in A), and most changed (as the pairs, within the token's row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np

from cooc.cooccur import association
from cooc.cooccur.build.csr import Csr
from cooc.cooccur.merge import (
    counting_identity,
    first_difference,
    is_grown,
    remapped_rows,
    union_vocabulary,
)
from cooc.cooccur.reader import CoocIndex, open_index
from cooc.errors import CoocError
from cooc.runtime.ranges import bounded_ranges

DIFF_MEASURES = ("count", "pmi", "ppmi", "npmi")
# entries of A and B per union row range: ~80 bytes each while a range is compared
_RANGE_ENTRIES = 1 << 20


@dataclass(frozen=True)
class PairBlock:
    """The pairs (a <= b) of one union row range held by A or B, sorted by (a, b), with
    both counts (0 where a pair is absent)."""

    a: np.ndarray  # int64 union ids
    b: np.ndarray
    count_a: np.ndarray  # int64
    count_b: np.ndarray


@dataclass(frozen=True)
class PairSets:
    """Pairs only in A, only in B, in both (see the module docstring), with count totals."""

    only_a: int = 0
    only_a_count: int = 0
    only_b: int = 0
    only_b_count: int = 0
    both: int = 0
    both_count_a: int = 0
    both_count_b: int = 0

    def __add__(self, other: PairSets) -> PairSets:
        return PairSets(*(x + y for x, y in zip(dataclasses.astuple(self),
                                                 dataclasses.astuple(other), strict=True)))


@dataclass(frozen=True)
class TokenSets:
    """Tokens seen (in some window) only in A, only in B, in both."""

    only_a: int
    only_b: int
    both: int


@dataclass(frozen=True)
class PairChange:
    a: int
    a_text: str
    b: int
    b_text: str
    count_a: int
    count_b: int
    score_a: float
    score_b: float
    delta: float


@dataclass(frozen=True)
class TokenChange:
    token: int
    text: str
    degree_a: int  # |N_A(t)|: neighbours met >= min_count times in A
    degree_b: int
    shared: int  # |N_A(t) & N_B(t)|
    distance: float  # 1 - Jaccard


@dataclass(frozen=True)
class NeighbourChange:
    token: int
    text: str
    count_a: int
    count_b: int
    score_a: float | None  # None: by pmi, ppmi or npmi, and the pair never met in A
    score_b: float | None
    delta: float | None


@dataclass(frozen=True)
class TokenDiff:
    token: int
    text: str
    degree_a: int
    degree_b: int
    gained: list[NeighbourChange]
    lost: list[NeighbourChange]
    changed: list[NeighbourChange]


@dataclass(frozen=True)
class IndexDiff:
    """What `diff_indexes` reports; `to_dict()` is the JSON the CLI prints."""

    a: str
    b: str
    by: str
    min_count: int
    min_degree: int
    windows_a: int
    windows_b: int
    pairs: PairSets
    tokens: TokenSets
    changed_pairs: list[PairChange]
    changed_tokens: list[TokenChange]
    token: TokenDiff | None = None

    @property
    def is_empty(self) -> bool:
        """No pair or token only on one side, and nothing changed."""
        t = self.token
        return (self.pairs.only_a == self.pairs.only_b == 0 and not self.changed_pairs
                and not self.changed_tokens and self.tokens.only_a == self.tokens.only_b == 0
                and (t is None or not (t.gained or t.lost or t.changed)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- opening and aligning ----------------------------------------------------------------------

@contextmanager
def _opened(x):
    if isinstance(x, CoocIndex):
        yield x
    else:
        with open_index(x) as index:
            yield index


class _Aligned:
    """Two compatible indexes on their union vocabulary."""

    def __init__(self, a: CoocIndex, b: CoocIndex):
        found = first_difference(counting_identity(a), counting_identity(b))
        if found:
            field, x, y = found
            raise CoocError(f"cannot diff {a.path} and {b.path}: {field} differs ({x!r} vs "
                            f"{y!r}); diff indexes built with the same tokenizer and window "
                            "settings")
        self.a, self.b = a, b
        self.texts, (self.map_a, self.map_b), _ = union_vocabulary([a, b])
        self.size = len(self.texts)
        self.windows_a = self._stat(a.windows, self.map_a)
        self.windows_b = self._stat(b.windows, self.map_b)
        self.total_a = int(a.meta.get("corpus", {}).get("windows", 0))
        self.total_b = int(b.meta.get("corpus", {}).get("windows", 0))

    def _stat(self, values: np.ndarray, id_map: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, np.uint64)
        out[id_map] = values
        return out

    def ranges(self, range_entries: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray,
                                                           np.ndarray, np.ndarray]]:
        """(lo, hi, rows, cols, count_a, count_b): the directed entries of union rows [lo, hi)
        held by A or B, sorted by (row, col), counts 0 where absent."""
        bound = np.zeros(self.size + 1, np.int64)
        bound[self.map_a + 1] += self.a.degree()
        bound[self.map_b + 1] += self.b.degree()
        np.cumsum(bound, out=bound)
        for lo, hi in bounded_ranges(bound, range_entries):
            ra = remapped_rows(self.a, self.map_a, lo, hi, range_entries)
            rb = remapped_rows(self.b, self.map_b, lo, hi, range_entries)
            yield lo, hi, *_union_entries(ra, rb, lo, self.size)

    def row(self, which: str, token: int) -> tuple[np.ndarray, np.ndarray]:
        """(union cols int64, counts int64) of union token `token` in A or B."""
        index, id_map = (self.a, self.map_a) if which == "a" else (self.b, self.map_b)
        i = int(np.searchsorted(id_map, token))
        if i < len(id_map) and id_map[i] == token:
            cols, counts = index.row(i)
            return id_map[cols], counts.astype(np.int64)
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def scores(self, by: str, a: np.ndarray, b: np.ndarray, count_a: np.ndarray,
               count_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of pairs (a[i], b[i]) in A and in B: rates c / N for by=count."""
        out = []
        for counts, w, n in ((count_a, self.windows_a, self.total_a),
                             (count_b, self.windows_b, self.total_b)):
            if by == "count":
                out.append(counts / n if n > 0 else np.zeros(len(counts)))
            else:
                out.append(association.score(by, counts, w[a], w[b], n))
        return out[0], out[1]


def _keys(rows: Csr, size: int) -> np.ndarray:
    r = np.repeat(np.arange(rows.num_rows, dtype=np.uint64), np.diff(rows.row_ptr))
    return r * np.uint64(size) + rows.cols.astype(np.uint64)


def _union_entries(ra: Csr, rb: Csr, lo: int, size: int):
    ka, kb = _keys(ra, size), _keys(rb, size)
    # two sorted runs: a stable sort (timsort) merges them in linear time, where np.union1d's
    # hashing np.unique took 0.46 s per million entries
    keys = np.concatenate([ka, kb])
    keys.sort(kind="stable")
    if len(keys) > 1:
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    ca = np.zeros(len(keys), np.int64)
    cb = np.zeros(len(keys), np.int64)
    ca[np.searchsorted(keys, ka)] = ra.counts
    cb[np.searchsorted(keys, kb)] = rb.counts
    rows = (keys // np.uint64(size)).astype(np.int64) + lo
    cols = (keys % np.uint64(size)).astype(np.int64)
    return rows, cols, ca, cb


def _check_int(name: str, value, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise CoocError(f"{name} must be an integer >= {lo}, got {value!r}")


# --- the streams -------------------------------------------------------------------------------

def iter_pairs(a, b, range_entries: int = _RANGE_ENTRIES) -> Iterator[PairBlock]:
    """The pairs of A and B aligned (union ids), range by range; `a`, `b`: paths or indexes."""
    _check_int("range_entries", range_entries, 1)
    with ExitStack() as stack:
        ia, ib = stack.enter_context(_opened(a)), stack.enter_context(_opened(b))
        al = _Aligned(ia, ib)
        for _, _, rows, cols, ca, cb in al.ranges(range_entries):
            upper = cols >= rows
            yield PairBlock(rows[upper], cols[upper], ca[upper], cb[upper])


def _best(parts: list[dict[str, np.ndarray]], k: int, keys: tuple[str, ...]) -> dict:
    """The k rows of `parts` with the largest |delta|, ties by `keys` ascending."""
    cat = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    mag = np.abs(cat["delta"])
    if len(mag) > k:  # thin out first: lexsort only the candidates that can make the top k
        keep = mag >= np.partition(mag, len(mag) - k)[len(mag) - k]
        cat = {name: v[keep] for name, v in cat.items()}
        mag = mag[keep]
    order = np.lexsort((*(cat[key] for key in reversed(keys)), -mag))[:k]
    return {name: v[order] for name, v in cat.items()}


def _pair_candidates(al: _Aligned, by: str, min_count: int, rows, cols, ca, cb) -> dict:
    if by == "count":
        sel = np.maximum(ca, cb) >= min_count
    else:
        sel = (ca >= min_count) & (cb >= min_count)
    a, b, xa, xb = rows[sel], cols[sel], ca[sel], cb[sel]
    sa, sb = al.scores(by, a, b, xa, xb)
    delta = sb - sa
    nz = delta != 0
    return {"a": a[nz], "b": b[nz], "count_a": xa[nz], "count_b": xb[nz],
            "score_a": sa[nz], "score_b": sb[nz], "delta": delta[nz]}


def diff_indexes(a, b, *, by: str = "count", top_k: int = 20, min_count: int = 1,
                 min_degree: int = 5, token: str | int | None = None,
                 range_entries: int = _RANGE_ENTRIES) -> IndexDiff:
    """Compare index `a` (before) with index `b` (after); paths or open indexes.

    See the module docstring for what is counted and how changes are ranked.
    """
    if by not in DIFF_MEASURES:
        raise CoocError(f"unknown measure {by!r} for diff; choose one of "
                        f"{', '.join(DIFF_MEASURES)}")
    _check_int("top_k", top_k, 1)
    _check_int("min_count", min_count, 1)
    _check_int("min_degree", min_degree, 1)
    _check_int("range_entries", range_entries, 1)
    with ExitStack() as stack:
        ia, ib = stack.enter_context(_opened(a)), stack.enter_context(_opened(b))
        al = _Aligned(ia, ib)
        target = _resolve(al, token) if token is not None else None
        size = al.size
        deg_a, deg_b, shared = (np.zeros(size, np.int64) for _ in range(3))
        sets = PairSets()
        best: dict | None = None
        for lo, hi, rows, cols, ca, cb in al.ranges(range_entries):
            # neighbourhoods: directed entries, min_count applied
            ka, kb = ca >= min_count, cb >= min_count
            n = hi - lo
            deg_a[lo:hi] += np.bincount(rows[ka] - lo, minlength=n)
            deg_b[lo:hi] += np.bincount(rows[kb] - lo, minlength=n)
            shared[lo:hi] += np.bincount(rows[ka & kb] - lo, minlength=n)
            # pairs: a <= b, presence = count >= 1
            upper = cols >= rows
            rows, cols, ca, cb = rows[upper], cols[upper], ca[upper], cb[upper]
            ina, inb = ca > 0, cb > 0
            oa, ob, both = ina & ~inb, inb & ~ina, ina & inb
            sets = sets + PairSets(
                int(oa.sum()), int(ca[oa].sum()), int(ob.sum()), int(cb[ob].sum()),
                int(both.sum()), int(ca[both].sum()), int(cb[both].sum()))
            cand = _pair_candidates(al, by, min_count, rows, cols, ca, cb)
            best = _best([best, cand] if best else [cand], top_k, ("a", "b"))
        changed_pairs = _pair_changes(al, best) if best else []
        changed_tokens = _token_changes(al, deg_a, deg_b, shared, min_degree, top_k)
        seen_a, seen_b = al.windows_a > 0, al.windows_b > 0
        tokens = TokenSets(int((seen_a & ~seen_b).sum()), int((seen_b & ~seen_a).sum()),
                           int((seen_a & seen_b).sum()))
        token_diff = (_token_diff(al, target, by, min_count, top_k)
                      if target is not None else None)
        return IndexDiff(str(ia.path), str(ib.path), by, int(min_count), int(min_degree),
                         al.total_a, al.total_b, sets, tokens, changed_pairs, changed_tokens,
                         token_diff)


def _pair_changes(al: _Aligned, best: dict) -> list[PairChange]:
    t = al.texts
    return [PairChange(int(a), t[a], int(b), t[b], int(ca), int(cb), float(sa), float(sb),
                       float(d))
            for a, b, ca, cb, sa, sb, d in zip(best["a"], best["b"], best["count_a"],
                                               best["count_b"], best["score_a"],
                                               best["score_b"], best["delta"], strict=True)]


def _token_changes(al: _Aligned, deg_a, deg_b, shared, min_degree: int,
                   top_k: int) -> list[TokenChange]:
    union = deg_a + deg_b - shared
    ok = (np.minimum(deg_a, deg_b) >= min_degree) & (shared < union)
    ids = np.flatnonzero(ok)
    distance = 1.0 - shared[ids] / union[ids]
    order = np.lexsort((ids, -union[ids], -distance))[:top_k]
    return [TokenChange(int(ids[i]), al.texts[int(ids[i])], int(deg_a[ids[i]]),
                        int(deg_b[ids[i]]), int(shared[ids[i]]), float(distance[i]))
            for i in order]


# --- one token ---------------------------------------------------------------------------------

def _resolve(al: _Aligned, token: str | int) -> int:
    """Union id of `token`: `#id`, an int, or a token text."""
    if not is_grown(al.a):  # a fixed vocabulary: union ids are the index's ids
        from cooc.cooccur.query import Analyzer

        return Analyzer(al.a).resolve(token)
    if isinstance(token, (int, np.integer)) or (token.startswith("#") and token[1:].isdigit()):
        tid = int(token) if isinstance(token, (int, np.integer)) else int(token[1:])
        if not 0 <= tid < al.size:
            raise CoocError(f"token id {tid} is out of range: the union vocabulary of "
                            f"{al.a.path} and {al.b.path} has ids 0..{al.size - 1}")
        return tid
    ids = {t: i for i, t in enumerate(al.texts)}
    if token not in ids:
        raise CoocError(f"{token!r} is not a word of {al.a.path} or {al.b.path}; name a word "
                        "exactly (whitespace vocabularies hold single words)")
    return ids[token]


def _neighbour_changes(al: _Aligned, cols, ca, cb, sa, sb, order) -> list[NeighbourChange]:
    return [NeighbourChange(int(cols[i]), al.texts[int(cols[i])], int(ca[i]), int(cb[i]),
                            sa[i], sb[i], None if sa[i] is None or sb[i] is None
                            else sb[i] - sa[i]) for i in order.tolist()]


def _token_diff(al: _Aligned, t: int, by: str, min_count: int, top_k: int) -> TokenDiff:
    cols_a, counts_a = al.row("a", t)
    cols_b, counts_b = al.row("b", t)
    cols = np.union1d(cols_a, cols_b)
    ca = np.zeros(len(cols), np.int64)
    cb = np.zeros(len(cols), np.int64)
    ca[np.searchsorted(cols, cols_a)] = counts_a
    cb[np.searchsorted(cols, cols_b)] = counts_b
    sa, sb = al.scores(by, np.full(len(cols), t, np.int64), cols, ca, cb)
    ka, kb = ca >= min_count, cb >= min_count
    gained = np.flatnonzero(kb & ~ka)
    lost = np.flatnonzero(ka & ~kb)
    gained = gained[np.lexsort((cols[gained], -cb[gained]))[:top_k]]
    lost = lost[np.lexsort((cols[lost], -ca[lost]))[:top_k]]
    sel = (ka | kb) if by == "count" else (ka & kb)
    delta = np.zeros(len(cols))
    delta[sel] = sb[sel] - sa[sel]
    changed = np.flatnonzero(delta != 0)
    changed = changed[np.lexsort((cols[changed], -np.abs(delta[changed])))[:top_k]]
    # a corpus where the pair never met has a rate of 0 there, but no pmi: None
    score_a = [float(x) if by == "count" or c > 0 else None for x, c in zip(sa, ca, strict=True)]
    score_b = [float(x) if by == "count" or c > 0 else None for x, c in zip(sb, cb, strict=True)]
    return TokenDiff(int(t), al.texts[t], int(ka.sum()), int(kb.sum()),
                     *(_neighbour_changes(al, cols, ca, cb, score_a, score_b, ix)
                       for ix in (gained, lost, changed)))
