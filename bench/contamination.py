"""Contamination check benchmark (issue 15): training documents per minute of
`cooc contamination` end to end, and what it found against what was planted.

    PYTHONPATH=src python bench/contamination.py --work /tmp/contam --docs 300000

Training corpus: ../shared/corpus/en cut into pieces of 100-400 words, repeated with a few
random word substitutions each until --docs documents (JSON lines). Evaluation sets:
"planted", --examples windows of 10-60 words copied from random training documents (so each
is found at least in the document it came from), and "clean", --examples texts of the same
lengths made of shuffled words of the corpus (found only by chance). The run: the whole
`cooc contamination TRAIN --eval planted.jsonl clean.jsonl -o OUT` process (n = 13, short
examples whole down to 8 words), wall and CPU seconds.
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

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "en"


def prepare(work: Path, docs: int, examples: int, seed: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from cooc.corpus.readers import iter_documents

    work.mkdir(parents=True, exist_ok=True)
    if (work / "train.jsonl").exists():
        return
    rng = np.random.default_rng(seed)
    files = sorted(p for p in CORPUS.iterdir() if p.name.endswith((".jsonl", ".gz", ".zst")))
    pieces = []
    for d in iter_documents(files):
        words = d.text.split()
        i = 0
        while i + 100 <= len(words):
            m = int(rng.integers(100, 401))
            pieces.append(words[i:i + m])
            i += m
    vocab = [w for p in pieces[:2000] for w in p]
    with open(work / "train.jsonl", "w", encoding="utf-8") as f:
        kept = []
        for k in range(docs):
            words = list(pieces[k % len(pieces)])
            if k >= len(pieces):  # a copy: a few words changed
                for j in rng.integers(0, len(words), 3):
                    words[j] = vocab[int(rng.integers(len(vocab)))]
            if k < 20000:
                kept.append(words)
            f.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
    with open(work / "planted.jsonl", "w", encoding="utf-8") as f:
        for _ in range(examples):
            words = kept[int(rng.integers(len(kept)))]
            m = int(rng.integers(10, 61))
            a = int(rng.integers(0, max(1, len(words) - m)))
            f.write(json.dumps({"text": " ".join(words[a:a + m])}, ensure_ascii=False) + "\n")
    with open(work / "clean.jsonl", "w", encoding="utf-8") as f:
        for _ in range(examples):
            m = int(rng.integers(10, 61))
            words = [vocab[int(i)] for i in rng.integers(0, len(vocab), m)]
            f.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--docs", type=int, default=300_000)
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--num-proc", type=int, default=1)
    a = ap.parse_args()
    prepare(a.work, a.docs, a.examples, a.seed)
    size = (a.work / "train.jsonl").stat().st_size
    out = a.work / "out"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cooc", "contamination", str(a.work / "train.jsonl"),
                    "--eval", str(a.work / "planted.jsonl"), str(a.work / "clean.jsonl"),
                    "-o", str(out), "--num-proc", str(a.num_proc), "-q", "--fresh"],
                   check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads((out / "report.json").read_text())
    step = report["steps"][0]
    n = report["documents"]
    print(f"{n:,} training documents ({size / 1e6:.0f} MB), {a.examples} + {a.examples} "
          f"examples, --num-proc {a.num_proc}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS "
          f"{after.ru_maxrss / 1024:.0f} MB")
    print(f"**{n / wall * 60 / 1e6:.2f} M documents a minute** ({n / cpu * 60 / 1e6:.2f} M a "
          f"CPU-minute)")
    for s in step["eval_sets"]:
        print(f"{s['name']}: {s['contaminated']} of {s['checked']} contaminated, "
              f"{s['too_short']} too short")
    print(f"training documents removed: {report['removed']:,}")
    planted = {e["source"] for e in step["contaminated_examples"]
               if e["eval_set"] == "planted.jsonl"}
    missing = a.examples - len(planted)
    print(f"planted examples not found: {missing}")
    words = re.compile(r"[^\W\d_]+")
    short = sum(1 for line in open(a.work / "planted.jsonl", encoding="utf-8")
                if len(words.findall(json.loads(line)["text"].lower())) < 8)
    print(f"(planted examples under 8 words after normalisation, not checkable: {short})")


if __name__ == "__main__":
    main()
