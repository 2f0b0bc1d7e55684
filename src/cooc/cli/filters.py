"""`cooc filter perplexity`: keep documents by a score (the next filters add subcommands
here, one `register_<name>` function each, listed in `FILTERS`)."""

from __future__ import annotations

import argparse

from cooc.cli.curate import add_curation_arguments, run_curation
from cooc.cli.options import run_options_from_args
from cooc.errors import CoocError


def register_perplexity(sub) -> None:
    p = sub.add_parser("perplexity", help="keep documents a Kneser-Ney model finds likely "
                       "(CCNet)",
                       description="Score every document with an n-gram model (an ARPA file or "
                       "a cooc LM trie) as KenLM's query does (each non-blank line a "
                       "sentence) and keep those with perplexity <= --threshold, or at or "
                       "below the --quantile of the corpus's perplexities (two passes). "
                       "Every document carries its perplexity in cooc_scores.")
    add_curation_arguments(p, normalize=False, seed=False)
    p.add_argument("--model", "-m", required=True,
                   help="ARPA file (.arpa, .arpa.gz) or LM trie folder (cooc lm index)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=float, help="keep perplexity <= this (e.g. 15000)")
    how.add_argument("--quantile", type=float,
                     help="keep the documents at or below this quantile (0.333: the lowest third)")
    p.set_defaults(func=run_perplexity)


FILTERS = (register_perplexity,)


def register(sub) -> None:
    p = sub.add_parser("filter", help="filter a corpus by a score: perplexity",
                       description="Keep documents by a score; kept and removed documents are "
                       "written in the input's format with the reason and the scores.")
    filters = p.add_subparsers(dest="filter", metavar="FILTER", required=True)
    for fn in FILTERS:
        fn(filters)


def run_perplexity(args: argparse.Namespace) -> int:
    from cooc.curate.perplexity import PerplexityFilter

    threads = run_options_from_args(args).resolved_num_proc()
    try:
        step = PerplexityFilter(args.model, args.threshold, args.quantile, num_threads=threads)
    except ValueError as e:
        raise CoocError(str(e)) from None
    return run_curation(args, step)
