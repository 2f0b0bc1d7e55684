"""End-to-end builds against the references, and invariance of the index bytes across run
options (workers, batch sizes, memory budgets forcing 0, 1 and many spills, file order)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import reference_counts, reference_dict_of_sets, reference_windows

import cooc
from cooc.cooccur import open_index
from cooc.cooccur.build import accumulate, counter
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.options import RunOptions
from cooc.tokenizers import load_tokenizer

WORDS = [f"w{i}" for i in range(40)]


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def index_counter(idx) -> dict:
    out = {}
    for a in range(idx.vocab_size):
        cols, counts = idx.row(a)
        for b, c in zip(cols.tolist(), counts.tolist(), strict=True):
            out[(a, int(b))] = int(c)
    return out


def array_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(path).glob("*.bin"))}


def expected(docs: list[str], tokenizer_spec: str, length: int, packing="document", include_self=False):
    """Reference counts with the same tokenizer: token lists -> windows -> pair counts."""
    tok = load_tokenizer(tokenizer_spec, num_threads=1)
    ids = [tok.encode(d).tolist() for d in docs]
    remap = tok.freeze()
    if remap is not None:
        ids = [[int(remap[i]) for i in doc] for doc in ids]
    wins = reference_windows(ids, length, packing, tok.eot_id)
    return tok, wins, reference_counts(wins, "windows", include_self)


@pytest.fixture
def tiny_budget(monkeypatch):
    """Budgets small enough that every batch spills and runs merge (4 runs at most)."""
    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", 4096)
    monkeypatch.setattr(accumulate, "MIN_MERGE_BYTES", 2048)
    monkeypatch.setattr(accumulate, "MAX_RUNS", 3)


@pytest.mark.parametrize("packing", ["document", "concat"])
@pytest.mark.parametrize("include_self", [False, True])
def test_qwen_build_matches_reference(tmp_path, packing, include_self):
    docs = ["Hello world, hello tokens.", "世界你好，分词器。", "The model reads its corpus in "
            "windows; every token meets the others.", "", "a a a b b a"] * 3
    write_jsonl(tmp_path / "c.jsonl", docs)
    cfg = BuildConfig(window=WindowConfig(context_length=7, packing=packing, include_self=include_self))
    res = cooc.build(tmp_path / "c.jsonl", tmp_path / "c.cooc", cfg, RunOptions(quiet=True))
    tok, wins, want = expected([d for d in docs if d.strip()], "qwen", 7, packing, include_self)
    idx = open_index(res.path)
    assert index_counter(idx) == dict(want)
    assert res.num_windows == len(wins)
    assert idx.token_text(tok.encode(" world")[0]) == " world"
    if not include_self:
        sets = reference_dict_of_sets(wins)
        for t in range(idx.vocab_size):
            assert set(idx.row(t)[0].tolist()) == sets.get(t, set())


def _corpus(tmp_path: Path, docs: list[list[int]], nfiles: int) -> list[Path]:
    texts = [" ".join(WORDS[i] for i in d) for d in docs]
    files = []
    for f in range(nfiles):
        files.append(write_jsonl(tmp_path / f"part-{f}.jsonl", texts[f::nfiles]))
    return files


docs_st = st.lists(st.lists(st.integers(0, len(WORDS) - 1), min_size=0, max_size=30), min_size=1,
                   max_size=25)


@settings(max_examples=25)
@given(docs=docs_st, length=st.integers(2, 12), nfiles=st.integers(1, 3))
def test_index_bytes_independent_of_run_options(tmp_path_factory, docs, length, nfiles):
    tmp = tmp_path_factory.mktemp("inv")
    files = _corpus(tmp, docs, nfiles)
    cfg = BuildConfig(tokenizer="whitespace", window=WindowConfig(context_length=length))
    base = cooc.build(files, tmp / "base.cooc", cfg, RunOptions(quiet=True, num_proc=1))
    want = array_bytes(base.path)
    variants = [
        (list(reversed(files)), RunOptions(quiet=True, num_proc=2, batch_size=1)),
        (files, RunOptions(quiet=True, num_proc=3, batch_size=2)),
    ]
    for i, (fs, opts) in enumerate(variants):
        got = cooc.build(fs, tmp / f"v{i}.cooc", cfg, opts)
        assert array_bytes(got.path) == want


def test_spills_and_run_merges_give_identical_index(tmp_path, tiny_budget, monkeypatch):
    rng = np.random.default_rng(7)
    docs = [rng.integers(0, len(WORDS), rng.integers(1, 60)).tolist() for _ in range(300)]
    files = _corpus(tmp_path, docs, 3)
    cfg = BuildConfig(tokenizer="whitespace", window=WindowConfig(context_length=16))
    many = cooc.build(files, tmp_path / "many.cooc", cfg,
                      RunOptions(quiet=True, memory_bytes=1, batch_size=4))
    assert many.spills > 3  # several spills, so runs were merged (MAX_RUNS = 3)
    monkeypatch.setattr(accumulate, "MAX_RUNS", 32)
    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", 1 << 30)
    none = cooc.build(files, tmp_path / "none.cooc", cfg, RunOptions(quiet=True))
    assert none.spills == 0
    assert array_bytes(many.path) == array_bytes(none.path)
    texts = [" ".join(WORDS[i] for i in d) for d in docs]
    _, _, want = expected(texts, "whitespace", 16)
    assert index_counter(open_index(none.path)) == dict(want)


def test_accumulator_zero_one_and_many_spills(tmp_path, monkeypatch):
    """Whatever the budget (0, 1 or many spills, runs merged at MAX_RUNS), the sum is the same."""
    from cooc.cooccur.build.count import count_windows
    from cooc.cooccur.build.csr import concat_rows
    from cooc.kernels import windows as wk

    monkeypatch.setattr(accumulate, "MIN_MERGE_BYTES", 512)
    monkeypatch.setattr(accumulate, "MAX_RUNS", 3)
    rng = np.random.default_rng(3)
    vocab = 60
    batches = []
    for _ in range(12):
        tokens = rng.integers(0, vocab, 400).astype(np.uint32)
        win_ptr = wk.document_windows(np.array([0, 400], np.int64), 9)
        batches.append(count_windows(tokens, win_ptr, vocab)[0])

    def run(pending_bytes, nbatches, sub):
        acc = accumulate.CountAccumulator(vocab, pending_bytes, tmp_path / sub, merge_bytes=1024)
        (tmp_path / sub).mkdir()
        for b in batches[:nbatches]:
            acc.add(b)
            assert len(acc.runs) < accumulate.MAX_RUNS  # merged when the bound is reached
        out = concat_rows(list(acc.finish()))
        assert list((tmp_path / sub).iterdir()) == []  # runs deleted
        return acc.num_spills, out

    # a budget of 2.5 batches spills now and then; 1 byte before every add after the first
    some = 5 * batches[0].nbytes // 2
    for nbatches, budget, spills_wanted in [(5, 1 << 30, {0}), (5, some, {1, 2, 3}),
                                            (12, 1, {11})]:
        _, want = run(1 << 30, nbatches, f"ref{nbatches}-{budget}")
        spills, got = run(budget, nbatches, f"b{nbatches}-{budget}")
        assert spills in spills_wanted
        assert np.array_equal(got.row_ptr, want.row_ptr)
        assert np.array_equal(got.cols, want.cols) and np.array_equal(got.counts, want.counts)


def test_rebuild_replaces_index_and_refuses_foreign_dir(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", ["x y z", "y z"])
    cfg = BuildConfig(tokenizer="whitespace")
    cooc.build(f, tmp_path / "a.cooc", cfg, RunOptions(quiet=True))
    cooc.build(f, tmp_path / "a.cooc", cfg, RunOptions(quiet=True))
    (tmp_path / "other").mkdir()
    with pytest.raises(cooc.CoocError, match="not a cooc index"):
        cooc.build(f, tmp_path / "other", cfg, RunOptions(quiet=True))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    f = write_jsonl(tmp_path / "a.jsonl", ["x y z"] * 50)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(counter, "count_windows", boom)
    with pytest.raises(KeyboardInterrupt):
        cooc.build(f, tmp_path / "a.cooc", BuildConfig(tokenizer="whitespace"), RunOptions(quiet=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]


def test_bad_corpus_builds_from_the_rest(tmp_path):
    from corpus_fixtures import make_bad_corpus

    want = make_bad_corpus(tmp_path / "bad")
    res = cooc.build(tmp_path / "bad", tmp_path / "bad.cooc", BuildConfig(tokenizer="whitespace"),
                     RunOptions(quiet=True))
    assert res.num_documents == want["documents"]
    for reason, n in want.items():
        if reason not in ("documents", "files"):
            assert res.report.skipped.get(reason, 0) == n, reason
    m = open_index(res.path).meta
    assert m["skip_report"]["skipped"] == {k: v for k, v in res.report.skipped.items() if v}
