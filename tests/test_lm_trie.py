"""The compressed-trie language model (`cooc.lm.trie`): its Elias-Fano kernels against numpy,
its scores against the hash-table scorer, quantization, round trips and damaged files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from manifest_edit import resealed

from cooc.errors import CoocError, IndexFormatError
from cooc.kernels import lm_trie as kt
from cooc.kernels.succinct import elias_fano
from cooc.lm import KneserNeyConfig, LanguageModel, estimate, write_arpa
from cooc.lm.model import NgramModel
from cooc.lm.trie import TrieConfig, arpa_to_trie, open_trie_lm, quantize, write_trie
from cooc.options import RunOptions

FALLBACK = (0.5, 1.0, 1.5)


def _corpus(seed: int, n: int = 300, vocab: int = 200) -> list[str]:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    return [" ".join(f"w{i}" for i in rng.choice(vocab, rng.integers(1, 15), p=p))
            for _ in range(n)]


def _model(tmp: Path, seed: int = 0, order: int = 4, n: int = 300, vocab: int = 200):
    path = tmp / f"corpus{seed}.txt"
    path.write_text("".join(s + "\n" for s in _corpus(seed, n, vocab)), encoding="utf-8")
    return estimate(path, KneserNeyConfig(order=order, discount_fallback=FALLBACK),
                    RunOptions(quiet=True, num_proc=1))


def _queries(seed: int, vocab: int, n: int = 200) -> list[str]:
    rng = np.random.default_rng(seed + 1)
    words = [f"w{i}" for i in range(vocab)] + ["oov", "<unk>"]
    return [" ".join(words[i] for i in rng.integers(0, len(words), rng.integers(0, 20)))
            for _ in range(n)]


def assert_scores_equal(a, b):
    np.testing.assert_array_equal(a.token_logprob, b.token_logprob)
    np.testing.assert_array_equal(a.sent_ptr, b.sent_ptr)
    np.testing.assert_array_equal(a.oov, b.oov)


@pytest.fixture(scope="module")
def model4(tmp_path_factory):
    return _model(tmp_path_factory.mktemp("m4"), 0, 4)


# -- kernels -----------------------------------------------------------------------------------


def _ef(values: np.ndarray, zeros: bool = True):
    n = len(values)
    u = int(values[-1]) if n else 0
    ell = int(elias_fano.ef_low_bits(n, u))
    lo_w, hi_w, sel_w, hi_bits = elias_fano.ef_words(n, u, ell)
    z_w = int(elias_fano.ef_zero_samples(n, u, ell)) if zeros else 0
    ef = np.array([n, ell, 0, lo_w, lo_w + hi_w, hi_bits,
                   lo_w + hi_w + sel_w if zeros else -1], np.int64)
    words = np.zeros(lo_w + hi_w + sel_w + z_w + 1, np.uint64)
    elias_fano.ef_write(values.astype(np.int64), ell, words, 0, lo_w, lo_w + hi_w, int(ef[6]))
    return words, ef


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1 << 20), min_size=1, max_size=3000), st.integers(0, 3))
def test_elias_fano_access_and_decode(gaps, spread):
    values = np.cumsum(np.array(gaps, np.int64) >> (5 * spread))
    words, ef = _ef(values)
    dec, ok = elias_fano.ef_decode(words, ef)
    assert ok
    np.testing.assert_array_equal(dec, values)
    for i in np.random.default_rng(len(values)).integers(0, len(values), 50):
        assert elias_fano.ef_access(words, ef, i) == values[i]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(2, 400))
def test_find_child_equals_a_dict(seed, nrows, span):
    """Rows of random sorted ids (some long, dense or sparse): every present and absent
    (row, id) is found as a dict says."""
    rng = np.random.default_rng(seed)
    rows, ids = [], []
    for r in range(nrows):
        m = int(rng.integers(0, span)) if rng.random() < 0.3 else int(rng.integers(0, 3))
        ids.append(np.sort(rng.choice(span * 4, min(m, span * 4), replace=False)))
        rows.append(np.full(len(ids[-1]), r, np.int64))
    parent = np.concatenate(rows)
    idv = np.concatenate(ids).astype(np.int64)
    ptr = elias_fano.row_starts(parent, nrows)
    val = elias_fano.level_values(ptr, idv)
    lev = np.zeros((3, kt.LEVEL_FIELDS), np.int64)
    w1, e1 = _ef(ptr, zeros=False)
    w2, e2 = _ef(val)
    e2[2:5] += len(w1)
    e2[6] += len(w1)
    lev[2, elias_fano.PTR : elias_fano.PTR + elias_fano.EF_FIELDS] = e1
    lev[2, elias_fano.VAL : elias_fano.VAL + elias_fano.EF_FIELDS] = e2
    trie = np.concatenate([w1, w2])
    where = {(int(r), int(x)): i for i, (r, x) in enumerate(zip(parent, idv, strict=True))}
    for r in range(nrows):
        for x in list(ids[r]) + list(rng.integers(0, span * 4, 20)):
            e, start = elias_fano.find_child(trie, lev, 2, np.int64(r), np.int64(x))
            assert e == where.get((r, int(x)), -1)
            if e >= 0:
                assert start == ptr[r]


def test_quantize_bins():
    v = np.array([-1.0, -2.0, -1.0, -3.0], np.float32)
    codes, cen = quantize(v, 4)  # fewer distinct values than bins: exact
    np.testing.assert_array_equal(cen[codes], v)
    assert cen.shape == (16,)
    rng = np.random.default_rng(0)
    x = rng.normal(-2, 1, 10_000).astype(np.float32)
    x[:3000] = 0
    codes, cen = quantize(x, 4, keep_zero=True)
    assert (cen[codes][:3000] == 0).all()  # backoff 0 stays exact
    err = np.abs(cen[codes] - x)
    assert err.mean() < 0.1 and codes.max() < 16
    counts = np.bincount(codes[3000:], minlength=16)
    assert counts.min() > 100 and counts.max() < 1000  # equal population, roughly


def test_config_checks():
    for bad in (1, 17, -1, True, 8.0, "8"):
        with pytest.raises(ValueError, match="quantization_bits"):
            TrieConfig(quantization_bits=bad)
    assert TrieConfig().quantization_bits == 8


# -- against the hash-table scorer ------------------------------------------------------------


def test_comparison_can_fail(tmp_path, model4):
    """The equality helper sees a different model's scores."""
    write_trie(model4, tmp_path / "m.lm", TrieConfig(0))
    other = _model(tmp_path, 7, 4)
    q = _queries(0, 200)
    with pytest.raises(AssertionError):
        assert_scores_equal(open_trie_lm(tmp_path / "m.lm").score(q), LanguageModel(other).score(q))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(2, 6), vocab=st.integers(5, 300))
def test_unquantized_scores_equal_the_hash_scorer(seed, order, vocab):
    with tempfile.TemporaryDirectory() as tmp:
        m = _model(Path(tmp), seed, order, 200, vocab)
        write_trie(m, Path(tmp) / "m.lm", TrieConfig(quantization_bits=0))
        lm = open_trie_lm(Path(tmp) / "m.lm")
        q = _queries(seed, vocab)
        assert_scores_equal(lm.score(q), LanguageModel(m).score(q))
        assert lm.stats()["dropped"] == 0


@pytest.mark.parametrize("bits,tol", [(8, 0.01), (4, 0.1)])
def test_quantized_scores_are_close(tmp_path, model4, bits, tol):
    write_trie(model4, tmp_path / "m.lm", TrieConfig(quantization_bits=bits))
    lm = open_trie_lm(tmp_path / "m.lm")
    q = _queries(3, 200, 500)
    a, b = lm.score(q), LanguageModel(model4).score(q)
    assert abs(a.perplexity / b.perplexity - 1) < tol
    assert np.abs(a.token_logprob - b.token_logprob).mean() < tol
    assert lm.stats()["quantization_bits"] == bits


def test_threads_and_ids(tmp_path, model4):
    write_trie(model4, tmp_path / "m.lm", TrieConfig(0))
    lm = open_trie_lm(tmp_path / "m.lm", num_threads=3)
    q = _queries(5, 200, 8000)  # > 65536 tokens: the threaded path
    ids, ptr = lm.encode(q)
    assert len(ids) > 1 << 16
    assert_scores_equal(lm.score_ids(ids, ptr), LanguageModel(model4).score_ids(ids, ptr))
    with pytest.raises(ValueError, match="word ids"):
        lm.score_ids(np.array([len(lm.vocab)]), np.array([0, 1]))
    with pytest.raises(ValueError, match="sent_ptr"):
        lm.score_ids(np.array([1, 2]), np.array([0, 1]))


def test_unreachable_ngrams_are_dropped(tmp_path):
    """A 3-gram whose 2-suffix is absent is never used by the scorer: dropped with its
    extension, same scores; a missing prefix is an error."""
    vocab = ["<unk>", "<s>", "</s>", "a", "b"]
    g2 = np.array([[1, 3], [3, 4], [4, 2]], np.int32)  # <s> a, a b, b </s>
    g3 = np.array([[1, 3, 4], [3, 4, 3]], np.int32)  # <s> a b; a b a (suffix "b a" absent)
    g4 = np.array([[3, 4, 3, 4]], np.int32)  # a b a b: its prefix is dropped
    m = NgramModel(vocab, [np.arange(5, dtype=np.int32).reshape(-1, 1), g2, g3, g4],
                   [np.array([-2, 0, -1, -0.5, -0.7], np.float32),
                    np.array([-0.3, -0.2, -0.1], np.float32), np.array([-0.05, -0.01], np.float32),
                    np.array([-0.02], np.float32)],
                   [np.array([-0.1, -0.2, 0, -0.3, -0.4], np.float32),
                    np.array([-0.5, -0.6, 0], np.float32), np.array([-0.3, -0.2], np.float32),
                    np.zeros(1, np.float32)])
    write_trie(m, tmp_path / "m.lm", TrieConfig(0))
    lm = open_trie_lm(tmp_path / "m.lm")
    assert lm.manifest["dropped"] == {"1": 0, "2": 0, "3": 1, "4": 1}
    assert lm.grams[3] == 1 and lm.grams[4] == 0
    q = ["a b a b", "b a", "a", "", "a b c", "a b a b a b"]
    assert_scores_equal(lm.score(q), LanguageModel(m).score(q))
    assert lm.lookup(["<s>", "a", "b"]) == pytest.approx((-0.05, -0.3))
    assert lm.lookup(["a", "b", "a"]) is None
    m.grams[3] = np.array([[3, 3, 3, 4]], np.int32)  # prefix "a a a" is in no level
    with pytest.raises(ValueError, match="no 3-gram prefix"):
        write_trie(m, tmp_path / "bad.lm", TrieConfig(0))


# -- round trips -------------------------------------------------------------------------------


def test_round_trip_and_lookup(tmp_path, model4):
    write_trie(model4, tmp_path / "m.lm", TrieConfig(0))
    lm = open_trie_lm(tmp_path / "m.lm")
    back = lm.to_model()
    for k in range(model4.order):
        np.testing.assert_array_equal(back.grams[k], model4.grams[k])
        np.testing.assert_array_equal(back.logprob[k], model4.logprob[k])
        np.testing.assert_array_equal(back.backoff[k], model4.backoff[k])
    assert back.vocab == model4.vocab
    for k in range(1, model4.order + 1):
        for r in range(0, model4.counts[k - 1], 7):
            words = [model4.vocab[i] for i in model4.grams[k - 1][r]]
            assert lm.lookup(words) == model4.lookup(words)
    assert lm.lookup(["w1", "nope"]) is None


def test_quantized_round_trip(tmp_path, model4):
    write_trie(model4, tmp_path / "m.lm", TrieConfig(8))
    back = open_trie_lm(tmp_path / "m.lm").to_model()
    for k in range(model4.order):
        np.testing.assert_array_equal(back.grams[k], model4.grams[k])
        assert np.abs(back.logprob[k] - model4.logprob[k]).mean() < 0.02
    np.testing.assert_array_equal(back.logprob[0], model4.logprob[0])  # unigrams: float32
    # written again from its own values, a quantized model is a fixed point
    write_trie(back, tmp_path / "b.lm", TrieConfig(8))
    again = open_trie_lm(tmp_path / "b.lm").to_model()
    for k in range(model4.order):
        np.testing.assert_array_equal(again.logprob[k], back.logprob[k])
        np.testing.assert_array_equal(again.backoff[k], back.backoff[k])


def test_from_arpa(tmp_path, model4):
    write_arpa(model4, tmp_path / "m.arpa")
    arpa_to_trie(tmp_path / "m.arpa", tmp_path / "m.lm", TrieConfig(0))
    q = _queries(9, 200)
    assert_scores_equal(open_trie_lm(tmp_path / "m.lm").score(q), LanguageModel(model4).score(q))


def test_manifest_and_stats(tmp_path, model4):
    write_trie(model4, tmp_path / "m.lm")
    m = json.loads((tmp_path / "m.lm" / "manifest.json").read_text())
    assert m["magic"] == "COOC-LM" and m["format_version"] == 1 and m["order"] == 4
    assert m["quantization_bits"] == 8
    assert all(len(f["sha256"]) == 64 for f in m["files"])
    s = open_trie_lm(tmp_path / "m.lm").stats()
    assert s["grams"] == sum(model4.counts)
    assert s["bytes"] <= s["file_bytes"] + 64
    assert set(s["orders"][2]) >= {"ids_bytes_per_gram", "pointers_bytes_per_gram",
                                   "probs_bytes_per_gram", "backoffs_bytes_per_gram"}
    assert s["orders"][4]["backoffs_bytes_per_gram"] == 0
    assert not any(p.name.startswith("m.lm.tmp") for p in tmp_path.iterdir())


# -- damaged files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trie.u64", "codes.u64", "unigrams.f32", "tokmap.i32"])
def test_corrupted_file_is_an_error(tmp_path, model4, name):
    p = tmp_path / "m.lm"
    write_trie(model4, p)
    f = p / name
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0x5A
    f.write_bytes(bytes(b))
    with pytest.raises(IndexFormatError, match="damaged"):
        open_trie_lm(p)
    try:  # unchecked: garbage scores at worst, or an error, never a crash
        lm = open_trie_lm(p, verify=False)
    except IndexFormatError:
        assert name == "tokmap.i32"  # ids out of range are seen at open
    else:
        lm.score(_queries(1, 200, 50))


def test_truncated_and_foreign_folders(tmp_path, model4):
    p = tmp_path / "m.lm"
    write_trie(model4, p)
    f = p / "trie.u64"
    f.write_bytes(f.read_bytes()[:-8])
    with pytest.raises(IndexFormatError, match="truncated"):
        open_trie_lm(p)
    (p / "manifest.json").write_text('{"magic": "nope"}')
    with pytest.raises(IndexFormatError, match="magic"):
        open_trie_lm(p)
    with pytest.raises(IndexFormatError, match="no manifest"):
        open_trie_lm(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("keep me")
    with pytest.raises(CoocError, match="refusing"):
        write_trie(model4, other)
    assert (other / "x.txt").exists()


@pytest.mark.parametrize("field,value", [(("levels", 3, 3), 10**9), (("levels", 2, 12), 10**9),
                                         (("levels", 4, 7), 5), (("quantization_bits",), 40)])
def test_damaged_manifest_is_an_error_not_a_crash(tmp_path, model4, field, value):
    p = tmp_path / "m.lm"
    write_trie(model4, p)
    m = json.loads((p / "manifest.json").read_text())
    t = m
    for f in field[:-1]:
        t = t[f]
    t[field[-1]] = value
    (p / "manifest.json").write_text(json.dumps(resealed(m)))
    with pytest.raises(IndexFormatError, match="level table"):
        open_trie_lm(p, verify=False)
