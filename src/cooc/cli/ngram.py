"""`cooc ngram`: count n-grams into a compressed trie index, look them up, export/import the
Google n-gram format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cooc.errors import CoocError


def register(sub) -> None:
    from cooc.cli.options import add_config_args, add_run_arguments
    from cooc.ngram.config import NgramConfig

    p = sub.add_parser("ngram", help="n-gram counts (orders 1..8) in a compressed trie index",
                       description="Count n-grams of orders 1..N in bounded memory into an "
                       "Elias-Fano trie (X.ngrams/), query it, and convert it from and to the "
                       "Google n-gram format.")
    ng = p.add_subparsers(dest="ngram_command", metavar="SUBCOMMAND", required=True)

    c = ng.add_parser("count", help="count n-grams of a corpus or token store",
                      description="Count every n-gram of orders 1..--order of each document "
                      "(none crosses documents) into an n-gram index.")
    c.add_argument("data", nargs="+", help="corpus files, folders or globs, or one token store")
    c.add_argument("--out-file", "-o", required=True, help="n-gram index folder (X.ngrams)")
    add_config_args(c, NgramConfig)
    add_run_arguments(c, memory=True, threads=True, tmp_dir=True, batch_size=True,
                      batch_tokens=True, quiet=True)
    c.set_defaults(func=cmd_count)

    q = ng.add_parser("lookup", help="count of an n-gram",
                      description='Count of an n-gram given as text or as ids ("#12 #7").')
    q.add_argument("index", help="n-gram index folder")
    q.add_argument("query", help='text (tokenized with the index\'s tokenizer) or "#id #id ..."')
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_lookup)

    n = ng.add_parser("continuations", help="next tokens after a context, by count",
                      description="The tokens that follow a context (text or #ids), with counts.")
    n.add_argument("index", help="n-gram index folder")
    n.add_argument("context", help='text or "#id #id ..." ("" for unigrams)')
    n.add_argument("--top-k", type=int, default=20, help="how many (default: 20; 0: all)")
    n.add_argument("--json", action="store_true", help="print JSON")
    n.set_defaults(func=cmd_continuations)

    s = ng.add_parser("stats", help="n-grams and bytes per gram per order")
    s.add_argument("index", help="n-gram index folder")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_stats)

    v = ng.add_parser("verify", help="recompute checksums and decode every level")
    v.add_argument("index", help="n-gram index folder")
    v.set_defaults(func=cmd_verify)

    e = ng.add_parser("export", help="write the Google n-gram format (1-grams, 2-grams, ...)")
    e.add_argument("index", help="n-gram index folder")
    e.add_argument("--out-dir", "-o", required=True, help="folder for the k-grams files")
    e.add_argument("--gzip", action="store_true", help="write k-grams.gz files")
    e.set_defaults(func=cmd_export)

    i = ng.add_parser("import", help="build an index from Google n-gram files")
    i.add_argument("folder", help="folder with 1-grams, 2-grams, ... (.gz or not)")
    i.add_argument("--out-file", "-o", required=True, help="n-gram index folder to create")
    i.set_defaults(func=cmd_import)


def _open(path: str):
    from cooc.ngram import open_ngrams

    return open_ngrams(path)


def _label(idx, ids) -> str:
    texts = idx.token_texts()
    return " ".join(repr(texts[int(i)]) for i in ids)


def cmd_count(args: argparse.Namespace) -> int:
    from cooc.cli.options import config_from_args, run_options_from_args
    from cooc.ngram import NgramConfig, count_ngrams
    from cooc.runtime.progress import fmt_bytes

    try:
        config = config_from_args(NgramConfig, args)
    except ValueError as e:
        raise CoocError(str(e)) from None
    options = run_options_from_args(args)
    data = args.data[0] if len(args.data) == 1 else list(args.data)
    r = count_ngrams(data, Path(args.out_file), config, options)
    if not args.quiet:
        per = ", ".join(f"{k}: {v:,}" for k, v in sorted(r.grams.items()))
        print(f"cooc: {r.stats.documents:,} documents, {r.stats.tokens:,} tokens -> {r.path} "
              f"({per}) in {r.timings['total']:.2f} s, {r.stats.spills} spills, peak memory "
              f"{fmt_bytes(r.peak_rss)}", file=sys.stderr)
        for line in r.report.summary_lines():
            print(f"cooc: skipped {line}", file=sys.stderr)
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    idx = _open(args.index)
    ids = idx.parse(args.query)
    if not 1 <= len(ids) <= idx.order:
        raise CoocError(f"{args.query!r} is {len(ids)} tokens; this index holds 1..{idx.order}-grams")
    count = idx.lookup(ids)
    if args.json:
        print(json.dumps({"ids": ids.tolist(), "count": count}))
    else:
        print(f"{_label(idx, ids)}\t{count}")
    return 0


def cmd_continuations(args: argparse.Namespace) -> int:
    import numpy as np

    if args.top_k < 0:
        raise CoocError(f"--top-k must be >= 0, got {args.top_k}")
    idx = _open(args.index)
    ctx = idx.parse(args.context) if args.context.strip() else np.zeros(0, np.int64)
    if len(ctx) >= idx.order:
        raise CoocError(f"the context {args.context!r} is {len(ctx)} tokens; this order-"
                        f"{idx.order} index continues contexts of at most {idx.order - 1}")
    ids, counts = idx.continuations(ctx)
    order = np.lexsort((ids, -counts))
    if args.top_k:
        order = order[: args.top_k]
    texts = idx.token_texts()
    rows = [(int(ids[i]), texts[int(ids[i])], int(counts[i])) for i in order]
    if args.json:
        print(json.dumps({"context": ctx.tolist(), "total": int(counts.sum()),
                          "continuations": [{"id": a, "text": t, "count": c} for a, t, c in rows]},
                         ensure_ascii=False))
        return 0
    print(f"context {_label(idx, ctx) or '(none)'}: {len(ids):,} continuations, "
          f"{int(counts.sum()):,} occurrences")
    for a, t, c in rows:
        print(f"{c:>12,}  #{a:<8} {t!r}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    s = _open(args.index).stats()
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print_ngram_stats(s)
    return 0


def print_ngram_stats(s: dict) -> None:
    """`NgramIndex.stats()` as a table (`cooc ngram stats`, `cooc stats`)."""
    print(f"order {s['order']}, vocabulary {s['vocab_size']:,}"
          f"{' (with <s>, </s>)' if s['markers'] else ''}, {s['documents'] or 0:,} documents, "
          f"{s['tokens'] or 0:,} tokens")
    print(f"{'order':>5} {'grams':>14} {'bytes':>14} {'B/gram':>8} {'ids':>7} {'counts':>7} "
          f"{'pointers':>8}")
    for k, o in s["orders"].items():
        print(f"{k:>5} {o['grams']:>14,} {o['bytes']:>14,.0f} {o['bytes_per_gram']:>8.3f} "
              f"{o['id_bytes_per_gram']:>7.3f} {o['count_bytes_per_gram']:>7.3f} "
              f"{o['pointer_bytes_per_gram']:>8.3f}")
    print(f"{'all':>5} {s['grams']:>14,} {s['bytes']:>14,.0f} {s['bytes_per_gram']:>8.3f}")


def cmd_verify(args: argparse.Namespace) -> int:
    from cooc.errors import IndexFormatError

    try:
        _open(args.index).verify()
    except IndexFormatError as e:
        print(f"cooc: verify: {e}")
        return 1
    print(f"cooc: {args.index}: ok")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from cooc.ngram.google import export_google

    files = export_google(_open(args.index), args.out_dir, args.gzip)
    print(f"cooc: wrote {len(files)} files to {args.out_dir}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from cooc.ngram.google import import_google

    path = import_google(args.folder, args.out_file)
    print(f"cooc: imported {args.folder} -> {path}", file=sys.stderr)
    return 0
