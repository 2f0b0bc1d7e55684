"""A walk through cooc on the built-in corpus (Python's pydoc topics): build, query, export.

    python examples/walkthrough.py [--out DIR]
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
from pathlib import Path

import numpy as np

import cooc
from cooc.cooccur import export
from cooc.cooccur.query import Analyzer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for the index and exports (default: a temp dir)")
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix="cooc-walkthrough-"))
    out.mkdir(parents=True, exist_ok=True)

    # 1. build: Qwen tokens, windows of 128 tokens per document
    config = cooc.BuildConfig(window=cooc.WindowConfig(context_length=128))
    res = cooc.build(None, out / "pydoc.cooc", config, cooc.RunOptions(quiet=True))
    print(f"built {res.path}: {res.num_tokens:,} tokens, {res.num_windows:,} windows, "
          f"{res.num_entries // 2:,} pairs in {res.timings['total']:.2f} s")

    # 2. query
    idx = cooc.open_index(res.path)
    an = Analyzer(idx)
    s = an.stats()
    print(f"stats: {s['pairs']:,} pairs, mean degree {s['degree']['mean']:.1f}, "
          f"{s['bytes_per_entry']:.2f} bytes per entry")
    print("most connected:", [(t, text) for t, text, _ in an.top_connected(5)])
    for by in ("count", "pmi"):
        top = an.neighbours(" function", k=8, by=by, min_count=5)
        print(f"neighbours of ' function' by {by}:", [n.text for n in top])
    m = an.mutual(" return", " value")
    print(f"' return' and ' value' met in {m['count']} windows")
    a_id, b_id, ids, ca, cb = an.common(" list", " tuple")
    print(f"' list' and ' tuple' share {len(ids):,} neighbours")
    try:
        an.resolve("tokenization")
    except cooc.CoocError as e:
        print("a multi-token query is explained:", e)

    # 3. batched lookups over numpy arrays: each token with one of its neighbours, then with
    #    a random token (which it has usually never met)
    rng = np.random.default_rng(0)
    seen = np.flatnonzero(idx.occurrences)
    a_ids = rng.choice(seen, 5)
    met = np.array([idx.row(int(a))[0][0] for a in a_ids])
    print("pair counts with a neighbour:", idx.pair_counts(a_ids, met).tolist())
    print("pair counts with a random token:", idx.pair_counts(a_ids, rng.choice(seen, 5)).tolist())

    # 4. exports: the reference system's pickle and TSV, Parquet, scipy
    export.export_pickle(idx, out / "pydoc.pkl")
    export.export_tsv(idx, out / "pydoc.tsv")
    export.export_parquet(idx, out / "pydoc.parquet")
    with open(out / "pydoc.pkl", "rb") as f:
        d = pickle.load(f)
    print(f"pickle: {len(d):,} tokens -> sets; TSV and Parquet written to {out}")
    try:
        m = export.to_scipy(idx)
        print(f"scipy: {m.shape} matrix with {m.nnz:,} nonzeros")
    except cooc.CoocError as e:
        print(e)


if __name__ == "__main__":
    main()
