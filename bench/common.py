"""Shared helpers for the benchmarks: corpus slices, timing, peak memory."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def peak_rss_mb() -> float:
    """Peak RSS of this process plus the largest child (KB on Linux)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (me + kids) / 1024


def corpus_files(paths: list[str]) -> list[Path]:
    from cooc.corpus import discover_files

    return discover_files(paths)


def write_slice(paths: list[str], max_tokens: int, out: Path) -> tuple[int, int]:
    """Copy whole documents (in sorted file order) into one JSONL until max_tokens Qwen tokens."""
    from cooc.corpus import iter_documents
    from cooc.tokenizers import load_tokenizer

    tok = load_tokenizer("qwen")
    n = docs = 0
    with open(out, "w", encoding="utf-8") as f:
        for d in iter_documents(corpus_files(paths)):
            f.write(json.dumps({"text": d.text}, ensure_ascii=False) + "\n")
            n += len(tok.encode(d.text))
            docs += 1
            if max_tokens and n >= max_tokens:
                break
    return docs, n


def load_token_docs(paths: list[str], max_tokens: int = 0) -> list[np.ndarray]:
    """Qwen token ids of each document (whole documents, sorted file order)."""
    from cooc.corpus import iter_batches
    from cooc.tokenizers import load_tokenizer

    tok = load_tokenizer("qwen")
    out: list[np.ndarray] = []
    n = 0
    for batch in iter_batches(corpus_files(paths), batch_size=256):
        for a in tok.encode_batch([d.text for d in batch]):
            out.append(a)
            n += len(a)
            if max_tokens and n >= max_tokens:
                return out
    return out


def _probe(cmd: list[str]) -> dict:
    """Run cmd from a fresh process: wall seconds, CPU seconds (user + system), peak RSS KB of
    the command and its largest child, stdout."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'wall': dt, 'cpu': ru.ru_utime + ru.ru_stime, 'rss_kb': ru.ru_maxrss,"
        " 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-4000:]}))\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    d = json.loads(res.stdout)
    if d["rc"] != 0:
        raise RuntimeError(f"{cmd} failed: {d['err']}")
    return d


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of the command and its largest child, stdout)."""
    d = _probe(cmd)
    return d["wall"], d["rss_kb"] / 1024, d["out"]


def run_cpu(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s (user + system), peak RSS MB) of a command run from a fresh process."""
    d = _probe(cmd)
    return d["wall"], d["cpu"], d["rss_kb"] / 1024


def median_time(fn, repeat: int = 3) -> float:
    """Median seconds of `repeat` calls of fn after one warm-up call (JIT, page cache)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


RESERVED_WORDS = {"<s>", "</s>", "<unk>"}  # refused in text by lmplz and cooc lm estimate


def english_slices(mb: float, heldout: int, train: Path) -> tuple[int, int, list[str]]:
    """Write whole documents of the shared English corpus (sorted file order, whitespace-
    normalised, one a line, the reserved words dropped) to `train` until `mb` MB; return
    (bytes, documents written, the next `heldout` documents)."""
    from cooc.corpus import discover_files, iter_documents

    limit = int(mb * 1e6)
    size = docs = 0
    held: list[str] = []
    with open(train, "w", encoding="utf-8") as ft:
        for d in iter_documents(discover_files([str(SHARED / "en")])):
            line = " ".join(w for w in d.text.split() if w not in RESERVED_WORDS)
            if not line:
                continue
            if size < limit:
                ft.write(line + "\n")
                size += len(line.encode()) + 1
                docs += 1
            elif len(held) < heldout:
                held.append(line)
            else:
                break
    return size, docs, held


def timed(fn, *a, **kw):
    t = time.perf_counter()
    r = fn(*a, **kw)
    return time.perf_counter() - t, r
