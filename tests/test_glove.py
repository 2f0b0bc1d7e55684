"""GloVe from an index: the kernel against glove.c's update, training, the CLI."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cooc.cli.main import main
from cooc.embed.glove import GRAD_CLIP, train_glove
from cooc.embed.vectors import open_vectors
from cooc.errors import CoocError
from cooc.kernels import glove as kg
from cooc.options import RunOptions


def _glove_c_step(w, c, gw, gc, x, x_max, alpha, eta, clip=GRAD_CLIP):
    """glove.c's update of one entry (row vectors with the bias last), in float64: its
    lines 190-231 (glove.c since 2020: clipped vector gradients times eta, bias without)."""
    w, c, gw, gc = (a.astype(np.float64) for a in (w, c, gw, gc))
    d = len(w) - 1
    diff = w[:d] @ c[:d] + w[d] + c[d] - np.log(x)
    fdiff = diff if x > x_max else (x / x_max) ** alpha * diff
    cost = 0.5 * fdiff * diff
    t1 = np.clip(fdiff * c[:d], -clip, clip) * eta
    t2 = np.clip(fdiff * w[:d], -clip, clip) * eta
    u1, u2 = t1 / np.sqrt(gw[:d]), t2 / np.sqrt(gc[:d])
    gw[:d] += t1 * t1
    gc[:d] += t2 * t2
    w[:d] -= u1
    c[:d] -= u2
    w[d] -= fdiff / np.sqrt(gw[d])
    c[d] -= fdiff / np.sqrt(gc[d])
    gw[d] += fdiff * fdiff
    gc[d] += fdiff * fdiff
    return w, c, gw, gc, cost


@pytest.mark.parametrize("x", [3.0, 250.0])
def test_one_step_equals_glove_c(x):
    rng = np.random.default_rng(0)
    V, dim = 4, 7
    W = ((rng.random((V, dim + 1)) - 0.5) / dim).astype(np.float32)
    C = ((rng.random((V, dim + 1)) - 0.5) / dim).astype(np.float32)
    GW = (1 + rng.random((V, dim + 1))).astype(np.float32)
    GC = (1 + rng.random((V, dim + 1))).astype(np.float32)
    i, j = 1, 2
    want = _glove_c_step(W[i], C[j], GW[i], GC[j], x, 100.0, 0.75, 0.05)
    before = [a.copy() for a in (W, C, GW, GC)]
    cost = kg.train_chunk(np.array([i], np.uint32), np.array([j], np.uint32),
                          np.array([x], np.float32), W, C, GW, GC, 100.0, 0.75, 0.05, GRAD_CLIP)
    for got, ref in zip((W[i], C[j], GW[i], GC[j]), want[:4], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    assert cost == pytest.approx(want[4], rel=1e-5)
    for a, b, row in zip((W, C, GW, GC), before, (i, j, i, j), strict=True):  # other rows untouched
        rest = np.delete(np.arange(V), row)
        np.testing.assert_array_equal(a[rest], b[rest])


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Three groups of 5 tokens; a group's tokens take 80 % of their contexts from the
    group's own 6 context tokens, the rest from any group's (an interaction the biases
    cannot explain: the vectors must)."""
    d = tmp_path_factory.mktemp("glove")
    rnd = random.Random(0)
    groups = [[f"{g}{i}" for i in range(5)] for g in "abc"]
    ctx = [[f"{g}{i}" for i in range(6)] for g in "xyz"]
    lines = []

    def pick(g: int) -> str:
        return rnd.choice(ctx[g if rnd.random() < 0.8 else rnd.randrange(3)])

    for _ in range(2000):
        g = rnd.randrange(3)
        lines.append(" ".join([pick(g), rnd.choice(groups[g]), pick(g), pick(g)]))
    corpus = d / "c.txt"
    corpus.write_text("\n".join(lines) + "\n")
    index = d / "c.cooc"
    assert main(["build", str(corpus), "-o", str(index), "--tokenizer", "whitespace",
                 "--count-mode", "harmonic", "--radius", "3", "--context-length", "0",
                 "-q"]) == 0
    return index, groups


def _train(index, out, threads=1, **kw):
    args = dict(dim=10, iterations=30, seed=3)
    args.update(kw)
    return train_glove(index, out, options=RunOptions(num_proc=threads, quiet=True), **args)


def test_loss_falls_and_groups_are_near(planted, tmp_path):
    index, groups = planted
    r = _train(index, tmp_path / "v.vec")
    assert r.vocab_size == 33 and r.entries > 0
    assert r.costs[-1] < 0.2 * r.costs[0]
    assert np.mean(r.costs[-5:]) < 0.5 * np.mean(r.costs[:5])
    v = open_vectors(r.path)
    within, across = [], []
    for g, members in enumerate(groups):
        for a in members:
            for other, others in enumerate(groups):
                for b in others:
                    if a != b:
                        (within if g == other else across).append(v.similarity(a, b))
    assert np.mean(within) > 0.8 and np.mean(across) < 0.0


def test_reproducible_with_one_thread(planted, tmp_path):
    index, _ = planted
    a = _train(index, tmp_path / "a.vec", iterations=3)
    b = _train(index, tmp_path / "b.vec", iterations=3)
    assert a.costs == b.costs
    np.testing.assert_array_equal(open_vectors(a.path).vectors, open_vectors(b.path).vectors)
    c = _train(index, tmp_path / "c.vec", threads=2, iterations=3)
    assert c.costs[-1] < c.costs[0]


def test_cli_and_bad_settings(planted, tmp_path, capsys):
    index, _ = planted
    out = tmp_path / "cli.vec"
    assert main(["embed", "glove", str(index), "-o", str(out), "--dim", "8", "--iterations",
                 "2", "--num-proc", "1", "-q"]) == 0
    assert open_vectors(out).vectors.shape == (33, 8)
    for flag, value in (("--dim", "0"), ("--iterations", "0"), ("--x-max", "0"),
                        ("--x-max", "-1"), ("--eta", "0")):
        capsys.readouterr()
        assert main(["embed", "glove", str(index), "-o", str(tmp_path / "bad.vec"), flag,
                     value, "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err and flag.lstrip("-").replace("-", "_") in err
    with pytest.raises(CoocError, match="nothing to embed"):
        _train(index, tmp_path / "none.vec", min_count=10**9)


def test_spilled_entries_in_chunks(planted, tmp_path, monkeypatch):
    import cooc.embed.glove as glove

    index, _ = planted
    monkeypatch.setattr(glove, "CHUNK_ENTRIES", 100)
    monkeypatch.setattr(glove, "FORCE_SPILL", True)
    r = train_glove(index, tmp_path / "s.vec", dim=10, iterations=30, seed=3,
                    options=RunOptions(num_proc=2, quiet=True, tmp_dir=str(tmp_path / "t")))
    assert r.spilled and r.costs[-1] < 0.2 * r.costs[0]
    assert not any((tmp_path / "t").iterdir())  # the scratch folder is gone


def test_spilled_chunks_are_shuffled_in_place_keeping_every_entry(tmp_path, monkeypatch):
    import cooc.embed.glove as glove

    monkeypatch.setattr(glove, "CHUNK_ENTRIES", 100)
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(25, dtype=np.uint32), 10)  # row-banded, as gathered
    cols = rng.integers(0, 25, len(rows)).astype(np.uint32)
    xs = np.arange(1, len(rows) + 1, dtype=np.float32)
    entries = glove._Entries(tmp_path)
    entries.add(rows=rows[:130], cols=cols[:130], x=xs[:130])
    entries.add(rows=rows[130:], cols=cols[130:], x=xs[130:])
    entries.finish(np.random.default_rng(1))
    chunks = [entries.chunk(c) for c in range(entries.chunks)]
    got = [np.concatenate(a) for a in zip(*chunks, strict=True)]
    assert entries.chunks == 3 and not np.array_equal(got[2], xs)  # moved ...
    order = np.argsort(got[2])
    for g, want in zip(got, (rows, cols, xs), strict=True):  # ... together, none lost
        np.testing.assert_array_equal(g[order], want)
    for c in range(3):  # ... within their chunk only
        assert set(got[2][c * 100:(c + 1) * 100]) == set(xs[c * 100:(c + 1) * 100])


def test_an_entry_with_a_non_finite_diff_is_skipped():
    # the kernel runs with fastmath (no NaN assumed): its check must survive compilation
    W = np.full((2, 4), 0.1, np.float32)
    C = np.full((2, 4), 0.1, np.float32)
    W[0, 1] = np.nan
    C[1, 2] = np.inf
    GW, GC = np.ones_like(W), np.ones_like(C)
    before = [a.copy() for a in (W, C, GW, GC)]
    cost = kg.train_chunk(np.array([0, 1], np.uint32), np.array([0, 1], np.uint32),
                          np.array([5.0, 5.0], np.float32), W, C, GW, GC, 100.0, 0.75, 0.05,
                          GRAD_CLIP)
    assert cost == 0.0
    for a, b in zip((W, C, GW, GC), before, strict=True):
        np.testing.assert_array_equal(a, b)
