"""GloVe training benchmark (issue 13): cooc's `train_glove` against Stanford GloVe's `glove`
binary on the same counts, seconds per iteration and the cost of every iteration.

Counts: the first `--mb` MB of ../shared/corpus/en as whitespace words, one document a line
(`bench_glove.write_corpus`), indexed by `cooc build --tokenizer whitespace --context-length
0 --count-mode harmonic --radius 10 --include-self --min-count 5` (GloVe's `cooccur`
counts: `bench_glove.py` checks the parity). Both trainers then get the same entries: the
index's tokens seen 5+ times and their nonzero counts, written for `glove` as its vocabulary
file and its shuffled CREC records (int32 w1, int32 w2, float64 val; 1-based ids), as
`shuffle` would hand them over, shuffled anew for every seed (cooc shuffles its own entries
by its seed). Same settings: dim 100, x_max 100, alpha 0.75, eta 0.05,
`--threads` threads. glove's time per iteration is (wall of `--iterations` iterations - wall
of one) / (iterations - 1), which removes its loading and saving; cooc's is the mean of
`GloveResult.iteration_seconds` after the first (the first holds the kernel's load).
Both sets of vectors (glove's `-model 2` text file, w + c, and cooc's X.vec) are then scored
by the same code (`cooc.embed.evaluate`, case-insensitive) on WordSim353 and SimLex-999 as
gensim ships them (`--gensim-data`, default: gensim's `test/test_data` where gensim is
importable; the scores are left out where it is not).

GloVe is not part of cooc: build it from https://github.com/stanfordnlp/GloVe (`make`) and
pass its `build/` folder.

    python bench/embed_glove.py --glove-bin /tmp/glove-src/build --mb 20 --threads 2 \
        --iterations 10 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_glove import CREC, write_corpus  # noqa: E402
from common import SHARED  # noqa: E402

_COST = re.compile(r"iter: (\d+), cost: ([0-9.eE+-]+)")


def export_for_glove(index_path: Path, work: Path, min_count: int) -> dict:
    """vocab.txt and cooccurrence.bin (index order) of the entries train_glove uses."""
    from types import SimpleNamespace

    import cooc
    from cooc.embed.ppmi import kept_tokens

    index = cooc.open_index(index_path)
    tokens = kept_tokens(index, SimpleNamespace(min_count=min_count, max_vocab=0))
    texts = list(index.token_texts)
    occ = np.asarray(index.occurrences)
    with open(work / "vocab.txt", "w", encoding="utf-8") as f:
        for t in tokens.tolist():
            f.write(f"{texts[t]} {int(occ[t])}\n")
    new_id = np.full(index.vocab_size, -1, np.int64)
    new_id[tokens] = np.arange(1, len(tokens) + 1)
    parts = []
    for lo, ptr, cols, counts in index.iter_rows():
        rows = new_id[np.repeat(np.arange(lo, lo + len(ptr) - 1), np.diff(ptr))]
        cs = new_id[cols]
        keep = (rows > 0) & (cs > 0) & (counts > 0)
        rec = np.empty(int(keep.sum()), CREC)
        rec["w1"], rec["w2"] = rows[keep], cs[keep]
        rec["val"] = counts[keep] / index.count_scale
        parts.append(rec)
    rec = np.concatenate(parts)
    rec.tofile(work / "cooccurrence.bin")
    return {"vocab": len(tokens), "entries": len(rec)}


def shuffle_for_glove(work: Path, seed: int) -> None:
    """cooccurrence.shuf.bin: the records in a random order of `seed`, as GloVe's `shuffle`
    writes them. Each seed gets its own order: the order alone moves the scores (one fixed
    order gave every glove run SimLex-999 rho 0.078; cooc's kernel on that same order
    0.078, on fresh orders 0.073), so both sides must average over orders."""
    rec = np.fromfile(work / "cooccurrence.bin", CREC)
    rec[np.random.default_rng(seed).permutation(len(rec))].tofile(work / "cooccurrence.shuf.bin")


def run_glove(bin_dir: Path, work: Path, iterations: int, threads: int, dim: int,
              seed: int, one: float | None) -> dict:
    def once(iters: int) -> tuple[float, list[float]]:
        cmd = [str(bin_dir / "glove"), "-input-file", str(work / "cooccurrence.shuf.bin"),
               "-vocab-file", str(work / "vocab.txt"), "-save-file", str(work / "glove-vectors"),
               "-vector-size", str(dim), "-iter", str(iters), "-threads", str(threads),
               "-x-max", "100", "-alpha", "0.75", "-eta", "0.05", "-binary", "0",
               "-model", "2", "-verbose", "2", "-seed", str(seed)]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode:
            raise SystemExit(f"glove failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
        return wall, [float(c) for _, c in _COST.findall(p.stderr)]

    one = once(1)[0] if one is None else one
    wall, costs = once(iterations)
    return {"seconds_per_iteration": (wall - one) / max(iterations - 1, 1), "wall_s": wall,
            "one_iteration_wall_s": one, "costs": costs}


def run_cooc(index: Path, work: Path, iterations: int, threads: int, dim: int,
             seed: int) -> dict:
    from cooc.embed.glove import train_glove
    from cooc.options import RunOptions

    r = train_glove(index, work / "cooc.vec", dim=dim, iterations=iterations, min_count=5,
                    seed=seed, options=RunOptions(num_proc=threads, quiet=True))
    later = r.iteration_seconds[1:] or r.iteration_seconds
    return {"seconds_per_iteration": float(np.mean(later)),
            "first_iteration_s": r.iteration_seconds[0], "timings": r.timings,
            "costs": r.costs}


def similarity_scores(work: Path, data: Path, dim: int) -> dict:
    """WordSim353 and SimLex-999 rho of glove's and cooc's vectors, by cooc's evaluator."""
    from cooc.embed import open_vectors, write_vectors
    from cooc.embed.evaluate import evaluate_similarity

    words, rows = [], []
    with open(work / "glove-vectors.txt", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            if len(parts) == dim + 1:
                words.append(parts[0])
                rows.append(np.array(parts[1:], np.float32))
    write_vectors(work / "glove.vec", np.stack(rows), words, None, None,
                  {"method": "Stanford GloVe glove -model 2"})
    out = {}
    for name in ("glove", "cooc"):
        v = open_vectors(work / f"{name}.vec")
        out[name] = {}
        for f in ("wordsim353.tsv", "simlex999.txt"):
            s = evaluate_similarity(v, data / f, case_insensitive=True)
            out[name][f] = {"spearman": round(s.spearman, 4), "oov": s.oov, "pairs": s.pairs}
    return out


def gensim_data() -> Path | None:
    try:
        from gensim.test.utils import datapath
    except ImportError:
        return None
    return Path(datapath("wordsim353.tsv")).parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glove-bin", type=Path, required=True, help="GloVe's build/ folder")
    ap.add_argument("--corpus", nargs="+", default=[str(SHARED / "en")])
    ap.add_argument("--mb", type=float, default=20.0, help="MB of text (default 20)")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--tokenizer", default="whitespace", choices=("whitespace", "words"),
                    help="words: lower-cased letter runs (more of the evaluation's pairs in "
                    "the vocabulary)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1],
                    help="train both once per seed (scores: their mean)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the files (temp)")
    ap.add_argument("--gensim-data", type=Path, default=None,
                    help="folder with wordsim353.tsv and simlex999.txt (default: gensim's)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="embed-glove-"))
    work.mkdir(parents=True, exist_ok=True)
    text = work / "corpus.txt"
    corpus = write_corpus(args.corpus, text, int(args.mb * 1e6))
    index = work / "corpus.cooc"
    subprocess.run([sys.executable, "-m", "cooc", "build", str(text), "-o", str(index),
                    "--tokenizer", args.tokenizer, "--context-length", "0", "--count-mode",
                    "harmonic", "--radius", "10", "--include-self", "--min-count", "5", "-q",
                    "--fresh"], check=True)
    counts = export_for_glove(index, work, 5)
    data = args.gensim_data or gensim_data()
    runs, one = [], None
    for seed in args.seeds:  # in turn: glove, then cooc, per seed
        shuffle_for_glove(work, seed)
        glove = run_glove(args.glove_bin, work, args.iterations, args.threads, args.dim, seed,
                          one)
        one = glove["one_iteration_wall_s"]
        ours = run_cooc(index, work, args.iterations, args.threads, args.dim, seed)
        run = {"seed": seed, "glove": glove, "cooc": ours,
               "speedup": glove["seconds_per_iteration"] / ours["seconds_per_iteration"]}
        if data is not None:
            run["similarity"] = similarity_scores(work, data, args.dim)
        runs.append(run)
        print(json.dumps(run), file=sys.stderr, flush=True)
    report = {"corpus": corpus, "counts": counts, "iterations": args.iterations,
              "threads": args.threads, "dim": args.dim, "runs": runs,
              "median_speedup": float(np.median([r["speedup"] for r in runs]))}
    if data is not None:
        report["mean_similarity"] = {
            name: {f: float(np.mean([r["similarity"][name][f]["spearman"] for r in runs]))
                   for f in ("wordsim353.tsv", "simlex999.txt")} for name in ("glove", "cooc")}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
