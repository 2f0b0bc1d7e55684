"""MinHash-LSH near-duplicates (issue 14): cooc's `MinHashDedup` against datasketch's
`MinHashLSH` on the corpus of `dedup_nearcopies.py`, scored against its exact ground truth.

Each system runs in a fresh process over the same JSONL and reports its clusters (one id a
document, -1 alone), CPU seconds (user + system, `resource.getrusage`, the whole process),
wall seconds and peak RSS:

- cooc: `cooc.corpus.iter_batches` -> `DocumentBatch` -> `MinHashDedup.fit` -> `decide`
  on every batch again (the runner's two passes; nothing written). Memory a document:
  (peak RSS - RSS after imports and a 2-document warm-up fit, which loads the compiled
  kernels) / documents.
- datasketch (another virtual environment: it is never a dependency of cooc): the same
  shingles (word 5-grams of the lower-cased letter runs, `re.findall(r"[^\\W\\d_]+",
  text.lower())`, the `words` tokenizer's words; fewer than 5 words: one shingle),
  `MinHash(num_perm=128).update_batch`, `MinHashLSH(threshold, num_perm=128)`: insert all,
  query each, and clusters = connected components of the candidate pairs (no verification;
  datasketch's usual use).

Scores, over pairs of documents (truth: the pairs with Jaccard >= threshold):
- recall: a truth pair is found if both documents end in the same cluster;
- precision: found truth pairs / all pairs within predicted clusters;
- component recall/precision: the same with truth taken as the connected components of the
  truth pairs (a cluster joining a -> b -> c where J(a, c) < threshold is then right);
- removal precision: removed documents (all but the first of a cluster) whose Jaccard with
  the kept first is >= threshold, over all removed.

The truth pairs are not transitive (two edits of one document can each be >= 0.8 from it
and < 0.8 from each other), so no clustering reaches precision 1: the row "exact truth
components (oracle)" scores the components of the truth pairs themselves, the best a
union-find clustering can do.

    python bench/dedup_nearcopies.py --out /tmp/nearcopies
    python bench/dedup_minhash.py --data /tmp/nearcopies --datasketch-python /work/venv-peers/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def whole_process() -> dict:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def run_cooc(data: Path, out: Path, threshold: float, permutations: int, batch: int,
             threads: int) -> dict:
    from cooc.corpus import iter_batches
    from cooc.curate.minhash import MinHashDedup, describe_bands
    from cooc.curate.step import DocumentBatch
    from cooc.options import RunOptions

    opts = RunOptions(num_proc=threads, batch_size=batch, quiet=True, tmp_dir=str(out.parent))
    MinHashDedup(threshold, permutations=permutations, options=opts).fit(
        [DocumentBatch(["a b c d e f", "a b c d e f"], np.arange(2))])
    base = rss_mb()
    t0 = time.perf_counter()
    c0 = whole_process()["cpu"]
    files = [data / "corpus.jsonl"]

    def batches():
        start = 0
        for docs in iter_batches(files, batch_size=batch):
            yield DocumentBatch([d.text for d in docs], np.arange(start, start + len(docs)))
            start += len(docs)

    step = MinHashDedup(threshold, permutations=permutations, options=opts).fit(batches())
    clusters = []
    kept = 0
    for b in batches():
        d = step.decide(b)
        clusters.append(d.cluster)
        kept += int(d.keep.sum())
    clusters = np.concatenate(clusters)
    wall = time.perf_counter() - t0
    w = whole_process()
    np.save(out, clusters)
    rep = step.report()
    print(describe_bands(threshold, step.bands, step.rows), file=sys.stderr)
    return {"system": "cooc", "documents": len(clusters), "kept": kept, "wall": wall,
            "cpu_step": w["cpu"] - c0, **w, "rss_base_mb": base,
            "bands": step.bands, "rows": step.rows,
            "pairs_checked": rep["pairs_checked"], "spilled_partitions": rep["spilled_partitions"]}


WORD = re.compile(r"[^\W\d_]+")


def run_datasketch(data: Path, out: Path, threshold: float, permutations: int,
                   weights: tuple[float, float] | None) -> dict:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    kw = {"weights": weights} if weights else {}
    lsh = MinHashLSH(threshold=threshold, num_perm=permutations, **kw)
    sigs = []
    with open(data / "corpus.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            words = WORD.findall(json.loads(line)["text"].lower())
            sh = {" ".join(words[k:k + 5]).encode() for k in range(max(1, len(words) - 4))} \
                if words else set()
            m = MinHash(num_perm=permutations)
            m.update_batch(list(sh))
            if sh:
                lsh.insert(i, m)
            sigs.append(m if sh else None)
    n = len(sigs)
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sigs):
        if m is None:
            continue
        for j in lsh.query(m):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = np.array([find(i) for i in range(n)], np.int64)
    size = np.bincount(roots, minlength=n)
    clusters = np.where(size[roots] > 1, roots, -1)
    wall = time.perf_counter() - t0
    np.save(out, clusters)
    return {"system": "datasketch", "documents": n, "kept": int(n - (size[roots] > 1).sum()
                                                                + (size > 1).sum()),
            "wall": wall, "bands": lsh.b, "rows": lsh.r, **whole_process()}


def pairs_in(labels: np.ndarray) -> int:
    _, c = np.unique(labels, return_counts=True)
    return int((c * (c - 1) // 2).sum())


def truth_components(n: int, truth: dict) -> np.ndarray:
    """The clusters of an oracle: connected components of the truth pairs (id: smallest)."""
    parent = np.arange(n)
    for a, b in zip(truth["i"].tolist(), truth["j"].tolist(), strict=True):
        while parent[a] != a:
            a = parent[a]
        while parent[b] != b:
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
    for x in range(n):
        parent[x] = parent[parent[x]]
    size = np.bincount(parent, minlength=n)
    return np.where(size[parent] > 1, parent, -1)


def score(clusters: np.ndarray, truth: dict) -> dict:
    n = len(clusters)
    lab = np.where(clusters >= 0, clusters, np.arange(n) + n)  # alone: a label of its own
    i, j = truth["i"], truth["j"]
    found = lab[i] == lab[j]
    predicted = pairs_in(lab)
    comp = truth_components(n, truth)
    comp = np.where(comp >= 0, comp, np.arange(n))
    both = pairs_in(lab.astype(np.int64) * (2 * n) + comp)
    # removal precision: a removed document (not its cluster's first) is right if its
    # Jaccard with the kept one (the first: both systems keep it) is >= threshold
    removed = np.flatnonzero((clusters >= 0) & (clusters != np.arange(n)))
    truth_keys = set((i * n + j).tolist())
    right = sum(int(c) * n + int(x) in truth_keys for x, c in
                zip(removed.tolist(), clusters[removed].tolist(), strict=True))
    truth_closure = pairs_in(comp)
    return {
        "truth_pairs": int(len(i)), "predicted_pairs": predicted,
        "recall": float(found.mean()) if len(i) else 1.0,
        "precision": float(found.sum() / predicted) if predicted else 1.0,
        "component_recall": both / truth_closure if truth_closure else 1.0,
        "component_precision": both / predicted if predicted else 1.0,
        "removed": int(len(removed)),
        "removal_precision": right / len(removed) if len(removed) else 1.0,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--permutations", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--datasketch-python", default="/work/venv-peers/bin/python")
    ap.add_argument("--datasketch-weights", type=float, nargs=2, default=None,
                    help="also run datasketch with these (fp, fn) weights")
    ap.add_argument("--run", choices=("cooc", "datasketch"), help=argparse.SUPPRESS)
    ap.add_argument("--clusters", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.run == "cooc":
        print(json.dumps(run_cooc(a.data, a.clusters, a.threshold, a.permutations, a.batch,
                                  a.threads)))
        return
    if a.run == "datasketch":
        w = tuple(a.datasketch_weights) if a.datasketch_weights else None
        print(json.dumps(run_datasketch(a.data, a.clusters, a.threshold, a.permutations, w)))
        return
    truth = dict(np.load(a.data / "truth.npz"))
    me = [sys.executable, __file__, "--data", str(a.data), "--threshold", str(a.threshold),
          "--permutations", str(a.permutations)]
    env = dict(os.environ)
    rows = []
    runs = [("cooc", sys.executable, ["--batch", str(a.batch), "--threads", str(a.threads)]),
            ("datasketch", a.datasketch_python, [])]
    if a.datasketch_weights:
        runs.append(("datasketch", a.datasketch_python,
                     ["--datasketch-weights", *map(str, a.datasketch_weights)]))
    for k, (system, python, extra) in enumerate(runs):
        out = a.data / f"clusters-{k}.npy"
        cmd = [python, *me[1:], "--run", system, "--clusters", str(out), *extra]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode:
            raise SystemExit(f"{system} failed:\n{res.stderr[-3000:]}")
        sys.stderr.write(res.stderr)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r.update(score(np.load(out), truth))
        r["docs_per_cpu_s"] = r["documents"] / r["cpu"]
        if extra and system == "datasketch":
            r["system"] = f"datasketch weights={a.datasketch_weights}"
        rows.append(r)
        print(json.dumps(r))
    oracle = {"system": "exact truth components (oracle)", "bands": "-", "rows": "-",
              "docs_per_cpu_s": float("nan"), "cpu": float("nan"), "wall": float("nan"),
              "peak_rss_mb": float("nan"),
              **score(truth_components(rows[0]["documents"], truth), truth)}
    print(json.dumps(oracle))
    rows.append(oracle)
    base = rows[1]
    print("\n| system | bands x rows | precision | recall | comp. precision | comp. recall "
          "| removal precision | docs / CPU-s | CPU s | wall s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['system']} | {r['bands']} x {r['rows']} | {r['precision']:.4f} | "
              f"{r['recall']:.4f} | {r['component_precision']:.4f} | {r['component_recall']:.4f}"
              f" | {r['removal_precision']:.4f} | {r['docs_per_cpu_s']:,.0f} | {r['cpu']:.1f} | {r['wall']:.1f} | "
              f"{r['peak_rss_mb']:.0f} |")
    c = rows[0]
    print(f"\ncooc vs datasketch: {base['cpu'] / c['cpu']:.1f}x less CPU, "
          f"{base['peak_rss_mb'] / c['peak_rss_mb']:.1f}x less peak RSS; cooc memory a document "
          f"{(c['peak_rss_mb'] - c['rss_base_mb']) * 2**20 / c['documents']:.0f} B "
          f"(peak RSS {c['peak_rss_mb']:.0f} MB - {c['rss_base_mb']:.0f} MB after imports); "
          f"in-process (reading, fit, decide; no interpreter start or imports): "
          f"{c['documents'] / c['cpu_step']:,.0f} docs / CPU-s")


if __name__ == "__main__":
    main()
