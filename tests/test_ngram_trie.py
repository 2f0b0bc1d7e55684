"""The n-gram count trie (format 2) against slow, obviously-correct references: a sorted list
of every n-gram with its count (lookups, nodes, continuations, whole levels), plain-Python
bit codes (Elias-Fano tables of positions, count codes), and damaged or old folders."""

from __future__ import annotations

import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from manifest_edit import resealed

from cooc.errors import CoocError, IndexFormatError
from cooc.kernels.succinct import count_code as cc
from cooc.kernels.succinct import elias_fano as ef
from cooc.ngram import NgramConfig, count_ngrams_from_arrays, open_ngrams
from cooc.ngram.google import export_google, import_google
from cooc.ngram.writer import NgramWriter
from cooc.options import RunOptions

# -- the reference ----------------------------------------------------------------------------


class Reference:
    """Every n-gram (tuples of ids) with its count, and what an index must answer, computed
    the slow way: sorted lists and dicts."""

    def __init__(self, counts: dict[tuple[int, ...], int], order: int):
        self.counts = dict(counts)
        self.order = order
        self.levels = {k: sorted(g for g in counts if len(g) == k) for k in range(1, order + 1)}
        self.node = {g: (g[0] if len(g) == 1 else i)
                     for k, grams in self.levels.items() for i, g in enumerate(grams)}

    def lookup(self, gram) -> int:
        return self.counts.get(tuple(gram), 0)

    def continuations(self, ctx) -> list[tuple[int, int]]:
        ctx = tuple(ctx)
        return sorted((g[-1], c) for g, c in self.counts.items()
                      if len(g) == len(ctx) + 1 and g[:-1] == ctx)

    def level_arrays(self, k: int) -> tuple[list[int], list[int], list[int]]:
        grams = self.levels[k]
        return ([self.node[g[:-1]] for g in grams], [g[-1] for g in grams],
                [self.counts[g] for g in grams])


def substring_counts(docs, order, rng=None, big=False) -> dict[tuple[int, ...], int]:
    """Every k-gram of the documents counted; with `big`, random counts up to 2**63 - 1
    instead (an index keeps any counts, as long as every prefix and suffix is present)."""
    c = collections.Counter()
    for d in docs:
        for k in range(1, order + 1):
            for i in range(len(d) - k + 1):
                c[tuple(d[i : i + k])] += 1
    if big:
        tops = [2, 1 << 20, 1 << 40, (1 << 63) - 1]
        c = {g: int(rng.integers(1, tops[int(rng.integers(0, 4))], endpoint=True)) for g in c}
    return dict(c)


def write_index(path: Path, counts: dict, order: int, vocab: int) -> None:
    """An index of exactly these counts, through the writer's streaming input contract."""
    ref = Reference(counts, order)
    with NgramWriter(path, order, vocab, [f"t{i}" for i in range(vocab)], {"markers": False}) as w:
        for g in ref.levels[1]:
            w.unigrams[g[0]] = counts[g]
        for k in range(2, order + 1):
            rows, toks, cnts = ref.level_arrays(k)
            for lo in range(0, len(rows), 7):  # in pieces, as a counter streams them
                w.add_level(k, np.array(rows[lo : lo + 7], np.int64),
                            np.array(toks[lo : lo + 7], np.uint32),
                            np.array(cnts[lo : lo + 7], np.uint64))
        w.finish()


def check_against(idx, ref: Reference, rng) -> None:
    """Every answer of the index equals the reference's (present and absent n-grams)."""
    v = idx.vocab_size
    for k in range(1, ref.order + 1):
        grams = ref.levels[k]
        if grams:
            q = np.array(grams, np.int64)
            assert idx.lookup_many(q).tolist() == [ref.counts[g] for g in grams]
            for g in grams[:: max(1, len(grams) // 20)]:
                assert idx.node(g) == ref.node[g]
        absent = rng.integers(0, v, (300, k))
        assert idx.lookup_many(absent).tolist() == [ref.lookup(g) for g in absent.tolist()]
        if k >= 2:
            rows, toks, cnts = idx.level_arrays(k)
            assert (rows.tolist(), toks.tolist(), cnts.tolist()) == ref.level_arrays(k)
            grams_k, counts_k = idx.iter_grams(k)
            assert [tuple(g) for g in grams_k.tolist()] == grams
            assert counts_k.tolist() == [ref.counts[g] for g in grams]
    for k in range(1, ref.order):
        contexts = ref.levels[k][:: max(1, len(ref.levels[k]) // 15)]
        contexts += [tuple(int(t) for t in rng.integers(0, v, k)) for _ in range(5)]
        for ctx in contexts:
            ids, counts = idx.continuations(ctx)
            assert list(zip(ids.tolist(), counts.tolist(), strict=True)) == ref.continuations(ctx)
    ids, counts = idx.continuations([])
    assert list(zip(ids.tolist(), counts.tolist(), strict=True)) == sorted(
        (g[0], c) for g, c in ref.counts.items() if len(g) == 1)


def test_reference_check_can_fail(tmp_path):
    # the comparison must notice a wrong count, a missing n-gram and a wrong continuation
    docs = [[0, 1, 2, 1, 0, 1, 2]]
    counts = substring_counts(docs, 3)
    write_index(tmp_path / "x.ngrams", counts, 3, 3)
    idx = open_ngrams(tmp_path / "x.ngrams")
    rng = np.random.default_rng(0)
    check_against(idx, Reference(counts, 3), rng)
    for bad in ({**counts, (0, 1, 2): 7}, {g: c for g, c in counts.items() if g != (2, 1, 0)},
                {**counts, (1, 2, 2): 1}):
        with pytest.raises(AssertionError):
            check_against(idx, Reference(bad, 3), rng)


# vocabularies at and around powers of two; a document's tokens are spread over the whole
# vocabulary (the smallest and largest ids among them)
VOCABS = [1, 2, 3, 7, 8, 9, 255, 256, 257, 65_535, 65_536, 65_537, 151_646]


def _docs(data, vocab: int, docs_max: int = 8, len_max: int = 30):
    alphabet = sorted({0, 1 % vocab, vocab // 2, max(0, vocab - 2), vocab - 1, 3 % vocab})
    return data.draw(st.lists(st.lists(st.sampled_from(alphabet), max_size=len_max),
                              min_size=1, max_size=docs_max))


@settings(max_examples=40)
@given(data=st.data(), vocab=st.sampled_from(VOCABS), order=st.integers(1, 5),
       markers=st.booleans())
def test_counted_index_equals_reference(data, vocab, order, markers):
    docs = _docs(data, vocab)
    v = vocab + (2 if markers else 0)
    with tempfile.TemporaryDirectory() as tmp:
        tokens = np.array([t for d in docs for t in d], np.uint32)
        lens = np.array([len(d) for d in docs], np.int64)
        count_ngrams_from_arrays([(tokens, lens)], vocab, Path(tmp) / "x.ngrams",
                                 NgramConfig(order=order, markers=markers),
                                 RunOptions(quiet=True, num_proc=1))
        idx = open_ngrams(Path(tmp) / "x.ngrams")
        marked = [[vocab, *d, vocab + 1] if markers else d for d in docs]
        ref = Reference(substring_counts(marked, order), order)
        assert idx.vocab_size == v
        check_against(idx, ref, np.random.default_rng(len(docs)))
        idx.verify()


@settings(max_examples=25)
@given(data=st.data(), vocab=st.sampled_from(VOCABS[2:]), order=st.integers(2, 5),
       seed=st.integers(0, 2**32 - 1))
def test_huge_counts_and_writer_pieces(data, vocab, order, seed):
    """Counts up to 2**63 - 1 (2**40 and beyond among them) through `NgramWriter` directly."""
    docs = _docs(data, vocab, 6, 40)
    rng = np.random.default_rng(seed)
    counts = substring_counts(docs, order, rng, big=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_index(Path(tmp) / "x.ngrams", counts, order, vocab)
        idx = open_ngrams(Path(tmp) / "x.ngrams")
        check_against(idx, Reference(counts, order), rng)
        idx.verify()


@pytest.mark.parametrize("docs, order, vocab", [
    ([[5, 6, 7]], 3, 8),  # one gram in levels 2..3 (two in 2), one row
    ([[0]], 3, 1),  # V = 1: one unigram, levels 2 and 3 empty
    ([[0, 0, 0, 0]], 4, 1),  # V = 1: one gram per level
    ([[3], [3, 4]], 5, 5),  # levels 3..5 empty
    ([[]], 2, 4),  # nothing at all
])
def test_tiny_levels(tmp_path, docs, order, vocab):
    tokens = np.array([t for d in docs for t in d], np.uint32)
    lens = np.array([len(d) for d in docs], np.int64)
    count_ngrams_from_arrays([(tokens, lens)], vocab, tmp_path / "x.ngrams",
                             NgramConfig(order=order), RunOptions(quiet=True))
    idx = open_ngrams(tmp_path / "x.ngrams")
    check_against(idx, Reference(substring_counts(docs, order), order), np.random.default_rng(0))
    idx.verify()
    s = idx.stats()
    files = sum(f["bytes"] for f in idx.manifest["files"] if f["dtype"] is not None)
    assert s["bytes"] == files  # the components add up to the array files


def test_long_rows_and_sparse_blocks(tmp_path):
    """Rows of thousands of entries next to rows of one (as frequent and rare tokens make
    them): select runs through tables of positions and bucket searches; the batch goes
    through the sorted path (4096+ lookups) and threads."""
    rng = np.random.default_rng(5)
    vocab = 5000
    docs = [rng.integers(0, vocab, 200).tolist() for _ in range(40)]
    docs += [[7, int(t)] for t in rng.integers(0, vocab, 3000)]  # token 7: a long row
    docs += [[int(t), 9, int(u)] for t, u in rng.integers(0, vocab, (2000, 2))]
    counts = substring_counts(docs, 3)
    write_index(tmp_path / "x.ngrams", counts, 3, vocab)
    idx = open_ngrams(tmp_path / "x.ngrams")
    assert int(idx.lev[2, 16] + idx.lev[2, 17]) > 0  # some blocks have tables
    ref = Reference(counts, 3)
    check_against(idx, ref, rng)
    q = np.array(ref.levels[3] + [tuple(g) for g in rng.integers(0, vocab, (5000, 3)).tolist()])
    want = [ref.lookup(g) for g in q.tolist()]
    assert idx.lookup_many(q).tolist() == want
    assert idx.lookup_many(q, num_threads=2).tolist() == want


# -- bit codes --------------------------------------------------------------------------------


def _ef_words(values: np.ndarray, span: int):
    """(words with tables, words without, descriptor) of an Elias-Fano sequence written in
    three parts, with tables of positions for blocks longer than `span` bits."""
    n = len(values)
    u = int(values[-1]) if n else 0
    lb = int(ef.ef_low_bits(n, u))
    lo, hi, sel, hb = (int(x) for x in ef.ef_words(n, u, lb))
    z = int(ef.ef_zero_samples(n, u, lb))
    size = lo + hi + sel + z
    words = np.zeros(size, np.uint64)
    first = np.zeros(2, np.int64)
    ntab = np.zeros(1, np.int64)
    tabs = np.zeros(0, np.uint64)
    cuts = [0, n // 3, n // 2, n]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        tabs = ef.ef_write_part(values[a:b], a, values[a - 1] if a else 0, n, lb, words, 0, lo,
                                lo + hi, lo + hi + sel, span, first, ntab, tabs)
    tabs = ef.ef_write_end(n, values[-1] if n else 0, lb, words, lo, lo + hi + sel, hb, span,
                           first, ntab, tabs)
    ef.ef_place_tables(words, lo + hi, sel, size)
    ef.ef_place_tables(words, lo + hi + sel, z, size)
    words = np.concatenate([words, tabs[: int(ntab[0]) * ef.TABLE_WORDS], np.zeros(1, np.uint64)])
    plain = np.zeros(size + 1, np.uint64)
    ef.ef_write(values, lb, plain, 0, lo, lo + hi, lo + hi + sel)
    return words, plain, np.array([n, lb, 0, lo, lo + hi, hb, lo + hi + sel], np.int64)


@settings(max_examples=60)
@given(gaps=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=2500),
       spread=st.integers(0, 4), span=st.sampled_from([0, 64, 700, 4096]))
def test_elias_fano_tables_of_positions(gaps, spread, span):
    """select1 and select0 through tables equal the bit positions counted in Python."""
    values = np.cumsum(np.array(gaps, np.int64) >> (5 * spread))
    words, plain, desc = _ef_words(values, span)
    lb = int(desc[1])
    ones = (values >> lb) + np.arange(len(values))
    high = np.zeros(int(desc[5]), bool)
    high[ones] = True
    zeros = np.flatnonzero(~high)
    for i in range(0, len(values), max(1, len(values) // 300)):
        assert ef.ef_select1(words, desc, i) == ones[i] == ef.ef_select1(plain, desc, i)
        assert ef.ef_access(words, desc, i) == values[i]
    for i in range(0, len(zeros), max(1, len(zeros) // 300)):
        assert ef.ef_select0(words, desc, i) == zeros[i] == ef.ef_select0(plain, desc, i)
    dec, ok = ef.ef_decode(words, desc)
    assert ok and (dec == values).all()
    if span == 0 and len(values) > 1:
        assert words[int(desc[4])] & ef.SPARSE  # every block has its table
    assert (words[: int(desc[4])] == plain[: int(desc[4])]).all()  # tables change samples only


def _rice_reference(counts: list[int]) -> list[int]:
    """Bits of each block of 128 counts, Rice-coded with the best k, in plain Python."""
    out = []
    for s in range(0, len(counts), cc.BLOCK):
        x = [c - 1 for c in counts[s : s + cc.BLOCK]]
        out.append(min(len(x) * (k + 1) + sum(v >> k for v in x) for k in range(64))
                   + cc.HEADER_BITS)
    return out


@settings(max_examples=60)
@given(st.lists(st.one_of(st.integers(1, 3), st.integers(1, 1 << 40),
                          st.integers(1, (1 << 63) - 1)), min_size=1, max_size=20_000),
       st.integers(1, 3))
def test_count_code_equals_its_input(counts, pieces):
    c = np.array(counts, np.uint64)
    n = len(c)
    cut = cc.SUPER_VALUES * pieces
    words, recs = [], []
    for lo in range(0, n, cut):  # in slices of whole superblocks, rebased: the same code
        w, r = cc.encode(c[lo : lo + cut], 0)
        cc.rebase(r, sum(len(x) for x in words))
        words.append(w)
        recs.append(r)
    w1, r1 = cc.encode(c, 0)
    words = np.concatenate(words + [np.zeros(1, np.uint64)])
    recs = np.concatenate(recs)
    assert (words[:-1] == w1).all() and (recs == r1).all()
    out = np.empty(n, np.int64)
    assert cc.decode(words, recs, 0, n, 0, n, out) and cc.check_records(recs, 0, n)
    assert out.astype(np.uint64).tolist() == counts
    for e in range(0, n, max(1, n // 200)):
        assert cc.count_at(words, recs, 0, n, e) == counts[e]
    # each block costs the best Rice size (the encoder walks downhill in k)
    nb = (n + cc.BLOCK - 1) // cc.BLOCK
    starts = [int(cc.block_start(recs, 0, b)) for b in range(nb)]
    ref = _rice_reference(counts)
    for b in range(nb - 1):
        if (b + 1) % cc.SUPER:
            assert starts[b + 1] - starts[b] == ref[b]


def test_count_code_detects_damage():
    rng = np.random.default_rng(1)
    c = rng.geometric(0.5, 5000).astype(np.uint64)
    words, recs = cc.encode(c, 0)
    words = np.concatenate([words, np.zeros(1, np.uint64)])
    out = np.empty(len(c), np.int64)
    bad = 0
    for i in range(0, len(words) - 1, 3):
        w = words.copy()
        w[i] ^= np.uint64(1) << np.uint64(int(rng.integers(0, 64)))
        ok = cc.decode(w, recs, 0, len(c), 0, len(c), out)
        bad += (not ok) or (out.astype(np.uint64) != c).any()
    assert bad == len(range(0, len(words) - 1, 3))  # every flip shows


# -- folders ----------------------------------------------------------------------------------


def _small(tmp_path) -> Path:
    rng = np.random.default_rng(2)
    docs = [rng.integers(0, 60, rng.integers(1, 80)).tolist() for _ in range(30)]
    write_index(tmp_path / "s.ngrams", substring_counts(docs, 4), 4, 60)
    return tmp_path / "s.ngrams"


def test_version_1_folder_says_rebuild(tmp_path):
    path = _small(tmp_path)
    m = json.loads((path / "manifest.json").read_text())
    m["format_version"] = 1
    (path / "manifest.json").write_text(json.dumps(resealed(m)))
    with pytest.raises(CoocError, match="format version 1.*rebuild it with `cooc ngram count`"):
        open_ngrams(path)


@pytest.mark.parametrize("file", ["trie.u64", "counts.u64", "count_ptr.u32"])
def test_verify_names_each_damaged_file(tmp_path, file):
    path = _small(tmp_path)
    open_ngrams(path).verify()
    p = path / file
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 0x10
    p.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match=file):
        open_ngrams(path).verify()


def test_damaged_level_table_is_refused(tmp_path):
    path = _small(tmp_path)
    m = json.loads((path / "manifest.json").read_text())
    m["levels"][3][3] += 10_000  # level 3 ptr's high bits past the end of trie.u64
    (path / "manifest.json").write_text(json.dumps(resealed(m)))
    with pytest.raises(IndexFormatError, match="level table"):
        open_ngrams(path)


def test_google_import_needs_suffixes(tmp_path):
    g = tmp_path / "g"
    g.mkdir()
    (g / "1-grams").write_text("3\na\t3\nb\t2\nc\t1\n", encoding="utf-8")
    (g / "2-grams").write_text("2\na b\t2\nb c\t1\n", encoding="utf-8")
    (g / "3-grams").write_text("1\na b a\t1\n", encoding="utf-8")  # "b a" is no 2-gram
    with pytest.raises(CoocError, match="'a' 'b' 'a'.*no 2-gram suffix"):
        import_google(g, tmp_path / "out.ngrams")
    assert not (tmp_path / "out.ngrams").exists()
    assert not list(tmp_path.glob("out.ngrams.tmp-*"))
    (g / "3-grams").write_text("1\na b c\t1\n", encoding="utf-8")
    import_google(g, tmp_path / "out.ngrams")
    idx = open_ngrams(tmp_path / "out.ngrams")
    assert idx.lookup([0, 1, 2]) == 1 and idx.continuations([0, 1])[0].tolist() == [2]
    export_google(idx, tmp_path / "again")
    assert (tmp_path / "again" / "3-grams").read_text(encoding="utf-8") == "1\na b c\t1\n"


def test_writer_refuses_unordered_levels(tmp_path):
    with NgramWriter(tmp_path / "x.ngrams", 2, 4, list("abcd"), {}) as w:
        w.unigrams[:] = 1
        w.add_level(2, np.array([1, 0]), np.array([0, 1]), np.array([1, 1]))
        with pytest.raises(ValueError, match="rows decrease"):
            w.finish()
    assert not (tmp_path / "x.ngrams").exists()
    with NgramWriter(tmp_path / "x.ngrams", 2, 4, list("abcd"), {}) as w:
        with pytest.raises(CoocError, match="counts must be in"):
            w.add_level(2, np.array([0]), np.array([1]), np.array([0]))
