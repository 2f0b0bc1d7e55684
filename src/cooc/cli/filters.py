"""`cooc filter perplexity`: keep documents by a score (the next filters add subcommands
here, one `register_<name>` function each, listed in `FILTERS`); `cooc contamination`:
evaluation sets' n-grams in a training corpus, reported and removed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


def register_contamination(sub) -> None:
    p = sub.add_parser("contamination", help="find evaluation examples in a training corpus "
                       "(13-gram overlap) and remove the training documents that hold them",
                       description="Every evaluation example's word n-grams (--n, 13; the "
                       "whole example when it has --min-ngram to n-1 words) are looked up in "
                       "the training corpus. Reports per evaluation set and per contaminated "
                       "example (report.json: the first training documents that hold its "
                       "n-grams), and writes the training corpus as kept/ and removed/ "
                       "(documents with >= --min-overlap of those n-grams).")
    add_curation_arguments(p, normalize=False, seed=False)
    p.add_argument("--eval", nargs="+", required=True, metavar="EVAL",
                   help="evaluation sets: files, folders or globs (one set each); each "
                   "document is an example")
    p.add_argument("--n", type=int, default=13, help="words per n-gram (13, as GPT-3)")
    p.add_argument("--min-ngram", type=int, default=8,
                   help="shorter examples are matched whole down to this many words (8)")
    p.add_argument("--min-overlap", type=int, default=1,
                   help="remove training documents holding at least this many (1)")
    p.add_argument("--first-documents", type=int, default=5,
                   help="training documents listed per contaminated example (5)")
    p.add_argument("--eval-text-field", default="text",
                   help="the evaluation files' text field (default: text)")
    p.set_defaults(func=run_contamination)


def run_contamination(args: argparse.Namespace) -> int:
    from cooc.curate.contamination import ContaminationFilter

    try:
        step = ContaminationFilter(args.eval, args.n, args.min_ngram, args.min_overlap,
                                   args.first_documents, text_field=args.eval_text_field,
                                   num_threads=run_options_from_args(args).resolved_num_proc())
    except ValueError as e:
        raise CoocError(str(e)) from None
    rc = run_curation(args, step)
    if not args.quiet:
        report = json.loads((Path(args.out_dir) / "report.json").read_text(encoding="utf-8"))
        for s in report["steps"][0]["eval_sets"]:
            print(f"cooc: {s['name']}: {s['contaminated']:,} of {s['checked']:,} examples "
                  f"contaminated ({100 * s['contaminated_fraction']:.1f} %), "
                  f"{s['too_short']:,} too short to check", file=sys.stderr)
    return rc
