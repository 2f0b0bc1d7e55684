"""word2vec benchmark (issue 13): cooc's SGNS against gensim's Word2Vec on the same words.

Text: every file of ../shared/corpus/en (.jsonl, .jsonl.gz, .jsonl.zst), lower-cased, every
character that is not a letter turned into a space (punctuation and digits dropped), split
on whitespace; documents are cut into pieces of at most 10,000 words (gensim drops the words
of a sentence past its MAX_WORDS_IN_BATCH = 10,000, so both get the same pieces). cooc reads
them from a token store made once with `--tokenizer whitespace` (not timed), gensim from a
list of word lists in memory (its usual iterable mode; its vocabulary pass is not timed).

Both train skip-gram (cooc with its default shared negatives, and "cooc-per-pair" with
`shared_negatives=False`, word2vec.c's sampling), dim 100, window 5, negative 5,
min_count 5, sample 1e-4, 5 epochs,
alpha 0.025 -> 1e-4, 2 threads (gensim: workers=2). Speed: words/s = in-vocabulary corpus
words x epochs / seconds of training (cooc: `stats["train_seconds"]`; gensim: the wall time
of `train()`), the same numerator for both. Quality: Spearman's rho against WordSim353 and
SimLex-999 as gensim ships them (`gensim.test.utils.datapath`), pairs with an out-of-
vocabulary word skipped and counted. Mean over `--seeds` seeds.

    python bench/embed_word2vec.py --gensim-python /work/venv-peers/bin/python

gensim runs in its own interpreter (`--gensim-python`, a venv with gensim; it is not a
dependency of cooc); this script runs the other steps and the evaluation for both.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MAX_WORDS = 10_000  # gensim's MAX_WORDS_IN_BATCH
_NOT_LETTERS = re.compile(r"[\W\d_]+")
SYSTEMS = ("cooc", "cooc-per-pair", "gensim")
SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-4, epochs=5)


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.name.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
        return io.TextIOWrapper(raw, encoding="utf-8")
    return open(path, encoding="utf-8")


def prepare(folder: Path, work: Path) -> dict:
    """words.txt (one piece per line, for gensim) and words.jsonl (the same, for cooc)."""
    files = sorted(p for p in folder.iterdir() if ".jsonl" in p.name)
    pieces = words = docs = 0
    with open(work / "words.txt", "w", encoding="utf-8") as ft, \
            open(work / "words.jsonl", "w", encoding="utf-8") as fj:
        for p in files:
            with _open_text(p) as f:
                for line in f:
                    text = json.loads(line).get("text") or ""
                    w = _NOT_LETTERS.sub(" ", text.lower()).split()
                    docs += 1
                    for a in range(0, len(w), MAX_WORDS):
                        piece = " ".join(w[a: a + MAX_WORDS])
                        ft.write(piece + "\n")
                        fj.write(json.dumps({"text": piece}) + "\n")
                        pieces += 1
                    words += len(w)
    return {"files": [p.name for p in files], "documents": docs, "pieces": pieces, "words": words}


def gensim_worker(work: Path, seed: int, threads: int, out: Path) -> None:
    """Run in the gensim interpreter: train, save vectors, words and timings."""
    import logging

    from gensim.models import Word2Vec

    logging.basicConfig(level=logging.WARNING)
    with open(work / "words.txt", encoding="utf-8") as f:
        sentences = [line.split() for line in f]
    s = SETTINGS
    model = Word2Vec(vector_size=s["dim"], window=s["window"], negative=s["negative"],
                     min_count=s["min_count"], sample=s["sample"], epochs=s["epochs"], sg=1,
                     hs=0, workers=threads, seed=seed, alpha=0.025, min_alpha=1e-4)
    t0 = time.perf_counter()
    model.build_vocab(sentences)
    t_vocab = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    effective, raw = model.train(sentences, total_examples=model.corpus_count,
                                 epochs=model.epochs)
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
    words = model.wv.index_to_key
    counts = [int(model.wv.get_vecattr(w, "count")) for w in words]
    np.save(out / "vectors.npy", model.wv.vectors.astype(np.float32))
    (out / "result.json").write_text(json.dumps({
        "words": words, "counts": counts, "vocab_seconds": t_vocab, "train_seconds": t_train, "train_cpu_seconds": c_train,
        "effective_words": int(effective), "raw_words": int(raw)}))


def word_pairs(path: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a, b, score = line.split("\t")[:3]
        out.append((a.lower(), b.lower(), float(score)))
    return out


def spearman(vectors: np.ndarray, words: list[str], pairs) -> tuple[float, int]:
    """(Spearman's rho of cosine vs human scores over in-vocabulary pairs, pairs skipped)."""
    from scipy.stats import spearmanr

    index = {w: i for i, w in enumerate(words)}
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    got, want, oov = [], [], 0
    for a, b, s in pairs:
        if a not in index or b not in index:
            oov += 1
            continue
        got.append(float(unit[index[a]] @ unit[index[b]]))
        want.append(s)
    return float(spearmanr(got, want).statistic), oov


def run_cooc(store: Path, seed: int, threads: int,
             shared: bool = True) -> tuple[np.ndarray, list[str], dict]:
    from cooc.embed.word2vec import train_word2vec
    from cooc.options import RunOptions

    res = train_word2vec(str(store), sg=True, seed=seed, alpha=0.025, min_alpha=1e-4,
                         shared_negatives=shared,
                         options=RunOptions(num_proc=threads, quiet=True), **SETTINGS)
    return res.vectors, res.texts, {**res.stats, "corpus_words": int(res.counts.sum())}


def run_gensim(python: str, work: Path, seed: int, threads: int):
    out = Path(tempfile.mkdtemp(dir=work))
    subprocess.run([python, __file__, "--gensim-worker", str(work), "--seed", str(seed),
                    "--threads", str(threads), "--epochs", str(SETTINGS["epochs"]),
                    "--out", str(out)], check=True)
    meta = json.loads((out / "result.json").read_text())
    vectors = np.load(out / "vectors.npy")
    meta["corpus_words"] = int(sum(meta["counts"]))
    return vectors, meta.pop("words"), meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=SHARED / "en")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (kept if given)")
    ap.add_argument("--gensim-python", default=None, help="python of a venv with gensim")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    ap.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                    help="cooc-per-pair: cooc with shared_negatives=False")
    ap.add_argument("--gensim-worker", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    SETTINGS["epochs"] = args.epochs
    if args.gensim_worker is not None:
        gensim_worker(args.gensim_worker, args.seed, args.threads, args.out)
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="w2v-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "words.txt").exists():
        print("prepare:", json.dumps(prepare(args.corpus, work)), flush=True)
    store = work / "words.tokens"
    if not store.exists():
        from cooc.cooccur.config import BuildConfig
        from cooc.options import RunOptions
        from cooc.store.tokenize import tokenize_corpus

        tokenize_corpus(str(work / "words.jsonl"), store, BuildConfig(tokenizer="whitespace"),
                        RunOptions(quiet=True))
    gensim_py = args.gensim_python or sys.executable
    data = subprocess.run([gensim_py, "-c", "from gensim.test.utils import datapath;"
                           "print(datapath('wordsim353.tsv'))"], check=True,
                          capture_output=True, text=True).stdout.strip()
    evals = {"WordSim353": word_pairs(Path(data)),
             "SimLex-999": word_pairs(Path(data).parent / "simlex999.txt")}

    rows: dict[str, list[dict]] = {name: [] for name in args.systems}
    for seed in args.seeds:
        for name in args.systems:
            if name.startswith("cooc"):
                vec, words, meta = run_cooc(store, seed, args.threads, name == "cooc")
            else:
                vec, words, meta = run_gensim(gensim_py, work, seed, args.threads)
            words_run = meta["corpus_words"] * SETTINGS["epochs"]
            row = {"seed": seed, "vocab": len(words), "train_seconds": meta["train_seconds"],
                   "train_cpu_seconds": meta["train_cpu_seconds"],
                   "words_per_s": words_run / meta["train_seconds"],
                   "words_per_cpu_s": words_run / meta["train_cpu_seconds"],
                   "effective_words": meta["effective_words"]}
            for ev, pairs in evals.items():
                row[ev], row[f"{ev} oov"] = spearman(vec, words, pairs)
            rows[name].append(row)
            print(name, json.dumps(row), flush=True)

    print("\n| | words/s | words/CPU-s | train s (wall / CPU) | WordSim353 rho | SimLex-999 rho "
          "| vocab | OOV pairs (WS/SL) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        if not rs:
            continue
        m = {k: statistics.mean(r[k] for r in rs) for k in rs[0] if k != "seed"}
        print(f"| {name} | {m['words_per_s']:,.0f} | {m['words_per_cpu_s']:,.0f} | "
              f"{m['train_seconds']:.1f} / {m['train_cpu_seconds']:.1f} | "
              f"{m['WordSim353']:.3f} | {m['SimLex-999']:.3f} | {m['vocab']:,.0f} | "
              f"{rs[0]['WordSim353 oov']}/{rs[0]['SimLex-999 oov']} |")
    for name in ("cooc", "cooc-per-pair"):
        if rows.get(name) and rows.get("gensim"):
            for key in ("words_per_s", "words_per_cpu_s"):
                sp = statistics.mean(r[key] for r in rows[name]) / statistics.mean(
                    r[key] for r in rows["gensim"])
                print(f"{name} / gensim {key}: {sp:.2f}x")


if __name__ == "__main__":
    main()
