"""Exactness on a whole corpus: cooc's rows against a naive numpy recount, token by token.

    python bench/check_exactness.py --data ../shared/corpus/en --sample 1000
    python bench/check_exactness.py --data ../shared/corpus/zh --sample 1000

Builds the index (Qwen, L=128), then for a sample of tokens spread over all frequencies
(the most frequent ones included) recounts each token's neighbours directly from the token
stream: find the windows holding it, take each window's distinct tokens, count. Also checks
every token's window count and occurrences against numpy bincounts. (The full dict-of-sets
comparison of every row runs in bench_build.py on a 3.9 M-token slice and in the tests.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import load_token_docs  # noqa: E402

import cooc  # noqa: E402
from cooc.cooccur import open_index  # noqa: E402
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.options import RunOptions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--context-length", type=int, default=128)
    a = ap.parse_args()
    L = a.context_length
    out = Path(tempfile.mkdtemp(prefix="cooc-exact-")) / "x.cooc"
    t0 = time.perf_counter()
    res = cooc.build(a.data, out, BuildConfig(window=WindowConfig(context_length=L)),
                     RunOptions(quiet=True))
    print(f"built: {res.num_tokens:,} tokens, {res.num_windows:,} windows in "
          f"{time.perf_counter() - t0:.1f} s")
    idx = open_index(out)
    docs = load_token_docs(a.data)
    tokens = np.concatenate(docs).astype(np.int64)
    # window id of every token: per document, consecutive chunks of L
    win = np.concatenate([np.arange(len(d)) // L for d in docs])
    starts = np.cumsum([0] + [(len(d) + L - 1) // L for d in docs])[:-1]
    win = win + np.repeat(starts, [len(d) for d in docs])
    assert len(tokens) == res.num_tokens
    occ = np.bincount(tokens, minlength=idx.vocab_size)
    pairs = np.unique(win * idx.vocab_size + tokens)
    wcount = np.bincount(pairs % idx.vocab_size, minlength=idx.vocab_size)
    assert np.array_equal(occ, idx.occurrences) and np.array_equal(wcount, idx.windows)
    seen = np.flatnonzero(occ)
    rng = np.random.default_rng(0)
    by_freq = seen[np.argsort(-occ[seen], kind="stable")]
    sample = np.unique(np.concatenate([by_freq[:20], rng.choice(seen, min(a.sample, len(seen)),
                                                                 replace=False)]))
    # distinct (window, token) pairs, sorted by window, to gather window contents quickly
    pw, pt = pairs // idx.vocab_size, pairs % idx.vocab_size
    bounds = np.searchsorted(pw, np.arange(win.max() + 2))
    bad = 0
    t0 = time.perf_counter()
    for t in sample:
        ws = np.unique(win[tokens == t])
        members = np.concatenate([pt[bounds[w]:bounds[w + 1]] for w in ws])
        ids, n = np.unique(members[members != t], return_counts=True)
        cols, counts = idx.row(int(t))
        if not (np.array_equal(ids, cols) and np.array_equal(n, counts)):
            bad += 1
    print(f"checked {len(sample)} tokens (20 most frequent + random) in "
          f"{time.perf_counter() - t0:.1f} s: {bad} mismatched rows; occurrences and window "
          f"counts of all {idx.vocab_size:,} ids match")


if __name__ == "__main__":
    main()
