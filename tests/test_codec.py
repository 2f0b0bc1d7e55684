"""The block codec's kernels against plain-Python references (no files involved)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cooc.cooccur import format
from cooc.kernels import codec

B = format.BLOCK_SIZE
MAX_COUNT = 2**32 - 1


# -- references and helpers -------------------------------------------------------------------


def to_csr(rows: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    cols = np.array([c for r in rows for c, _ in r], dtype=np.uint32)
    counts = np.array([n for r in rows for _, n in r], dtype=np.uint32)
    return ptr, cols, counts


def from_csr(ptr, cols, counts) -> list[list[tuple[int, int]]]:
    return [list(zip(cols[ptr[r]:ptr[r + 1]].tolist(), counts[ptr[r]:ptr[r + 1]].tolist(),
                     strict=True)) for r in range(len(ptr) - 1)]


def assert_same_rows(got, want) -> None:
    """Row-by-row comparison that names the first differing row."""
    assert len(got) == len(want), f"{len(got)} rows, expected {len(want)}"
    for r, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {r}: {g[:8]}... != {w[:8]}..."


def encode(rows, vocab_size):
    """Encode rows; returns the pieces the reader kernels take."""
    ptr, cols, counts = to_csr(rows)
    words, row_word, skip, bits = codec.encode_rows(ptr, cols, counts, B)
    words = np.concatenate([words, np.zeros(1, np.uint64)])  # the guard word of data.bin
    deg = np.diff(ptr)
    blk_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    blk_ptr[1:] = np.cumsum((deg + B - 1) // B)
    return ptr, row_word, blk_ptr, skip, words, bits


def decode(enc, vocab_size):
    ptr, row_word, blk_ptr, skip, words, _ = enc
    n = len(ptr) - 1
    p, r, c, bad = codec.decode_rows(0, n, ptr, row_word, blk_ptr, skip, words, B, vocab_size)
    assert bad == -1
    return from_csr(p, r, c)


def lookup(enc, perm, a, b):
    ptr, row_word, blk_ptr, skip, words, _ = enc
    rows = codec.row_table(ptr, blk_ptr, row_word)
    return codec.pair_counts(np.asarray(a, np.int64), np.asarray(b, np.int64), rows, skip,
                             words, perm, B)


# -- strategies ---------------------------------------------------------------------------------

COUNT_MODES = ("ones", "small", "huge", "mixed")


def draw_counts(rng, n, mode):
    if mode == "ones":
        return np.ones(n, np.int64)
    if mode == "small":
        return rng.geometric(0.4, n)
    if mode == "huge":
        return rng.integers(1, MAX_COUNT, n, endpoint=True)
    c = rng.geometric(0.3, n)
    c[rng.random(n) < 0.05] = MAX_COUNT
    return c


@st.composite
def row_sets(draw):
    """Rows of strictly increasing ranks < V with counts: sparse, dense, runs, empty, long."""
    vocab = draw(st.sampled_from([1, 2, 5, 130, 300, 5000, 1 << 20, format.MAX_VOCAB]))
    nrows = draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(nrows):
        kind = draw(st.sampled_from(["empty", "single", "sparse", "dense", "run", "long"]))
        cmode = draw(st.sampled_from(COUNT_MODES))
        if kind == "empty":
            ids = np.zeros(0, np.int64)
        elif kind == "single":
            ids = rng.integers(0, vocab, 1)
        elif kind == "run":
            n = int(rng.integers(1, min(vocab, 400) + 1))
            start = int(rng.integers(0, vocab - n + 1))
            ids = np.arange(start, start + n)
        else:
            n = {"sparse": 40, "dense": 300, "long": 1000}[kind]
            span = vocab if kind != "dense" else min(vocab, 400)
            ids = np.unique(rng.integers(0, span, min(n, span)))
        counts = draw_counts(rng, ids.shape[0], cmode)
        rows.append(list(zip(ids.tolist(), counts.tolist(), strict=True)))
    return vocab, rows


# -- tests ----------------------------------------------------------------------------------------


def test_reference_comparison_can_fail():
    """The row comparison must catch a codec that is off by one in a single count."""
    rows = [[(0, 1), (5, 7)], [(3, 2)]]
    enc = encode(rows, 10)
    got = decode(enc, 10)
    got[0][1] = (5, 8)
    with pytest.raises(AssertionError, match="row 0"):
        assert_same_rows(got, rows)


@given(row_sets())
def test_encode_decode_round_trip(case):
    vocab, rows = case
    enc = encode(rows, vocab)
    assert_same_rows(decode(enc, vocab), rows)
    problem, r, e = codec.verify_rows(0, len(rows), enc[0], enc[1], enc[2], enc[3], enc[4], B,
                                      vocab)
    assert problem == codec.OK, (problem, r, e)


@given(row_sets(), st.integers(0, 2**32 - 1))
def test_pair_counts_match_dict(case, seed):
    vocab, rows = case
    if not rows:
        return
    enc = encode(rows, vocab)
    ref = {(a, b): c for a, row in enumerate(rows) for b, c in row}
    rng = np.random.default_rng(seed)
    present = list(ref)
    qa = rng.integers(0, len(rows), 200).tolist()
    qb = rng.integers(0, vocab, 200).tolist()
    if present:
        for i in rng.integers(0, len(present), 200):
            qa.append(present[i][0])
            qb.append(present[i][1])
            # neighbours of present ids: just below and above, absent or present
            qa += [present[i][0]] * 2
            qb += [max(present[i][1] - 1, 0), min(present[i][1] + 1, vocab - 1)]
    perm = np.arange(max(qb) + 1, dtype=np.uint32)  # identity: rows are in rank space already
    got = lookup(enc, perm, qa, qb)
    want = [ref.get((a, b), 0) for a, b in zip(qa, qb, strict=True)]
    assert got.tolist() == want


def test_block_boundaries_and_extreme_values():
    vocab = format.MAX_VOCAB
    rows = [
        [(i, MAX_COUNT if i % 7 == 0 else 1) for i in range(0, 3 * B + 1)],  # full blocks + 1
        [(vocab - 1, MAX_COUNT)],
        [(0, 1), (vocab - 1, 2)],  # widest possible gap
        [(i * 1000, i + 1) for i in range(B)],  # exactly one block
        [],
        [(i, 2**31) for i in range(B + 1)],
    ]
    enc = encode(rows, vocab)
    assert_same_rows(decode(enc, vocab), rows)
    perm = np.arange(vocab, dtype=np.uint32)  # 128 MiB, once
    qa = [a for a, row in enumerate(rows) for _ in row] + [0, 1, 2, 4]
    qb = [b for row in rows for b, _ in row] + [3 * B + 1, 0, 1, 0]
    want = [c for row in rows for _, c in row] + [0, 0, 0, 0]
    assert lookup(enc, perm, qa, qb).tolist() == want


@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_permute_rows_matches_sorted(vocab, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(vocab).astype(np.uint32)
    rows = []
    for n in (0, 1, 5, 31, 32, 33, min(vocab, 200), vocab):  # both the sort and bitmap paths
        ids = np.sort(rng.choice(vocab, min(n, vocab), replace=False))
        rows.append(list(zip(ids.tolist(), rng.integers(1, 100, ids.shape[0]).tolist(),
                             strict=True)))
    ptr, cols, counts = to_csr(rows)
    c2, n2, bad = codec.permute_rows(ptr, cols, counts, perm, vocab)
    assert bad == -1
    want = [sorted((int(perm[c]), n) for c, n in row) for row in rows]
    assert_same_rows(from_csr(ptr, c2, n2), want)


def test_permute_rows_flags_out_of_range_columns():
    ptr, cols, counts = to_csr([[(0, 1)], [(1, 1), (9, 1)]])
    _, _, bad = codec.permute_rows(ptr, cols, counts, np.arange(5, dtype=np.uint32), 5)
    assert bad == 1


@pytest.mark.parametrize(
    "rows, problem, where",
    [
        ([[(0, 1), (7, 1)]], codec.COL_OUT_OF_RANGE, (0, 1)),
        ([[(1, 1)], [(3, 1), (3, 2)]], codec.COLS_NOT_INCREASING, (1, 1)),
        ([[(2, 1), (1, 1)]], codec.COLS_NOT_INCREASING, (0, 1)),
        ([[], [(1, 0)]], codec.COUNT_ZERO, (1, 0)),
        ([[(0, 1)], [(1, 5)]], codec.OK, (0, 0)),
    ],
)
def test_check_rows(rows, problem, where):
    ptr, cols, counts = to_csr(rows)
    assert tuple(codec.check_rows(ptr, cols, counts, 5)) == (problem, *where)


def test_sym_hash_detects_one_changed_count():
    rows = [[(1, 3), (2, 1)], [(0, 3), (1, 4)], [(0, 1)]]  # (1, 1) is a diagonal entry
    ptr, cols, counts = to_csr(rows)
    h_row = np.zeros(3, np.uint64)
    h_col = np.zeros(3, np.uint64)
    assert codec.sym_hash_rows(0, ptr, cols, counts, h_row, h_col) == 1
    assert np.array_equal(h_row, h_col)
    counts[0] = 2  # count(0, 1) = 2 but count(1, 0) = 3
    h_row[:] = 0
    h_col[:] = 0
    codec.sym_hash_rows(0, ptr, cols, counts, h_row, h_col)
    assert np.flatnonzero(h_row != h_col).tolist() == [0, 1]


@given(row_sets(), st.integers(0, 2**32 - 1))
def test_corrupt_words_never_crash(case, seed):
    """Random bit flips give garbage or an error flag, never an out-of-bounds access."""
    vocab, rows = case
    if not rows:
        return
    ptr, row_word, blk_ptr, skip, words, _ = encode(rows, vocab)
    rng = np.random.default_rng(seed)
    words = words.copy()
    for _ in range(8):
        i = int(rng.integers(0, words.shape[0]))
        words[i] ^= np.uint64(1) << np.uint64(rng.integers(0, 64))
    skip = skip.copy()
    if skip.shape[0]:
        skip[rng.integers(0, skip.shape[0]), 1] = rng.integers(0, 2**32, dtype=np.uint64)
    n = len(rows)
    perm = np.arange(min(vocab, 1 << 16), dtype=np.uint32)
    p, r, c, _ = codec.decode_rows(0, n, ptr, row_word, blk_ptr, skip, words, B, vocab)
    codec.permute_rows(p, r, c, perm, perm.shape[0])
    codec.verify_rows(0, n, ptr, row_word, blk_ptr, skip, words, B, vocab)
    rows_tab = codec.row_table(ptr, blk_ptr, row_word)
    qa = rng.integers(0, n, 300)
    qb = rng.integers(0, perm.shape[0], 300)
    codec.pair_counts(qa, qb, rows_tab, skip, words, perm, B)


def test_payload_bits_add_up():
    rows = [[(i, 1) for i in range(300)], [(5, 100)]]
    ptr, row_word, blk_ptr, skip, words, bits = encode(rows, 400)
    assert bits[0] + bits[1] <= 64 * row_word[-1] < bits[0] + bits[1] + 64 * len(rows)
    # 300 consecutive ids and counts all 1 need only the block headers
    # 300 consecutive ids and counts all 1 need only the block headers (13 + 6 bits); the
    # lone count 100 is 99 in 7 bits
    assert bits[0] == 13 * 3 and bits[1] == 6 * 3 + 6 + 7
