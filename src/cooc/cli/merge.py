"""`cooc merge`: indexes over several corpora -> the index of their union (append data
without a rebuild)."""

from __future__ import annotations

import argparse
import sys

from cooc.cli.options import add_run_arguments, run_options_from_args


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
    add_run_arguments(p, memory=True, threads=True, quiet=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cooc.cooccur.merge import merge_indexes
    from cooc.cooccur.reader import open_index
    from cooc.runtime.progress import fmt_bytes

    r = merge_indexes(args.inputs, args.out_file, run_options_from_args(args))
    if not args.quiet:
        with open_index(r.path) as index:
            size = fmt_bytes(index.nbytes()["total"])
        print(f"cooc: merged {len(r.inputs)} indexes ({', '.join(map(str, r.inputs))}) -> "
              f"{r.path}: {r.num_documents:,} documents, {r.num_tokens:,} tokens, "
              f"{r.num_entries:,} entries, {size} in {r.seconds:.2f} s", file=sys.stderr)
    return 0
