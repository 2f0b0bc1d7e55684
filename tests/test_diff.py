"""`cooc diff`: pairs only in A, only in B and in both partition the union exactly (checked
against a slow dict-of-sets reference over the text), changes are ranked as documented, an
index compared with itself shows no change, and incompatible indexes are refused."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import reference_windows

import cooc
from cooc.cli.main import main
from cooc.cooccur import open_index
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.cooccur.diff import DIFF_MEASURES, diff_indexes, iter_pairs
from cooc.cooccur.merge import merge_indexes
from cooc.errors import CoocError
from cooc.options import RunOptions

CONTEXT = 4
# words only in one half (whitespace ids differ between the halves), shared words whose rates
# change, non-ASCII, and the literal "</s>" (id 0)
DOCS_A = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "birds fly",
          "Zebra apple éclair 中文 the cat", "the cat sat on the mat", "",
          *["p q r", "u v w y"] * 2]
DOCS_B = ["the cat sat on the hat", "a dog and a cat sat", "birds fly high",
          "the mat is flat and the cat is fat", "中文 分词 the dog", "</s> cat dog dog",
          "the cat sat on the mat", *["p s t", "u k l m"] * 2]  # p, u: all new neighbours


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def build(files, out: Path, tokenizer="whitespace", context_length=CONTEXT) -> Path:
    cfg = BuildConfig(tokenizer=tokenizer, window=WindowConfig(context_length=context_length))
    return cooc.build(files, out, cfg, RunOptions(quiet=True, num_proc=1)).path


def build_halves(root: Path, docs_a, docs_b, **kw) -> tuple[Path, Path, Path]:
    """(index of A, index of B, index of A and B together)."""
    fa, fb = write_jsonl(root / "a.jsonl", docs_a), write_jsonl(root / "b.jsonl", docs_b)
    return (build(fa, root / "a.cooc", **kw), build(fb, root / "b.cooc", **kw),
            build([fa, fb], root / "ab.cooc", **kw))


class TextReference:
    """Windows of words, and per unordered word pair the windows holding both, by brute force."""

    def __init__(self, docs: list[str], context_length: int = CONTEXT):
        self.windows = [set(w) for w in reference_windows([d.split() for d in docs],
                                                          context_length)]
        self.n = len(self.windows)
        self.w = Counter(t for s in self.windows for t in s)
        self.pairs: Counter = Counter()
        for s in self.windows:
            for x in s:
                for y in s:
                    if x < y:
                        self.pairs[frozenset((x, y))] += 1

    def neighbours(self, t: str, min_count: int = 1) -> set[str]:
        return {next(iter(p - {t})) for p, c in self.pairs.items() if t in p and c >= min_count}

    def score(self, by: str, p: frozenset) -> float:
        c = self.pairs[p]
        if by == "count":
            return c / self.n
        x, y = sorted(p)
        pmi = math.log(c * self.n / (self.w[x] * self.w[y]))
        if by == "pmi":
            return pmi
        if by == "ppmi":
            return max(pmi, 0.0)
        return 1.0 if c == self.n else pmi / -math.log(c / self.n)


def text_pairs(blocks, texts) -> dict[frozenset, tuple[int, int]]:
    out = {}
    for blk in blocks:
        for a, b, ca, cb in zip(blk.a, blk.b, blk.count_a, blk.count_b, strict=True):
            assert a <= b
            out[frozenset((texts[a], texts[b]))] = (int(ca), int(cb))
    return out


@pytest.fixture(scope="module")
def halves(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diff")
    a, b, ab = build_halves(root, DOCS_A, DOCS_B)
    q = root / "qwen"
    q.mkdir()
    qa, qb, qab = build_halves(q, DOCS_A, DOCS_B, tokenizer="qwen")
    return {"a": a, "b": b, "ab": ab, "qa": qa, "qb": qb, "qab": qab,
            "a5": build(root / "a.jsonl", root / "a5.cooc", context_length=5)}


def test_reference_helper_catches_a_wrong_count():
    ref = TextReference(["x y z", "x y"], context_length=2)  # windows [x y] [z] [x y]
    assert ref.pairs == {frozenset(("x", "y")): 2}
    assert TextReference(["x y z", "x y"], context_length=3).pairs != ref.pairs


@pytest.mark.parametrize("range_entries", [1, 3, 1 << 20])
def test_only_a_only_b_both_partition_the_union(halves, range_entries):
    a, b, ab = (open_index(halves[k]) for k in ("a", "b", "ab"))
    texts = list(ab.token_texts)  # a whitespace union build holds the union vocabulary
    ref_a, ref_b = TextReference(DOCS_A), TextReference(DOCS_B)
    got = text_pairs(iter_pairs(a, b, range_entries), texts)
    assert {p for p, (ca, cb) in got.items() if ca and cb} == ref_a.pairs.keys() & ref_b.pairs.keys()
    assert {p for p, (ca, cb) in got.items() if ca and not cb} == ref_a.pairs.keys() - ref_b.pairs.keys()
    assert {p for p, (ca, cb) in got.items() if cb and not ca} == ref_b.pairs.keys() - ref_a.pairs.keys()
    assert {p: (ref_a.pairs[p], ref_b.pairs[p]) for p in got} == got
    s = diff_indexes(a, b, range_entries=range_entries).pairs
    assert s.only_a + s.only_b + s.both == ab.num_pairs == len(ref_a.pairs.keys() | ref_b.pairs.keys())
    assert (s.only_a + s.both, s.only_b + s.both) == (a.num_pairs, b.num_pairs)
    assert s.both == len(ref_a.pairs.keys() & ref_b.pairs.keys()) > 0
    assert s.only_a > 0 and s.only_b > 0
    union_total = sum(int(c.sum()) for _, _, _, c in ab.iter_rows()) // 2
    assert s.only_a_count + s.both_count_a == sum(ref_a.pairs.values())
    assert s.only_b_count + s.both_count_b == sum(ref_b.pairs.values())
    assert s.only_a_count + s.only_b_count + s.both_count_a + s.both_count_b == union_total


def test_fixed_vocabulary_partition(halves):
    """qwen: one vocabulary, ids shared; the halves' rows are the reference."""
    a, b, ab = (open_index(halves[k]) for k in ("qa", "qb", "qab"))

    def pairs(index):
        return {(r, int(c)) for lo, ptr, cols, _ in index.iter_rows()
                for i, r in enumerate(range(lo, lo + len(ptr) - 1))
                for c in cols[ptr[i]:ptr[i + 1]] if c >= r}

    pa, pb = pairs(a), pairs(b)
    got = {(int(x), int(y)): (int(ca), int(cb)) for blk in iter_pairs(a, b, 7)
           for x, y, ca, cb in zip(blk.a, blk.b, blk.count_a, blk.count_b, strict=True)}
    assert set(got) == pa | pb == pairs(ab)
    assert {p for p, (ca, cb) in got.items() if ca and cb} == pa & pb
    s = diff_indexes(a, b).pairs
    assert (s.only_a, s.only_b, s.both) == (len(pa - pb), len(pb - pa), len(pa & pb))


words = st.sampled_from(["a", "b", "c", "Ab", "é", "中", "zz", "b2"])
corpora = st.lists(st.lists(words, max_size=9).map(" ".join), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None)
@given(docs=corpora, data=st.data(), by=st.sampled_from(DIFF_MEASURES))
def test_diff_property(tmp_path_factory, docs, data, by):
    """Any cut of any corpus: the partition is exact, and the report does not depend on the
    row-range size."""
    cut = data.draw(st.integers(0, len(docs)), label="cut")
    root = tmp_path_factory.mktemp("prop")
    a, b, ab = build_halves(root, docs[:cut], docs[cut:])
    kw = {"by": by, "top_k": 5, "min_degree": 1, "token": "a" if "a" in " ".join(docs).split()
          else None}
    whole = diff_indexes(a, b, **kw)
    ranged = diff_indexes(a, b, range_entries=data.draw(st.integers(1, 12), label="range"), **kw)
    assert ranged == whole
    s = whole.pairs
    ref_a, ref_b = TextReference(docs[:cut]), TextReference(docs[cut:])
    assert s.only_a + s.only_b + s.both == open_index(ab).num_pairs
    assert s.both == len(ref_a.pairs.keys() & ref_b.pairs.keys())


@pytest.mark.parametrize("by", DIFF_MEASURES)
def test_changed_pairs_and_tokens_match_reference(halves, by):
    ab = open_index(halves["ab"])
    texts = list(ab.token_texts)
    uid = {t: i for i, t in enumerate(texts)}
    ref_a, ref_b = TextReference(DOCS_A), TextReference(DOCS_B)
    k, m = 6, 2 if by == "count" else 1
    d = diff_indexes(halves["a"], halves["b"], by=by, top_k=k, min_count=m, min_degree=2,
                     token="cat")
    # pairs: score in each corpus, delta = B - A, by |delta| desc then (a, b)
    if by == "count":
        pool = [p for p in ref_a.pairs.keys() | ref_b.pairs.keys()
                if max(ref_a.pairs[p], ref_b.pairs[p]) >= m]
    else:
        pool = [p for p in ref_a.pairs.keys() & ref_b.pairs.keys()
                if min(ref_a.pairs[p], ref_b.pairs[p]) >= m]
    want = {p: ref_b.score(by, p) - ref_a.score(by, p) for p in pool}
    want = {p: x for p, x in want.items() if abs(x) > 1e-12}
    mags = sorted((abs(x) for x in want.values()), reverse=True)
    assert len(d.changed_pairs) == min(k, len(want))
    for c in d.changed_pairs:
        p = frozenset((c.a_text, c.b_text))
        assert c.a < c.b and (texts[c.a], texts[c.b]) == (c.a_text, c.b_text)
        assert (c.count_a, c.count_b) == (ref_a.pairs[p], ref_b.pairs[p])
        assert math.isclose(c.delta, want[p], rel_tol=1e-9, abs_tol=1e-12)
    got_order = [(-abs(c.delta), c.a, c.b) for c in d.changed_pairs]
    assert got_order == sorted(got_order)
    assert math.isclose(abs(d.changed_pairs[-1].delta), mags[k - 1], rel_tol=1e-9)
    # tokens: 1 - Jaccard of neighbour sets (met >= m times), degree >= 2 in both
    rows = []
    for t in ref_a.w.keys() & ref_b.w.keys():
        na, nb = ref_a.neighbours(t, m), ref_b.neighbours(t, m)
        if min(len(na), len(nb)) >= 2 and na != nb:
            rows.append((-(1 - len(na & nb) / len(na | nb)), -len(na | nb), uid[t]))
    assert [(-c.distance, -(c.degree_a + c.degree_b - c.shared), c.token)
            for c in d.changed_tokens] == sorted(rows)[:k]
    every = diff_indexes(halves["a"], halves["b"], by=by, top_k=1000, min_count=m, min_degree=2)
    assert [(-c.distance, -(c.degree_a + c.degree_b - c.shared), c.token)
            for c in every.changed_tokens] == sorted(rows)
    ties = Counter(r[0] for r in rows)
    assert any(len({r[1] for r in rows if r[0] == x}) > 1 for x in ties)  # ties to break
    # one token: gained and lost neighbours
    na, nb = ref_a.neighbours("cat", m), ref_b.neighbours("cat", m)
    tok = d.token
    assert tok.text == "cat" and (tok.degree_a, tok.degree_b) == (len(na), len(nb))
    assert [g.text for g in tok.gained] == sorted(
        nb - na, key=lambda t: (-ref_b.pairs[frozenset(("cat", t))], uid[t]))[:k]
    assert [g.text for g in tok.lost] == sorted(
        na - nb, key=lambda t: (-ref_a.pairs[frozenset(("cat", t))], uid[t]))[:k]
    for c in tok.changed:
        p = frozenset(("cat", c.text))
        assert math.isclose(c.delta, ref_b.score(by, p) - ref_a.score(by, p), rel_tol=1e-9)


@pytest.mark.parametrize("by", DIFF_MEASURES)
def test_diff_with_itself_is_empty(halves, by):
    for key in ("a", "qa"):
        index = open_index(halves[key])
        d = diff_indexes(index, index, by=by, min_degree=1, token="cat" if key == "a" else " cat")
        assert d.is_empty
        assert d.pairs.both == index.num_pairs and d.pairs.both_count_a == d.pairs.both_count_b
        assert d.token.degree_a == d.token.degree_b > 0


def test_rates_not_raw_counts(halves, tmp_path):
    """The corpus twice: every count and window doubles, so no rate or pmi changes."""
    twice = merge_indexes([halves["a"], halves["a"]], tmp_path / "aa.cooc",
                          RunOptions(quiet=True)).path
    for by in DIFF_MEASURES:
        d = diff_indexes(halves["a"], twice, by=by, min_degree=1, token="cat")
        assert d.is_empty, by
        assert d.pairs.both_count_b == 2 * d.pairs.both_count_a
        assert d.windows_b == 2 * d.windows_a


def test_incompatible_indexes_and_bad_arguments(halves, capsys):
    with pytest.raises(CoocError, match=r"cannot diff .*config.window.context_length differs "
                                        r"\(4 vs 5\)"):
        diff_indexes(halves["a"], halves["a5"])
    with pytest.raises(CoocError, match="config.tokenizer differs"):
        diff_indexes(halves["a"], halves["qb"])
    for argv, message in [
        ([halves["a"], halves["a5"]], "context_length differs (4 vs 5)"),
        ([halves["qa"], halves["b"]], "config.tokenizer differs ('qwen' vs 'whitespace')"),
        ([halves["a"], halves["a"].parent / "missing.cooc"], "not a cooc index"),
        ([halves["a"], halves["b"], "--token", "unicorn"], "'unicorn' is not a word"),
        ([halves["a"], halves["b"], "--top-k", "0"], "top_k must be an integer >= 1"),
        ([halves["a"], halves["b"], "--min-count", "0"], "min_count must be"),
    ]:
        assert main(["diff", *map(str, argv)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("cooc: error: ") and err.count("\n") == 1 and message in err
    with pytest.raises(CoocError, match="unknown measure 'llr' for diff"):
        diff_indexes(halves["a"], halves["b"], by="llr")


def _no_nan(text):
    raise ValueError(f"{text} in JSON")


def test_cli_json_and_text(halves, capsys):
    a, b = str(halves["a"]), str(halves["b"])
    assert main(["diff", a, b, "--json", "--token", "cat", "--by", "pmi", "--min-degree", "2",
                 "-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=_no_nan)  # strict JSON
    want = diff_indexes(a, b, by="pmi", top_k=3, min_degree=2, token="cat").to_dict()
    assert out == json.loads(json.dumps(want))
    assert set(out) >= {"pairs", "tokens", "changed_pairs", "changed_tokens", "token"}
    assert out["token"]["text"] == "cat" and len(out["changed_pairs"]) == 3
    assert any(g["score_a"] is None for g in out["token"]["gained"])  # no pmi where unmet
    assert main(["diff", a, b, "--token", "#3"]) == 0
    text = capsys.readouterr().out
    assert "only in A" in text and "gained in B" in text and "neighbourhoods changed" in text
    assert main(["diff", a, a]) == 0
    assert "(none)" in capsys.readouterr().out
