"""The build as map/reduce/encode tasks (in-process and on a local Ray cluster) writes the
same index bytes as the one-process build, whatever the shards, ranges and packing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cooc
from cooc.cooccur.build import distributed
from cooc.cooccur.build import partitioned as part
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.engines import InProcessEngine
from cooc.errors import CoocError
from cooc.options import RunOptions
from cooc.store.tokenize import tokenize_corpus

QUIET = RunOptions(quiet=True, num_proc=1)
TASKS = RunOptions(quiet=True, num_proc=1, engine="in-process", memory_bytes=1 << 30)


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def index_files(path: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(Path(path).glob("*.bin"))}
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    return {**files, "manifest": json.dumps(manifest, sort_keys=True).encode()}


def make_corpus(folder: Path, seed: int = 7, docs: int = 90) -> Path:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(200)] + ["héllo", "世界"]
    texts = [" ".join(rng.choice(words, rng.integers(0, 300))) for _ in range(docs)]
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "a.jsonl", texts[: docs // 2])
    write_jsonl(folder / "b.jsonl", texts[docs // 2 :])
    return folder


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = make_corpus(root / "data")
    out = {}
    for tok in ("whitespace", "qwen"):
        out[tok] = root / f"{tok}.tokens"
        tokenize_corpus(data, out[tok], BuildConfig(tokenizer=tok), QUIET, shard_tokens=2500)
    return data, out


@pytest.mark.parametrize("tokenizer", ["whitespace", "qwen"])
@pytest.mark.parametrize("packing,length", [("document", 16), ("concat", 16), ("concat", 7),
                                            ("document", 128)])
def test_tasks_equal_local_build(stores, tmp_path, tokenizer, packing, length):
    data, store = stores
    cfg = BuildConfig(tokenizer=tokenizer, window=WindowConfig(context_length=length, packing=packing))
    if packing == "concat" and tokenizer == "whitespace":
        pytest.skip("whitespace has no end-of-text token")
    want = cooc.build(store[tokenizer], tmp_path / "local.cooc", cfg, QUIET)
    got = cooc.build(store[tokenizer], tmp_path / "tasks.cooc", cfg, TASKS)
    assert index_files(got.path) == index_files(want.path)
    assert (got.num_tokens, got.num_windows, got.num_entries) == \
        (want.num_tokens, want.num_windows, want.num_entries)
    assert not list(tmp_path.glob(".*"))  # the work folder is gone


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(shard_tokens=st.integers(40, 3000), length=st.integers(2, 40),
       packing=st.sampled_from(["document", "concat"]), min_ranges=st.integers(1, 9))
def test_tasks_do_not_depend_on_shards_or_ranges(stores, tmp_path_factory, shard_tokens, length,
                                                 packing, min_ranges):
    data, _ = stores
    tmp = tmp_path_factory.mktemp("h")
    store = tmp / "s.tokens"
    tokenize_corpus(data, store, BuildConfig(tokenizer="qwen"), QUIET, shard_tokens=shard_tokens)
    cfg = BuildConfig(tokenizer="qwen", window=WindowConfig(context_length=length, packing=packing))
    want = cooc.build(store, tmp / "local.cooc", cfg, QUIET)
    engine = InProcessEngine(1)
    engine.parallelism = min_ranges  # more reduce ranges
    got = distributed.build_distributed(store, tmp / "tasks.cooc", cfg, TASKS, engine)
    assert index_files(got.path) == index_files(want.path)


def test_concat_spans_tile_the_stream():
    shards = [{"tokens": t, "documents": d} for t, d in [(5, 1), (0, 0), (30, 3), (2, 2), (9, 1)]]
    for L in (2, 4, 7, 50, 100):
        spans = part.concat_spans(shards, L)
        total = sum(s["tokens"] + s["documents"] for s in shards)
        assert spans[0][0] == 0 and spans[-1][1] == total
        assert all(a == b for (_, a), (b, _) in zip(spans[:-1], spans[1:], strict=True))
        assert all(a % L == 0 or a == total for a, _ in spans)


def test_text_input_equals_local_text_build(tmp_path):
    data = make_corpus(tmp_path / "data", seed=3)
    cfg = BuildConfig(tokenizer="qwen", window=WindowConfig(context_length=32))
    want = cooc.build(data, tmp_path / "local.cooc", cfg, QUIET)
    got = cooc.build(data, tmp_path / "tasks.cooc", cfg, TASKS)
    assert index_files(got.path) == index_files(want.path)
    assert got.num_documents == want.num_documents


def test_finished_maps_are_kept_after_a_failure(stores, tmp_path, monkeypatch):
    _, store = stores
    cfg = BuildConfig(tokenizer="qwen", window=WindowConfig(context_length=16))
    real = part.encode_range

    def fail(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(part, "encode_range", fail)
    with pytest.raises(KeyboardInterrupt):
        cooc.build(store["qwen"], tmp_path / "x.cooc", cfg, TASKS)
    maps = sorted(p.name for p in (tmp_path / ".x.cooc.dist" / "maps").glob("map-*"))
    assert len(maps) > 3 and not (tmp_path / "x.cooc").exists()

    monkeypatch.setattr(part, "encode_range", real)
    counted = []
    real_map = part.map_shard
    monkeypatch.setattr(part, "map_shard", lambda *a: counted.append(a[1]) or real_map(*a))
    got = cooc.build(store["qwen"], tmp_path / "x.cooc", cfg, TASKS)
    assert counted == []  # every map output was reused
    want = cooc.build(store["qwen"], tmp_path / "local.cooc", cfg, QUIET)
    assert index_files(got.path) == index_files(want.path)


def test_ray_engine_equals_local_build(stores, tmp_path):
    ray = pytest.importorskip("ray")
    _, store = stores
    cfg = BuildConfig(tokenizer="qwen", window=WindowConfig(context_length=24, packing="concat"))
    want = cooc.build(store["qwen"], tmp_path / "local.cooc", cfg, QUIET)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        opts = RunOptions(quiet=True, num_proc=1, engine="ray", memory_bytes=512 << 20)
        got = cooc.build(store["qwen"], tmp_path / "ray.cooc", cfg, opts)
        # threads per task no node has: refused up front (F15), where Ray would wait forever
        with pytest.raises(CoocError, match="1000 threads per task is more than any Ray node"):
            cooc.build(store["qwen"], tmp_path / "big.cooc", cfg, replace(opts, num_proc=1000))
        assert not (tmp_path / "big.cooc").exists()
    finally:
        ray.shutdown()
    assert index_files(got.path) == index_files(want.path)
    assert not list(tmp_path.glob(".*"))
