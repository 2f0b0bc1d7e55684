"""Benchmark of the on-disk index: size, pair lookups, top-k of the biggest row, open time.

    python bench/bench_index.py /tmp/cooc_sample
    python bench/bench_index.py --row-ptr rp.npy --cols cols.npy --counts counts.npy

Reads a symmetric CSR (row_ptr int64[V+1], cols uint32, counts uint32 as .npy), writes an
index with `IndexWriter` in `--slices` add_rows calls, then prints bytes per entry by
component, batched pair lookup time (random pairs of seen tokens, half present), the time to
decode the most connected token's row and take its top 20, open() time, full-decode and
verify throughput. Timings are the median of `--repeat` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import median_time  # noqa: E402

from cooc.cooccur import IndexWriter, open_index, verify_index  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", help="directory with row_ptr.npy, cols.npy, counts.npy")
    ap.add_argument("--row-ptr")
    ap.add_argument("--cols")
    ap.add_argument("--counts")
    ap.add_argument("--occurrences", help=".npy of per-token occurrences (default: degree)")
    ap.add_argument("--out", help="index directory to write (default: a temporary one)")
    ap.add_argument("--slices", type=int, default=8, help="add_rows calls to split rows into")
    ap.add_argument("--lookups", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args(argv)

    if args.source:
        src = Path(args.source)
        args.row_ptr = args.row_ptr or src / "row_ptr.npy"
        args.cols = args.cols or src / "cols.npy"
        args.counts = args.counts or src / "counts.npy"
        if args.occurrences is None and (src / "occurrences.npy").exists():
            args.occurrences = src / "occurrences.npy"
    if not (args.row_ptr and args.cols and args.counts):
        ap.error("give a source directory or --row-ptr, --cols and --counts")
    row_ptr = np.load(args.row_ptr)
    cols = np.load(args.cols, mmap_mode="r")
    counts = np.load(args.counts, mmap_mode="r")
    V = row_ptr.shape[0] - 1
    N = int(row_ptr[-1])
    deg = np.diff(row_ptr)
    occ = np.load(args.occurrences) if args.occurrences else deg.astype(np.uint64)
    print(f"matrix: V={V:,} entries={N:,} nonempty rows={int((deg > 0).sum()):,}")

    tmp = None
    if args.out:
        out = Path(args.out)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench_index_"))
        out = tmp / "index"
    try:
        t = time.perf_counter()
        with IndexWriter(out, V) as w:
            bounds = np.linspace(0, V, args.slices + 1).astype(np.int64)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                s, e = int(row_ptr[lo]), int(row_ptr[hi])
                w.add_rows(int(lo), row_ptr[lo : hi + 1] - s, np.asarray(cols[s:e]),
                           np.asarray(counts[s:e]))
            w.finish(occ, occ, [f"tok{i}" for i in range(V)], {"bench": True})
        print(f"build: {time.perf_counter() - t:.2f} s ({args.slices} add_rows slices, "
              "incl. JIT warm-up on first run)")

        t_open = median_time(lambda: open_index(out).close(), args.repeat)
        ix = open_index(out)
        nb = ix.nbytes()
        print("bytes per directed entry:")
        for k in ("ids", "counts", "offsets", "id_map", "stats", "text_offsets"):
            print(f"  {k:13s} {nb[k] / N:6.3f}   ({nb[k]:,} B)")
        print(f"  {'index total':13s} {ix.bytes_per_entry:6.3f}   (all but the text blob; "
              f"texts {nb['texts']:,} B)")
        print(f"open(): {t_open * 1e3:.2f} ms")

        rng = np.random.default_rng(args.seed)
        m = args.lookups
        seen = np.flatnonzero(deg > 0)
        e = rng.integers(0, N, m // 2)
        a_pres = np.searchsorted(row_ptr, e, side="right") - 1
        b_pres = np.asarray(cols)[e].astype(np.int64)
        a = np.concatenate([a_pres, rng.choice(seen, m - m // 2)])
        b = np.concatenate([b_pres, rng.choice(seen, m - m // 2)])
        perm = rng.permutation(m)
        a, b = a[perm], b[perm]
        got = ix.pair_counts(a, b)
        want_pres = np.asarray(counts)[e]
        assert np.array_equal(ix.pair_counts(a_pres, b_pres), want_pres), "lookup mismatch"
        t_pc = median_time(lambda: ix.pair_counts(a, b), args.repeat)
        print(f"pair_counts: {t_pc / m * 1e9:.0f} ns/lookup ({m:,} pairs, "
              f"{(got > 0).mean():.0%} present)")

        top = int(np.argmax(deg))

        def top20():
            c, n = ix.row(top)
            k = min(20, n.shape[0])
            i = np.argpartition(n, -k)[-k:]
            return c[i[np.argsort(-n[i], kind="stable")]]

        t_top = median_time(top20, args.repeat)
        print(f"top-20 of token {top} (degree {int(deg[top]):,}): {t_top * 1e3:.2f} ms")
        t_row = median_time(lambda: ix.row(top), args.repeat)
        print(f"row({top}) alone: {t_row * 1e3:.2f} ms")

        def full_decode():
            for _ in ix.iter_rows():
                pass

        t_iter = median_time(full_decode, max(1, args.repeat // 2))
        print(f"iter_rows (full decode, sorted by id): {t_iter:.2f} s, "
              f"{N / t_iter / 1e6:.0f} M entries/s")
        ix.close()
        if not args.skip_verify:
            t = time.perf_counter()
            problems = verify_index(out)
            print(f"verify_index: {time.perf_counter() - t:.2f} s, problems: {problems or 'none'}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
