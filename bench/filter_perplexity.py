"""Perplexity filter benchmark (issue 15): cooc's `PerplexityFilter` against KenLM on the same
ARPA model and documents, tokens per second and agreement of the perplexities.

    PYTHONPATH=src python bench/filter_perplexity.py --work /tmp/pf --train-mb 20 --test-mb 40

Steps: an order-5 Kneser-Ney model of the first --train-mb MB of ../shared/corpus/en
(`cooc lm estimate`, whitespace words), held-out documents (the next --test-mb MB) as JSON
lines; then, each in its own process (whole-process CPU and wall time, interpreter start
and model loading included, and the scoring loop timed alone):

- cooc-score: `PerplexityFilter.perplexities` over batches of 8,192 documents;
- cooc filter: `cooc filter perplexity --quantile 0.333` end to end (read, each document
  scored once in the fit pass, decided from those scores, kept and removed written);
- kenlm: the `kenlm` module's `Model.score(line, bos=True, eos=True)` over every non-blank
  line, summed per document (the same definition), where kenlm is installed.

Tokens are words + one `</s>` a non-blank line, as KenLM counts them.
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

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "en"


def prepare(work: Path, train_mb: float, test_mb: float, order: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from cooc.corpus.readers import iter_documents

    work.mkdir(parents=True, exist_ok=True)
    if (work / "test.jsonl").exists() and (work / "m.arpa").exists():
        return
    files = sorted(p for p in CORPUS.iterdir() if p.name.endswith((".jsonl", ".gz", ".zst")))
    train, test = [], []
    size = 0
    for doc in iter_documents(files):
        text = doc.text
        b = len(text.encode())
        if size < train_mb * 1e6:
            train.append(text)
        elif size < (train_mb + test_mb) * 1e6:
            test.append(text)
        else:
            break
        size += b
    (work / "train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    with open(work / "test.jsonl", "w", encoding="utf-8") as f:
        for t in test:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    subprocess.run([sys.executable, "-m", "cooc", "lm", "estimate", str(work / "train.txt"),
                    "-o", str(work / "m.arpa"), "--order", str(order), "-q"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def child(mode: str, work: Path, threads: int) -> dict:
    """One measurement in this process: {"tokens", "seconds" (the scoring loop), ...}."""
    texts = [json.loads(line)["text"] for line in open(work / "test.jsonl", encoding="utf-8")]
    if mode == "kenlm":
        import kenlm
        import numpy as np

        model = kenlm.Model(str(work / "m.arpa"))
        t0 = time.perf_counter()
        ppl, tokens = [], 0
        for text in texts:
            total = n = 0
            for line in text.split("\n"):
                words = line.encode("utf-8", "surrogatepass").split()  # as KenLM splits
                if words:
                    total += model.score(line, bos=True, eos=True)
                    n += len(words) + 1
            tokens += n
            ppl.append(10.0 ** (-total / n) if n else float("nan"))
        seconds = time.perf_counter() - t0
        np.save(work / "kenlm_ppl.npy", np.array(ppl))
        return {"tokens": tokens, "seconds": seconds}
    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np

    from cooc.curate.perplexity import PerplexityFilter

    step = PerplexityFilter(work / "m.arpa", threshold=1e9, num_threads=threads)
    step.language_model()
    t0 = time.perf_counter()
    ppl = [step.perplexities(texts[i:i + 8192]) for i in range(0, len(texts), 8192)]
    seconds = time.perf_counter() - t0
    np.save(work / "cooc_ppl.npy", np.concatenate(ppl))
    return {"tokens": step.counts_["tokens"], "seconds": seconds}


def run_process(argv: list[str]) -> tuple[dict | None, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return (json.loads(last) if last.startswith("{") else None), wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--train-mb", type=float, default=20)
    ap.add_argument("--test-mb", type=float, default=40)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", choices=("cooc", "kenlm"))
    ap.add_argument("--child-threads", type=int, default=1)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.work, a.child_threads)))
        return
    prepare(a.work, a.train_mb, a.test_mb, a.order)
    me = [sys.executable, __file__, "--work", str(a.work)]
    rows = []
    for threads in a.threads:
        r, wall, cpu = run_process(me + ["--child", "cooc", "--child-threads", str(threads)])
        rows.append(("cooc score", threads, r, wall, cpu))
    try:
        import kenlm  # noqa: F401

        r, wall, cpu = run_process(me + ["--child", "kenlm"])
        rows.append(("kenlm Model.score", 1, r, wall, cpu))
    except ImportError:
        print("kenlm is not installed: no peer row")
    out = a.work / "filtered"
    _, wall, cpu = run_process([sys.executable, "-m", "cooc", "filter", "perplexity",
                                str(a.work / "test.jsonl"), "-o", str(out), "--model",
                                str(a.work / "m.arpa"), "--quantile", "0.333", "--num-proc",
                                "1", "-q", "--fresh"])
    report = json.loads((out / "report.json").read_text())
    tokens = report["steps"][0]["tokens"]
    rows.append(("cooc filter perplexity --quantile 0.333 (end to end)", 1,
                 {"tokens": tokens, "seconds": None}, wall, cpu))
    print("| run | threads | tokens | scoring loop tokens/s | whole process: wall s | CPU s "
          "| tokens per wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, threads, r, wall, cpu in rows:
        loop = f"{r['tokens'] / r['seconds'] / 1e6:.2f} M" if r and r["seconds"] else "-"
        print(f"| {name} | {threads} | {r['tokens']:,} | {loop} | {wall:.2f} | {cpu:.2f} | "
              f"{r['tokens'] / wall / 1e6:.2f} M |")
    if (a.work / "kenlm_ppl.npy").exists():
        import numpy as np

        c, k = np.load(a.work / "cooc_ppl.npy"), np.load(a.work / "kenlm_ppl.npy")
        rel = np.abs(c - k) / k
        print(f"\nperplexity vs KenLM over {len(k):,} documents: max relative difference "
              f"{np.nanmax(rel):.2e}, median {np.nanmedian(rel):.2e}")
    print(f"kept {report['kept']:,} of {report['documents']:,} (cutoff perplexity "
          f"{report['steps'][0]['cutoff']:.1f})")


if __name__ == "__main__":
    main()
