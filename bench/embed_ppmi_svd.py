"""PPMI-SVD benchmark (issue 13): the usual scipy pipeline against `cooc embed ppmi-svd`, on the
same words with the same window, timed as whole processes under `/usr/bin/time -v`, and the
vectors of both scored on WordSim353 (and SimLex-999, analogies) with one evaluator.

    python bench/embed_ppmi_svd.py --work /tmp/embbench            # all steps
    python bench/embed_ppmi_svd.py --work /tmp/embbench --steps baseline cooc eval

Steps (each prints the exact command it times):

prepare   `cooc tokenize <corpus> --tokenizer words` (lower-cased letter runs), then the
          store's ids and words written to words.npz, the baseline's input (not timed);
          `cooc build words.tokens --context-length 0 --count-mode occurrences --radius R`:
          the index, timed and reported on its own (cooc's input).
baseline  this file's `scipy` step, a fresh process: co-occurrence counts of the same ids
          within +-R in each document (numpy pairs per distance, summed as scipy.sparse
          CSR), tokens seen >= MIN_COUNT times, PPMI with alpha 0.75, `svds(k=DIM)`,
          vectors U S^0.5; written as vectors for the evaluation.
cooc      `cooc embed ppmi-svd words.cooc --dim DIM --min-count MIN_COUNT` (same PPMI and
          weighting; randomized SVD).
eval      Spearman on WordSim353 and SimLex-999 and analogy accuracy (questions-words.txt)
          of both, from gensim's test data (`--gensim-data`, default: found in the peer venv
          /work/venv-peers), case-insensitive as gensim; the same from gensim's own
          evaluators on the word2vec exports (`--peer-python`); the singular values of both.

Counts of both sides are the same: the eval step checks the baseline's count matrix against
the index's rows for the kept tokens (the tokens and their counts, entries and sum).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "corpus"


def cooc_cmd() -> list[str]:
    return [sys.executable, "-m", "cooc"]


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep
                + os.environ.get("PYTHONPATH", ""))


def timed_v(cmd: list[str], log: Path) -> dict:
    """Run cmd under /usr/bin/time -v; wall s, user s, sys s, peak RSS MB."""
    full = ["/usr/bin/time", "-v", *cmd]
    print("$ " + " ".join(full), flush=True)
    with open(log, "w") as f:
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=f, text=True, env=env())
    text = log.read_text()
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{text[-3000:]}")

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        return m.group(1).strip() if m else ""

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(x) for x in wall.split(":")]
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    out = {"wall": secs, "user": float(field("User time (seconds)")),
           "sys": float(field("System time (seconds)")),
           "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
           "stdout": r.stdout, "command": " ".join(full)}
    print(f"  wall {out['wall']:.1f} s, user {out['user']:.1f} s, sys {out['sys']:.1f} s, "
          f"peak RSS {out['rss_mb']:.0f} MB", flush=True)
    return out


# -- the baseline (its own process: numpy + scipy only) ---------------------------------------


def scipy_pipeline(words_npz: Path, out: Path, radius: int, min_count: int, dim: int,
                   alpha: float) -> None:
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    t0 = time.perf_counter()
    z = np.load(words_npz)
    ids, doc_ptr = z["ids"].astype(np.int64), z["doc_ptr"]
    v = int(z["vocab_size"])
    doc = np.repeat(np.arange(len(doc_ptr) - 1), np.diff(doc_ptr))
    t_load = time.perf_counter() - t0
    # co-occurrence counts within +-radius in a document, self pairs left out (cooc's default)
    counts = sp.csr_matrix((v, v), dtype=np.float64)
    for d in range(1, radius + 1):
        same = doc[d:] == doc[:-d]
        a, b = ids[:-d][same], ids[d:][same]
        keep = a != b
        a, b = a[keep], b[keep]
        m = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(v, v)).tocsr()
        counts = counts + m + m.T
    t_count = time.perf_counter() - t0 - t_load
    # vocabulary: seen min_count times with a neighbour, most frequent first
    occ = np.bincount(ids, minlength=v)
    deg = np.diff(counts.indptr)
    cand = np.flatnonzero((occ >= min_count) & (deg > 0))
    order = cand[np.lexsort((cand, -occ[cand]))]
    c = counts[order][:, order].tocsr()
    r = np.asarray(c.sum(axis=1)).ravel()
    alive = r > 0
    order, c, r = order[alive], c[alive][:, alive].tocsr(), r[alive]
    # PPMI with context-distribution smoothing
    ctx = r ** alpha
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
    pmi = np.log(c.data * ctx.sum() / (r[rows] * ctx[c.indices]))
    ppmi = sp.csr_matrix((np.maximum(pmi, 0), c.indices.copy(), c.indptr.copy()), shape=c.shape)
    ppmi.eliminate_zeros()
    t_ppmi = time.perf_counter() - t0 - t_load - t_count
    u, s, _ = svds(ppmi, k=dim)
    top = np.argsort(s)[::-1]
    u, s = u[:, top], s[top]
    t_svd = time.perf_counter() - t0 - t_load - t_count - t_ppmi
    vectors = (u * np.sqrt(s)).astype(np.float32)
    np.savez(out, vectors=vectors, token_ids=order, counts=occ[order], singular_values=s,
             entries=ppmi.nnz, count_entries=c.nnz, count_sum=c.sum())
    print(json.dumps({"load": t_load, "count": t_count, "ppmi": t_ppmi, "svd": t_svd,
                      "tokens": len(order), "ppmi_entries": int(ppmi.nnz),
                      "count_entries": int(c.nnz)}))


# -- steps ------------------------------------------------------------------------------------


def prepare(work: Path, args) -> dict:
    store, index = work / "words.tokens", work / "words.cooc"
    if not store.exists():
        subprocess.run([*cooc_cmd(), "tokenize", str(args.corpus), "-o", str(store),
                        "--tokenizer", "words", "-q"], check=True, env=env())
    if not (work / "words.npz").exists():
        sys.path.insert(0, str(REPO / "src"))
        from cooc.store import open_store

        st = open_store(store)
        toks, lens = [], []
        for t, dl in st.iter_batches(1 << 24):
            toks.append(t)
            lens.append(dl)
        ids = np.concatenate(toks)
        doc_ptr = np.concatenate([[0], np.cumsum(np.concatenate(lens))])
        words = st.tokenizer().token_texts()
        np.savez(work / "words.npz", ids=ids, doc_ptr=doc_ptr, vocab_size=len(words))
        (work / "words.json").write_text(json.dumps(words))
    return timed_v([*cooc_cmd(), "build", str(store), "-o", str(index), "--context-length", "0",
                    "--count-mode", "occurrences", "--radius", str(args.radius), "-q"],
                   work / "build.log")


def baseline(work: Path, args) -> dict:
    r = timed_v([sys.executable, str(HERE), "--work", str(work), "--steps", "scipy",
                 "--radius", str(args.radius), "--min-count", str(args.min_count),
                 "--dim", str(args.dim)], work / "baseline.log")
    r["stages"] = json.loads(r["stdout"].strip().splitlines()[-1])
    return r


def run_cooc(work: Path, args) -> dict:
    return timed_v([*cooc_cmd(), "embed", "ppmi-svd", str(work / "words.cooc"), "-o",
                    str(work / "cooc.vec"), "--dim", str(args.dim), "--min-count",
                    str(args.min_count), *args.cooc_args], work / "cooc.log")


def evaluate(work: Path, args) -> dict:
    sys.path.insert(0, str(REPO / "src"))
    from cooc.embed import open_vectors, write_vectors
    from cooc.embed.evaluate import evaluate_analogy, evaluate_similarity

    z = np.load(work / "scipy.npz")
    words = json.loads((work / "words.json").read_text())
    write_vectors(work / "scipy.vec", z["vectors"], [words[i] for i in z["token_ids"]],
                  None, z["counts"], {"method": "scipy svds baseline"})
    data = Path(args.gensim_data)
    out = {}
    for name in ("scipy", "cooc"):
        v = open_vectors(work / f"{name}.vec")
        res = {"tokens": len(v)}
        for f in ("wordsim353.tsv", "simlex999.txt"):
            s = evaluate_similarity(v, data / f, case_insensitive=True)
            res[f] = {"spearman": s.spearman, "pairs": s.pairs, "oov": s.oov}
        a = evaluate_analogy(v, data / "questions-words.txt", case_insensitive=True)
        res["analogy"] = {"asked": a.total.asked, "questions": a.total.questions,
                          **{m: a.total.accuracy(m) for m in a.total.correct}}
        out[name] = res
        if Path(args.peer_python).exists():  # the same scores from gensim's evaluators
            from cooc.embed.export import export_vectors

            w2v = export_vectors(v, "word2vec", work / f"{name}.w2v.txt")[0]
            r = subprocess.run([args.peer_python, "-c", GENSIM_EVAL, str(w2v), str(data)],
                               capture_output=True, text=True, check=True)
            res["gensim"] = json.loads(r.stdout)
    # the same counts on both sides: the same tokens (ties in count may come in another order:
    # the store's ids are first-seen, the index's alphabetical), entries and sum of the kept
    # tokens' count matrix
    from cooc.cooccur import open_index

    cv = open_vectors(work / "cooc.vec")
    same_tokens = sorted(cv.vocab) == sorted(words[i] for i in z["token_ids"]) and \
        np.array_equal(np.asarray(cv.counts), z["counts"])
    with open_index(work / "words.cooc") as ix:
        kept = np.full(ix.vocab_size, False)
        kept[np.asarray(cv.token_ids)] = True
        entries = total = 0
        for lo, ptr, cols, counts in ix.iter_rows():
            rows = np.repeat(np.arange(lo, lo + len(ptr) - 1), np.diff(ptr))
            sel = kept[rows] & kept[cols]
            entries += int(sel.sum())
            total += int(counts[sel].sum(dtype=np.uint64))
    out["same_counts"] = {"tokens": bool(same_tokens),
                          "entries": [entries, int(z["count_entries"])],
                          "sum": [total, float(z["count_sum"])]}
    cooc_s = np.array(open_vectors(work / "cooc.vec").config["singular_values"])
    out["singular_values"] = {"scipy": z["singular_values"][:10].tolist(),
                              "cooc": cooc_s[:10].tolist(),
                              "max_rel_diff_top100": float(np.max(np.abs(
                                  cooc_s - z["singular_values"][: len(cooc_s)])
                                  / z["singular_values"][: len(cooc_s)]))}
    print(json.dumps(out, indent=1))
    return out


GENSIM_EVAL = """
import json, sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1])
d = sys.argv[2]
out = {}
for f in ("wordsim353.tsv", "simlex999.txt"):
    (_, _), (rho, _), oov = kv.evaluate_word_pairs(f"{d}/{f}")
    out[f] = {"spearman": rho, "oov_percent": oov}
score, _ = kv.evaluate_word_analogies(f"{d}/questions-words.txt")
out["analogy_3cosadd"] = score
print(json.dumps(out))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/embbench"))
    p.add_argument("--corpus", type=Path, default=SHARED / "en")
    p.add_argument("--steps", nargs="+", default=["prepare", "baseline", "cooc", "eval"],
                   choices=("prepare", "baseline", "cooc", "eval", "scipy"))
    p.add_argument("--radius", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--cooc-args", nargs=argparse.REMAINDER, default=[],
                   help="more flags for cooc embed ppmi-svd (last)")
    p.add_argument("--peer-python", default="/work/venv-peers/bin/python",
                   help="a Python with gensim, to score the vectors with gensim's evaluators too")
    p.add_argument("--gensim-data", default="/work/venv-peers/lib/python3.11/site-packages/"
                   "gensim/test/test_data")
    args = p.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    if args.steps == ["scipy"]:
        scipy_pipeline(work / "words.npz", work / "scipy.npz", args.radius, args.min_count,
                       args.dim, 0.75)
        return 0
    results = {}
    if "prepare" in args.steps:
        results["build"] = prepare(work, args)
    if "baseline" in args.steps:
        results["baseline"] = baseline(work, args)
    if "cooc" in args.steps:
        results["cooc"] = run_cooc(work, args)
    if "eval" in args.steps:
        results["eval"] = evaluate(work, args)
    for r in results.values():
        r.pop("stdout", None)
    with open(work / "results.json", "a") as f:
        f.write(json.dumps(results) + "\n")
    if "baseline" in results and "cooc" in results:
        b, c = results["baseline"], results["cooc"]
        print(f"cooc / scipy wall: {c['wall'] / b['wall']:.3f} (goal <= 0.333)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
