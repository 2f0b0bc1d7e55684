"""`cooc merge`: merging indexes over parts of a corpus gives the arrays of one build over the
whole corpus, byte for byte, whatever the order, number of inputs and row-range size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc
from cooc.cli.main import main
from cooc.cooccur import merge, open_index, write_index
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.cooccur.query import Analyzer
from cooc.errors import CoocError
from cooc.options import RunOptions

# words unique to each half (so whitespace ids shift), shared words, non-ASCII order, and the
# literal "</s>" (id 0)
DOCS = [
    "the cat sat on the mat", "Zebra apple éclair 中文 the cat", "a b c d e f g h i j k",
    "", "dog </s> cat dog dog", "the mat is flat and the cat is fat", "lone",
    "éclair apple Apple apple zebra", "中文 分词 the dog", "b d f h j the end",
]


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def array_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(path).glob("*.bin"))}


def build(files, out: Path, tokenizer="whitespace", context_length=4) -> Path:
    cfg = BuildConfig(tokenizer=tokenizer, window=WindowConfig(context_length=context_length))
    return cooc.build(files, out, cfg, RunOptions(quiet=True, num_proc=2)).path


def build_parts(root: Path, parts: list[list[str]], **kw) -> tuple[list[Path], Path]:
    """(an index per part, one index over all parts' files)."""
    files = [write_jsonl(root / f"part{i}.jsonl", docs) for i, docs in enumerate(parts)]
    indexes = [build(f, root / f"part{i}.cooc", **kw) for i, f in enumerate(files)]
    return indexes, build(files, root / "union.cooc", **kw)


def merge_cli(inputs: list[Path], out: Path) -> int:
    return main(["merge", *map(str, inputs), "-o", str(out), "-q"])


def visible_stats(path: Path) -> dict:
    s = Analyzer(open_index(path)).stats()
    return {k: s[k] for k in ("documents", "tokens", "windows", "vocab_size", "vocab_seen", "pairs")}


@pytest.mark.parametrize("tokenizer, range_entries", [
    ("whitespace", None), ("whitespace", 3), ("qwen", 3),
])
def test_merge_equals_union_build(tmp_path, monkeypatch, tokenizer, range_entries):
    if range_entries:  # many row ranges: no range boundary may change the bytes
        monkeypatch.setattr(merge, "_MIN_RANGE_ENTRIES", range_entries)
        monkeypatch.setattr(merge, "_MAX_RANGE_ENTRIES", range_entries)
    (a, b), union = build_parts(tmp_path, [DOCS[:4], DOCS[4:]], tokenizer=tokenizer)
    assert array_bytes(a) != array_bytes(union)  # the halves alone are not the answer
    assert merge_cli([a, b], tmp_path / "m.cooc") == 0
    assert array_bytes(tmp_path / "m.cooc") == array_bytes(union)
    assert visible_stats(tmp_path / "m.cooc") == visible_stats(union)
    meta = open_index(tmp_path / "m.cooc").meta
    assert meta.pop("merged_from") == [str(a), str(b)]
    assert meta == open_index(union).meta  # tokenizer hash, corpus files, skip report


def test_merge_order_and_three_inputs(tmp_path, capsys):
    parts, union = build_parts(tmp_path, [DOCS[:3], DOCS[3:7], DOCS[7:]])
    a, b, c = parts
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "ab.cooc")]) == 0
    assert f"merged 2 indexes ({a}, {b}) -> {tmp_path / 'ab.cooc'}" in capsys.readouterr().err
    assert merge_cli([b, a], tmp_path / "ba.cooc") == 0
    assert array_bytes(tmp_path / "ab.cooc") == array_bytes(tmp_path / "ba.cooc")
    assert merge_cli([a, b, c], tmp_path / "abc.cooc") == 0
    assert merge_cli([tmp_path / "ab.cooc", c], tmp_path / "ab-c.cooc") == 0
    for merged in ("abc.cooc", "ab-c.cooc"):
        assert array_bytes(tmp_path / merged) == array_bytes(union)
        assert visible_stats(tmp_path / merged) == visible_stats(union)


@pytest.mark.parametrize("packing", ["document", "concat"])
def test_merge_adds_counts_of_repeated_input(tmp_path, caplog, packing):
    """The same corpus twice: every count, occurrence and window doubles (concat packing too,
    with a warning that the seam's windows differ from a union build)."""
    docs = write_jsonl(tmp_path / "docs.jsonl", DOCS)
    cfg = BuildConfig(tokenizer="whitespace", window=WindowConfig(context_length=4, packing=packing))
    a = cooc.build(docs, tmp_path / "a.cooc", cfg, RunOptions(quiet=True)).path
    merge.merge_indexes([a, a], tmp_path / "aa.cooc")
    assert ("seam between inputs" in caplog.text) == (packing == "concat")
    once, twice = open_index(a), open_index(tmp_path / "aa.cooc")
    assert twice.vocab_size == once.vocab_size and twice.num_entries == once.num_entries
    for t in range(once.vocab_size):
        cols, counts = once.row(t)
        cols2, counts2 = twice.row(t)
        assert cols2.tolist() == cols.tolist() and counts2.tolist() == (2 * counts).tolist()
    assert (twice.occurrences == 2 * once.occurrences).all()
    assert (twice.windows == 2 * once.windows).all()


words = st.sampled_from(["a", "b", "c", "Ab", "é", "中", "</s>", "zz", "b2"])
corpora = st.lists(st.lists(words, max_size=9).map(" ".join), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None)
@given(docs=corpora, data=st.data(), context_length=st.integers(2, 5))
def test_merge_equals_union_build_property(tmp_path_factory, docs, data, context_length):
    cut = data.draw(st.integers(0, len(docs)), label="cut")
    root = tmp_path_factory.mktemp("prop")
    (a, b), union = build_parts(root, [docs[:cut], docs[cut:]], context_length=context_length)
    merged = merge.merge_indexes([a, b], root / "m.cooc", RunOptions(quiet=True)).path
    assert array_bytes(merged) == array_bytes(union)
    assert visible_stats(merged) == visible_stats(union)


def test_merge_refuses_non_canonical_whitespace_vocabulary(tmp_path):
    meta = {"config": BuildConfig(tokenizer="whitespace").to_dict(),
            "tokenizer": {"spec": "whitespace", "kind": "whitespace", "eot_id": 0}}
    zeros = np.zeros(3, np.uint64)
    for name in ("a", "b"):
        write_index(tmp_path / f"{name}.cooc", 3, np.zeros(4, np.int64), [], [], zeros, zeros,
                    ["</s>", "zebra", "apple"], meta)
    with pytest.raises(CoocError, match="not in canonical order"):
        merge.merge_indexes([tmp_path / "a.cooc", tmp_path / "b.cooc"], tmp_path / "m.cooc")
    assert not (tmp_path / "m.cooc").exists()


@pytest.fixture(scope="module")
def indexes(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("errors")
    half = write_jsonl(root / "half.jsonl", DOCS[:5])
    (root / "not-an-index").mkdir()
    return {
        "ws4": build(half, root / "ws4.cooc"),
        "ws5": build(half, root / "ws5.cooc", context_length=5),
        "qwen4": build(half, root / "qwen4.cooc", tokenizer="qwen"),
        "plain": root / "not-an-index",
        "missing": root / "missing.cooc",
    }


@pytest.mark.parametrize("inputs, out, message", [
    (["ws4", "ws5"], None, "config.window.context_length differs (4 vs 5)"),
    (["ws4", "qwen4"], None, "config.tokenizer differs ('whitespace' vs 'qwen')"),
    (["ws4"], None, "at least 2 indexes, got 1"),
    (["ws4", "ws4"], "ws4", "is also an input"),
    (["ws4", "plain"], None, "not a cooc index"),
    (["ws4", "missing"], None, "not a cooc index (no such directory)"),
])
def test_merge_errors(tmp_path, capsys, indexes, inputs, out, message):
    target = indexes[out] if out else tmp_path / "m.cooc"
    before = array_bytes(target)
    assert main(["merge", *(str(indexes[k]) for k in inputs), "-o", str(target), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cooc: error: ") and err.count("\n") == 1
    assert message in err
    assert array_bytes(target) == before  # nothing written, an input left as it was
    assert not list(target.parent.glob(f"{target.name}.tmp-*"))
    if not out:
        assert not target.exists()
