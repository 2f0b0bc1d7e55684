"""word2vec (SGNS and CBOW): the kernels' single steps against numpy, the sampling tables,
planted structure learnt, bit-reproducibility with one thread, and bad input refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cooc.cooccur.config import BuildConfig
from cooc.embed import word2vec as w2v
from cooc.embed.word2vec import train_word2vec
from cooc.errors import CoocError
from cooc.kernels import word2vec as kw
from cooc.options import RunOptions
from cooc.store import open_store
from cooc.store.tokenize import tokenize_corpus

DIM = 16  # one vector size for every test: each size is compiled once
ONE = RunOptions(num_proc=1, quiet=True)


# -- slow references ---------------------------------------------------------------------

def _gradient(f, label, lr, table):
    if f >= kw.MAX_EXP:
        return (label - 1.0) * lr
    if f <= -kw.MAX_EXP:
        return label * lr
    return (label - float(table[int((f + kw.MAX_EXP) * (kw.EXP_TABLE_SIZE / kw.MAX_EXP / 2))])) * lr


def ref_sgns(W, C, inp, center, negs, lr, table):
    """word2vec.c's skip-gram step, one target after the other."""
    W, C = W.copy(), C.copy()
    neu1e = np.zeros(W.shape[1], np.float64)
    for d, t in enumerate([center, *negs]):
        if d > 0 and t == center:
            continue
        g = _gradient(float(W[inp].astype(np.float64) @ C[t]), 1.0 if d == 0 else 0.0, lr, table)
        neu1e += g * C[t]
        C[t] = C[t] + np.float32(g) * W[inp]
    W[inp] = W[inp] + neu1e.astype(np.float32)
    return W, C


def ref_cbow(W, C, ctx, center, negs, lr, table):
    """word2vec.c's CBOW step (mean of the contexts; the gradient added to each)."""
    W, C = W.copy(), C.copy()
    h = W[ctx].astype(np.float64).mean(axis=0)
    neu1e = np.zeros(W.shape[1], np.float64)
    for d, t in enumerate([center, *negs]):
        if d > 0 and t == center:
            continue
        g = _gradient(float(h @ C[t]), 1.0 if d == 0 else 0.0, lr, table)
        neu1e += g * C[t]
        C[t] = C[t] + (g * h).astype(np.float32)
    for c in ctx:
        W[c] = W[c] + neu1e.astype(np.float32)
    return W, C


def _matrices(rng, v, scale):
    W = (rng.standard_normal((v, DIM)) * scale).astype(np.float32)
    C = (rng.standard_normal((v, DIM)) * scale).astype(np.float32)
    return W, C


# negatives: distinct, one equal to the center (skipped), repeated (the sequential path)
NEGATIVES = [[4, 5, 6, 7, 8], [4, 2, 6, 7, 8], [4, 5, 4, 7, 4]]


@pytest.mark.parametrize("negs", NEGATIVES)
@pytest.mark.parametrize("scale", [0.3, 3.0])  # 3.0: most dots saturate past +-6
def test_sgns_step_equals_reference(negs, scale):
    rng = np.random.default_rng(len(negs) + int(scale * 10))
    table = kw.sigmoid_table()
    W, C = _matrices(rng, 10, scale)
    want_w, want_c = ref_sgns(W, C, 1, 2, negs, 0.05, table)
    kw.sgns_update(W, C, 1, 2, np.array(negs, np.int64), np.float32(0.05), table)
    np.testing.assert_allclose(W, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(C, want_c, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(W, _matrices(np.random.default_rng(0), 10, scale)[0])


@pytest.mark.parametrize("negs", NEGATIVES)
@pytest.mark.parametrize("ctx", [[0], [0, 1, 3, 9]])
def test_cbow_step_equals_reference(negs, ctx):
    rng = np.random.default_rng(len(ctx))
    table = kw.sigmoid_table()
    W, C = _matrices(rng, 10, 0.5)
    want_w, want_c = ref_cbow(W, C, ctx, 2, negs, 0.05, table)
    kw.cbow_update(W, C, np.array(ctx, np.int64), 2, np.array(negs, np.int64), np.float32(0.05),
                   table)
    np.testing.assert_allclose(W, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(C, want_c, rtol=1e-5, atol=1e-6)


def test_reference_detects_a_wrong_step():
    """The comparison above can fail: a step with the wrong learning rate is caught."""
    rng = np.random.default_rng(3)
    table = kw.sigmoid_table()
    W, C = _matrices(rng, 10, 0.3)
    want_w, _ = ref_sgns(W, C, 1, 2, NEGATIVES[0], 0.05, table)
    kw.sgns_update(W, C, 1, 2, np.array(NEGATIVES[0], np.int64), np.float32(0.06), table)
    assert not np.allclose(W, want_w, rtol=1e-5, atol=1e-6)


def test_sigmoid_table():
    x = (np.arange(kw.EXP_TABLE_SIZE) / kw.EXP_TABLE_SIZE * 2 - 1) * kw.MAX_EXP
    np.testing.assert_allclose(kw.sigmoid_table(), 1 / (1 + np.exp(-x)), rtol=1e-6)


# -- sampling tables --------------------------------------------------------------------

def test_keep_probabilities_follow_word2vec_formula():
    counts = np.array([1_000_000, 50_000, 2_000, 100, 5, 0], np.int64)
    t, total = 1e-4, counts.sum()
    with np.errstate(divide="ignore"):
        want = np.minimum((np.sqrt(counts / (t * total)) + 1) * (t * total) / counts, 1.0)
    want[counts == 0] = 1.0
    got = kw.keep_probabilities(counts, t)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0] < 0.1 and got[-2] == 1.0
    np.testing.assert_array_equal(kw.keep_thresholds(counts, t), np.round(want * 2.0**32))
    assert (kw.keep_probabilities(counts, 0) == 1).all()


@pytest.mark.parametrize("counts", [[5], [7, 7, 7], [1_000_000, 50_000, 2_000, 100, 5, 5, 1],
                                    list(np.random.default_rng(1).integers(1, 10**6, 3000))])
def test_alias_table_is_unigram_075(counts):
    counts = np.array(counts, np.int64)
    table = kw.alias_table(counts)
    thr = (table >> np.uint64(32)).astype(np.float64) / 2.0**32
    alias = (table & np.uint64(0xFFFFFFFF)).astype(np.int64)
    implied = thr.copy()
    np.add.at(implied, alias, 1 - thr)
    implied /= len(counts)
    want = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(implied, want, rtol=1e-6, atol=1e-12)
    # and draws follow it
    n = 400_000
    words, _ = kw.draw_words(table, np.uint64(12345), n)
    freq = np.bincount(words, minlength=len(counts)) / n
    assert np.abs(freq - want).max() < 5 * np.sqrt(want.max() / n) + 1e-9


def test_dense_ids_drops_rare_words_and_keeps_documents():
    tokens = np.array([3, 1, 2, 9, 1, 1, 2, 4], np.uint32)
    lens = np.array([3, 0, 2, 3], np.int64)
    dense = np.array([-1, 0, -1, 2, 1, -1, -1, -1, -1, -1], np.int32)  # 2 and 9 are rare
    ids, ptr = kw.dense_ids(tokens, lens, dense)
    np.testing.assert_array_equal(ids, [2, 0, 0, 0, 1])
    np.testing.assert_array_equal(ptr, [0, 2, 2, 3, 5])


# -- training ---------------------------------------------------------------------------

def _planted(path, docs=150, seed=0):
    """Two groups: a0..a4 always between contexts x0..x4, b0..b4 between y0..y4."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for _ in range(docs):
            words = []
            for _ in range(20):
                g, c = ("a", "x") if rng.integers(2) else ("b", "y")
                ctx = [f"{c}{rng.integers(5)}" for _ in range(4)]
                words += ctx[:2] + [f"{g}{rng.integers(5)}"] + ctx[2:]
            f.write(json.dumps({"text": " ".join(words)}) + "\n")
    return path


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w2v")
    src = _planted(folder / "planted.jsonl")
    store = folder / "planted.tokens"
    tokenize_corpus(src, store, BuildConfig(tokenizer="whitespace"), ONE)
    return src, store


def _train(source, **kw_):
    args = dict(dim=DIM, min_count=1, sample=0.0, epochs=3, seed=7, options=ONE)
    return train_word2vec(str(source), **{**args, **kw_})


@pytest.mark.parametrize("sg, shared", [(True, False), (True, True), (False, False)])
def test_planted_groups_are_learnt(planted_store, sg, shared):
    res = _train(planted_store[1], sg=sg, shared_negatives=shared)
    index = {w: i for i, w in enumerate(res.texts)}
    unit = res.vectors / np.linalg.norm(res.vectors, axis=1, keepdims=True)
    a = unit[[index[f"a{i}"] for i in range(5)]]
    b = unit[[index[f"b{i}"] for i in range(5)]]
    off = ~np.eye(5, dtype=bool)
    within = min((a @ a.T)[off].mean(), (b @ b.T)[off].mean())
    across = (a @ b.T).mean()
    assert within > across + 0.3, (within, across)
    assert res.vectors.dtype == np.float32 and res.vectors.shape == (20, DIM)
    assert (np.diff(res.counts) <= 0).all() and res.counts.sum() == res.stats["corpus_words"]
    assert res.config["model"] == ("sgns" if sg else "cbow")
    assert res.config["shared_negatives"] == shared


def test_one_thread_is_bit_reproducible(planted_store):
    src, store = planted_store
    first = _train(store, sg=True)
    again = _train(store, sg=True)
    assert first.vectors.tobytes() == again.vectors.tobytes()
    from_text = _train(src, sg=True)  # text is tokenized into a store first: the same ids
    assert from_text.vectors.tobytes() == first.vectors.tobytes()
    other = _train(store, sg=True, seed=8)
    assert other.vectors.tobytes() != first.vectors.tobytes()
    assert first.config["shared_negatives"]  # the default
    per_pair = _train(store, sg=True, shared_negatives=False)
    assert per_pair.vectors.tobytes() == _train(store, sg=True,
                                                shared_negatives=False).vectors.tobytes()
    assert per_pair.vectors.tobytes() != first.vectors.tobytes()


def test_long_documents_are_cut_into_chunks(planted_store, monkeypatch):
    monkeypatch.setattr(w2v, "CHUNK_WORDS", 100)
    dense = np.arange(-1, 20, dtype=np.int32)  # every word but </s> (id 0)
    chunks = list(w2v._chunks(open_store(planted_store[1]), dense))
    assert max(len(ids) for ids, _ in chunks) <= 100
    assert sum(len(ids) for ids, _ in chunks) == 150 * 20 * 5
    assert all(ptr[0] == 0 and ptr[-1] == len(ids) for ids, ptr in chunks)
    res = _train(planted_store[1], sg=False)  # documents of 100 words are cut
    assert np.isfinite(res.vectors).all() and res.stats["words"] == 3 * 150 * 20 * 5


def test_min_count_drops_rare_tokens(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text(json.dumps({"text": "a b a c a b a"}) + "\n")
    res = train_word2vec(str(src), dim=DIM, min_count=2, epochs=1, options=ONE)
    assert res.texts == ["a", "b"] and list(res.counts) == [4, 2]


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=0), "dim must be an int >= 1"),
    (dict(dim=-3), "dim must be an int >= 1"),
    (dict(window=0), "window must be an int >= 1"),
    (dict(epochs=0), "epochs must be an int >= 1"),
    (dict(negative=0), "negative must be an int >= 1"),
    (dict(negative=0, sg=False), "negative must be an int >= 1"),
    (dict(min_count=0), "min_count must be an int >= 1"),
    (dict(sample=1.5), "sample must be a number in"),
    (dict(alpha=0.0), "alpha must be a number in"),
    (dict(sg="yes"), "sg must be True"),
    (dict(shared_negatives=1), "shared_negatives must be True or False"),
])
def test_bad_arguments_are_refused(planted_store, kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        train_word2vec(str(planted_store[1]), options=ONE, **kwargs)
    assert "\n" not in str(e.value)


def test_empty_corpus_is_refused(tmp_path):
    src = tmp_path / "empty.jsonl"
    src.write_text(json.dumps({"text": "   "}) + "\n")
    with pytest.raises(CoocError, match="no tokens to train on") as e:
        train_word2vec(str(src), dim=DIM, options=ONE)
    assert "\n" not in str(e.value)


def test_min_count_that_drops_everything_is_refused(planted_store):
    with pytest.raises(CoocError, match="min_count 100000 drops every token") as e:
        train_word2vec(str(planted_store[1]), dim=DIM, min_count=100_000, options=ONE)
    assert "\n" not in str(e.value) and "lower min_count" in str(e.value)


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_cli_trains_a_vectors_artefact_from_text(planted_store, tmp_path, model, capsys):
    from cooc.cli.main import main
    from cooc.embed.vectors import open_vectors

    out = tmp_path / f"{model}.vec"
    assert main(["embed", model, str(planted_store[0]), "-o", str(out), "--dim", "16",
                 "--min-count", "1", "--sample", "0", "--epochs", "3", "--seed", "7",
                 "--num-proc", "1", "-q", "--tokenizer", "whitespace"]) == 0
    v = open_vectors(out)
    assert v.dim == 16 and len(v) == 20 and v.config["model"] == model
    near = [s.text for s in v.most_similar("a1", 3)]
    assert all(t[0] in "ax" for t in near), near  # a1's neighbours are its own group
    assert main(["embed", model, str(planted_store[0]), "-o", str(out), "--dim", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dim must be" in err[0]


def test_cli_per_pair_negatives_is_word2vec_c_sampling(planted_store, tmp_path):
    from cooc.cli.main import main
    from cooc.embed.vectors import open_vectors

    args = [str(planted_store[1]), "--dim", str(DIM), "--min-count", "1", "--sample", "0",
            "--epochs", "3", "--seed", "7", "--num-proc", "1", "-q"]
    assert main(["embed", "sgns", *args, "-o", str(tmp_path / "s.vec")]) == 0
    assert main(["embed", "sgns", *args, "-o", str(tmp_path / "p.vec"),
                 "--per-pair-negatives"]) == 0
    shared, per_pair = open_vectors(tmp_path / "s.vec"), open_vectors(tmp_path / "p.vec")
    assert shared.config["shared_negatives"] and not per_pair.config["shared_negatives"]
    want = _train(planted_store[1], sg=True, shared_negatives=False)
    assert np.asarray(per_pair.vectors).tobytes() == want.vectors.tobytes()


@pytest.mark.parametrize("command", ["sgns", "cbow", "pairs"])
def test_a_token_store_with_another_tokenizer_is_refused(planted_store, tmp_path, capsys,
                                                          command):
    from cooc.cli.main import main

    store = str(planted_store[1])  # tokenized with whitespace
    out = str(tmp_path / "x")
    assert main(["embed", command, store, "-o", out, "--tokenizer", "words", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tokenized with 'whitespace', not 'words'" in err[0], err
    assert not (tmp_path / "x").exists()
    # its own tokenizer, named or not, is fine
    train = [] if command == "pairs" else ["--epochs", "1", "--dim", "8"]
    for extra in ([], ["--tokenizer", "whitespace"]):
        assert main(["embed", command, store, "-o", out, "--min-count", "1", *train, *extra,
                     "-q"]) == 0
