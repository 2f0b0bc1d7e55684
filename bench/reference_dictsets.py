"""The reference system cooc replaces, for benchmarks: a Python dict of sets per batch,
filled in worker processes and merged in the parent.

It reproduces the design the issue measured (3.5 M Qwen tokens, 29 M pairs, 7.5 GB RSS):
workers tokenize a batch of documents, cut each document's ids into chunks of
`context_length`, and for every token of a chunk add the chunk's other tokens to
`coocs[token]`; the parent merges worker results with `set.update`. A baseline to measure
against, not part of cooc.

    python bench/reference_dictsets.py slice.jsonl --num-proc 2            # end to end
    python bench/reference_dictsets.py slice.jsonl --num-proc 2 --pretokenized   # counting only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

_TOKENIZER = None


def count_docs(docs: list[list[int]], context_length: int) -> dict[int, set[int]]:
    coocs: dict[int, set[int]] = {}
    for ids in docs:
        for s in range(0, len(ids), context_length):
            chunk = ids[s : s + context_length]
            for t in chunk:
                coocs.setdefault(t, set()).update(chunk)
    for t, s in coocs.items():
        s.discard(t)
    return coocs


def _tokenize_and_count(args):
    texts, context_length = args
    global _TOKENIZER
    if _TOKENIZER is None:
        from cooc.tokenizers import load_tokenizer

        _TOKENIZER = load_tokenizer("qwen", num_threads=1)
    return count_docs([_TOKENIZER.encode(t).tolist() for t in texts], context_length)


def _count(args):
    return count_docs(*args)


def merge_into(merged: dict[int, set[int]], part: dict[int, set[int]]) -> None:
    for t, s in part.items():
        if t in merged:
            merged[t].update(s)
        else:
            merged[t] = s


def build_reference(items: list, context_length: int, batch_size: int, num_proc: int,
                    pretokenized: bool) -> dict[int, set[int]]:
    work = _count if pretokenized else _tokenize_and_count
    batches = [(items[i : i + batch_size], context_length) for i in range(0, len(items), batch_size)]
    merged: dict[int, set[int]] = {}
    with Pool(num_proc) as pool:
        for part in pool.imap_unordered(work, batches):
            merge_into(merged, part)
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl")
    ap.add_argument("--context-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--pretokenized", action="store_true", help="time counting only")
    ap.add_argument("--dump", help="pickle the dict of sets here (for exactness checks)")
    a = ap.parse_args()
    texts = [json.loads(line)["text"] for line in open(a.jsonl, encoding="utf-8")]
    items = texts
    if a.pretokenized:
        sys.path.insert(0, str(Path(__file__).parent))
        from cooc.tokenizers import load_tokenizer

        tok = load_tokenizer("qwen")
        items = [x.tolist() for x in tok.encode_batch(texts)]
    t0 = time.perf_counter()
    ref = build_reference(items, a.context_length, a.batch_size, a.num_proc, a.pretokenized)
    dt = time.perf_counter() - t0
    if a.dump:
        import pickle

        with open(a.dump, "wb") as f:
            pickle.dump(ref, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(json.dumps({"seconds": dt, "directed_pairs": sum(len(s) for s in ref.values()),
                      "tokens_seen": len(ref)}))


if __name__ == "__main__":
    main()
