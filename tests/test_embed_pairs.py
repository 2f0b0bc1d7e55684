"""Skip-gram pairs (`cooc embed pairs`) and the PyTorch SGNS trainer (`cooc embed
sgns-torch`): the pairs against a slow pure-Python reference, unchanged by chunk size, shard
size and threads, the artefact's round trip and damage refused, shards bounded, the trainer
learning planted structure reproducibly, and bad settings refused in one line."""

from __future__ import annotations

import json
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cooccur.config import BuildConfig
from cooc.embed.pairs import make_pairs, open_pairs
from cooc.embed.word2vec import seed_state
from cooc.errors import CoocError, IndexFormatError
from cooc.kernels import pairs as kp
from cooc.kernels import word2vec as kw
from cooc.options import RunOptions
from cooc.store.tokenize import tokenize_corpus

ONE = RunOptions(num_proc=1, quiet=True)
TWO = RunOptions(num_proc=2, quiet=True)
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# -- slow reference ----------------------------------------------------------------------

def ref_bits(key: int, p: int) -> int:
    """splitmix64's output for the state key + p * golden, in Python integers."""
    z = (key + (p + 1) * GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_pairs(docs, dense_of, keep_prob, window, dynamic, seed):
    """word2vec's pairs, one word at a time: rare words removed, each word kept when the top
    32 bits of its draw are below keep_prob * 2^32, each kept word's reach uniform in
    1..window (or window), contexts left to right within its document."""
    k_keep, k_win = int(seed_state(seed, 0)), int(seed_state(seed, 1))
    out, p = [], 0
    for doc in docs:
        kept = []
        for w in doc:
            if w not in dense_of:
                continue
            d = dense_of[w]
            if (ref_bits(k_keep, p) >> 32) < round(keep_prob[d] * 2**32):
                kept.append((d, p))
            p += 1
        for i, (d, pi) in enumerate(kept):
            r = window - (ref_bits(k_win, pi) >> 32) % window if dynamic else window
            for j in range(max(0, i - r), min(len(kept), i + r + 1)):
                if j != i:
                    out.append((d, kept[j][0]))
    return out


def _corpus(path, seed, docs=40, words=12, zipf=True):
    """Documents of 0..30 words w0..w{words-1}, a few frequent, with empty ones."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(docs):
        n = int(rng.integers(0, 31))
        ids = np.minimum(rng.zipf(1.6, n) - 1, words - 1) if zipf else rng.integers(0, words, n)
        texts.append([f"w{i}" for i in ids])
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": " ".join(t)}) + "\n")
    return path, [t for t in texts if t]


def _read_all(path):
    p = open_pairs(path)
    pairs = [np.concatenate(x) if x else np.empty(0, np.int32)
             for x in zip(*p.iter_batches(7), strict=True)]
    return p, pairs[0], pairs[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    src, docs = _corpus(folder / "c.jsonl", seed=1)
    path = folder / "c.tokens"
    tokenize_corpus(src, path, BuildConfig(tokenizer="whitespace"), ONE)
    return path, docs


@pytest.mark.parametrize("window, dynamic, sample, min_count, seed",
                         [(2, False, 0.0, 1, 1), (3, True, 0.0, 2, 5), (4, True, 0.05, 1, 9),
                          (1, True, 0.01, 3, 0)])
def test_pairs_equal_reference(store, tmp_path, window, dynamic, sample, min_count, seed):
    path, docs = store
    out = tmp_path / "x.pairs"
    res = make_pairs(str(path), out, window=window, dynamic_window=dynamic, sample=sample,
                     min_count=min_count, seed=seed, shard_pairs=50, chunk_pairs=2 * window,
                     options=ONE)
    p, t, c = _read_all(out)
    v = p.vocab
    counts = Counter(w for d in docs for w in d)
    token_id = dict(zip(v["text"], v["token_id"].tolist(), strict=True))
    assert v["text"] == sorted((w for w in counts if counts[w] >= min_count),
                               key=lambda w: (-counts[w], token_id[w]))
    assert [counts[w] for w in v["text"]] == v["count"].tolist()
    dense_of = {w: i for i, w in enumerate(v["text"])}
    want = ref_pairs(docs, dense_of, v["keep"], window, dynamic, seed)
    assert list(zip(t.tolist(), c.tolist(), strict=True)) == want
    assert res.pairs == len(want) == p.pairs and len(want) > 100
    assert res.config["corpus_words"] == sum(counts[w] for w in dense_of)
    if sample == 0:
        assert res.config["kept_words"] == res.config["corpus_words"]
    else:
        assert res.config["kept_words"] < res.config["corpus_words"]


def test_reference_detects_a_different_window(store, tmp_path):
    """The comparison above can fail: the reference of another window or seed differs."""
    path, docs = store
    out = tmp_path / "x.pairs"
    make_pairs(str(path), out, window=3, sample=0.0, min_count=1, seed=2, options=ONE)
    p, t, c = _read_all(out)
    got = list(zip(t.tolist(), c.tolist(), strict=True))
    dense_of = {w: i for i, w in enumerate(p.vocab["text"])}
    assert got == ref_pairs(docs, dense_of, p.vocab["keep"], 3, True, 2)
    assert got != ref_pairs(docs, dense_of, p.vocab["keep"], 3, True, 3)
    assert got != ref_pairs(docs, dense_of, p.vocab["keep"], 2, True, 2)


def test_unigram_table_and_keep_probabilities(store, tmp_path):
    out = tmp_path / "x.pairs"
    make_pairs(str(store[0]), out, window=2, sample=1e-2, min_count=1, options=ONE)
    v = open_pairs(out).vocab
    w = v["count"].astype(np.float64) ** 0.75
    np.testing.assert_allclose(v["unigram"], w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(v["keep"], kw.keep_probabilities(v["count"], 1e-2))
    assert (np.diff(v["count"]) <= 0).all() and v["keep"][-1] == 1.0 and v["keep"][0] < 1.0


# -- the kernel: chunking changes nothing ----------------------------------------------------

@st.composite
def documents(draw):
    lens = draw(st.lists(st.integers(0, 12), min_size=1, max_size=8))
    ids = draw(st.lists(st.integers(0, 5), min_size=sum(lens), max_size=sum(lens)))
    return np.array(ids, np.int32), np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)


@settings(max_examples=60)
@given(documents(), st.integers(1, 4), st.booleans(), st.integers(1, 9), st.integers(0, 99))
def test_emit_pairs_is_independent_of_the_chunking(docs, window, dynamic, step, first):
    ids, ptr = docs
    key = seed_state(3, 1)
    keep = kw.keep_thresholds(np.array([50, 20, 10, 5, 2, 1]), 0.05)
    kept, pos, kptr = kp.subsample(ids, ptr, first, keep, seed_state(3, 0))
    assert (np.diff(pos) > 0).all() and kptr[-1] == len(kept)

    def emit(c0, c1):
        t = np.empty((c1 - c0) * 2 * window, np.int32)
        c = np.empty_like(t)
        n = kp.emit_pairs(kept, pos, kptr, c0, c1, window, dynamic, key, t, c)
        return t[:n], c[:n]

    whole = emit(0, len(kept))
    parts = [emit(a, min(a + step, len(kept))) for a in range(0, len(kept), step)]
    for k in (0, 1):
        joined = np.concatenate([x[k] for x in parts]) if parts else np.empty(0, np.int32)
        np.testing.assert_array_equal(joined, whole[k])
    # a word's draws depend on its position only: the subsampling of a suffix is the suffix
    cut = int(ptr[len(ptr) // 2])
    tail = kp.subsample(ids[cut:], ptr[len(ptr) // 2:] - cut, first + cut, keep,
                        seed_state(3, 0))
    np.testing.assert_array_equal(tail[1], pos[pos >= first + cut])


@settings(max_examples=8)
@given(st.integers(2, 400), st.integers(1, 300), st.sampled_from([ONE, TWO]),
       st.booleans())
def test_pairs_do_not_change_with_chunk_shard_or_threads(store, tmp_path_factory, shard,
                                                         chunk, options, dynamic):
    folder = tmp_path_factory.mktemp("prop")
    args = dict(window=3, sample=0.02, min_count=1, seed=4, dynamic_window=dynamic)
    make_pairs(str(store[0]), folder / "a.pairs", options=ONE, **args)
    make_pairs(str(store[0]), folder / "b.pairs", shard_pairs=shard, chunk_pairs=max(chunk, 6),
               options=options, **args)
    _, ta, ca = _read_all(folder / "a.pairs")
    pb, tb, cb = _read_all(folder / "b.pairs")
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(ca, cb)
    assert len(pb.shards) == -(-len(ta) // shard)


# -- the artefact ------------------------------------------------------------------------------

def test_shards_are_bounded_by_the_shard_size(store, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "x.pairs"
    res = make_pairs(str(store[0]), out, window=4, sample=0.0, min_count=1, shard_pairs=300,
                     chunk_pairs=40, options=ONE)
    p = open_pairs(out)
    sizes = [s["pairs"] for s in p.shards]
    assert res.shards == len(sizes) > 2 and sum(sizes) == p.pairs == res.pairs
    assert all(n == 300 for n in sizes[:-1]) and 1 <= sizes[-1] <= 300
    for f in p.shard_paths():
        meta = pq.ParquetFile(f).metadata
        assert meta.num_row_groups > 1  # written as produced, a kernel call at a time
        assert all(meta.row_group(i).num_rows <= 40 for i in range(meta.num_row_groups))
    assert p.stats()["shards"] == len(sizes) and len(p) == p.pairs
    p.verify()


def test_damaged_shard_is_refused_naming_the_file(store, tmp_path):
    out = tmp_path / "x.pairs"
    make_pairs(str(store[0]), out, window=2, sample=0.0, min_count=1, shard_pairs=200,
               options=ONE)
    shard = out / "pairs-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0xFF  # same size, other bytes
    shard.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError) as e:
        open_pairs(out)
    assert "pairs-00001.parquet" in str(e.value) and "\n" not in str(e.value)
    p = open_pairs(out, checksums=False)
    with pytest.raises(IndexFormatError, match="pairs-00001.parquet"):
        p.verify()


def test_other_folders_are_refused(store, tmp_path):
    with pytest.raises(IndexFormatError, match="not a pairs folder"):
        open_pairs(tmp_path / "missing.pairs")
    with pytest.raises(IndexFormatError, match="bad magic"):
        open_pairs(store[0])
    with pytest.raises(CoocError, match="not a cooc pairs"):  # never replaces a token store
        make_pairs(str(store[0]), store[0], min_count=1, options=ONE)


def test_rewrite_replaces_the_old_pairs(store, tmp_path):
    out = tmp_path / "x.pairs"
    make_pairs(str(store[0]), out, window=1, sample=0.0, min_count=1, options=ONE)
    n1 = open_pairs(out).pairs
    make_pairs(str(store[0]), out, window=3, sample=0.0, min_count=1, options=ONE)
    p = open_pairs(out)
    assert p.pairs > n1 and p.config["window"] == 3
    assert sorted(f.name for f in out.iterdir()) == ["manifest.json", "pairs-00000.parquet",
                                                     "vocab.parquet"]


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 0}, "window must be"), ({"min_count": 0}, "min_count must be"),
    ({"sample": 1.0}, "sample must be"), ({"shard_pairs": 0}, "shard_pairs must be"),
    ({"chunk_pairs": 5, "window": 3}, "chunk_pairs must be"),
    ({"dynamic_window": 1}, "dynamic_window must be"), ({"seed": -1}, "seed must be")])
def test_bad_settings_are_refused(store, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_pairs(str(store[0]), tmp_path / "x.pairs", options=ONE, **kwargs)


def test_a_corpus_without_pairs_is_refused(tmp_path):
    src = tmp_path / "one.jsonl"
    src.write_text("\n".join(json.dumps({"text": w}) for w in ["a", "b", "c"]) + "\n")
    with pytest.raises(CoocError, match="no pairs"):
        make_pairs(str(src), tmp_path / "x.pairs", min_count=1, sample=0.0, options=ONE)
    assert not (tmp_path / "x.pairs").exists()


# -- the PyTorch trainer ------------------------------------------------------------------------

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
def planted_pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    src = _planted(folder / "planted.jsonl")
    out = folder / "planted.pairs"
    make_pairs(str(src), out, window=2, min_count=1, sample=0.0, options=ONE)
    return src, out


def _train(path, **kw_):
    from cooc.embed.torch_sgns import train_sgns_torch

    args = dict(dim=16, epochs=3, batch_size=256, lr=0.05, seed=3, options=ONE)
    return train_sgns_torch(path, **{**args, **kw_})


def test_torch_trainer_learns_planted_groups(planted_pairs):
    pytest.importorskip("torch")
    res = _train(planted_pairs[1])
    index = {w: i for i, w in enumerate(res.texts)}
    unit = res.vectors / np.linalg.norm(res.vectors, axis=1, keepdims=True)
    a = unit[[index[f"a{i}"] for i in range(5)]]
    b = unit[[index[f"b{i}"] for i in range(5)]]
    off = ~np.eye(5, dtype=bool)
    within = min((a @ a.T)[off].mean(), (b @ b.T)[off].mean())
    across = (a @ b.T).mean()
    assert within > across + 0.3, (within, across)
    assert res.vectors.dtype == np.float32 and res.vectors.shape == (20, 16)
    assert res.config["method"] == "sgns-torch" and res.config["pairs"]["window"] == 2
    assert res.stats["final_loss"] < res.stats["mean_loss"] * 1.5


def test_torch_trainer_is_reproducible_on_cpu(planted_pairs):
    pytest.importorskip("torch")
    one = _train(planted_pairs[1], epochs=1)
    two = _train(planted_pairs[1], epochs=1)
    other = _train(planted_pairs[1], epochs=1, seed=4)
    np.testing.assert_array_equal(one.vectors, two.vectors)
    assert not np.array_equal(one.vectors, other.vectors)


def test_cuda_without_cuda_is_one_line(planted_pairs):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(CoocError) as e:
        _train(planted_pairs[1], device="cuda")
    assert "cuda" in str(e.value) and "\n" not in str(e.value)


def test_missing_torch_names_the_pip_line(planted_pairs, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(CoocError, match=r"pip install 'cooc\[torch\]'"):
        _train(planted_pairs[1])


@pytest.mark.parametrize("kwargs, match", [
    ({"dim": 0}, "dim must be"), ({"negative": 0}, "negative must be"),
    ({"batch_size": 0}, "batch_size must be"), ({"lr": 0}, "lr must be"),
    ({"device": "tpu"}, "device must be")])
def test_torch_bad_settings_are_refused(planted_pairs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _train(planted_pairs[1], **kwargs)


# -- the commands ---------------------------------------------------------------------------------

def test_cli_pairs_then_sgns_torch(planted_pairs, tmp_path, capsys):
    from cooc.cli.main import main

    pairs, vec = tmp_path / "p.pairs", tmp_path / "p.vec"
    assert main(["embed", "pairs", str(planted_pairs[0]), "-o", str(pairs), "--window", "2",
                 "--min-count", "1", "--sample", "0", "--shard-pairs", "5000", "--seed", "3",
                 "--num-proc", "1", "-q", "--tokenizer", "whitespace"]) == 0
    p = open_pairs(pairs)
    assert len(p.shards) > 1 and p.vocab_size == 20 and p.config["dynamic_window"]
    assert main(["verify", str(pairs)]) == 0 and main(["stats", str(pairs)]) == 0
    out = capsys.readouterr().out
    assert "ok (skip-gram pairs)" in out and f"{p.pairs:,}" in out
    if "torch" not in sys.modules:
        pytest.importorskip("torch")
    assert main(["embed", "sgns-torch", str(pairs), "-o", str(vec), "--dim", "16",
                 "--epochs", "3", "--batch-size", "256", "--lr", "0.05", "--num-proc", "1",
                 "-q"]) == 0
    from cooc.embed.vectors import open_vectors

    v = open_vectors(vec)
    assert v.dim == 16 and len(v) == 20 and v.config["method"] == "sgns-torch"
    near = [s.text for s in v.most_similar("a1", 3)]
    assert all(t[0] in "ax" for t in near), near


@pytest.mark.parametrize("argv, match", [
    (["pairs", "{src}", "-o", "{tmp}/x.pairs", "--window", "0"], "window must be"),
    (["pairs", "{src}", "-o", "{tmp}/x.pairs", "--shard-pairs", "0"], "shard_pairs must be"),
    (["sgns-torch", "{tmp}/nothere", "-o", "{tmp}/x.vec"], "not a pairs folder"),
    (["sgns-torch", "{src}", "-o", "{tmp}/x.vec"], "not a pairs folder"),
    (["sgns-torch", "{pairs}", "-o", "{tmp}/x.vec", "--dim", "0"], "dim must be")])
def test_cli_bad_settings_exit_2_in_one_line(planted_pairs, tmp_path, capsys, argv, match):
    from cooc.cli.main import main

    fill = {"src": str(planted_pairs[0]), "tmp": str(tmp_path), "pairs": str(planted_pairs[1])}
    assert main(["embed", *[a.format(**fill) for a in argv]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
