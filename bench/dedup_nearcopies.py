"""Near-duplicate benchmark corpus (issue 14) with exact ground truth.

Corpus: the documents of ../shared/corpus/en, cut into pieces of 100-400 whitespace-separated
words (random lengths, seeded): the base documents. A fraction of them get a shared
boilerplate header or footer (one of 30 snippets of 20-80 corpus words), so distinct
documents share shingles. Then planted copies of random base documents, about 1.1 times the
number of bases (so some bases get several), each one of:

- near: word substitutions (random corpus words), insertions, deletions, truncation, a
  boilerplate prefix or suffix added, or two of these; the amount is drawn so the planted
  pair's Jaccard spreads over ~0.55-1.0 (pairs on both sides of 0.8);
- exact: a verbatim copy (of a base or of a near copy).

All documents are shuffled and written as JSONL ({"text", "id"}, id = line = ordinal).

Ground truth: every pair of documents whose word 5-gram shingle sets (the lower-cased letter
runs of the `words` tokenizer, a document of fewer than 5 words one shingle of all of them,
64-bit hashes) have Jaccard >= the threshold (inter >= t * union), found exactly by prefix
filtering (AllPairs): shingles are ordered rarest first (ties by hash), and a document of L
shingles is indexed under its first L - ceil(t L) + 1; two sets with Jaccard >= t share one
of those, so no pair is missed and no shingle is skipped, while very common shingles (the
boilerplate) sit at the ends of the orders and seldom in a prefix, which bounds the work.
Each candidate pair (sizes within the factor t) is checked by a merge of the two sorted
sets. `--check N` re-checks a random sample of N documents against brute force.

    python bench/dedup_nearcopies.py --out /tmp/nearcopies --seed 14
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED  # noqa: E402

OPS = ("substitute", "insert", "delete", "truncate", "boilerplate", "mixed")


def base_documents(rng: np.random.Generator, lo: int, hi: int) -> list[list[str]]:
    from cooc.corpus import discover_files, iter_documents

    out = []
    for d in iter_documents(discover_files([str(SHARED / "en")])):
        words = d.text.split()
        a = 0
        while len(words) - a >= lo:
            n = int(rng.integers(lo, hi + 1))
            out.append(words[a:a + n])
            a += n
    return out


def edit(rng: np.random.Generator, words: list[str], op: str, vocab: list[str],
         boiler: list[list[str]]) -> list[str]:
    w = list(words)
    n = len(w)
    frac = float(rng.uniform(0.0, 0.09))  # edit amount: ~J 1.0 down to ~0.55
    if op == "substitute":
        for p in rng.choice(n, max(1, int(n * frac)), replace=False):
            w[p] = vocab[int(rng.integers(len(vocab)))]
    elif op == "insert":
        for _ in range(max(1, int(n * frac))):
            w.insert(int(rng.integers(len(w) + 1)), vocab[int(rng.integers(len(vocab)))])
    elif op == "delete":
        drop = set(rng.choice(n, max(1, int(n * frac)), replace=False).tolist())
        w = [x for i, x in enumerate(w) if i not in drop]
    elif op == "truncate":
        w = w[:max(5, int(n * (1 - 4 * frac)))]
    elif op == "boilerplate":
        b = boiler[int(rng.integers(len(boiler)))]
        w = b + w if rng.random() < 0.5 else w + b
    else:
        a, b = rng.choice(len(OPS) - 1, 2, replace=False)
        w = edit(rng, edit(rng, w, OPS[a], vocab, boiler), OPS[b], vocab, boiler)
    return w


def shingle_sets(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique word 5-gram hashes of each text (cooc's kernels, seed fixed)."""
    from cooc.curate.minhash import MinHashDedup

    m = MinHashDedup(permutations=1, bands=1, rows=1)
    parts, offs, base = [], [np.zeros(1, np.int64)], 0
    for a in range(0, len(texts), 4096):
        s, o = m.shingle_sets(texts[a:a + 4096])
        parts.append(s)
        offs.append(o[1:] + base)
        base += int(o[-1])
    return np.concatenate(parts), np.concatenate(offs)


@njit(cache=True)
def _all_pairs(shingles, offsets, ranks, threshold):
    """Pairs (i < j) with Jaccard >= threshold by prefix filtering (see the module)."""
    n = offsets.shape[0] - 1
    # each document's ranks sorted (rarest first) and its prefix length
    sorted_ranks = np.empty_like(ranks)
    plen = np.zeros(n, np.int64)
    for d in range(n):
        a, b = offsets[d], offsets[d + 1]
        tmp = ranks[a:b].copy()
        tmp.sort()
        sorted_ranks[a:b] = tmp
        L = b - a
        if L > 0:
            plen[d] = L - math.ceil(threshold * L - 1e-9) + 1
    # inverted index over prefix ranks: CSR by rank
    m = ranks.max() + 1 if ranks.shape[0] else 0
    cnt = np.zeros(m + 1, np.int64)
    for d in range(n):
        a = offsets[d]
        for k in range(plen[d]):
            cnt[sorted_ranks[a + k] + 1] += 1
    for r in range(m):
        cnt[r + 1] += cnt[r]
    post = np.empty(cnt[m], np.int64)
    fill = cnt[:m].copy()
    for d in range(n):
        a = offsets[d]
        for k in range(plen[d]):
            r = sorted_ranks[a + k]
            post[fill[r]] = d
            fill[r] += 1
    marker = np.full(n, -1, np.int64)
    out_i = []
    out_j = []
    out_inter = []
    out_union = []
    work = 0
    for x in range(n):
        ax, bx = offsets[x], offsets[x + 1]
        Lx = bx - ax
        for k in range(plen[x]):
            r = sorted_ranks[ax + k]
            for q in range(cnt[r], cnt[r + 1]):
                y = post[q]
                if y >= x:
                    break  # postings are in document order
                if marker[y] == x:
                    continue
                marker[y] = x
                Ly = offsets[y + 1] - offsets[y]
                if Ly < threshold * Lx or Lx < threshold * Ly:
                    continue
                work += 1
                i = ax
                j = offsets[y]
                inter = 0
                while i < bx and j < offsets[y + 1]:
                    if shingles[i] == shingles[j]:
                        inter += 1
                        i += 1
                        j += 1
                    elif shingles[i] < shingles[j]:
                        i += 1
                    else:
                        j += 1
                union = Lx + Ly - inter
                if inter >= threshold * union:
                    out_i.append(y)
                    out_j.append(x)
                    out_inter.append(inter)
                    out_union.append(union)
    return (np.array(out_i, np.int64), np.array(out_j, np.int64),
            np.array(out_inter, np.int64), np.array(out_union, np.int64), work)


def ground_truth(shingles: np.ndarray, offsets: np.ndarray, threshold: float):
    uniq, inv, cnt = np.unique(shingles, return_inverse=True, return_counts=True)
    order = np.lexsort((uniq, cnt))  # rarest first, ties by hash
    rank_of = np.empty(len(uniq), np.int64)
    rank_of[order] = np.arange(len(uniq))
    ranks = rank_of[inv]
    return _all_pairs(shingles, offsets, ranks, threshold)


def brute_check(shingles, offsets, pairs: set, sample: np.ndarray, threshold: float) -> int:
    """Pairs with a sampled document whose brute-force verdict differs (expected 0)."""
    sets = [set(shingles[offsets[d]:offsets[d + 1]].tolist()) for d in range(len(offsets) - 1)]
    bad = 0
    for x in sample.tolist():
        sx = sets[x]
        for y in range(len(sets)):
            if y == x or not sx:
                continue
            inter = len(sx & sets[y])
            union = len(sx) + len(sets[y]) - inter
            truth = union > 0 and inter >= threshold * union
            if truth != ((min(x, y), max(x, y)) in pairs):
                bad += 1
    return bad


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for corpus.jsonl and truth.npz")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--copies", type=float, default=1.1, help="planted copies per base document")
    ap.add_argument("--exact-share", type=float, default=0.25, help="share of exact copies")
    ap.add_argument("--check", type=int, default=0, help="brute-force check of N sampled documents")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    bases = base_documents(rng, 100, 400)
    vocab = [w for d in bases[:: max(1, len(bases) // 2000)] for w in d]
    boiler = []
    for _ in range(30):
        d = bases[int(rng.integers(len(bases)))]
        k = int(rng.integers(20, 81))
        s = int(rng.integers(0, max(1, len(d) - k)))
        boiler.append(d[s:s + k])
    for i in rng.choice(len(bases), len(bases) // 10, replace=False).tolist():
        b = boiler[int(rng.integers(len(boiler)))]
        bases[i] = b + bases[i] if rng.random() < 0.5 else bases[i] + b
    docs = [(" ".join(d), -1, "base") for d in bases]
    n_planted = int(len(bases) * a.copies)
    near: list[int] = []
    for _ in range(n_planted):
        if near and rng.random() < a.exact_share:
            src = near[int(rng.integers(len(near)))] if rng.random() < 0.3 \
                else int(rng.integers(len(bases)))
            docs.append((docs[src][0], src, "exact"))
        else:
            src = int(rng.integers(len(bases)))
            op = OPS[int(rng.integers(len(OPS)))]
            docs.append((" ".join(edit(rng, bases[src], op, vocab, boiler)), src, op))
            near.append(len(docs) - 1)
    perm = rng.permutation(len(docs))  # line of doc k is new_of[k]
    new_of = np.empty(len(docs), np.int64)
    new_of[perm] = np.arange(len(docs))
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for line, k in enumerate(perm.tolist()):
            f.write(json.dumps({"text": docs[k][0], "id": line}, ensure_ascii=False) + "\n")
    texts = [docs[k][0] for k in perm.tolist()]
    t1 = time.perf_counter()
    shingles, offsets = shingle_sets(texts)
    pi, pj, inter, union, work = ground_truth(shingles, offsets, a.threshold)
    t2 = time.perf_counter()
    planted = np.array([(new_of[k], new_of[docs[k][1]], OPS.index(docs[k][2])
                         if docs[k][2] in OPS else len(OPS))
                        for k in range(len(bases), len(docs))], np.int64).reshape(-1, 3)
    np.savez(a.out / "truth.npz", i=pi, j=pj, inter=inter, union=union, planted=planted,
             threshold=a.threshold)
    summary = {
        "documents": len(docs), "bases": len(bases), "planted": n_planted,
        "exact_planted": int((planted[:, 2] == len(OPS)).sum()),
        "shingles": int(len(shingles)), "pairs_at_threshold": int(len(pi)),
        "pairs_exact_copies": int((inter == union).sum()),
        "candidate_pairs_checked": int(work),
        "generate_seconds": round(t1 - t0, 1), "truth_seconds": round(t2 - t1, 1),
    }
    if a.check:
        sample = rng.choice(len(texts), a.check, replace=False)
        pairs = set(zip(pi.tolist(), pj.tolist(), strict=True))
        summary["brute_force_mismatches"] = brute_check(shingles, offsets, pairs, sample,
                                                        a.threshold)
    (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
