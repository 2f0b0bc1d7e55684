"""Positions: count, mean distance, order and mean signed offset of every pair, from the four
channel indexes, equal a slow reference over the windows."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_windows

import cooc
from cooc.cli.main import main
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.cooccur.positions import Positions, build_positions
from cooc.options import RunOptions

QUIET = RunOptions(quiet=True, num_proc=1)
WORDS = [f"w{i}" for i in range(8)]


def reference_positions(windows, radius):
    """{(a, b): [pairs, sum |d|, a first, sum of pos(b) - pos(a)]} over unordered occurrence
    pairs p < q of a window with 0 < q - p <= radius, a != b."""
    out = {}
    for w in windows:
        for p in range(len(w)):
            for q in range(p + 1, min(len(w), p + radius + 1)):
                a, b = w[p], w[q]
                if a == b:
                    continue
                for x, y, first, off in ((a, b, 1, q - p), (b, a, 0, p - q)):
                    r = out.setdefault((x, y), [0, 0, 0, 0])
                    r[0] += 1
                    r[1] += q - p
                    r[2] += first
                    r[3] += off
    return out


def build(tmp: Path, docs, window: WindowConfig):
    f = tmp / "c.txt"
    f.write_text("".join(" ".join(WORDS[t] for t in d) + "\n" for d in docs), encoding="utf-8")
    cfg = BuildConfig(tokenizer="whitespace", window=window)
    out = tmp / "c.cooc"
    cooc.build(f, out, cfg, QUIET)
    build_positions(f, out, cfg, QUIET)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=30), min_size=1, max_size=8),
       length=st.sampled_from([0, 4, 9]), radius=st.integers(0, 5))
def test_positions_equal_reference(tmp_path_factory, docs, length, radius):
    if length == 0 and radius == 0:
        radius = 3
    win = WindowConfig(context_length=length, count_mode="occurrences" if radius else "windows",
                       radius=radius)
    out = build(tmp_path_factory.mktemp("p"), docs, win)
    R = radius or length - 1
    windows = [d for d in docs if d] if length == 0 else reference_windows(docs, length)
    want = reference_positions(windows, R)
    pos = Positions(out)
    ids = {t: i for i, t in enumerate(cooc.open_index(out).token_texts)}
    for x in range(8):
        for y in range(8):
            if x == y or WORDS[x] not in ids or WORDS[y] not in ids:
                continue
            got = pos.pair(ids[WORDS[x]], ids[WORDS[y]])
            n, dist, first, off = want.get((x, y), [0, 0, 0, 0])
            assert (got.pairs, got.a_first, got.b_first) == (n, first, n - first)
            if n:
                assert math.isclose(got.mean_distance, dist / n)
                assert math.isclose(got.mean_offset, off / n, abs_tol=1e-12)
            else:
                assert math.isnan(got.mean_distance)
    pos.close()


def test_cli_positions(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("new york city\nnew york\nyork new\n", encoding="utf-8")
    out = tmp_path / "c.cooc"
    assert main(["build", str(f), "-o", str(out), "--tokenizer", "whitespace", "--context-length",
                 "0", "--count-mode", "occurrences", "--radius", "2", "--positions", "-q"]) == 0
    assert main(["positions", str(out), "new", "york"]) == 0
    text = capsys.readouterr().out
    assert "3 occurrence pairs" in text and "'new' first in 2 (67%)" in text
    assert main(["positions", str(out), "new", "city", "--json"]) == 0
    assert '"mean_distance": 2.0' in capsys.readouterr().out
    assert not list(tmp_path.glob(".*"))
