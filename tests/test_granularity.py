"""Granularity: documents cut into paragraphs, lines or sentences (English and Chinese); the
units are the windows with --context-length 0, and round-trip through stores and indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import reference_counts

import cooc
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.corpus.segment import split_text
from cooc.errors import CoocError
from cooc.options import RunOptions
from cooc.store.tokenize import tokenize_corpus

QUIET = RunOptions(quiet=True, num_proc=1)


@pytest.mark.parametrize("text,want", [
    ("Hello world. This is a test! Is it? Yes.", ["Hello world.", "This is a test!", "Is it?", "Yes."]),
    ("Mr. Smith met Dr. Who, e.g. at 5 p.m. on Jan. 3. Then he left.",
     ["Mr. Smith met Dr. Who, e.g. at 5 p.m. on Jan. 3.", "Then he left."]),
    ("J. R. R. Tolkien wrote it. \"Really?\" she asked. (Yes.) Fine.",
     ["J. R. R. Tolkien wrote it.", "\"Really?\"", "she asked.", "(Yes.)", "Fine."]),
    ("今天天气很好。我们去公园吧！你来吗？“好的。”他说。",
     ["今天天气很好。", "我们去公园吧！", "你来吗？", "“好的。”", "他说。"]),
    ("版本是3.14，很好。Python 3.11 is out. 对吗？", ["版本是3.14，很好。", "Python 3.11 is out.", "对吗？"]),
    ("a line\nwrapped here. Next\n\nNew paragraph", ["a line wrapped here.", "Next", "New paragraph"]),
    ("no end mark", ["no end mark"]),
    ("   ", []),
])
def test_sentences(text, want):
    assert split_text(text, "sentence") == want


def test_paragraphs_and_lines():
    text = "one\ntwo\n\n  \nthree\n\n\nfour  "
    assert split_text(text, "paragraph") == ["one\ntwo", "three", "four"]
    assert split_text(text, "line") == ["one", "two", "three", "four"]
    assert split_text(text, "document") == [text.strip()]


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n。？”\"")), max_size=80),
       st.sampled_from(["paragraph", "line", "sentence"]))
def test_no_character_is_lost(text, granularity):
    units = split_text(text, granularity)
    assert "".join("".join(units).split()) == "".join(text.split())
    assert all(u == u.strip() and u for u in units)


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs),
                    encoding="utf-8")
    return path


DOCS = ["The cat sat. The dog ran! A cat and a dog?\n\nNew paragraph here. Cat again.",
        "猫 在 这里。 狗 在 那里！ 猫 和 狗？",
        "single sentence without end"]


@pytest.mark.parametrize("granularity", ["sentence", "paragraph", "line"])
def test_units_are_the_windows(tmp_path, granularity):
    f = write_jsonl(tmp_path / "c.jsonl", DOCS)
    win = WindowConfig(context_length=0)
    r = cooc.build(f, tmp_path / "c.cooc", BuildConfig(tokenizer="whitespace", granularity=granularity,
                                                       window=win), QUIET)
    idx = cooc.open_index(r.path)
    ids = {t: i for i, t in enumerate(idx.token_texts)}
    units = [u.split() for d in DOCS for u in split_text(d, granularity)]
    want = reference_counts([[ids[w] for w in u] for u in units])
    got = {}
    for a in range(idx.vocab_size):
        cols, counts = idx.row(a)
        got.update({(a, int(b)): int(c) for b, c in zip(cols, counts, strict=True)})
    assert got == dict(want)
    assert r.num_documents == len(units) and idx.meta["config"]["granularity"] == granularity


def test_store_keeps_the_granularity(tmp_path):
    f = write_jsonl(tmp_path / "c.jsonl", DOCS * 5)
    cfg = BuildConfig(tokenizer="qwen", granularity="sentence", window=WindowConfig(context_length=0))
    text = cooc.build(f, tmp_path / "t.cooc", cfg, QUIET)
    tokenize_corpus(f, tmp_path / "s.tokens", cfg, QUIET, shard_tokens=40)
    store = cooc.build(tmp_path / "s.tokens", tmp_path / "s.cooc",
                       BuildConfig(window=WindowConfig(context_length=0)), QUIET)
    for name in ("data.bin", "windows.bin", "occurrences.bin"):
        assert (text.path / name).read_bytes() == (store.path / name).read_bytes()
    assert cooc.open_index(store.path).meta["config"]["granularity"] == "sentence"
    tokenize_corpus(f, tmp_path / "d.tokens", BuildConfig(tokenizer="qwen"), QUIET)
    with pytest.raises(CoocError, match="holds document units"):
        cooc.build(tmp_path / "d.tokens", tmp_path / "x.cooc",
                   BuildConfig(granularity="paragraph"), QUIET)
