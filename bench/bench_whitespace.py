"""Whitespace tokenizer: time and memory of growing a vocabulary from a text file.

    python bench/bench_whitespace.py --data corpus.txt --batch-size 1024

The file holds one document per line (as `cooc lm estimate` reads plain text). One pass per
process, so that the resident set is this pass's own (numba, which every cooc job that
tokenizes has loaded for its other kernels, is started before the baseline unless
--no-numba): `encode_batch` on every batch of lines,
then `freeze()`, `describe()` and `token_texts()`. RSS is read from /proc/self/status (VmRSS
now, VmHWM the peak) after each step; the first batch's time includes loading the compiled
kernels from numba's cache. Run it a few times: the machine may be shared.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set of this process in MB."""
    now = peak = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="text file, one document per line")
    p.add_argument("--batch-size", type=int, default=1024, help="documents per batch")
    p.add_argument("--num-threads", type=int, default=1)
    p.add_argument("--no-numba", action="store_true",
                   help="do not start numba before the baseline (a job that has no kernels)")
    args = p.parse_args(argv)

    import numpy as np  # noqa: F401  (its memory is not the tokenizer's)

    with open(args.data, encoding="utf-8") as f:
        lines = f.read().splitlines()
    nbytes = sum(map(len, lines))
    base, _ = rss_mb()
    rows: list[tuple[str, float, float]] = []
    if not args.no_numba:  # every cooc job that tokenizes runs numba kernels anyway
        t0 = time.perf_counter()
        import numba

        numba.njit(lambda x: x + 1)(1)  # the JIT itself started (LLVM, typing contexts)
        now, _ = rss_mb()
        print(f"numba imported and started: {time.perf_counter() - t0:.3f} s, "
              f"+{now - base:.0f} MB (not counted below)")
        base = now
    t0 = time.perf_counter()
    from cooc.tokenizers.whitespace import WhitespaceTokenizer

    tok = WhitespaceTokenizer(num_threads=args.num_threads)
    rows.append(("import + create", time.perf_counter() - t0, rss_mb()[0]))
    words = 0
    first = 0.0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for s in range(0, len(lines), args.batch_size):
        t1 = time.perf_counter()
        words += sum(len(a) for a in tok.encode_batch(lines[s : s + args.batch_size]))
        if s == 0:
            first = time.perf_counter() - t1
            rows.append(("first batch", first, rss_mb()[0]))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rows.append(("tokenize (all)", wall, rss_mb()[0]))
    for name, step in (("freeze", tok.freeze), ("describe", tok.describe),
                       ("token_texts", tok.token_texts)):
        t1 = time.perf_counter()
        step()
        rows.append((name, time.perf_counter() - t1, rss_mb()[0]))
    print(f"{len(lines)} documents, {nbytes / 1e6:.1f} M chars, {words / 1e6:.2f} M words, "
          f"{tok.vocab_size} distinct; tokenize {words / wall / 1e6:.1f} M words/s "
          f"(after the first batch {words / max(wall - first, 1e-9) / 1e6:.1f}), cpu/wall "
          f"{cpu / wall:.2f}")
    now, peak = rss_mb()
    print(f"RSS with the texts read: {base:.0f} MB; now {now:.0f} MB (+{now - base:.0f}), "
          f"peak {peak:.0f} MB (+{peak - base:.0f})")
    print(f"  {'step':16s} {'seconds':>8s}  RSS after (MB, over the texts read)")
    for name, sec, mb in rows:
        print(f"  {name:16s} {sec:8.3f}  {mb - base:+6.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
