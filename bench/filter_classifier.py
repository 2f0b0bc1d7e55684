"""Classifier benchmark (issue 15): cooc's `HashedNgramClassifier` against fastText's supervised
classifier (the `fasttext` package) on a two-source task from ../shared/corpus, the same
n-grams, buckets, dimension, epochs, rate and threads: held-out accuracy, training and
scoring time.

    PYTHONPATH=src python bench/filter_classifier.py --work /tmp/clf \\
        --peer-python /work/venv-peers/bin/python

Task: pieces of --words words of two sources (default en_linux_doc and en_python_doc),
label = source, shuffled (seeded) and split 80/20. Both read the same normalised text (the
`words` tokenizer's lower-cased letter runs, space-joined: fastText's input is
pre-tokenized) in the same order. fastText: `train_supervised(dim, wordNgrams, bucket,
epoch, lr, thread, minCount=1, loss="softmax")`, scored with `model.test` (C++); cooc:
`fit` and `score`. Each in its own process; the times are of training and of scoring alone
(loading the text excluded), and the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "en"

PEER = r"""
import json, sys, time
import fasttext
work, dim, ngrams, buckets, epochs, lr, threads, seed = sys.argv[1], *map(int, sys.argv[2:6]), float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
t0 = time.perf_counter()
m = fasttext.train_supervised(input=work + "/train.ft", dim=dim, wordNgrams=ngrams, bucket=buckets,
                              epoch=epochs, lr=lr, thread=threads, minCount=1, loss="softmax",
                              verbose=0, seed=seed)
t1 = time.perf_counter()
n, p1, _ = m.test(work + "/test.ft")
t2 = time.perf_counter()
print(json.dumps({"train_s": t1 - t0, "score_s": t2 - t1, "accuracy": p1, "n": n}))
"""


def prepare(work: Path, sources: list[str], words: int, seed: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from cooc.corpus.readers import iter_documents
    from cooc.tokenizers.words import normalize_words

    work.mkdir(parents=True, exist_ok=True)
    pieces = []
    for label, source in enumerate(sources):
        path = next(p for p in CORPUS.iterdir() if p.name.startswith(source + "."))
        for d in iter_documents([path]):
            w = normalize_words(d.text).split()
            for i in range(0, len(w) - words + 1, words):
                pieces.append((label, " ".join(w[i:i + words])))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pieces))
    cut = int(0.8 * len(pieces))
    for name, idx in (("train", order[:cut]), ("test", order[cut:])):
        with open(work / f"{name}.ft", "w", encoding="utf-8") as ft, \
                open(work / f"{name}.jsonl", "w", encoding="utf-8") as js:
            for i in idx.tolist():
                label, text = pieces[i]
                ft.write(f"__label__{label} {text}\n")
                js.write(json.dumps({"label": label, "text": text}) + "\n")


def cooc_child(work: Path, dim: int, ngrams: int, buckets: int, epochs: int, lr: float,
               threads: int, seed: int) -> dict:
    import time

    sys.path.insert(0, str(ROOT / "src"))
    from cooc.curate.classifier import HashedNgramClassifier

    def load(name):
        rows = [json.loads(line) for line in open(work / f"{name}.jsonl", encoding="utf-8")]
        return [r["text"] for r in rows], np.array([r["label"] for r in rows])

    train, y = load("train")
    test, truth = load("test")
    clf = HashedNgramClassifier(dim, ngrams, buckets, epochs, lr, seed=seed, num_threads=threads)
    clf.fit(train[:10], y[:10])  # compile the kernels first (cached on disk after one run)
    t0 = time.perf_counter()
    clf.fit(train, y)
    t1 = time.perf_counter()
    score = clf.score(test)
    t2 = time.perf_counter()
    return {"train_s": t1 - t0, "score_s": t2 - t1,
            "accuracy": float(((score > 0.5).astype(int) == truth).mean()), "n": len(test)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--peer-python")
    ap.add_argument("--sources", nargs=2, default=["en_linux_doc", "en_python_doc"])
    ap.add_argument("--words", type=int, default=50)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--ngrams", type=int, default=2)
    ap.add_argument("--buckets", type=int, default=2_000_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[1, 2, 3],
                    help="both trainers run once per seed; accuracies and times are averaged")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    params = [str(x) for x in (a.dim, a.ngrams, a.buckets, a.epochs)] + [str(a.lr), str(a.threads)]
    if a.child:
        print(json.dumps(cooc_child(a.work, a.dim, a.ngrams, a.buckets, a.epochs, a.lr,
                                    a.threads, a.train_seeds[0])))
        return
    if not (a.work / "train.ft").exists():
        prepare(a.work, a.sources, a.words, a.seed)
    n_train = sum(1 for _ in open(a.work / "train.ft"))
    n_test = sum(1 for _ in open(a.work / "test.ft"))
    print(f"{a.sources[0]} vs {a.sources[1]}: pieces of {a.words} words, {n_train:,} train, "
          f"{n_test:,} test; dim {a.dim}, {a.ngrams}-grams, {a.buckets:,} buckets, "
          f"{a.epochs} epochs, lr {a.lr}, {a.threads} threads")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = []
    for seed in a.train_seeds:
        out = subprocess.run([sys.executable, __file__, "--work", str(a.work), "--child",
                              "--dim", params[0], "--ngrams", params[1], "--buckets", params[2],
                              "--epochs", params[3], "--lr", params[4], "--threads", params[5],
                              "--train-seeds", str(seed)],
                             check=True, capture_output=True, text=True, env=env)
        rows.append(("cooc HashedNgramClassifier", seed,
                     json.loads(out.stdout.strip().splitlines()[-1])))
        if a.peer_python:
            out = subprocess.run([a.peer_python, "-c", PEER, str(a.work), *params, str(seed)],
                                 check=True, capture_output=True, text=True)
            rows.append(("fastText train_supervised", seed,
                         json.loads(out.stdout.strip().splitlines()[-1])))
    print("| run | seed | held-out accuracy | train s | score s |")
    print("|---|---|---|---|---|")
    for name, seed, r in rows:
        print(f"| {name} | {seed} | {r['accuracy']:.4f} | {r['train_s']:.2f} | "
              f"{r['score_s']:.3f} |")
    means = {}
    for name in ("cooc HashedNgramClassifier", "fastText train_supervised"):
        mine = [r for n, _, r in rows if n == name]
        if mine:
            means[name] = {k: float(np.mean([r[k] for r in mine]))
                           for k in ("accuracy", "train_s", "score_s")}
            m = means[name]
            print(f"{name}: mean accuracy {m['accuracy']:.4f}, train {m['train_s']:.2f} s, "
                  f"score {m['score_s']:.3f} s")
    if len(means) == 2:
        c, f = means["cooc HashedNgramClassifier"], means["fastText train_supervised"]
        print(f"\ncooc / fastText: training {f['train_s'] / c['train_s']:.2f}x as fast, "
              f"scoring {f['score_s'] / c['score_s']:.2f}x, accuracy "
              f"{c['accuracy'] - f['accuracy']:+.4f}")

if __name__ == "__main__":
    main()
