"""`cooc merge`: indexes over several corpora -> the index of their union (append data
without a rebuild)."""

from __future__ import annotations

import argparse
import sys

from cooc.errors import CoocError
from cooc.options import RunOptions, parse_bytes


def register(sub) -> None:
    p = sub.add_parser(
        "merge",
        help="add indexes together: the index of the union of their corpora",
        description="Sum the counts and statistics of indexes built with the same tokenizer "
        "and window settings. The arrays equal one build over the union of their corpora "
        "(with --packing concat, up to the windows spanning the seam between inputs).",
    )
    p.add_argument("inputs", nargs="+", metavar="INDEX", help="indexes to merge (2 or more)")
    p.add_argument("--out-file", "-o", required=True, help="path of the merged index")
    p.add_argument("--num-proc", type=int, default=0, help="worker threads (default: all cores)")
    p.add_argument("--memory", default=None, help="peak memory budget for the whole process, "
                   "e.g. 512M or 8G (default: a quarter of RAM)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cooc.cooccur.merge import merge_indexes
    from cooc.cooccur.reader import open_index
    from cooc.runtime.progress import fmt_bytes

    try:
        memory = parse_bytes(args.memory) if args.memory else 0
    except ValueError as e:
        raise CoocError(str(e)) from None
    options = RunOptions(num_proc=args.num_proc, memory_bytes=memory, quiet=args.quiet)
    r = merge_indexes(args.inputs, args.out_file, options)
    if not args.quiet:
        with open_index(r.path) as index:
            size = fmt_bytes(index.nbytes()["total"])
        print(f"cooc: merged {len(r.inputs)} indexes ({', '.join(map(str, r.inputs))}) -> "
              f"{r.path}: {r.num_documents:,} documents, {r.num_tokens:,} tokens, "
              f"{r.num_entries:,} entries, {size} in {r.seconds:.2f} s", file=sys.stderr)
    return 0
