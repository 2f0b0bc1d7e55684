"""Scale benchmark: `cooc build` over synthetic Zipf token stores of growing size.

Writes a token store of N tokens drawn from a Zipf law (vocabulary 151,643 Qwen ranks,
exponent 1.1, ranks shuffled onto ids; documents of log-normal length, median ~600 tokens)
and builds it with `--memory` in a child process, sampling the build folder for temp files
and temp bytes. Reports wall time, peak RSS, temp files (max), temp disk (max), index size,
and whether `cooc verify` passes.

    python bench/bench_scale.py --tokens 10e6 100e6 1e9 --memory 8G --work /var/tmp/cooc-scale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

VOCAB = 151_643
EXPONENT = 1.1
CHUNK = 1 << 24


def make_store(path: Path, num_tokens: int, seed: int = 0, shard_tokens: int = 1 << 26) -> Path:
    from cooc.store.writer import StoreWriter
    from cooc.tokenizers import load_tokenizer

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, VOCAB + 1, dtype=np.float64) ** -EXPONENT)
    cdf /= cdf[-1]
    ids_of_rank = rng.permutation(VOCAB).astype(np.uint32)
    spec = {"synthetic": "zipf", "tokens": num_tokens, "exponent": EXPONENT, "seed": seed}
    w = StoreWriter(path, spec, shard_tokens=shard_tokens)
    done = docs = 0
    while done < num_tokens:
        n = min(CHUNK, num_tokens - done)
        lens = np.clip(rng.lognormal(np.log(600), 1.2, n // 300 + 2), 16, 100_000).astype(np.int64)
        ends = np.cumsum(lens)
        lens = lens[: int(np.searchsorted(ends, n)) + 1]
        lens[-1] -= int(lens.sum()) - n  # the chunk is exactly n tokens
        lens = lens[lens > 0]
        tokens = ids_of_rank[np.searchsorted(cdf, rng.random(n))]
        w.add(tokens, lens, np.zeros(len(lens), np.uint32), np.arange(docs, docs + len(lens), dtype=np.uint64) + 1)
        done += n
        docs += len(lens)
    tok = load_tokenizer("qwen")
    w.finish({"created_by": "bench_scale.py", "tokenizer": tok.describe(), "text_field": "text",
              "corpus": {"source": f"synthetic zipf {num_tokens}", "files": ["synthetic"]},
              "skip_report": {"skipped": {}, "samples": {}}})
    return path


def _watch(folder: Path, stop: threading.Event, peak: dict) -> None:
    while not stop.is_set():
        files = size = 0
        for root, _, names in os.walk(folder):
            for n in names:
                files += 1
                try:
                    size += os.path.getsize(os.path.join(root, n))
                except OSError:
                    pass
        peak["files"] = max(peak["files"], files)
        peak["bytes"] = max(peak["bytes"], size)
        stop.wait(0.5)


def run_build(store: Path, out: Path, memory: str, num_proc: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    folder = out.with_name(f".{out.name}.build")
    peak = {"files": 0, "bytes": 0}
    stop = threading.Event()
    t = threading.Thread(target=_watch, args=(folder, stop, peak), daemon=True)
    t.start()
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "cooc", "build", str(store),
           "-o", str(out), "--memory", memory, "--num-proc", str(num_proc), "--fresh"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    stop.set()
    t.join()
    if p.returncode:
        raise SystemExit(f"build failed:\n{p.stderr[-3000:]}")
    wall, rss_kb = p.stderr.strip().splitlines()[-1].split()
    t0 = time.perf_counter()
    v = subprocess.run([sys.executable, "-m", "cooc", "verify", str(out)], capture_output=True, text=True)
    index_bytes = sum(f.stat().st_size for f in out.iterdir())
    return {"seconds": float(wall), "peak_rss_mb": int(rss_kb) / 1024,
            "max_temp_files": peak["files"], "max_temp_mb": peak["bytes"] / 2**20,
            "index_mb": index_bytes / 2**20, "verify_ok": v.returncode == 0,
            "verify_seconds": time.perf_counter() - t0,
            "log": [line for line in p.stderr.splitlines() if line.startswith("cooc:")][-3:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", nargs="+", type=float, default=[10e6, 100e6])
    ap.add_argument("--memory", default="8G")
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--work", default="/var/tmp/cooc-scale")
    ap.add_argument("--keep", action="store_true", help="keep stores and indexes")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in (int(x) for x in args.tokens):
        t0 = time.perf_counter()
        store = make_store(work / f"zipf-{n}.tokens", n)
        made = time.perf_counter() - t0
        r = run_build(store, work / f"zipf-{n}.cooc", args.memory, args.num_proc)
        r["store_seconds"] = made
        results[n] = r
        print(json.dumps({n: r}), flush=True)
        if not args.keep:
            shutil.rmtree(work / f"zipf-{n}.cooc", ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
