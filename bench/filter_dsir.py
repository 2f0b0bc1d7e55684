"""DSIR benchmark (issue 15): `cooc filter dsir` against the `data-selection` package
(`HashedNgramDSIR`) on the same target and raw corpora, whole-process time and enrichment.

    PYTHONPATH=src python bench/filter_dsir.py --work /tmp/dsir \\
        --peer-python /work/venv-peers/bin/python --source en_postgresql_doc

Corpora from ../shared/corpus/en, every document cut into pieces of 200 words: the target
is half of the --source's pieces (every other one); the raw corpus is the other half plus
every piece of the other sources, shuffled (seeded). Both select k = as many pieces as the
source has in the raw corpus, with unigram+bigram features (buckets: each tool's default,
or --buckets for both) and 2 processes / threads; cooc with seeds 0..--runs-1,
data-selection --runs times (its Gumbel noise is unseeded). Enrichment = (the source's
share of the sample) / (its share of the raw corpus).
data-selection runs with `min_example_length=0` (the pieces are all 200 words) and
`num_tokens_to_fit="all"`, so both fit on the same documents.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "en"
PIECE = 200

PEER = r"""
import json, sys, time
from data_selection import HashedNgramDSIR
work, k, buckets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
dsir = HashedNgramDSIR([work + "/raw.jsonl"], [work + "/target.jsonl"], cache_dir=work + "/ds_cache",
                       num_proc=2, ngrams=2, num_buckets=buckets, min_example_length=0)
dsir.fit_importance_estimator(num_tokens_to_fit="all")
dsir.compute_importance_weights()
dsir.resample(out_dir=work + "/ds_out", num_to_sample=k, cache_dir=work + "/ds_cache2")
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def prepare(work: Path, source: str, seed: int) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from cooc.corpus.readers import iter_documents

    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    target, raw = [], []
    for path in sorted(p for p in CORPUS.iterdir() if p.name.endswith((".jsonl", ".gz", ".zst"))):
        mine = path.name.startswith(source + ".")
        k = 0
        for d in iter_documents([path]):
            words = d.text.split()
            for i in range(0, len(words) - PIECE + 1, PIECE):
                text = " ".join(words[i:i + PIECE])
                if mine and k % 2 == 0:
                    target.append(text)
                else:
                    raw.append((text, mine))
                k += 1
    order = rng.permutation(len(raw))
    with open(work / "raw.jsonl", "w", encoding="utf-8") as f:
        for i in order.tolist():
            f.write(json.dumps({"text": raw[i][0], "mine": raw[i][1]}, ensure_ascii=False) + "\n")
    with open(work / "target.jsonl", "w", encoding="utf-8") as f:
        for t in target:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return sum(1 for _, m in raw if m)


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.stdout


def share(lines, raw_share: float) -> tuple[int, float]:
    mine = [json.loads(line)["mine"] for line in lines if line.strip()]
    return len(mine), (sum(mine) / len(mine)) / raw_share if mine else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--peer-python", help="a python with data-selection installed")
    ap.add_argument("--source", default="en_postgresql_doc")
    ap.add_argument("--seed", type=int, default=15, help="the corpus shuffle")
    ap.add_argument("--runs", type=int, default=3, help="cooc seeds 0..runs-1; as many peer runs")
    ap.add_argument("--buckets", type=int, help="both tools' buckets (default: each one's own: "
                    "cooc 65,536, data-selection 10,000)")
    a = ap.parse_args()
    k = prepare(a.work, a.source, a.seed)
    raw_lines = (a.work / "raw.jsonl").read_text(encoding="utf-8").splitlines()
    raw_share = k / len(raw_lines)
    print(f"raw: {len(raw_lines):,} pieces of {PIECE} words, {k:,} from {a.source} "
          f"({100 * raw_share:.1f} %); target: "
          f"{sum(1 for _ in open(a.work / 'target.jsonl')):,} pieces; k = {k:,}")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = []
    for run in range(a.runs):
        wall, cpu, _ = timed([sys.executable, "-m", "cooc", "filter", "dsir",
                              str(a.work / "raw.jsonl"), "--target", str(a.work / "target.jsonl"),
                              "--k", str(k), "-o", str(a.work / "cooc_out"), "--num-proc", "2",
                              "--seed", str(run), "-q", "--fresh",
                              *(["--buckets", str(a.buckets)] if a.buckets else [])], env)
        n, enrich = share((a.work / "cooc_out" / "kept" / "raw.jsonl").read_text().splitlines(),
                          raw_share)
        rows.append(("cooc filter dsir", run, wall, cpu, n, enrich))
        if a.peer_python:  # data-selection draws its Gumbel noise unseeded: a new draw a run
            for d in ("ds_cache", "ds_cache2", "ds_out"):
                subprocess.run(["rm", "-rf", str(a.work / d)], check=True)
            wall, cpu, _ = timed([a.peer_python, "-c", PEER, str(a.work), str(k),
                                  str(a.buckets or 10_000)])
            lines = []
            for p in sorted((a.work / "ds_out").glob("*.jsonl")):
                lines += p.read_text(encoding="utf-8").splitlines()
            n, enrich = share(lines, raw_share)
            rows.append(("data-selection HashedNgramDSIR", run, wall, cpu, n, enrich))
    print("| run | seed / run | wall s | CPU s | selected | enrichment of the source |")
    print("|---|---|---|---|---|---|")
    for name, run, wall, cpu, n, enrich in rows:
        print(f"| {name} | {run} | {wall:.1f} | {cpu:.1f} | {n:,} | {enrich:.2f}x |")
    for name in ("cooc filter dsir", "data-selection HashedNgramDSIR"):
        mine = [r for r in rows if r[0] == name]
        if mine:
            print(f"{name}: median wall {np.median([r[2] for r in mine]):.1f} s, mean "
                  f"enrichment {np.mean([r[5] for r in mine]):.2f}x over {len(mine)} runs")

if __name__ == "__main__":
    main()
