"""Benchmark of n-gram counting and the n-gram index (`cooc.ngram`).

    PYTHONPATH=src python bench/bench_ngram.py [--tokens 4000000] [--order 5] [--memory 1G]

Tokenizes whole documents of /work/shared/corpus/en with Qwen (sorted file order) until
--tokens, counts orders 1..--order into a temporary index, and prints: tokenize and count
time, peak RSS, grams and bytes per gram per order (ids / counts / pointers), and batched
lookup time per 3-gram (1e6 3-grams drawn from the corpus, all present, and 1e6 with a random
last token, mostly absent; one thread, median of 3 after a warm-up), for the trie and for the
hash variant (`HashedNgrams`). Skips (exit 0) when the corpus is absent.
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
from common import SHARED, load_token_docs, median_time, peak_rss_mb  # noqa: E402

from cooc.ngram import NgramConfig, count_ngrams_from_arrays, open_ngrams  # noqa: E402
from cooc.options import RunOptions, parse_bytes  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4_000_000)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--markers", action="store_true")
    args = ap.parse_args()
    corpus = SHARED / "en"
    if not corpus.is_dir():
        print(f"skipped: {corpus} is absent")
        return 0
    from cooc.tokenizers import load_tokenizer

    t0 = time.perf_counter()
    docs = load_token_docs([str(corpus)], args.tokens)
    t_tok = time.perf_counter() - t0
    tokens = np.concatenate(docs).astype(np.uint32)
    lens = np.array([len(d) for d in docs], np.int64)
    tok = load_tokenizer("qwen")
    print(f"corpus: {len(docs):,} documents, {len(tokens):,} Qwen tokens (tokenized in {t_tok:.1f} s)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ngram-"))
    try:
        out = tmp / "x.ngrams"
        step = 1 << 20
        batches = ((tokens[int(a):int(b)], lens[i:j]) for i, j, a, b in _doc_slices(lens, step))
        t0 = time.perf_counter()
        r = count_ngrams_from_arrays(
            batches, tok.vocab_size, out, NgramConfig(order=args.order, markers=args.markers),
            RunOptions(memory_bytes=parse_bytes(args.memory), num_proc=args.threads, quiet=True,
                       tmp_dir=str(tmp)),
            texts=tok.token_texts(), header={"tokenizer": tok.describe()})
        t_count = time.perf_counter() - t0
        print(f"count orders 1..{args.order}: {t_count:.2f} s ({len(tokens) / t_count / 1e6:.2f} "
              f"M tokens/s; {', '.join(f'{k} {v:.2f} s' for k, v in r.stats.timings.items())}), "
              f"{r.stats.spills} spills, peak RSS {peak_rss_mb():.0f} MB (whole process)")
        idx = open_ngrams(out)
        s = idx.stats()
        print(f"{'order':>5} {'grams':>12} {'B/gram':>8} {'ids':>7} {'counts':>7} {'pointers':>8}")
        for k, o in s["orders"].items():
            print(f"{k:>5} {o['grams']:>12,} {o['bytes_per_gram']:>8.3f} "
                  f"{o['id_bytes_per_gram']:>7.3f} {o['count_bytes_per_gram']:>7.3f} "
                  f"{o['pointer_bytes_per_gram']:>8.3f}")
        print(f"  all {s['grams']:>12,} {s['bytes_per_gram']:>8.3f}  ({s['bytes'] / 2**20:.1f} MiB)")
        if args.order >= 3:
            rng = np.random.default_rng(0)
            starts = np.cumsum(lens) - lens
            ok = np.flatnonzero(lens >= 3)
            d = rng.choice(ok, 1_000_000, p=lens[ok] / lens[ok].sum())
            pos = starts[d] + (rng.random(len(d)) * (lens[d] - 2)).astype(np.int64)
            present = np.stack([tokens[pos], tokens[pos + 1], tokens[pos + 2]], 1).astype(np.int64)
            absent = present.copy()
            absent[:, 2] = rng.integers(0, tok.vocab_size, len(absent))
            for name, q in (("present", present), ("random last token", absent)):
                t = median_time(lambda q=q: idx.lookup_many(q))
                hit = float((idx.lookup_many(q) > 0).mean())
                print(f"lookup_many 3-grams, {name}: {t / len(q) * 1e9:.0f} ns per lookup "
                      f"({hit:.0%} found)")
            from cooc.ngram import HashedNgrams

            t0 = time.perf_counter()
            hashed = HashedNgrams(idx)
            print(f"hash variant: built in {time.perf_counter() - t0:.2f} s, "
                  f"{hashed.nbytes / s['grams']:.1f} bytes per n-gram in memory")
            for name, q in (("present", present), ("random last token", absent)):
                t = median_time(lambda q=q: hashed.lookup_many(q))
                assert (hashed.lookup_many(q) == idx.lookup_many(q)).all()
                print(f"hash variant lookup_many 3-grams, {name}: {t / len(q) * 1e9:.0f} ns per "
                      "lookup")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _doc_slices(lens: np.ndarray, step: int):
    ptr = np.concatenate([[0], np.cumsum(lens)])
    i = 0
    while i < len(lens):
        j = int(np.searchsorted(ptr, ptr[i] + step, side="right")) - 1
        j = min(max(j, i + 1), len(lens))
        yield i, j, ptr[i], ptr[j]
        i = j


if __name__ == "__main__":
    raise SystemExit(main())
