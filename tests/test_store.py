"""Token stores: a build from a store equals a build from text; killed runs resume exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from corpus_fixtures import make_bad_corpus

import cooc
from cooc.cli.main import main
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.errors import CoocError
from cooc.options import RunOptions
from cooc.store import is_store, open_store
from cooc.store import writer as store_writer
from cooc.store.tokenize import tokenize_corpus

QUIET = RunOptions(quiet=True, num_proc=1)


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def array_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(path).glob("*.bin"))}


def store_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).glob("shard-*/*"))}


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)] + ["héllo", "世界", "</s>"]
    docs = [" ".join(rng.choice(words, rng.integers(0, 400))) for _ in range(120)]
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "a.jsonl", docs[:70])
    write_jsonl(data / "b.jsonl", docs[70:])
    return data


@pytest.mark.parametrize("tokenizer", ["whitespace", "qwen"])
def test_build_from_store_equals_build_from_text(corpus, tmp_path, tokenizer):
    store = tmp_path / "c.tokens"
    r = tokenize_corpus(corpus, store, BuildConfig(tokenizer=tokenizer), QUIET, shard_tokens=3000)
    assert r.num_shards > 3 and is_store(store)
    open_store(store).verify()
    for length in (16, 128):
        cfg = BuildConfig(tokenizer=tokenizer, window=WindowConfig(context_length=length))
        a = cooc.build(store, tmp_path / f"s{length}.cooc", cfg, QUIET)
        b = cooc.build(corpus, tmp_path / f"t{length}.cooc", cfg, QUIET)
        assert array_bytes(a.path) == array_bytes(b.path)
        assert (a.num_documents, a.num_tokens) == (b.num_documents, b.num_tokens) == \
            (r.num_documents, r.num_tokens)


def test_store_keeps_document_origins(corpus, tmp_path):
    store = tmp_path / "c.tokens"
    tokenize_corpus(corpus, store, BuildConfig(tokenizer="whitespace"), QUIET, shard_tokens=2000)
    s = open_store(store)
    assert s.document_origin(0) == (str(corpus / "a.jsonl"), 1)
    assert s.document_origin(71) == (str(corpus / "b.jsonl"), 2)
    with pytest.raises(IndexError):
        s.document_origin(120)


def test_store_skip_report_equals_text_build(tmp_path):
    want = make_bad_corpus(tmp_path / "bad")
    r = tokenize_corpus(tmp_path / "bad", tmp_path / "bad.tokens", BuildConfig(tokenizer="whitespace"), QUIET)
    counts = r.report.to_dict()["skipped"]
    for reason, n in want.items():
        if reason not in ("documents", "files") and n:
            assert counts[reason] == n
    built = cooc.build(tmp_path / "bad.tokens", tmp_path / "bad.cooc", BuildConfig(tokenizer="whitespace"), QUIET)
    assert built.report.to_dict() == r.report.to_dict()


class _Killed(BaseException):
    pass


@pytest.mark.parametrize("tokenizer", ["whitespace", "qwen"])
@pytest.mark.parametrize("kill_after", [0, 1, 3])
def test_killed_tokenize_resumes_to_identical_store(corpus, tmp_path, monkeypatch, tokenizer, kill_after):
    cfg = BuildConfig(tokenizer=tokenizer)
    whole = tokenize_corpus(corpus, tmp_path / "whole.tokens", cfg, QUIET, shard_tokens=2500)
    out = tmp_path / "k.tokens"
    real_commit = store_writer.StoreWriter.commit
    calls = []

    def dying_commit(self):
        if len(calls) == kill_after:
            raise _Killed  # as if killed while this shard was being finished
        calls.append(1)
        real_commit(self)

    monkeypatch.setattr(store_writer.StoreWriter, "commit", dying_commit)
    with pytest.raises(_Killed):
        tokenize_corpus(corpus, out, cfg, QUIET, shard_tokens=2500)
    assert not out.exists() and (tmp_path / "k.tokens.partial").exists()
    monkeypatch.setattr(store_writer.StoreWriter, "commit", real_commit)
    r = tokenize_corpus(corpus, out, cfg, QUIET, shard_tokens=2500)
    assert r.resumed_documents > 0 or kill_after == 0
    assert store_bytes(out) == store_bytes(whole.path)
    assert not (tmp_path / "k.tokens.partial").exists()
    a = cooc.build(out, tmp_path / "a.cooc", cfg, QUIET)
    b = cooc.build(whole.path, tmp_path / "b.cooc", cfg, QUIET)
    assert array_bytes(a.path) == array_bytes(b.path)


def test_partial_store_with_other_inputs_or_damage_starts_over(corpus, tmp_path, monkeypatch):
    cfg = BuildConfig(tokenizer="whitespace")
    out = tmp_path / "k.tokens"
    monkeypatch.setattr(store_writer.StoreWriter, "finish", lambda self, header: (_ for _ in ()).throw(_Killed))
    with pytest.raises(_Killed):
        tokenize_corpus(corpus, out, cfg, QUIET, shard_tokens=2500)
    monkeypatch.undo()
    partial = tmp_path / "k.tokens.partial"
    shard = partial / "shard-000001" / "tokens.u32"
    shard.write_bytes(shard.read_bytes()[:-4])  # damaged: the whole store is redone
    r = tokenize_corpus(corpus, out, cfg, QUIET, shard_tokens=2500)
    assert r.resumed_documents == 0
    whole = tokenize_corpus(corpus, tmp_path / "w.tokens", cfg, QUIET, shard_tokens=2500)
    assert store_bytes(out) == store_bytes(whole.path)


def test_damaged_store_is_reported(corpus, tmp_path):
    store = tmp_path / "c.tokens"
    tokenize_corpus(corpus, store, BuildConfig(tokenizer="qwen"), QUIET, shard_tokens=3000)
    f = store / "shard-000000" / "tokens.u32"
    f.write_bytes(f.read_bytes()[:-8])
    with pytest.raises(CoocError, match="shard-000000/tokens.u32 has"):
        open_store(store).verify()
    with pytest.raises(CoocError, match="truncated"):
        cooc.build(store, tmp_path / "x.cooc", BuildConfig(), QUIET)
    assert not (tmp_path / "x.cooc").exists()


def test_cli_tokenize_then_build(corpus, tmp_path, capsys):
    store = str(tmp_path / "c.tokens")
    assert main(["tokenize", str(corpus), "-o", store, "--tokenizer", "whitespace", "--shard-tokens", "4000"]) == 0
    assert "shards" in capsys.readouterr().err
    assert main(["build", store, "-o", str(tmp_path / "c.cooc"), "-q", "--context-length", "32"]) == 0
    assert main(["build", str(corpus), "-o", str(tmp_path / "d.cooc"), "-q", "--context-length", "32",
                 "--tokenizer", "whitespace"]) == 0
    assert array_bytes(tmp_path / "c.cooc") == array_bytes(tmp_path / "d.cooc")
    assert main(["tokenize", str(tmp_path / "missing"), "-o", store]) == 2


def test_cli_verify_checks_a_store(corpus, tmp_path, capsys):
    store = tmp_path / "v.tokens"
    tokenize_corpus(corpus, store, BuildConfig(tokenizer="whitespace"), QUIET, shard_tokens=3000)
    assert main(["verify", str(store)]) == 0
    assert "ok (token store)" in capsys.readouterr().out
    victim = sorted(store.glob("shard-*/tokens.u32"))[1]
    data = bytearray(victim.read_bytes())
    data[0] ^= 1
    victim.write_bytes(bytes(data))
    assert main(["verify", str(store)]) == 1
    out = capsys.readouterr().out
    assert victim.parent.name in out and "checksum" in out
