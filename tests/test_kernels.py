"""Counting kernels against the slow references."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import csr_to_counter, reference_counts, reference_windows

from cooc.cooccur.build.count import count_windows
from cooc.cooccur.build.csr import Csr, sum_csrs, symmetric
from cooc.kernels import windows

docs_strategy = st.lists(st.lists(st.integers(0, 30), max_size=40), max_size=12)


def _flat(docs):
    tokens = np.array([t for d in docs for t in d], dtype=np.uint32)
    doc_ptr = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    return tokens, doc_ptr


@given(docs=docs_strategy, length=st.integers(2, 9))
def test_document_windows_match_reference(docs, length):
    tokens, doc_ptr = _flat(docs)
    win_ptr = windows.document_windows(doc_ptr, length)
    got = [tokens[win_ptr[i] : win_ptr[i + 1]].tolist() for i in range(len(win_ptr) - 1)]
    assert got == reference_windows(docs, length)


@settings(max_examples=150, deadline=None)
@given(docs=docs_strategy, length=st.integers(2, 9), mode=st.sampled_from(["windows", "occurrences"]),
       include_self=st.booleans(), threads=st.sampled_from([1, 2, 3]))
def test_count_windows_matches_reference(docs, length, mode, include_self, threads):
    vocab = 31
    tokens, doc_ptr = _flat(docs)
    win_ptr = windows.document_windows(doc_ptr, length)
    with ThreadPoolExecutor(threads) as pool:
        upper, stats = count_windows(tokens, win_ptr, vocab, mode, include_self, pool, threads)
    assert all(upper.cols[i] >= r for r in range(vocab)
               for i in range(upper.row_ptr[r], upper.row_ptr[r + 1]))
    csr = symmetric(upper)
    wins = reference_windows(docs, length)
    assert csr_to_counter(csr.row_ptr, csr.cols, csr.counts) == reference_counts(wins, mode, include_self)
    for r in range(vocab):
        row = csr.cols[csr.row_ptr[r] : csr.row_ptr[r + 1]]
        assert np.all(np.diff(row.astype(np.int64)) > 0)
    assert stats.num_tokens == len(tokens)
    assert stats.num_windows == len(wins)
    assert stats.windows.tolist() == [sum(t in w for w in wins) for t in range(vocab)]
    assert stats.occurrences.tolist() == [int((tokens == t).sum()) for t in range(vocab)]


@settings(max_examples=100, deadline=None)
@given(docs=docs_strategy, cut=st.integers(0, 12))
def test_sum_of_batches_equals_whole(docs, cut):
    """Counting is additive over batches: the basis of spilling and merging."""
    vocab = 31
    cut = min(cut, len(docs))
    whole, _ = count_windows(*_prep(docs), vocab)
    a, _ = count_windows(*_prep(docs[:cut]), vocab)
    b, _ = count_windows(*_prep(docs[cut:]), vocab)
    merged = symmetric(sum_csrs([a, b]))
    whole = symmetric(whole)
    assert csr_to_counter(merged.row_ptr, merged.cols, merged.counts) == csr_to_counter(
        whole.row_ptr, whole.cols, whole.counts
    )


def _prep(docs):
    tokens, doc_ptr = _flat(docs)
    return tokens, windows.document_windows(doc_ptr, 5)


def test_merge_saturates_instead_of_wrapping():
    big = np.array([0xFFFFFFF0], np.uint32)
    part = Csr(np.array([0, 1, 1], np.int64), np.array([1], np.uint32), big)
    out = sum_csrs([part, part])
    assert out.counts.tolist() == [0xFFFFFFFF]


def test_reference_helper_can_fail():
    """The comparison above is not vacuous: a wrong count is detected."""
    tokens, doc_ptr = _flat([[1, 2, 3]])
    upper, _ = count_windows(tokens, windows.document_windows(doc_ptr, 4), 4)
    csr = symmetric(upper)
    got = csr_to_counter(csr.row_ptr, csr.cols, csr.counts)
    wrong = reference_counts([[1, 2, 3, 3]], "occurrences")
    assert got != wrong
    with pytest.raises(AssertionError):
        assert got == wrong
