"""Exact-size sums, the mirror and compressed spill runs, against plain dict references."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import csr_to_counter

from cooc.cooccur.build.csr import Csr, Mirrored, concat_rows, merge2, sum_csrs
from cooc.cooccur.build.runs import RunFormatError, RunWriter, open_run

# a sparse matrix as {(row, col): count}; counts up to 2**32-1 to cover saturation
cells = st.dictionaries(st.tuples(st.integers(0, 40), st.integers(0, 40)),
                        st.integers(1, 2**32 - 1), max_size=300)


def _csr(d: dict, n: int = 41, upper: bool = False) -> Csr:
    items = sorted((r, c, v) for (r, c), v in d.items() if not upper or c >= r)
    ptr = np.zeros(n + 1, np.int64)
    for r, _, _ in items:
        ptr[r + 1] += 1
    return Csr(np.cumsum(ptr), np.array([c for _, c, _ in items], np.uint32),
               np.array([v for _, _, v in items], np.uint32))


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(cells, min_size=1, max_size=5), threads=st.sampled_from([1, 2, 3]))
def test_sum_csrs_matches_dict_sum(parts, threads):
    want = Counter()
    for d in parts:
        for k, v in d.items():
            want[k] = min(want[k] + v, 2**32 - 1)
    with ThreadPoolExecutor(threads) as pool:
        got = sum_csrs([_csr(d) for d in parts], pool, threads)
    assert csr_to_counter(got.row_ptr, got.cols, got.counts) == +want
    assert np.all(np.diff(got.row_ptr) >= 0) and got.cols.shape[0] == got.row_ptr[-1]


def test_merge2_threaded_large_equals_serial():
    rng = np.random.default_rng(1)
    a, b = ({(int(r), int(c)): 1 for r, c in rng.integers(0, 3000, (200_000, 2))} for _ in range(2))
    serial = merge2(_csr(a, 3000), _csr(b, 3000))
    with ThreadPoolExecutor(3) as pool:
        par = merge2(_csr(a, 3000), _csr(b, 3000), pool, 3)
    for x, y in ((serial.row_ptr, par.row_ptr), (serial.cols, par.cols), (serial.counts, par.counts)):
        assert np.array_equal(x, y)


@settings(max_examples=150, deadline=None)
@given(d=cells, cut=st.integers(0, 41))
def test_mirrored_rows_are_both_directions(d, cut):
    upper = _csr(d, upper=True)
    want = Counter()
    for (r, c), v in d.items():
        if c >= r:
            want[(r, c)] = v
            want[(c, r)] = v
    m = Mirrored(upper)
    got = concat_rows([m.rows(0, cut), m.rows(cut, 41)])
    assert csr_to_counter(got.row_ptr, got.cols, got.counts) == want
    assert np.array_equal(m.degrees(), np.diff(got.row_ptr))


@settings(max_examples=60, deadline=None)
@given(d=cells, cuts=st.lists(st.integers(0, 41), max_size=4), reads=st.lists(st.integers(0, 41), min_size=2, max_size=5))
def test_run_round_trip_any_ranges(tmp_path_factory, d, cuts, reads):
    csr = _csr(d)
    w = RunWriter(tmp_path_factory.mktemp("run") / "r", 41)
    bounds = sorted({0, 41, *cuts})
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        w.add(csr.rows(a, b))
    run = w.close()
    run.verify()
    assert open_run(run.path) == run
    lo, hi = min(reads), max(reads)
    got = run.read_rows(lo, hi)
    want = csr.rows(lo, hi)
    assert np.array_equal(got.row_ptr, want.row_ptr)
    assert np.array_equal(got.cols, want.cols) and np.array_equal(got.counts, want.counts)
    assert np.array_equal(run.row_ptr(), csr.row_ptr)


def test_run_compresses_and_detects_damage(tmp_path):
    rng = np.random.default_rng(0)
    d = {(int(r), int(c)): int(v) for r, c, v in
         zip(rng.integers(0, 41, 900), rng.integers(0, 41, 900), rng.geometric(0.5, 900), strict=True)}
    csr = _csr(d)
    w = RunWriter(tmp_path / "r", 41)
    w.add(csr)
    run = w.close()
    assert run.disk_bytes < csr.nbytes
    data = run.path / "data.u64"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(RunFormatError, match="checksum"):
        run.verify()
    data.write_bytes(bytes(raw[:8]))
    with pytest.raises(RunFormatError, match="truncated"):
        run.read_rows(0, 41)


def test_run_writer_refuses_rows_out_of_order(tmp_path):
    w = RunWriter(tmp_path / "r", 4)
    with pytest.raises(ValueError, match="in order"):
        w.add(Csr.empty(2, row_start=2))
    w.abort()
    assert not list(tmp_path.iterdir())
