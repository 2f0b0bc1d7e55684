"""Association measures (pmi, ppmi, npmi, llr, jaccard) against a slow pure-Python reference
over window sets, and their use in `Analyzer.neighbours`, `pair_association` and the CLI."""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import reference_windows

import cooc
from cooc.cli.main import main
from cooc.cooccur import association, open_index, query
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.cooccur.query import MEASURES, Analyzer
from cooc.errors import CoocError
from cooc.options import RunOptions

REL, ABS = 1e-9, 1e-9


# --- the slow reference: loops and math.log over sets of windows --------------------------------

class Reference:
    """Window statistics, counts and neighbour sets of token-id windows, by brute force."""

    def __init__(self, windows: list[list[int]], include_self: bool):
        self.sets = [set(w) for w in windows]
        self.n = len(windows)
        self.w: Counter = Counter(t for s in self.sets for t in s)
        self.c: Counter = Counter()
        for win, s in zip(windows, self.sets, strict=True):
            for a in s:
                for b in s:
                    if a != b:
                        self.c[(a, b)] += 1
                if include_self and win.count(a) >= 2:
                    self.c[(a, a)] += 1
        self.nbrs: dict[int, set[int]] = {}
        for a, b in self.c:
            self.nbrs.setdefault(a, set()).add(b)

    def table(self, a: int, b: int) -> tuple[int, int, int, int]:
        """Windows with a and b, a not b, b not a, neither (a != b)."""
        k = [0, 0, 0, 0]
        for s in self.sets:
            k[(a not in s) * 2 + (b not in s)] += 1
        return k[0], k[1], k[2], k[3]

    def pmi(self, a, b):
        c, n = self.c[(a, b)], self.n
        if c == 0:
            return -math.inf
        return math.log((c / n) / ((self.w[a] / n) * (self.w[b] / n)))

    def ppmi(self, a, b, alpha=1.0):
        """Levy, Goldberg & Dagan's ppmi_alpha in window probabilities: P_alpha(b) is
        w(b)^alpha / sum w^alpha, rescaled to the total mass sum w / N of the marginals."""
        c, n = self.c[(a, b)], self.n
        if c == 0:
            return 0.0
        ws = list(self.w.values())
        p_b = self.w[b] ** alpha / sum(x ** alpha for x in ws) * (sum(ws) / n)
        return max(math.log((c / n) / ((self.w[a] / n) * p_b)), 0.0)

    def npmi(self, a, b):
        c, n = self.c[(a, b)], self.n
        if c == 0:
            return -1.0
        if c == n:
            return 1.0
        return self.pmi(a, b) / -math.log(c / n)

    def llr(self, a, b):
        k11, k12, k21, k22 = self.table(a, b)
        n = self.n
        rows, cols = (k11 + k12, k21 + k22), (k11 + k21, k12 + k22)
        g = 0.0
        for i, j, k in ((0, 0, k11), (0, 1, k12), (1, 0, k21), (1, 1, k22)):
            if k > 0:
                g += k * math.log(k / (rows[i] * cols[j] / n))
        return 2 * g

    def jaccard(self, a, b):
        na, nb = self.nbrs.get(a, set()), self.nbrs.get(b, set())
        return len(na & nb) / len(na | nb) if na | nb else 0.0

    def score(self, by, a, b, alpha=1.0):
        if by == "count":
            return float(self.c[(a, b)])
        if by == "ppmi":
            return self.ppmi(a, b, alpha)
        return getattr(self, by)(a, b)


def close(x: float, y: float) -> bool:
    return x == y or math.isclose(x, y, rel_tol=REL, abs_tol=ABS)


def test_reference_fails_on_a_wrong_table():
    """The reference helper is trusted only after it catches a deliberate mistake."""
    ref = Reference([[1, 2], [1, 3], [2, 3], [4]], include_self=False)
    assert ref.table(1, 2) == (1, 1, 1, 1)
    wrong = Reference([[1, 2], [1, 3], [2, 3], [4], [4]], include_self=False)
    assert not close(ref.llr(1, 2), wrong.llr(1, 2))
    assert not close(ref.pmi(1, 2), float(association.pmi(1, 2, 2, 5)))


# --- the kernels on arrays -----------------------------------------------------------------------

@st.composite
def cells(draw):
    """(c, w(a), w(b), N) with 0 <= c <= min(w(a), w(b)) and w(a) + w(b) - c <= N."""
    n = draw(st.integers(0, 60))
    wa = draw(st.integers(0, n))
    wb = draw(st.integers(0, n))
    lo = max(0, wa + wb - n)
    c = draw(st.integers(lo, max(lo, min(wa, wb))))
    return c, wa, wb, n


def kernel_reference(by, c, wa, wb, n):
    """The formulas of the issue, one pair at a time, from the 2x2 table's marginals."""
    if by == "pmi":
        return math.log(c * n / (wa * wb)) if c > 0 else -math.inf
    if by == "ppmi":
        return max(kernel_reference("pmi", c, wa, wb, n), 0.0)
    if by == "npmi":
        if c == 0:
            return -1.0
        return 1.0 if c == n else kernel_reference("pmi", c, wa, wb, n) / -math.log(c / n)
    table = ((c, wa, wb), (wa - c, wa, n - wb), (wb - c, n - wa, wb),
             (n - wa - wb + c, n - wa, n - wb))
    return 2 * sum(k * math.log(k * n / (r * col)) for k, r, col in table if k > 0)


@settings(max_examples=200)
@given(st.lists(cells(), min_size=1, max_size=30))
def test_kernels_equal_reference_without_warnings(quads):
    c, wa, wb, n = (np.array(x, dtype=np.uint64) for x in zip(*quads, strict=True))
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        got = {by: getattr(association, by)(c, wa, wb, n) for by in ("pmi", "ppmi", "npmi", "llr")}
    for by, values in got.items():
        assert values.dtype == np.float64 and values.shape == (len(quads),)
        assert not np.isnan(values).any()
        for i, q in enumerate(quads):
            assert close(float(values[i]), kernel_reference(by, *q)), (by, q, values[i])
    assert (got["npmi"] >= -1 - 1e-12).all() and (got["npmi"] <= 1 + 1e-12).all()
    assert (got["llr"] >= 0).all() and (got["ppmi"] >= 0).all()


@pytest.mark.parametrize("c, wa, wb, n, want", [
    # c = N: every window holds both
    (5, 5, 5, 5, {"pmi": 0.0, "ppmi": 0.0, "npmi": 1.0, "llr": 0.0}),
    # an empty corpus, and a token in no window
    (0, 0, 0, 0, {"pmi": -math.inf, "ppmi": 0.0, "npmi": -1.0, "llr": 0.0}),
    (0, 0, 3, 7, {"pmi": -math.inf, "ppmi": 0.0, "npmi": -1.0, "llr": 0.0}),
    # a is in every window: independent of b whatever b does
    (3, 7, 3, 7, {"pmi": 0.0, "ppmi": 0.0, "llr": 0.0}),
    # a diagonal entry (a, a) under include_self: k22 = N - 2 w(a) + c < 0 is clipped
    (1, 5, 5, 6, {"pmi": math.log(6 / 25)}),
])
def test_kernel_edge_cells(c, wa, wb, n, want):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for by in ("pmi", "ppmi", "npmi", "llr"):
            v = float(getattr(association, by)(c, wa, wb, n))
            assert not math.isnan(v)
            if by in want:
                assert close(v, want[by]), (by, v)
            if by in ("npmi", "llr", "ppmi"):
                assert math.isfinite(v)


def test_smoothed_windows():
    w = np.array([0, 1, 4, 9, 100], np.uint64)
    assert (association.smoothed_windows(w, 1.0) == w).all()  # alpha 1: plain ppmi, exactly
    s = association.smoothed_windows(w, 0.5)
    assert s[0] == 0 and math.isclose(s.sum(), w.sum())  # same total mass, reshaped
    assert s[1] > 1 and s[4] < 100  # rare contexts gain, frequent ones lose
    for bad in (0, -1, float("nan"), float("inf"), "0.75"):
        with pytest.raises(ValueError, match="alpha must be"):
            association.smoothed_windows(w, bad)


@given(st.lists(st.sets(st.integers(0, 30)), min_size=1, max_size=8), st.sets(st.integers(0, 30)))
def test_shared_neighbours_and_jaccard(rows, mine):
    sorted_rows = [sorted(r) for r in rows]
    ptr = np.cumsum([0] + [len(r) for r in rows])
    cols = np.array([c for r in sorted_rows for c in r], np.uint32)
    got = association.shared_neighbours(np.array(sorted(mine), np.uint32), ptr, cols)
    assert got.tolist() == [len(mine & r) for r in rows]
    jac = association.jaccard(got, len(mine), [len(r) for r in rows])
    for j, r in zip(jac, rows, strict=True):
        assert close(float(j), len(mine & r) / len(mine | r) if mine | r else 0.0)


# --- on real indexes -----------------------------------------------------------------------------

def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def build(root: Path, docs: list[str], context_length: int, include_self: bool = False) -> Path:
    cfg = BuildConfig(tokenizer="whitespace",
                      window=WindowConfig(context_length=context_length, include_self=include_self))
    files = write_jsonl(root / "docs.jsonl", docs)
    return cooc.build(files, root / "x.cooc", cfg, RunOptions(quiet=True, num_proc=1)).path


def reference_of(index, docs: list[str], context_length: int, include_self: bool) -> Reference:
    ids = {t: i for i, t in enumerate(index.token_texts)}
    windows = reference_windows([[ids[w] for w in d.split()] for d in docs], context_length)
    return Reference(windows, include_self)


words = st.sampled_from(["a", "b", "c", "d", "e", "f", "Ab", "é", "中"])
corpora = st.lists(st.lists(words, max_size=10).map(" ".join), min_size=1, max_size=10)


@settings(max_examples=50, deadline=None)
@given(docs=corpora, context_length=st.integers(2, 6), include_self=st.booleans(),
       data=st.data())
def test_measures_equal_reference(tmp_path_factory, docs, context_length, include_self, data):
    root = tmp_path_factory.mktemp("assoc")
    index = open_index(build(root, docs, context_length, include_self))
    ref = reference_of(index, docs, context_length, include_self)
    an = Analyzer(index)
    V = index.vocab_size
    assert index.meta["corpus"]["windows"] == ref.n
    assert index.windows.tolist() == [ref.w[t] for t in range(V)]
    for a in range(V):
        for by in MEASURES:
            got = an.neighbours(a, k=V, by=by)
            assert {g.token_id for g in got} == ref.nbrs.get(a, set())
            for g in got:
                assert g.count == ref.c[(a, g.token_id)]
                want = ref.score(by, a, g.token_id)
                if by == "llr" and g.token_id == a:  # a diagonal entry: no true 2x2 table
                    assert math.isfinite(g.score) and g.score >= 0
                else:
                    assert close(g.score, want), (a, g.token_id, by, g.score, want)
            # score descending, ties by id ascending
            assert [(-g.score, g.token_id) for g in got] == sorted((-g.score, g.token_id)
                                                                  for g in got)
        for g in an.neighbours(a, k=V, by="ppmi", alpha=0.75):
            assert close(g.score, ref.ppmi(a, g.token_id, 0.75))
    # any pair, met or not, the diagonal and the end-of-text token (in no window) included
    pairs = data.draw(st.lists(st.tuples(st.integers(0, V - 1), st.integers(0, V - 1)),
                               min_size=1, max_size=6), label="pairs")
    for a, b in pairs:
        m = an.pair_association(a, b)
        assert m["count"] == ref.c[(a, b)] and m["windows"] == ref.n
        for by in ("pmi", "ppmi", "npmi", "jaccard") + (("llr",) if a != b else ()):
            assert close(m[by], ref.score(by, a, b)), (a, b, by, m[by])
        assert not any(isinstance(v, float) and math.isnan(v) for v in m.values())
        assert close(an.pair_association(a, b, alpha=0.75)["ppmi"], ref.ppmi(a, b, 0.75))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    docs = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
            "birds fly"] * 3 + ["zebra cat", "a and"]  # cat met zebra once
    return build(tmp_path_factory.mktemp("small"), docs, 4)


@pytest.mark.parametrize("by", MEASURES)
def test_min_count_filters_before_ranking(small, by):
    an = Analyzer(open_index(small))
    everything = an.neighbours("cat", k=1000, by=by)
    for m in (1, 2, 3, 4):
        kept = an.neighbours("cat", k=1000, by=by, min_count=m)
        assert kept == [n for n in everything if n.count >= m]
        assert an.neighbours("cat", k=2, by=by, min_count=m) == kept[:2]
    # without the filter, pairs met once top the pmi list; with it, they are gone
    if by == "pmi":
        assert everything[0].text == "zebra" and everything[0].count == 1
        assert all(n.count >= 3 for n in an.neighbours("cat", k=5, by=by, min_count=3))


def test_neighbours_ties_by_id_and_bad_arguments(small):
    an = Analyzer(open_index(small))
    got = an.neighbours("cat", k=100)
    assert [(-n.count, n.token_id) for n in got] == sorted((-n.count, n.token_id) for n in got)
    assert len({n.count for n in got}) < len(got)  # there are ties to order
    for kw, message in [({"by": "tfidf"}, "unknown measure"),
                        ({"k": 0}, "^k must be an integer >= 1, got 0"),
                        ({"min_count": 0}, "^min_count must be"),
                        ({"alpha": 0.0, "by": "ppmi"}, "^alpha must be"),
                        ({"alpha": 0.75, "by": "pmi"}, "smooths ppmi only")]:
        with pytest.raises(CoocError, match=message):
            an.neighbours("cat", **kw)


def test_jaccard_does_not_depend_on_decode_runs(small, monkeypatch):
    an = Analyzer(open_index(small))
    V = an.index.vocab_size
    want = [an.neighbours(t, k=V, by="jaccard") for t in range(V)]
    for gap in (0, 1, 1 << 30):  # one decode per neighbour row ... one decode in all
        monkeypatch.setattr(query, "_GAP_ENTRIES", gap)
        assert [an.neighbours(t, k=V, by="jaccard") for t in range(V)] == want


def test_pmi_keeps_its_values(small):
    """The measure `cooc neighbours --by pmi` printed before: log(c N / (w(a) w(b)))."""
    index = open_index(small)
    an = Analyzer(index)
    a = an.resolve("cat")
    cols, counts = index.row(a)
    n = float(index.meta["corpus"]["windows"])
    w = index.windows
    old = np.log(counts * n / (float(w[a]) * w[cols].astype(np.float64)))
    got = {g.token_id: g.score for g in an.neighbours(a, k=1000, by="pmi")}
    assert [got[int(c)] for c in cols] == old.tolist()


def test_cli_neighbours_by_every_measure(small, capsys):
    from cooc.cli import query as cli_query

    assert cli_query.MEASURES == association.MEASURES
    an = Analyzer(open_index(small))
    for by in MEASURES:
        assert main(["neighbours", str(small), "cat", "--by", by, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows == [n.__dict__ for n in an.neighbours("cat", by=by)]
    assert main(["neighbours", str(small), "cat", "--by", "llr", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "by llr" in out and out.count("  llr ") == 3
    assert main(["neighbours", str(small), "cat", "--by", "ppmi", "--alpha", "0.75"]) == 0
    assert "alpha 0.75" in capsys.readouterr().out
    assert main(["neighbours", str(small), "cat", "--by", "pmi", "--alpha", "0.75"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cooc: error:") and err.count("\n") == 1 and "ppmi only" in err


def test_cli_mutual_prints_measures(small, capsys):
    assert main(["mutual", str(small), "cat", "sat"]) == 0
    out = capsys.readouterr().out
    assert "met in" in out and all(f"{m} " in out for m in ("pmi", "ppmi", "npmi", "llr", "jaccard"))
    assert main(["mutual", str(small), "birds", "cat"]) == 0
    out = capsys.readouterr().out
    assert "never met" in out and "pmi -inf" in out and "npmi -1" in out
