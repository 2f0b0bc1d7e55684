"""Count modes (windows, occurrences, harmonic, user weights), sliding radius, whole-document
windows and --min-count, against the slow references in tests/reference.py."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import (
    reference_counts,
    reference_distance_counts,
    reference_min_count,
    reference_windows,
)

import cooc
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.options import RunOptions

QUIET = RunOptions(quiet=True, num_proc=1)
WORDS = [f"w{i}" for i in range(12)]


def build_words(tmp: Path, docs: list[list[int]], window: WindowConfig, options=QUIET):
    """Index of whitespace documents made of WORDS[i]; returns (index, {word: id})."""
    f = tmp / "c.txt"
    f.write_text("".join(" ".join(WORDS[t] for t in d) + "\n" for d in docs), encoding="utf-8")
    out = tmp / "c.cooc"
    cooc.build(f, out, BuildConfig(tokenizer="whitespace", window=window), options)
    idx = cooc.open_index(out)
    return idx, {t: i for i, t in enumerate(idx.token_texts)}


def index_counter(idx, ids: dict[str, int]) -> dict[tuple[int, int], int]:
    """{(word a, word b): stored count} in WORDS numbering."""
    back = {i: int(w[1:]) for w, i in ids.items() if w.startswith("w")}
    out = {}
    for a in range(idx.vocab_size):
        cols, counts = idx.row(a)
        for b, c in zip(cols.tolist(), counts.tolist(), strict=True):
            out[(back[a], back[b])] = c
    return out


docs_st = st.lists(st.lists(st.integers(0, len(WORDS) - 1), min_size=1, max_size=40),
                   min_size=1, max_size=12)


def expected(docs, win: WindowConfig) -> dict:
    docs = reference_min_count(docs, win.min_count) if win.min_count > 1 else docs
    L = win.context_length
    windows = [d for d in docs if d] if L == 0 else reference_windows(docs, L, stride=win.stride)
    if not win.by_distance:
        return dict(reference_counts(windows, win.count_mode, win.include_self))
    if win.count_mode == "occurrences":
        weights = [0] + [1] * win.radius
        scale = 1
    else:
        weights, scale = win.distance_weighting()
        exact = [Fraction(w, scale) for w in weights]
        assert all(e * scale == w for e, w in zip(exact, weights, strict=True))
    return dict(reference_distance_counts(windows, weights, win.include_self))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=docs_st, length=st.sampled_from([0, 2, 5, 16]),
       mode=st.sampled_from(["windows", "occurrences", "harmonic", "weights"]),
       radius=st.integers(0, 6), include_self=st.booleans(), min_count=st.integers(1, 4),
       stride=st.integers(0, 16))
def test_modes_equal_reference(tmp_path_factory, docs, length, mode, radius, include_self, min_count,
                               stride):
    kw = dict(context_length=length, count_mode=mode, include_self=include_self,
              min_count=min_count, stride=min(stride, length))
    if mode == "windows":
        radius = 0
    if mode == "weights":
        kw["distance_weights"] = ",".join(["1", "0.5", "0.25", "0.3", "2", "0"][: max(1, radius)])
        radius = 0
    if mode in ("harmonic", "occurrences") and length == 0 and radius == 0:
        radius = 3
    if mode == "harmonic" and length == 16 and radius == 0:
        radius = 5
    win = WindowConfig(radius=radius, **kw)
    want = expected(docs, win)
    tmp = tmp_path_factory.mktemp("m")
    if not any(want) and not any(docs):
        return
    idx, ids = build_words(tmp, docs, win)
    got = index_counter(idx, ids)
    assert got == want
    scale = idx.meta["count_scale"]
    assert scale == (win.distance_weighting()[1] if mode in ("harmonic", "weights") else 1)


def test_glove_semantics_by_hand(tmp_path):
    # "a b a", radius 2, 1/d, self pairs: (a,b) at d=1 twice -> 2; (a,a) at d=2 from both -> 1
    win = WindowConfig(context_length=0, count_mode="harmonic", radius=2, include_self=True)
    idx, ids = build_words(tmp_path, [[0, 1, 0]], win)
    a, b = ids["w0"], ids["w1"]
    assert idx.meta["count_scale"] == 2
    assert idx.pair_count(a, b) == 2 * 2 and idx.pair_count(a, a) == 1 * 2


def test_min_count_drops_before_windowing(tmp_path):
    # w1 is rare: dropping it first brings w0 and w2 to distance 1
    win = WindowConfig(context_length=0, count_mode="harmonic", radius=1, min_count=2)
    idx, ids = build_words(tmp_path, [[0, 1, 2], [0, 2]], win)
    assert idx.pair_count(ids["w0"], ids["w2"]) == 2
    assert idx.occurrences[ids["w1"]] == 0


def test_store_and_text_agree_with_min_count(tmp_path):
    from cooc.store.tokenize import tokenize_corpus

    docs = [[i % 7, (i * 3) % 11, i % 5, 3] for i in range(60)]
    f = tmp_path / "c.txt"
    f.write_text("".join(" ".join(WORDS[t] for t in d) + "\n" for d in docs), encoding="utf-8")
    win = WindowConfig(context_length=0, count_mode="harmonic", radius=3, min_count=6,
                       include_self=True)
    cfg = BuildConfig(tokenizer="whitespace", window=win)
    a = cooc.build(f, tmp_path / "a.cooc", cfg, QUIET)
    tokenize_corpus(f, tmp_path / "s.tokens", BuildConfig(tokenizer="whitespace"), QUIET,
                    shard_tokens=50)
    b = cooc.build(tmp_path / "s.tokens", tmp_path / "b.cooc", cfg, QUIET)
    tasks = RunOptions(quiet=True, num_proc=1, engine="in-process", memory_bytes=1 << 30)
    c = cooc.build(tmp_path / "s.tokens", tmp_path / "c.cooc", cfg, tasks)
    for other in (b, c):
        for name in ("data.bin", "occurrences.bin", "windows.bin"):
            assert (a.path / name).read_bytes() == (other.path / name).read_bytes()


@pytest.mark.parametrize("kw,msg", [
    (dict(count_mode="harmonic"), "common denominator"),
    (dict(context_length=0, count_mode="harmonic"), "needs a radius >= 1"),
    (dict(radius=3), "radius=3 counts occurrence pairs"),
    (dict(count_mode="weights"), "needs distance_weights="),
    (dict(count_mode="weights", distance_weights="1,x"), "cannot read distance weights"),
    (dict(context_length=0, packing="concat"), "whole documents"),
    (dict(min_count=2, packing="concat"), "min_count=2 needs packing='document'"),
    (dict(stride=200), "stride must be"),
    (dict(stride=3, packing="concat"), "stride=3 needs"),
])
def test_bad_settings_say_why(kw, msg):
    with pytest.raises(ValueError, match=msg):
        WindowConfig(**kw)


def test_manifest_records_the_mode(tmp_path):
    win = WindowConfig(context_length=0, count_mode="weights", distance_weights="1,0.5")
    idx, _ = build_words(tmp_path, [[0, 1, 2, 0]], win)
    cfg = json.loads((Path(idx.path) / "manifest.json").read_text())["meta"]["config"]["window"]
    assert cfg["count_mode"] == "weights" and cfg["distance_weights"] == "1,0.5"


def test_a_distance_weighted_zero_is_not_a_meeting(tmp_path):
    """Found by the randomized property test: pairs met only at a distance weighted 0 were
    emitted with count 0 and the index writer refused them (the build crashed)."""
    win = WindowConfig(context_length=0, count_mode="weights", distance_weights="1,0.5,0.25,0.3,2,0")
    idx, ids = build_words(tmp_path, [[0, 1, 1, 1, 1, 1, 2]], win)
    assert index_counter(idx, ids) == expected([[0, 1, 1, 1, 1, 1, 2]], win)
    assert idx.pair_count(ids["w0"], ids["w2"]) == 0  # only at distance 6, weight 0
