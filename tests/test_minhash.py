"""MinHash-LSH near-duplicate removal (`cooc.curate.minhash`, `cooc.kernels.minhash`):
kernels against slow pure-Python references, the band choice, clusters against brute force,
and results that do not change with batch size, memory budget, threads or runs."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.curate.minhash import (
    MinHashDedup,
    candidate_probability,
    choose_bands,
    describe_bands,
    s_curve,
)
from cooc.curate.step import DocumentBatch
from cooc.errors import CoocError
from cooc.kernels import minhash as km
from cooc.options import RunOptions

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# -- slow references ---------------------------------------------------------------------

def ref_mix(x: int) -> int:
    x &= M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def ref_word_hash(word: str) -> int:
    h = 0xCBF29CE484222325
    for c in word.encode("utf-8"):
        h = ((h ^ c) * 0x100000001B3) & M64
    return ref_mix(h) | 1


def ref_words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def ref_shingles(text: str, ngram: int, seed: int) -> list[int]:
    w = [ref_word_hash(x) for x in ref_words(text)]
    if not w:
        return []
    n = min(ngram, len(w))
    out = set()
    for i in range(max(1, len(w) - ngram + 1)):
        h = 0
        for x in w[i:i + n]:
            h = (h * GOLDEN + x) & M64
        out.add(ref_mix(h ^ seed ^ n))
    return sorted(out)


def ref_signature(shingles: list[int], mult: list[int], add: list[int]) -> list[int]:
    if not shingles:
        return [0xFFFFFFFF] * len(mult)
    return [min((((a * x + c) & M64) >> 32) for x in shingles) for a, c in zip(mult, add,
                                                                              strict=True)]


def ref_band_keys(sig: list[int], empty: bool, bands: int, rows: int) -> list[int]:
    out = []
    for j in range(bands):
        if empty:
            out.append(0)
            continue
        h = ref_mix(j + GOLDEN)
        for v in sig[j * rows:(j + 1) * rows]:
            h = ref_mix(h * GOLDEN + v)
        out.append(h | 1)
    return out


def ref_jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 0.0


def ref_components(n: int, pairs) -> list[int]:
    """Each node's component label: its smallest member (a -1-free union-find by BFS)."""
    adj = [[] for _ in range(n)]
    for a, b in pairs:
        adj[a].append(b)
        adj[b].append(a)
    label = [-1] * n
    for s in range(n):
        if label[s] < 0:
            stack, comp = [s], []
            label[s] = s
            while stack:
                x = stack.pop()
                comp.append(x)
                for y in adj[x]:
                    if label[y] < 0:
                        label[y] = s
                        stack.append(y)
    return label


def truth_clusters(texts: list[str], threshold: float, ngram: int = 5) -> np.ndarray:
    """Brute force: clusters = components of the pairs with Jaccard >= threshold."""
    sets = [set(ref_words_shingles(t, ngram)) for t in texts]
    pairs = [(i, j) for i in range(len(texts)) for j in range(i)
             if sets[i] and sets[j] and
             len(sets[i] & sets[j]) >= threshold * len(sets[i] | sets[j])]
    label = np.array(ref_components(len(texts), pairs))
    size = np.bincount(label, minlength=len(texts))
    return np.where(size[label] > 1, label, -1)


def ref_words_shingles(text: str, ngram: int) -> list[tuple[str, ...]]:
    w = ref_words(text)
    if not w:
        return []
    return [tuple(w[i:i + ngram]) for i in range(max(1, len(w) - ngram + 1))]


# -- a small corpus with planted near-copies ---------------------------------------------

def make_corpus(seed: int = 0, bases: int = 60, length: int = 80):
    rng = np.random.default_rng(seed)
    vocab = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}"
             for i in range(3000)]
    docs = [[vocab[k] for k in rng.integers(0, len(vocab), length)] for _ in range(bases)]
    texts = [" ".join(d) for d in docs]
    for b in range(0, bases, 3):  # a near-copy with one substitution (J ~ 0.88)
        d = list(docs[b])
        d[int(rng.integers(length))] = "zzz"
        texts.append(" ".join(d))
    for b in range(1, bases, 5):  # exact copies
        texts.append(texts[b])
    texts += ["", "Only four words here", "only FOUR words, here!", "1234"]
    order = rng.permutation(len(texts))
    return [texts[k] for k in order]


def batches(texts, size, ordinals=None, extra=None):
    ordinals = np.arange(len(texts)) if ordinals is None else ordinals
    for a in range(0, len(texts), size):
        ex = {k: v[a:a + size] for k, v in (extra or {}).items()}
        yield DocumentBatch(texts[a:a + size], np.asarray(ordinals[a:a + size]), ex)


def run(texts, size=16, ordinals=None, extra=None, **kw):
    kw.setdefault("options", RunOptions(num_proc=1))
    step = MinHashDedup(**kw)
    step.fit(batches(texts, size, ordinals, extra))
    ds = [step.decide(b) for b in batches(texts, size, ordinals, extra)]
    return step, {f: np.concatenate([getattr(d, f) for d in ds])
                  for f in ("keep", "reason", "duplicate_of", "cluster")}


CORPUS = make_corpus()


# -- kernels -----------------------------------------------------------------------------

TEXTS = st.lists(st.text(alphabet="ab cdé Ü1,.\n", max_size=40), min_size=1, max_size=8)


@given(TEXTS, st.integers(1, 4))
def test_shingle_sets_match_reference(texts, ngram):
    m = MinHashDedup(ngram=ngram, permutations=8, bands=2, rows=4, seed=3)
    sh, off = m.shingle_sets(texts)
    for d, t in enumerate(texts):
        assert sh[off[d]:off[d + 1]].tolist() == ref_shingles(t, ngram, int(m.shingle_seed))


@given(TEXTS)
def test_signatures_and_band_keys_match_reference(texts):
    m = MinHashDedup(permutations=12, bands=3, rows=4, seed=5)
    sh, off, keys = m.sketch(texts)
    sigs = np.empty((len(texts), 12), np.uint32)
    km.signatures(sh, off, m.mult, m.add, sigs)
    for d in range(len(texts)):
        s = sh[off[d]:off[d + 1]].tolist()
        ref = ref_signature(s, m.mult.tolist(), m.add.tolist())
        assert sigs[d].tolist() == ref
        assert keys[:, d].tolist() == ref_band_keys(ref, not s, 3, 4)


def test_sort_handles_skewed_and_repeated_hashes():
    rng = np.random.default_rng(1)
    for x in (rng.integers(0, 2**64, 1000, dtype=np.uint64),
              np.full(300, 7, np.uint64),
              (rng.integers(0, 5, 500) << 60).astype(np.uint64),
              rng.integers(0, 2**64, 1, dtype=np.uint64)):
        y = x.copy()
        km.sort_uniform(y, 0, len(y), np.empty(len(y), np.uint64),
                        np.empty(2 * len(y) + 2, np.int64))
        assert y.tolist() == sorted(x.tolist())


@given(st.lists(st.integers(0, 30), max_size=30, unique=True),
       st.lists(st.integers(0, 30), max_size=30, unique=True))
def test_jaccard_matches_reference(a, b):
    x = np.array(sorted(a), np.uint64)
    y = np.array(sorted(b), np.uint64)
    assert km.jaccard(x, y) == pytest.approx(ref_jaccard(a, b))


@given(st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19)), max_size=40))
def test_union_find_roots_are_smallest_members(pairs):
    parent = np.arange(20, dtype=np.int64)
    left = np.array([p[0] for p in pairs], np.int64)
    right = np.array([p[1] for p in pairs], np.int64)
    km.union_pairs(parent, left, right)
    km.resolve(parent)
    assert parent.tolist() == ref_components(20, pairs)


# -- band choice ----------------------------------------------------------------------------

def test_choose_bands_matches_datasketch():
    # datasketch.lsh._optimal_param for the same arguments (datasketch 2.0)
    assert choose_bands(0.8, 128, 0.5, 0.5) == (9, 13)
    assert choose_bands(0.5, 64, 0.5, 0.5) == (14, 4)
    assert choose_bands(0.8, 128, 0.01, 0.99) == (18, 7)
    assert choose_bands(0.7, 100, 0.3, 0.7) == (14, 7)
    assert choose_bands(0.8, 128) == (18, 7)


def test_s_curve_and_false_negative_rate():
    b, r = 18, 7
    curve = dict(s_curve(b, r))
    assert curve[0.8] == pytest.approx(1 - (1 - 0.8**7) ** 18)
    assert curve[1.0] == 1.0
    ps = [p for _, p in s_curve(b, r)]
    assert ps == sorted(ps)
    text = describe_bands(0.8, b, r)
    assert f"{1 - candidate_probability(0.8, b, r):.2e}" in text
    rep = MinHashDedup().report()
    assert rep["bands"] * rep["rows"] <= rep["permutations"]
    assert rep["false_negative_rate_at_threshold"] < 0.02


# -- the step --------------------------------------------------------------------------------

def test_planted_near_duplicates_found_distinct_kept():
    truth = truth_clusters(CORPUS, 0.8)
    step, d = run(CORPUS)
    assert (truth >= 0).sum() > 30  # the corpus has clusters
    assert d["cluster"].tolist() == truth.tolist()
    # one kept per cluster, the first; the others point to it
    for c in set(truth[truth >= 0].tolist()):
        members = np.flatnonzero(truth == c)
        assert d["keep"][members].tolist() == [True] + [False] * (len(members) - 1)
        assert (d["duplicate_of"][members[1:]] == members[0]).all()
        assert c == members[0]
    assert d["keep"][truth < 0].all() and (d["duplicate_of"][d["keep"]] == -1).all()
    assert (d["reason"] == (~d["keep"]).astype(np.uint8)).all()
    assert step.report()["removed"] == int((~d["keep"]).sum())
    assert (step.clusters() == d["cluster"]).all()


def test_short_and_empty_documents():
    texts = ["", "", "Only four words here", "only FOUR words, here!", "x", "12 34"]
    _, d = run(texts, size=2)
    assert d["cluster"].tolist() == [-1, -1, 2, 2, -1, -1]


def test_independent_of_batch_size_memory_threads_and_runs():
    texts = CORPUS
    _, ref = run(texts, size=1000)
    for size, opts in ((1, RunOptions(num_proc=1)), (7, RunOptions(num_proc=2)),
                       (64, RunOptions(num_proc=2, memory_bytes=1024)),
                       (5, RunOptions(num_proc=1, memory_bytes=4096))):
        step, d = run(texts, size=size, options=opts)
        for k in ref:
            assert (d[k] == ref[k]).all(), (size, opts, k)
        if opts.memory_bytes:
            assert step.report()["spilled_partitions"] > 0  # the out-of-core path ran


def test_seeded_and_deterministic():
    a = run(CORPUS, seed=7)[1]
    b = run(CORPUS, seed=7)[1]
    c = run(CORPUS, seed=8)[1]
    assert all((a[k] == b[k]).all() for k in a)
    assert (a["cluster"] == c["cluster"]).all()  # exact verification: seeds agree here


def test_keep_longest_and_score_column_with_sparse_ordinals():
    base = " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(40))
    texts = [base, base + " tail", base + " t", "other text entirely here and more words"]
    ords = np.array([3, 10, 11, 20])
    _, d = run(texts, size=2, ordinals=ords, keep="longest")
    assert d["keep"].tolist() == [False, True, False, True]
    assert d["duplicate_of"].tolist() == [10, -1, 10, -1]
    assert d["cluster"].tolist() == [3, 3, 3, -1]
    _, d = run(texts, size=3, ordinals=ords, keep="quality",
               extra={"quality": np.array([0.5, 0.1, 0.9, 0.0])})
    assert d["keep"].tolist() == [False, False, True, True]
    assert d["duplicate_of"].tolist() == [11, 11, -1, -1]
    recs = [{"q": 1}, {"q": 1}, {"q": 0}, {"q": 5}]
    _, d = run(texts, size=3, ordinals=ords, keep="q", extra={"records": recs})
    assert d["keep"].tolist() == [True, False, False, True]  # a tie: the first


@pytest.mark.parametrize("kw, match", [
    (dict(threshold=0), "threshold"), (dict(threshold=1.5), "threshold"),
    (dict(threshold="0.8"), "threshold"), (dict(ngram=0), "ngram"),
    (dict(permutations=0), "permutations"), (dict(permutations=5000), "permutations"),
    (dict(bands=4), "both bands and rows"), (dict(bands=20, rows=8), "bands \\* rows"),
    (dict(keep=""), "keep"), (dict(seed=-1), "seed"), (dict(tokenizer=""), "tokenizer"),
])
def test_bad_settings_one_line_errors(kw, match):
    with pytest.raises(ValueError, match=match) as e:
        MinHashDedup(**kw)
    assert "\n" not in str(e.value)


def test_misuse_errors():
    with pytest.raises(CoocError, match="before fit"):
        MinHashDedup().decide(DocumentBatch(["a"], np.arange(1)))
    with pytest.raises(CoocError, match="no records to read a score from"):
        run(["a b c d e f"] * 2, keep="nope")
    step, _ = run(["a b c d e f"] * 2)
    with pytest.raises(CoocError, match="never saw"):
        step.decide(DocumentBatch(["a"], np.array([5])))
    with pytest.raises(ValueError, match="corpus order"):
        MinHashDedup().fit([DocumentBatch(["a", "b"], np.array([1, 0]))])


@settings(max_examples=12)
@given(st.integers(1, 40), st.sampled_from([0, 512, 3000, 1 << 20]), st.sampled_from([1, 2]),
       st.integers(0, 3))
def test_property_same_output_any_batch_memory_threads(size, memory, threads, corpus_seed):
    texts = make_corpus(corpus_seed, bases=24, length=30)
    _, ref = run(texts, size=len(texts))
    _, d = run(texts, size=size, options=RunOptions(num_proc=threads, memory_bytes=memory))
    for k in ref:
        assert (d[k] == ref[k]).all()


def test_no_documents():
    step = MinHashDedup().fit([])
    assert step.report()["documents"] == 0 and step.clusters().shape == (0,)
    assert len(step.decide(DocumentBatch([], np.zeros(0, np.int64))).keep) == 0


def test_whitespace_tokenizer_keeps_case_and_punctuation():
    texts = ["The cat sat on the mat today", "the cat sat on the mat today",
             "The cat sat on the mat today"]
    assert run(texts)[1]["cluster"].tolist() == [0, 0, 0]  # words: case folded
    assert run(texts, tokenizer="whitespace")[1]["cluster"].tolist() == [0, -1, 0]


@given(st.lists(st.sets(st.integers(0, 12), max_size=8), min_size=2, max_size=14),
       st.lists(st.integers(0, 3), min_size=14, max_size=14), st.sampled_from([0.3, 0.5, 1.0]))
def test_verify_buckets_matches_brute_force(tmp_path_factory, sets, bucket_of, threshold):
    """Clusters = components of the candidate pairs (same key) with Jaccard >= threshold."""
    n = len(sets)
    path = tmp_path_factory.mktemp("vb") / "sets.u64"
    flat = [x + 1 for s in sets for x in sorted(s)]
    np.array(flat, np.uint64).tofile(path)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum([len(s) for s in sets], out=offsets[1:])
    keys = np.array([bucket_of[d] + 1 if sets[d] else 0 for d in range(n)], np.uint64)
    order = np.argsort(keys, kind="stable")
    parent = np.arange(n, dtype=np.int64)
    stats = np.zeros(3, np.int64)
    most = max(1, max(len(s) for s in sets))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert km.verify_buckets(keys[order], order, fd, offsets, threshold, parent, stats,
                                 np.empty(most, np.uint64), np.empty(most, np.uint64)) == 0
    finally:
        os.close(fd)
    km.resolve(parent)
    pairs = [(i, j) for i in range(n) for j in range(i) if sets[i] and sets[j]
             and keys[i] == keys[j]
             and len(sets[i] & sets[j]) >= threshold * len(sets[i] | sets[j])]
    assert parent.tolist() == ref_components(n, pairs)


def test_cli_minhash_writes_kept_and_removed_with_the_keep_field(tmp_path, capsys):
    import json
    import random

    from cooc.cli.main import main

    rnd = random.Random(3)
    vocab = [f"w{i}" for i in range(400)]
    rows = []
    for i in range(20):
        words = [rnd.choice(vocab) for _ in range(80)]
        rows.append({"text": " ".join(words), "id": i, "q": 1})
        if i % 4 == 0:  # a near-copy (one word changed) with a higher score
            words[40] = "changed"
            rows.append({"text": " ".join(words), "id": 100 + i, "q": 5})
    rows.append({"text": "a document without a score field " * 3, "id": 999})
    src = tmp_path / "c.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    out = tmp_path / "o"
    assert main(["dedup", "minhash", str(src), "-o", str(out), "--keep", "q",
                 "--tokenizer", "whitespace", "-q"]) == 0
    kept = [json.loads(x) for x in (out / "kept" / "c.jsonl").read_text().splitlines()]
    removed = [json.loads(x) for x in (out / "removed" / "c.jsonl").read_text().splitlines()]
    assert len(kept) + len(removed) == len(rows)  # the bad line is skipped, counted
    assert sorted(r["id"] for r in removed) == [0, 4, 8, 12, 16]  # the lower-scored copies
    assert all(r["cooc_reason"] == "near-duplicate" for r in removed)
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"] == 1 and report["steps"][0]["missing_scores"] == 1
    assert main(["dedup", "minhash", str(src), "-o", str(tmp_path / "x"), "--threshold",
                 "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "threshold" in err[-1]


def test_one_letter_documents_fill_the_word_buffer_exactly():
    # packed without separators, n one-byte documents hold n words in n bytes: the word
    # buffer was sized len // 2 + 1 and the kernel wrote past it (a heap corruption that
    # aborted a later test)
    m = MinHashDedup(ngram=1, permutations=8, bands=2, rows=4, seed=3)
    texts = ["a", "b", "c", "d", "e", "f", "g", "h"] * 50
    sh, off = m.shingle_sets(texts)
    assert (np.diff(off) == 1).all()
    assert sh[off[0]] == sh[off[8]] and sh[off[0]] != sh[off[1]]


def test_a_bad_line_is_reported_once_though_the_corpus_is_read_twice(tmp_path, caplog):
    import logging

    from cooc.cli.main import main

    src = tmp_path / "c.jsonl"
    src.write_text('{"text": "one two three four five six"}\n{oops\n'
                   '{"text": "one two three four five six"}\n')
    with caplog.at_level(logging.WARNING):
        assert main(["dedup", "minhash", str(src), "-o", str(tmp_path / "o"), "-q"]) == 0
    hits = [r for r in caplog.records if "skipped: malformed_json" in r.getMessage()]
    assert len(hits) == 1 and "c.jsonl:2" in hits[0].getMessage()


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(
    ["\x00", " ", "A", "Ä", "1", "_", "\ud800"]), max_size=12), max_size=6))
def test_batch_normalization_equals_one_text_at_a_time(texts):
    from cooc.tokenizers.words import normalize_words, normalize_words_batch

    buf, bounds = normalize_words_batch(texts)
    got = [buf[a:b].decode("utf-8").split() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert got == [normalize_words(t).split() for t in texts]


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=st.sampled_from(list("aB1_ .,;(é\n\t\x00-")) | st.characters(
    codec="utf-8"), max_size=15), max_size=6))
def test_wordpunct_equals_the_regex_reference(texts):
    from cooc.tokenizers.words import wordpunct_batch

    buf, bounds = wordpunct_batch(texts)
    got = [buf[a:b].decode("utf-8").split() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    want = [re.findall(r"\w+|[^\w\s]+", t.replace("\x00", " ").lower()) for t in texts]
    assert got == want
