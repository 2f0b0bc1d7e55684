"""Exact dedup speed on one core (issue 14): ~1M small documents cut from the shared English
corpus (paragraphs, the corpus repeated until there are enough, so about half are copies).

    python bench/curate_exact.py [--docs 1000000] [--end-to-end] [--skip-decide]
                                 [--formats jsonl,jsonl.gz,jsonl.zst] [--threads 1,2] [--repeat 3]

Reports documents/s of the dedup itself (hash + first-seen decision over in-memory batches,
ExactDedup.decide) and, with --end-to-end, of `run_steps` reading and writing JSON lines
(plain, .gz, .zst), both per second of wall time and per CPU-second of this process (the
machine is shared: CPU-seconds do not count the time other jobs held the core).
(Named curate_*, not dedup_*: bench/dedup_* belongs to the MinHash work.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cooc.corpus import discover_files, iter_documents  # noqa: E402
from cooc.corpus.report import SkipReport  # noqa: E402
from cooc.corpus.segment import split_text  # noqa: E402
from cooc.curate.exact import ExactDedup  # noqa: E402
from cooc.curate.records import CorpusFiles, read_batches  # noqa: E402
from cooc.curate.run import run_steps  # noqa: E402
from cooc.curate.step import DocumentBatch  # noqa: E402
from cooc.options import RunOptions  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "en"


def small_docs(n: int) -> list[str]:
    paras = [p for d in iter_documents(discover_files(CORPUS)) for p in split_text(d.text, "paragraph")]
    out = []
    rep = 0
    while len(out) < n:  # each round a different suffix on half, so the corpus is half copies
        out.extend(p if i % 2 else f"{p} [{rep}]" for i, p in enumerate(paras))
        rep += 1
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=65536)
    ap.add_argument("--end-to-end", action="store_true")
    ap.add_argument("--skip-decide", action="store_true", help="only the end-to-end runs")
    ap.add_argument("--formats", default="jsonl")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    texts = small_docs(args.docs)
    chars = sum(map(len, texts))
    print(f"{len(texts):,} documents, {chars / len(texts):.0f} chars each on average")
    warm = ExactDedup()
    warm.decide(DocumentBatch(texts[:1000], np.arange(1000)))  # numba compile / cache load
    for granularity in () if args.skip_decide else ("document", "paragraph"):
        best = float("inf")
        for _ in range(3):
            step = ExactDedup(granularity, memory_bytes=1 << 30)
            t = time.perf_counter()
            removed = 0
            for i in range(0, len(texts), args.batch):
                d = step.decide(DocumentBatch(texts[i:i + args.batch],
                                              np.arange(i, min(i + args.batch, len(texts)))))
                removed += int((~d.keep).sum())
            best = min(best, time.perf_counter() - t)
        print(f"dedup {granularity}: {len(texts) / best:,.0f} docs/s ({best:.2f} s, "
              f"{removed:,} removed)")
    if args.end_to_end:
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
            plain = Path(tmp) / "docs.jsonl"
            with open(plain, "w", encoding="utf-8") as f:
                for i, t in enumerate(texts):
                    f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
            for fmt in args.formats.split(","):
                src = compressed(plain, fmt)
                t, c = time.perf_counter(), time.process_time()
                n = sum(len(b) for b in read_batches(CorpusFiles.of([src]), SkipReport(), 8192))
                dt, dc = time.perf_counter() - t, time.process_time() - c
                print(f"{fmt}: reading alone (batches with records): {n / dt:,.0f} docs/s, "
                      f"{n / dc:,.0f} docs per CPU-s")
                for threads in map(int, args.threads.split(",")):
                    runs = []
                    for _ in range(args.repeat):
                        t, c = time.perf_counter(), time.process_time()
                        r = run_steps([src], [ExactDedup()], Path(tmp) / f"out{threads}",
                                      RunOptions(batch_size=8192, quiet=True, num_proc=threads),
                                      checkpoint_every=64)
                        runs.append((time.perf_counter() - t, time.process_time() - c))
                    walls = sorted(n / w for w, _ in runs)
                    cpus = sorted(n / c for _, c in runs)
                    print(f"{fmt}: end to end, {threads} thread(s) (read, dedup, write kept/removed):"
                          f" {walls[0]:,.0f}-{walls[-1]:,.0f} docs/s, {cpus[0]:,.0f}-{cpus[-1]:,.0f}"
                          f" docs per CPU-s (kept {r['kept']:,}, removed {r['removed']:,})")


def compressed(plain: Path, fmt: str) -> Path:
    """The benchmark file in format fmt (jsonl, jsonl.gz, jsonl.zst), made once."""
    if fmt == "jsonl":
        return plain
    out = plain.with_name(f"docs.{fmt}")
    if not out.exists():
        data = plain.read_bytes()
        if fmt == "jsonl.gz":
            import gzip

            out.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
        elif fmt == "jsonl.zst":
            import zstandard

            out.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
        else:
            raise ValueError(f"format must be jsonl, jsonl.gz or jsonl.zst, got {fmt!r}")
    return out

if __name__ == "__main__":
    main()
