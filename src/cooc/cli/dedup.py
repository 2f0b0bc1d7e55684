"""`cooc dedup exact|bloom|bloom-union`: remove duplicate documents, paragraphs or spans.

Each method is one subcommand registered by a `register_<method>` function below; a new
method (minhash) adds its own function and one line in `METHODS`.
"""

from __future__ import annotations

import argparse
import sys

from cooc.cli.curate import add_curation_arguments, build_step, run_curation
from cooc.cli.options import run_options_from_args


def register_exact(sub) -> None:
    p = sub.add_parser("exact", help="exact duplicates: documents, paragraphs or C4 spans",
                       description="Keep the first copy (corpus order) of every document, "
                       "paragraph or three-sentence span (xxh3_128 hashes); cut paragraphs and "
                       "spans seen before from the documents holding them. --engine ray runs "
                       "document dedup as map/shuffle/reduce tasks on a Ray cluster.")
    add_curation_arguments(p, engine=True)
    p.add_argument("--granularity", choices=("document", "paragraph", "span"), default="document",
                   help="what is compared (default: document)")
    p.set_defaults(func=run_exact)


def register_bloom(sub) -> None:
    p = sub.add_parser("bloom", help="probable duplicates with a Bloom filter (fixed memory)",
                       description="Remove documents (or cut paragraphs) a Bloom filter has "
                       "seen, at a chosen false-positive rate; the filter can be saved, "
                       "reloaded and OR-ed with filters of other shards.")
    add_curation_arguments(p)
    p.add_argument("--granularity", choices=("document", "paragraph"), default="document",
                   help="what is compared (default: document)")
    p.add_argument("--expected-items", type=int, default=1_000_000, metavar="N",
                   help="items (documents or paragraphs) the filter is sized for (default: 1M)")
    p.add_argument("--fp-rate", type=float, default=1e-3, metavar="P",
                   help="target false-positive rate at N items (default: 0.001)")
    p.add_argument("--load-filter", metavar="PATH", help="start from this saved filter")
    p.add_argument("--save-filter", metavar="PATH", help="save the final filter here")
    p.set_defaults(func=run_bloom)


def register_bloom_union(sub) -> None:
    p = sub.add_parser("bloom-union", help="OR Bloom filters of shards into one",
                       description="The filter of the union of the filters' items; all need "
                       "the same m, k and seed.")
    p.add_argument("filters", nargs="+", metavar="FILTER")
    p.add_argument("--out-file", "-o", required=True, help="filter folder to write")
    p.set_defaults(func=run_bloom_union)


def register_minhash(sub) -> None:
    p = sub.add_parser("minhash", help="near duplicates: MinHash-LSH over word n-grams",
                       description="Cluster documents whose shingle sets (word n-grams) have "
                       "a Jaccard similarity >= --threshold: MinHash signatures, LSH bands "
                       "(chosen from the threshold; the S-curve is printed), every candidate "
                       "pair verified by exact Jaccard, clusters by union-find; one document "
                       "kept per cluster. Two passes over the corpus; band keys and shingle "
                       "sets go to scratch files. --engine ray runs it as map (a task a file) / "
                       "shuffle and reduce (a task a band) / write tasks on a Ray cluster.")
    add_curation_arguments(p, normalize=False, engine=True)
    p.add_argument("--threshold", type=float, default=0.8, help="Jaccard threshold (0.8)")
    p.add_argument("--ngram", type=int, default=5, help="words per shingle (5)")
    p.add_argument("--permutations", type=int, default=128, help="MinHash permutations (128)")
    p.add_argument("--bands", type=int, default=None, help="LSH bands (default: from the "
                   "threshold, with --rows)")
    p.add_argument("--rows", type=int, default=None, help="rows per band (with --bands)")
    p.add_argument("--keep", default="first", help="which document of a cluster is kept: "
                   "first (corpus order), longest, or the name of a numeric field (the highest)")
    p.add_argument("--tokenizer", choices=("words", "whitespace"), default="words",
                   help="shingle words: words (lower-cased letter runs, default) or whitespace")
    p.set_defaults(func=run_minhash)


METHODS = (register_exact, register_bloom, register_bloom_union, register_minhash)


def register(sub) -> None:
    p = sub.add_parser("dedup", help="deduplicate a corpus: exact, bloom, minhash",
                       description="Deduplicate a corpus; kept and removed documents are "
                       "written in the input's format with the reasons.")
    methods = p.add_subparsers(dest="method", metavar="METHOD", required=True)
    for fn in METHODS:
        fn(methods)


def run_exact(args: argparse.Namespace) -> int:
    from cooc.curate.exact import ExactDedup

    step = build_step(lambda: ExactDedup(args.granularity, args.normalize, args.seed))
    return run_curation(args, step)


def run_bloom(args: argparse.Namespace) -> int:
    from cooc.curate.bloom import BloomDedup

    step = build_step(lambda: BloomDedup(args.expected_items, args.fp_rate, args.seed,
                              args.granularity, args.normalize, args.load_filter,
                              args.save_filter))
    f = step.filter_
    if not args.quiet:
        print(f"cooc: Bloom filter m = {f.m:,} bits ({f.bits.nbytes / 2**20:.1f} MiB), k = {f.k} "
              f"(n = {f.expected_items:,}, p = {f.fp_rate:g}, seed {f.seed})", file=sys.stderr)
    return run_curation(args, step)


def run_bloom_union(args: argparse.Namespace) -> int:
    from cooc.curate.bloom import BloomFilter

    filters = [BloomFilter.load(p) for p in args.filters]
    out = filters[0]
    for f in filters[1:]:
        out = out.union(f)
    out.save(args.out_file)
    print(f"cooc: {len(filters)} filters -> {args.out_file} (m = {out.m:,}, k = {out.k}, "
          f"fill {out.fill_ratio():.3f})", file=sys.stderr)
    return 0


def run_minhash(args: argparse.Namespace) -> int:
    from cooc.curate.minhash import MinHashDedup, describe_bands

    step = build_step(lambda: MinHashDedup(args.threshold, args.ngram, args.permutations,
                              args.bands, args.rows, args.seed, args.keep, args.tokenizer,
                              run_options_from_args(args)))
    if not args.quiet:
        for line in describe_bands(args.threshold, step.bands, step.rows).splitlines():
            print(f"cooc: {line}", file=sys.stderr)
    return run_curation(args, step)
