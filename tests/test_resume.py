"""A killed build, run again with the same arguments, resumes and writes the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import cooc
from cooc.cooccur import writer as index_writer
from cooc.cooccur.build import accumulate, checkpoint, counter
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.options import RunOptions
from cooc.store.tokenize import tokenize_corpus


class _Killed(BaseException):
    pass


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def array_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(path).glob("*.bin"))}


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", 192 << 10)
    monkeypatch.setattr(accumulate, "MIN_MERGE_BYTES", 32 << 10)
    monkeypatch.setattr(accumulate, "MAX_RUNS", 3)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(11)
    words = [f"tok{i}" for i in range(200)]
    d = tmp_path / "data"
    d.mkdir()
    for k in range(3):
        write_jsonl(d / f"part{k}.jsonl", [" ".join(rng.choice(words, rng.integers(1, 300)))
                                          for _ in range(60)])
    return d


OPTS = RunOptions(quiet=True, memory_bytes=1, batch_size=8, num_proc=2)


def _kill_at(monkeypatch, target, name, after):
    real = getattr(target, name)
    calls = []

    def dying(*a, **k):
        if len(calls) == after:
            raise _Killed
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(target, name, dying)
    return real


@pytest.fixture
def store(data, tmp_path):
    """Whitespace ids (a small vocabulary keeps thousands of tiny spills fast)."""
    return tokenize_corpus(data, tmp_path / "d.tokens", BuildConfig(tokenizer="whitespace"),
                           RunOptions(quiet=True), shard_tokens=5000).path


def _killed_then_resumed(source, out, cfg, opts, monkeypatch, target, name, after):
    real = _kill_at(monkeypatch, target, name, after)
    with pytest.raises(_Killed):
        cooc.build(source, out, cfg, opts)
    monkeypatch.setattr(target, name, real)
    assert not out.exists()
    folder = out.with_name(f".{out.name}.build")
    had_checkpoint = (folder / checkpoint.CHECKPOINT).exists()
    logged = []
    monkeypatch.setattr(checkpoint.log, "info", lambda msg, *a: logged.append(msg % a))
    resumed = cooc.build(source, out, cfg, opts)
    assert any("resuming" in m for m in logged) == had_checkpoint
    assert not folder.exists()
    return resumed, had_checkpoint


@pytest.mark.parametrize("packing", ["document", "concat"])
@pytest.mark.parametrize("where,after", [("spill", 1), ("checkpoint", 1), ("checkpoint", 4),
                                         ("final merge", 1)])
def test_killed_build_resumes_to_identical_index(store, tmp_path, monkeypatch, tiny_budget,
                                                packing, where, after):
    cfg = BuildConfig(window=WindowConfig(context_length=16, packing=packing))
    saves = []
    real_save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a: (saves.append(1), real_save(*a)))
    whole = cooc.build(store, tmp_path / "whole.cooc", cfg, OPTS)
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert whole.spills > 6 and len(saves) > 5
    target, name = {"spill": (accumulate.CountAccumulator, "_spill"),
                    "checkpoint": (checkpoint, "save"),
                    "final merge": (index_writer.IndexWriter, "add_rows")}[where]
    resumed, had_checkpoint = _killed_then_resumed(store, tmp_path / "k.cooc", cfg, OPTS,
                                                   monkeypatch, target, name, after)
    assert had_checkpoint or where == "spill"
    assert array_bytes(resumed.path) == array_bytes(whole.path)
    assert (resumed.num_documents, resumed.num_tokens, resumed.num_windows) == \
        (whole.num_documents, whole.num_tokens, whole.num_windows)


def test_killed_text_build_resumes(data, tmp_path, monkeypatch):
    """From text (qwen): documents already counted are re-read but not re-tokenized."""
    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", 1 << 20)
    monkeypatch.setattr(accumulate, "MAX_RUNS", 3)
    cfg = BuildConfig(tokenizer="qwen", window=WindowConfig(context_length=16))
    whole = cooc.build(data, tmp_path / "whole.cooc", cfg, OPTS)
    assert whole.spills > 3
    resumed, had_checkpoint = _killed_then_resumed(data, tmp_path / "k.cooc", cfg, OPTS,
                                                   monkeypatch, checkpoint, "save", 1)
    assert had_checkpoint
    assert array_bytes(resumed.path) == array_bytes(whole.path)
    assert resumed.report.to_dict() == whole.report.to_dict()


def test_resume_refused_for_other_inputs_or_damaged_runs(store, tmp_path, monkeypatch, tiny_budget):
    cfg = BuildConfig(window=WindowConfig(context_length=16))
    whole = cooc.build(store, tmp_path / "whole.cooc", cfg, OPTS)
    out = tmp_path / "k.cooc"
    folder = tmp_path / ".k.cooc.build"

    def killed_run():
        real = _kill_at(monkeypatch, checkpoint, "save", 3)
        with pytest.raises(_Killed):
            cooc.build(store, out, cfg, OPTS)
        monkeypatch.setattr(checkpoint, "save", real)
        assert (folder / checkpoint.CHECKPOINT).exists()

    killed_run()  # a damaged run: started over, same result
    run = next(p for p in folder.iterdir() if p.name.startswith("run-"))
    (run / "data.u64").write_bytes(b"\0" * 8)
    assert array_bytes(cooc.build(store, out, cfg, OPTS).path) == array_bytes(whole.path)

    killed_run()  # other settings: not resumed, and the result is that setting's
    other = BuildConfig(window=WindowConfig(context_length=17))
    got = cooc.build(store, out, other, OPTS)
    want = cooc.build(store, tmp_path / "o.cooc", other, OPTS)
    assert array_bytes(got.path) == array_bytes(want.path)

    killed_run()  # resume=False (--fresh) ignores the checkpoint
    fresh = RunOptions(quiet=True, memory_bytes=1, batch_size=8, num_proc=2, resume=False)
    assert array_bytes(cooc.build(store, out, cfg, fresh).path) == array_bytes(whole.path)
    assert not folder.exists()
