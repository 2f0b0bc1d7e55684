"""Benchmark and parity check of Kneser-Ney estimation and scoring (`cooc.lm`).

    PYTHONPATH=src python bench/bench_lm.py [--mb 20] [--orders 3 5] [--lmplz PATH] [--prune 0 1]

Writes a training slice of the English shared corpus (whole documents in sorted file order,
whitespace-normalised, one document a line, the reserved words <s> </s> <unk> dropped)
of --mb MB, and a held-out slice (the next --heldout documents). For each order: `cooc lm
estimate` (wall and CPU time, peak RSS) and reading its ARPA back; with --lmplz, KenLM's lmplz
on the same file (-S as cooc's --memory unless --lmplz-memory) and
the largest |difference| of log10 probabilities and backoffs over all n-grams (both files
must hold the same n-grams); perplexity of the held-out text with cooc's scorer on cooc's
ARPA and with the `kenlm` module (when installed) on the same ARPA and on lmplz's; scoring
throughput (model ids, 1 and all threads; text). Skips (exit 0) when the corpus is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, english_slices  # noqa: E402
from common import run_cpu as common_run_cpu  # noqa: E402

from cooc.lm import LanguageModel, read_arpa  # noqa: E402
from cooc.lm.model import find_rows  # noqa: E402


def compare_arpa(a, b) -> tuple[float, float, int]:
    """(max |dprob|, max |dbackoff|, n-grams of b missing from a) over b's n-grams."""
    ids = {w: i for i, w in enumerate(a.vocab)}
    tr = np.array([ids.get(w, -1) for w in b.vocab], np.int64)
    dp = db = 0.0
    missing = 0
    for k in range(1, b.order + 1):
        q = tr[b.grams[k - 1].astype(np.int64)]
        ok = (q >= 0).all(1)
        rows = np.full(len(q), -1, np.int64)
        rows[ok] = find_rows(a.grams[k - 1], q[ok])
        found = rows >= 0
        missing += int((~found).sum())
        r = rows[found]
        dp = max(dp, float(np.abs(a.logprob[k - 1][r] - b.logprob[k - 1][found]).max(initial=0)))
        db = max(db, float(np.abs(a.backoff[k - 1][r] - b.backoff[k - 1][found]).max(initial=0)))
    return dp, db, missing + abs(sum(a.counts) - sum(b.counts))


def kenlm_perplexity(path: Path, sentences: list[str]) -> dict | None:
    try:
        import kenlm
    except ImportError:
        return None
    m = kenlm.Model(str(path))
    total = oov_total = 0.0
    tokens = oovs = 0
    for s in sentences:
        for p, _, oov in m.full_scores(s):
            total += p
            tokens += 1
            if oov:
                oovs += 1
                oov_total += p
    return {"perplexity": 10 ** (-total / tokens),
            "perplexity_excluding_oovs": 10 ** (-(total - oov_total) / (tokens - oovs)),
            "oovs": oovs, "tokens": tokens}


def run_cpu(cmd: list[str], repeat: int = 1) -> tuple[float, float, float]:
    """`common.run_cpu`; with repeat > 1, the medians of that many runs (printed: every
    run's figures)."""
    runs = [common_run_cpu(cmd) for _ in range(repeat)]
    if repeat > 1:
        print("  runs (wall, CPU, MB): " + "; ".join(f"{w:.2f} {c:.2f} {m:.0f}" for w, c, m in runs))
    return tuple(float(np.median([r[i] for r in runs])) for i in range(3))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="training text MB (default 20)")
    ap.add_argument("--orders", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--heldout", type=int, default=300, help="held-out documents")
    ap.add_argument("--lmplz", default=None, help="path of KenLM's lmplz binary")
    ap.add_argument("--memory", default="1G", help="cooc's counting budget (default 1G)")
    ap.add_argument("--lmplz-memory", default=None,
                    help="lmplz's -S (default: the same as --memory)")
    ap.add_argument("--prune", type=int, nargs="+", default=None,
                    help="pruning thresholds for both (lmplz --prune), e.g. 0 1 1")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each estimation this many times, report medians (default 1)")
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    args.lmplz_memory = args.lmplz_memory or args.memory
    if not (SHARED / "en").is_dir():
        print(f"skipped: {SHARED / 'en'} is absent")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-lm-", dir=args.tmp))
    report: dict = {}
    try:
        train, held = tmp / "train.txt", tmp / "held.txt"
        size, docs, held_lines = english_slices(args.mb, args.heldout, train)
        held.write_text("".join(x + "\n" for x in held_lines), encoding="utf-8")
        words = sum(len(x.split()) for x in open(train, encoding="utf-8"))
        sentences = held.read_text(encoding="utf-8").splitlines()
        report["train"] = {"bytes": size, "sentences": docs, "tokens": words}
        print(f"train: {size / 1e6:.1f} MB, {docs:,} sentences, {words:,} tokens; held-out: "
              f"{len(sentences):,} sentences")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        os.environ.update(env)
        for n in args.orders:
            r: dict = {}
            ours = tmp / f"cooc{n}.arpa"
            wall, cpu, rss = run_cpu([sys.executable, "-m", "cooc", "lm", "estimate",
                                      str(train), "-o", str(ours), "--order", str(n),
                                      "--memory", args.memory, "-q",
                                      *(["--prune", *map(str, args.prune)] if args.prune else [])],
                                     args.repeat)
            r["cooc_estimate"] = {"seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss}
            print(f"order {n}: cooc estimate (count, estimate, write ARPA) {wall:.1f} s, CPU "
                  f"{cpu:.1f} s, peak RSS {rss:.0f} MB (--memory {args.memory})")
            t = time.perf_counter()
            m = read_arpa(ours)
            r["read_arpa_seconds"] = time.perf_counter() - t
            print(f"order {n}: read_arpa {r['read_arpa_seconds']:.1f} s "
                  f"({ours.stat().st_size / 1e6:.0f} MB)")
            r["grams"] = m.counts
            if args.lmplz:
                theirs = tmp / f"lmplz{n}.arpa"
                prune = f" --prune {' '.join(map(str, args.prune))}" if args.prune else ""
                cmd = (f"{args.lmplz} -o {n} -S {args.lmplz_memory} -T {tmp}{prune} < {train} > "
                       f"{theirs} 2> {tmp / 'lmplz.log'}")
                wall, cpu, rss = run_cpu(["sh", "-c", cmd], args.repeat)
                dp, db, missing = compare_arpa(m, read_arpa(theirs))
                r["lmplz"] = {"seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss,
                              "S": args.lmplz_memory, "max_abs_dprob": dp,
                              "max_abs_dbackoff": db, "ngram_mismatches": missing}
                print(f"order {n}: lmplz -S {args.lmplz_memory} {wall:.1f} s, CPU {cpu:.1f} s, "
                      f"peak RSS {rss:.0f} MB; max |dlog10 p| {dp:.2e}, max |dlog10 backoff| "
                      f"{db:.2e}, n-gram mismatches {missing}")
                kt = kenlm_perplexity(theirs, sentences)
                if kt:
                    r["kenlm_on_lmplz_arpa"] = kt
            lm = LanguageModel(m, num_threads=os.cpu_count() or 1)
            s = lm.score(sentences)
            r["cooc_score"] = s.summary()
            ko = kenlm_perplexity(ours, sentences)
            r["kenlm_on_cooc_arpa"] = ko
            line = (f"order {n}: held-out perplexity cooc {s.perplexity:.4f} (excl. OOVs "
                    f"{s.perplexity_excluding_oovs:.4f}, {s.oovs} OOVs / {s.tokens} tokens)")
            if ko:
                line += (f"; kenlm on the same ARPA {ko['perplexity']:.4f} "
                         f"({ko['perplexity_excluding_oovs']:.4f}): rel. diff "
                         f"{abs(s.perplexity / ko['perplexity'] - 1):.2e}")
            if args.lmplz and r.get("kenlm_on_lmplz_arpa"):
                kt = r["kenlm_on_lmplz_arpa"]
                line += (f"; kenlm on lmplz's ARPA {kt['perplexity']:.4f}: rel. diff "
                         f"{abs(s.perplexity / kt['perplexity'] - 1):.2e}")
            print(line)
            rep = max(1, 4_000_000 // max(1, s.tokens))
            big = sentences * rep
            ids, ptr = lm.encode(big)
            for threads in (1, os.cpu_count() or 1):
                lm.num_threads = threads
                lm.score_ids(ids, ptr)
                t = time.perf_counter()
                sc = lm.score_ids(ids, ptr)
                dt = time.perf_counter() - t
                r[f"ids_tokens_per_s_{threads}_threads"] = sc.tokens / dt
                print(f"order {n}: scoring model ids, {threads} threads: "
                      f"{sc.tokens / dt / 1e6:.2f} M tokens/s ({sc.tokens:,} tokens)")
            t = time.perf_counter()
            sc = lm.score(big)
            dt = time.perf_counter() - t
            r["text_tokens_per_s"] = sc.tokens / dt
            print(f"order {n}: scoring text (split, encode, score): {sc.tokens / dt / 1e6:.2f} "
                  f"M tokens/s; scorer structure {lm.nbytes / sum(m.counts):.1f} bytes/n-gram")
            report[f"order{n}"] = r
        print(json.dumps(report, indent=1, default=float))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
