"""GloVe parity benchmark (issue 4): cooc's harmonic counts against GloVe's `cooccur` on the same
text, with the CPU time and peak memory of both, measured in one session.

Both count whitespace words of one document per line, a symmetric window of 10 words weighted
1/distance, after dropping words seen fewer than 5 times (GloVe: `vocab_count -min-count 5`,
then `cooccur -symmetric 1 -window-size 10 -distance-weighting 1`; cooc: `--tokenizer
whitespace --context-length 0 --count-mode harmonic --radius 10 --include-self --min-count 5`).
Parity: the same pairs, values within `--rtol` relative. GloVe is not part of cooc: build it
from https://github.com/stanfordnlp/GloVe (`make`) and pass its `build/` folder.

    python bench/bench_glove.py --glove-bin /tmp/glove-src/build

Exits 1 if parity fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, corpus_files  # noqa: E402

# GloVe's vocab_count exits on "<unk>"; cooc's whitespace tokenizer reads "</s>" as its
# end-of-text token (id 0). Both are dropped from the text and the drops counted.
DROPPED_WORDS = ("<unk>", "</s>")
CREC = np.dtype([("w1", "<i4"), ("w2", "<i4"), ("val", "<f8")])  # GloVe's CREC, real = double


def write_corpus(paths: list[str], out: Path, max_bytes: int) -> dict:
    """One document per line, words joined by one space (so GloVe's space/tab/newline split and
    `str.split()` agree); whole documents until `max_bytes` (0: all)."""
    from cooc.corpus import iter_documents

    stats = {"documents": 0, "empty_documents": 0, "words": 0, "bytes": 0,
             **{f"dropped {w}": 0 for w in DROPPED_WORDS}}
    with open(out, "w", encoding="utf-8") as f:
        for d in iter_documents(corpus_files(paths)):
            words = d.text.split()
            for w in DROPPED_WORDS:
                if w in words:
                    stats[f"dropped {w}"] += words.count(w)
                    words = [x for x in words if x != w]
            if not words:
                stats["empty_documents"] += 1
                continue
            line = " ".join(words) + "\n"
            f.write(line)
            stats["documents"] += 1
            stats["words"] += len(words)
            stats["bytes"] += len(line.encode("utf-8"))
            if max_bytes and stats["bytes"] >= max_bytes:
                break
    return stats


def timed_run(cmd: list[str], cwd: Path, stdin: Path | None = None,
              stdout: Path | None = None) -> dict:
    """Run under GNU time: wall, user and sys seconds, peak RSS (MB) of the command."""
    tfile = cwd / "time.txt"
    with open(stdin or os.devnull, "rb") as fi, open(stdout or os.devnull, "wb") as fo:
        p = subprocess.run(["/usr/bin/time", "-o", str(tfile), "-f", "%e %U %S %M", *cmd],
                           stdin=fi, stdout=fo, stderr=subprocess.PIPE, cwd=cwd)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {p.returncode}):\n"
                         f"{p.stderr.decode(errors='replace')[-3000:]}")
    wall, user, sys_, rss_kb = tfile.read_text().split()
    return {"wall_s": float(wall), "user_s": float(user), "sys_s": float(sys_),
            "cpu_s": float(user) + float(sys_), "peak_mb": int(rss_kb) / 1024}


def total(steps: dict[str, dict]) -> dict:
    """CPU and wall summed over the steps, peak memory the largest of them."""
    return {"cpu_s": sum(s["cpu_s"] for s in steps.values()),
            "wall_s": sum(s["wall_s"] for s in steps.values()),
            "peak_mb": max(s["peak_mb"] for s in steps.values()), "steps": steps}


def run_glove(bin_dir: Path, text: Path, work: Path, memory_gb: float) -> dict:
    tmp = Path(tempfile.mkdtemp(dir=work))  # cooccur writes overflow_*.bin in its cwd
    steps = {
        "vocab_count": timed_run([str(bin_dir / "vocab_count"), "-min-count", "5", "-verbose",
                                  "0"], tmp, stdin=text, stdout=work / "vocab.txt"),
        "cooccur": timed_run([str(bin_dir / "cooccur"), "-memory", str(memory_gb), "-vocab-file",
                              str(work / "vocab.txt"), "-verbose", "0", "-symmetric", "1",
                              "-window-size", "10", "-distance-weighting", "1"],
                             tmp, stdin=text, stdout=work / "cooccurrence.bin"),
    }
    shutil.rmtree(tmp)
    return total(steps)


def run_cooc(text: Path, out: Path, work: Path, num_proc: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "cooc", "build", str(text), "-o", str(out), "--tokenizer",
           "whitespace", "--context-length", "0", "--count-mode", "harmonic", "--radius", "10",
           "--include-self", "--min-count", "5", "-q", "--fresh"]
    if num_proc:
        cmd += ["--num-proc", str(num_proc)]
    return timed_run(cmd, work)


def read_glove(work: Path, word_id: dict[str, int], V: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """GloVe's records as (sorted unique keys row * V + col in cooc ids, summed values)."""
    words = [line.split(" ")[0] for line in
             (work / "vocab.txt").read_text(encoding="utf-8").splitlines()]
    missing = [w for w in words if w not in word_id]
    if missing:
        raise SystemExit(f"{len(missing)} GloVe vocabulary words are not in cooc's vocabulary, "
                         f"e.g. {missing[:5]}")
    to_cooc = np.array([-1] + [word_id[w] for w in words], np.int64)  # GloVe ids are 1-based
    rec = np.fromfile(work / "cooccurrence.bin", CREC)
    keys = to_cooc[rec["w1"]] * V + to_cooc[rec["w2"]]
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], rec["val"][order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    info = {"vocab": len(words), "records": len(rec), "duplicate_records": len(rec) - len(starts),
            "max_value": float(rec["val"].max()) if len(rec) else 0.0}
    return keys[starts], np.add.reduceat(vals, starts) if len(keys) else vals, info


def read_cooc(path: Path) -> tuple[np.ndarray, np.ndarray, dict, dict[str, int]]:
    """The index as (keys row * V + col, sorted; values count / count_scale)."""
    import cooc

    idx = cooc.open_index(path)
    V, scale = idx.vocab_size, idx.count_scale
    key_parts, val_parts = [], []
    max_count = 0
    for lo, ptr, cols, counts in idx.iter_rows():
        max_count = max(max_count, int(counts.max(initial=0)))
        rows = np.repeat(np.arange(lo, lo + len(ptr) - 1, dtype=np.int64), np.diff(ptr))
        key_parts.append(rows * V + cols)
        val_parts.append(counts.astype(np.float64) / scale)
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, np.int64)
    vals = np.concatenate(val_parts) if val_parts else np.zeros(0)
    word_id = {w: i for i, w in enumerate(idx.token_texts)}
    occ = np.asarray(idx.occurrences)
    info = {"vocab_size": V, "count_scale": scale,
            "tokens_occurring": int(np.count_nonzero(occ)),
            "tokens_occurring_ge_5": int(np.count_nonzero(occ >= 5)),
            "tokens_with_neighbours": int(np.count_nonzero(idx.degree())),
            "max_stored_count": max_count, "max_stored_over_uint32_max": max_count / 0xFFFFFFFF}
    idx.close()
    return keys, vals, info, word_id


def compare(g_keys, g_vals, c_keys, c_vals) -> dict:
    common, gi, ci = np.intersect1d(g_keys, c_keys, assume_unique=True, return_indices=True)
    a, b = g_vals[gi], c_vals[ci]
    rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
    worst = int(np.argmax(rel)) if len(rel) else -1
    return {"pairs_glove": len(g_keys), "pairs_cooc": len(c_keys), "pairs_shared": len(common),
            "only_glove": len(g_keys) - len(common), "only_cooc": len(c_keys) - len(common),
            "max_rel_diff": float(rel[worst]) if len(rel) else 0.0,
            "worst_pair": [float(a[worst]), float(b[worst])] if len(rel) else None,
            "sum_glove": float(g_vals.sum()), "sum_cooc": float(c_vals.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--glove-bin", required=True, type=Path,
                    help="folder holding GloVe's vocab_count and cooccur")
    ap.add_argument("--corpus", nargs="+", default=[str(SHARED / "en")])
    ap.add_argument("--max-mb", type=float, default=0, help="cut the text here (0: all)")
    ap.add_argument("--glove-memory", type=float, default=4.0, help="cooccur -memory (GB)")
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cooc-glove"))
    args = ap.parse_args()
    for b in ("vocab_count", "cooccur"):
        if not os.access(args.glove_bin / b, os.X_OK):
            raise SystemExit(f"no executable {args.glove_bin / b}: build GloVe with `make` and "
                             "pass its build/ folder as --glove-bin")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    text = work / "corpus.txt"
    res: dict = {"corpus": write_corpus(args.corpus, text, int(args.max_mb * 1e6)),
                 "cpu_count": os.cpu_count()}
    res["glove"] = run_glove(args.glove_bin, text, work, args.glove_memory)
    res["cooc"] = {}
    for num_proc in (1, 0):  # 0: cooc's default, all cores
        name = f"num_proc_{num_proc or os.cpu_count()}"
        res["cooc"][name] = run_cooc(text, work / f"{name}.cooc", work, num_proc)
        res["cooc"][name]["glove_cpu_over_cooc_cpu"] = (res["glove"]["cpu_s"]
                                                        / res["cooc"][name]["cpu_s"])
    res["parity"] = {}
    ok = True
    for name in res["cooc"]:
        c_keys, c_vals, c_info, word_id = read_cooc(work / f"{name}.cooc")
        g_keys, g_vals, g_info = read_glove(work, word_id, c_info["vocab_size"])
        cmp = compare(g_keys, g_vals, c_keys, c_vals)
        cmp["ok"] = (cmp["only_glove"] == cmp["only_cooc"] == 0 and cmp["max_rel_diff"] <= args.rtol)
        res["parity"][name] = {**cmp, "glove": g_info, "cooc": c_info}
        ok &= cmp["ok"]
        del c_keys, c_vals, g_keys, g_vals
    res["parity_ok"] = ok
    print(json.dumps(res, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
