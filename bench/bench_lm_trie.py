"""Benchmark of the compressed-trie language model (`cooc.lm.trie`) against the hash scorer.

    PYTHONPATH=src python bench/bench_lm_trie.py [--mb 10] [--order 5] [--bits 8 0] [--arpa F]

Estimates an order---order Kneser-Ney model from the first --mb MB of the English shared
corpus (whole documents, one a line, as bench/bench_lm.py; or reads --arpa), writes it as an
LM trie for every --bits (0: float32), and prints: write time, bytes per n-gram per order and
per component (ids, pointers, probs, backoffs), the largest |difference| of per-token log10
probabilities from the hash-table scorer (`LanguageModel`) on held-out documents, held-out
perplexity of both and their relative difference, and scoring throughput from model ids (one
thread, median of 3 after a warm-up) of both. Skips (exit 0) when the corpus is absent.
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
from common import SHARED, english_slices, median_time  # noqa: E402

from cooc.lm import KneserNeyConfig, LanguageModel, estimate, read_arpa  # noqa: E402
from cooc.lm.trie import TrieConfig, open_trie_lm, write_trie  # noqa: E402
from cooc.options import RunOptions  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--bits", type=int, nargs="+", default=[8, 0])
    ap.add_argument("--heldout", type=int, default=300)
    ap.add_argument("--arpa", default=None, help="score this ARPA model instead of estimating")
    args = ap.parse_args()
    if not (SHARED / "en").is_dir():
        print(f"skipped: {SHARED / 'en'} is absent")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-lm-trie-"))
    try:
        train = tmp / "train.txt"
        held = english_slices(args.mb, args.heldout, train)[2]
        t0 = time.perf_counter()
        if args.arpa:
            model = read_arpa(args.arpa)
        else:
            model = estimate(str(train), KneserNeyConfig(order=args.order),
                             RunOptions(memory_bytes=1 << 30))
        print(f"model: order {model.order}, n-grams {model.counts} ({sum(model.counts):,}), "
              f"{time.perf_counter() - t0:.1f} s")
        hash_lm = LanguageModel(model)
        ids, ptr = hash_lm.encode(held)
        ref = hash_lm.score_ids(ids, ptr)
        rep = max(1, 2_000_000 // max(1, ref.tokens))
        big_ids = np.tile(ids, rep)
        big_ptr = np.concatenate([[0], np.cumsum(np.tile(np.diff(ptr), rep))])
        t = median_time(lambda: hash_lm.score_ids(big_ids, big_ptr))
        ntok = len(big_ids) + len(big_ptr) - 1
        print(f"hash scorer: {hash_lm.nbytes / sum(model.counts):.2f} bytes/n-gram, held-out "
              f"perplexity {ref.perplexity:.4f}, {ntok / t / 1e6:.2f} M tokens/s "
              f"({t / ntok * 1e9:.0f} ns/token)")
        for bits in args.bits:
            out = tmp / f"m{bits}.lm"
            t0 = time.perf_counter()
            write_trie(model, out, TrieConfig(quantization_bits=bits))
            t_write = time.perf_counter() - t0
            lm = open_trie_lm(out)
            s = lm.stats()
            print(f"\ntrie, quantization_bits={bits} ({'float32' if bits == 0 else f'{bits}-bit'}"
                  f"): written in {t_write:.1f} s, {s['bytes'] / 2**20:.1f} MiB, "
                  f"{s['bytes_per_gram']:.3f} bytes/n-gram, files (all but the vocabulary's text) "
                  f"{s['file_bytes'] / s['grams']:.3f} ({s['dropped']} n-grams dropped)")
            print(f"{'order':>5} {'grams':>10} {'B/gram':>7} {'ids':>6} {'ptrs':>6} {'probs':>6} "
                  f"{'boffs':>6}")
            for k, o in s["orders"].items():
                print(f"{k:>5} {o['grams']:>10,} {o['bytes_per_gram']:>7.3f} "
                      f"{o['ids_bytes_per_gram']:>6.3f} {o['pointers_bytes_per_gram']:>6.3f} "
                      f"{o['probs_bytes_per_gram']:>6.3f} {o['backoffs_bytes_per_gram']:>6.3f}")
            sc = lm.score_ids(ids, ptr)
            d = float(np.abs(sc.token_logprob - ref.token_logprob).max())
            t = median_time(lambda lm=lm: lm.score_ids(big_ids, big_ptr))
            print(f"held-out perplexity {sc.perplexity:.4f} (hash scorer {ref.perplexity:.4f}; "
                  f"rel. diff {abs(sc.perplexity / ref.perplexity - 1):.2e}); max |dlog10 p| "
                  f"per token {d:.2e}; scoring ids {ntok / t / 1e6:.2f} M tokens/s "
                  f"({t / ntok * 1e9:.0f} ns/token)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
