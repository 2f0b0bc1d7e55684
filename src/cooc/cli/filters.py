"""`cooc filter perplexity`: keep documents by a score (the next filters add subcommands
here, one `register_<name>` function each, listed in `FILTERS`); `cooc contamination`:
evaluation sets' n-grams in a training corpus, reported and removed."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from cooc.cli.curate import add_curation_arguments, build_step, run_curation
from cooc.cli.options import add_run_arguments, run_options_from_args
from cooc.errors import CoocError


def register_perplexity(sub) -> None:
    p = sub.add_parser("perplexity", help="keep documents a Kneser-Ney model finds likely "
                       "(CCNet)",
                       description="Score every document with an n-gram model (an ARPA file or "
                       "a cooc LM trie) as KenLM's query does (each non-blank line a "
                       "sentence) and keep those with perplexity <= --threshold, or at or "
                       "below the --quantile of the corpus's perplexities (two passes). "
                       "Every document carries its perplexity in cooc_scores.")
    add_curation_arguments(p, normalize=False, seed=False, engine=True)
    p.add_argument("--model", "-m", required=True,
                   help="ARPA file (.arpa, .arpa.gz) or LM trie folder (cooc lm index)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=float, help="keep perplexity <= this (e.g. 15000)")
    how.add_argument("--quantile", type=float,
                     help="keep the documents at or below this quantile (0.333: the lowest third)")
    p.set_defaults(func=run_perplexity)


def register_classifier(sub) -> None:
    p = sub.add_parser("classifier", help="keep documents a trained classifier scores high "
                       "(fastText style; GPT-3's pareto rule)",
                       description="Score every document with a classifier saved by `cooc "
                       "classifier train` (the probability of the positive class) and keep "
                       "it when the score is >= --threshold, or when a Pareto(--pareto) draw "
                       "(seeded by --seed and the document's ordinal) exceeds 1 - score.")
    add_curation_arguments(p, normalize=False, engine=True)
    p.add_argument("--model", "-m", required=True, help="classifier folder (X.clf)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=float, help="keep scores >= this (e.g. 0.5)")
    how.add_argument("--pareto", type=float, help="GPT-3's rule with this shape (GPT-3: 9)")
    p.set_defaults(func=run_classifier_filter)


def register_dsir(sub) -> None:
    p = sub.add_parser("dsir", help="keep k documents most like a target corpus (DSIR "
                       "importance resampling)",
                       description="Hashed unigram and bigram models of the target and of "
                       "this corpus; each document's log importance weight log p_T/p_R; --k "
                       "documents (or a --fraction) drawn without replacement in proportion "
                       "to the weights (Gumbel top-k, seeded). Two passes over the corpus.")
    add_curation_arguments(p, normalize=False, engine=True)
    p.add_argument("--target", "-t", nargs="+", required=True, help="target corpora")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--k", type=int, help="documents to keep")
    how.add_argument("--fraction", type=float, help="fraction of the documents to keep")
    p.add_argument("--ngrams", type=int, default=2, help="word n-grams up to (2)")
    p.add_argument("--buckets", type=int, default=65_536,
                   help="hash buckets (65536; the DSIR paper used 10000)")
    p.add_argument("--tokenizer", choices=("wordpunct", "words"), default="wordpunct",
                   help="wordpunct: lower-cased runs of word characters and of punctuation "
                   "(as data-selection, default); words: letter runs only")
    p.set_defaults(func=run_dsir)


def register_language(sub) -> None:
    p = sub.add_parser("language", help="keep documents in the given languages (langid.py's "
                       "model from py3langid)",
                       description="Keep a document when the probability of the --languages "
                       "(summed) is >= --threshold (Dolma keeps P(en) >= 0.5). The model is "
                       "langid.py's, shipped in the py3langid package (pip install "
                       "'cooc[langid]'); nothing is downloaded.")
    add_curation_arguments(p, normalize=False, seed=False, engine=True)
    p.add_argument("--languages", "-l", nargs="+", default=["en"],
                   help="ISO 639-1 codes to keep (default: en)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="keep when their probability is >= this (default: 0.5)")
    p.set_defaults(func=run_language)


FILTERS = (register_perplexity, register_classifier, register_dsir, register_language)


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
    step = build_step(lambda: PerplexityFilter(args.model, args.threshold, args.quantile,
                              num_threads=threads))
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
    add_curation_arguments(p, normalize=False, seed=False, engine=True)
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

    step = build_step(lambda: ContaminationFilter(args.eval, args.n, args.min_ngram,
                              args.min_overlap, args.first_documents,
                              text_field=args.eval_text_field,
                              num_threads=run_options_from_args(args).resolved_num_proc()))
    rc = run_curation(args, step)
    if not args.quiet:
        report = json.loads((Path(args.out_dir) / "report.json").read_text(encoding="utf-8"))
        for s in report["steps"][0]["eval_sets"]:
            print(f"cooc: {s['name']}: {s['contaminated']:,} of {s['checked']:,} examples "
                  f"contaminated ({100 * s['contaminated_fraction']:.1f} %), "
                  f"{s['too_short']:,} too short to check", file=sys.stderr)
    return rc


def run_classifier_filter(args: argparse.Namespace) -> int:
    from cooc.curate.classifier import ClassifierFilter

    threads = run_options_from_args(args).resolved_num_proc()
    step = build_step(lambda: ClassifierFilter(args.model, args.threshold, args.pareto, args.seed,
                              num_threads=threads))
    return run_curation(args, step)


def register_classifier_command(sub) -> None:
    p = sub.add_parser("classifier", help="train a fastText-style document classifier",
                       description="Train a two-class classifier (hashed word n-grams, mean "
                       "embedding, softmax, SGD) on positive and negative example corpora "
                       "and save it as a folder artefact for `cooc filter classifier`.")
    sub2 = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub2.add_parser("train", help="train and save a classifier")
    t.add_argument("--positive", "-p", nargs="+", required=True, help="positive corpora")
    t.add_argument("--negative", "-n", nargs="+", required=True, help="negative corpora")
    t.add_argument("--out-file", "-o", required=True, help="classifier folder to write")
    t.add_argument("--dim", type=int, default=16, help="embedding size (16)")
    t.add_argument("--ngrams", type=int, default=2, help="word n-grams up to (2)")
    t.add_argument("--buckets", type=int, default=2_000_000, help="hash buckets (2000000)")
    t.add_argument("--epochs", type=int, default=5, help="passes over the data (5)")
    t.add_argument("--lr", type=float, default=0.1, help="learning rate (0.1)")
    t.add_argument("--seed", type=int, default=1, help="seed (1)")
    t.add_argument("--text-field", default="text", help="JSON/Parquet text field (text)")
    add_run_arguments(t, memory=False, threads=True, quiet=True)
    t.set_defaults(func=run_classifier_train)
    s = sub2.add_parser("score", help="print each document's score as JSON lines")
    s.add_argument("model", help="classifier folder")
    s.add_argument("data", nargs="+", help="corpus files, folders or globs")
    s.add_argument("--text-field", default="text", help="JSON/Parquet text field (text)")
    s.set_defaults(func=run_classifier_score)


def _texts(sources: list[str], text_field: str) -> list[str]:
    from cooc.corpus.discover import discover_files
    from cooc.corpus.readers import iter_documents

    return [d.text for d in iter_documents(discover_files(sources), text_field)]


def run_classifier_train(args: argparse.Namespace) -> int:
    from cooc.curate.classifier import HashedNgramClassifier

    threads = run_options_from_args(args).resolved_num_proc()
    try:
        clf = HashedNgramClassifier(args.dim, args.ngrams, args.buckets, args.epochs, args.lr,
                                    args.seed, threads)
    except ValueError as e:
        raise CoocError(str(e)) from None
    pos, neg = _texts(args.positive, args.text_field), _texts(args.negative, args.text_field)
    if not pos or not neg:
        raise CoocError(f"no {'positive' if not pos else 'negative'} documents were read")
    clf.fit(neg + pos, [0] * len(neg) + [1] * len(pos))
    clf.save(args.out_file)
    if not args.quiet:
        print(f"cooc: trained on {len(pos):,} positive and {len(neg):,} negative documents, "
              f"loss per epoch {clf.train_stats['loss_per_epoch']} -> {args.out_file}",
              file=sys.stderr)
    return 0


def run_classifier_score(args: argparse.Namespace) -> int:
    from cooc.corpus.discover import discover_files
    from cooc.corpus.readers import iter_documents
    from cooc.curate.classifier import HashedNgramClassifier

    clf = HashedNgramClassifier.load(args.model)
    docs = iter_documents(discover_files(args.data), args.text_field)
    while batch := list(itertools.islice(docs, 8192)):
        scores = clf.score([d.text for d in batch])
        sys.stdout.write("".join(json.dumps({"source": f"{d.source}:{d.line}", "score": s}) + "\n"
                                 for d, s in zip(batch, scores.tolist(), strict=True)))
    return 0


def run_dsir(args: argparse.Namespace) -> int:
    from cooc.curate.dsir import DSIRResample

    options = run_options_from_args(args)
    step = build_step(lambda: DSIRResample(args.target, args.k, args.fraction, args.ngrams,
                              args.buckets, args.seed, args.tokenizer, text_field=args.text_field,
                              tmp_dir=options.tmp_dir))
    return run_curation(args, step)


def register_curate(sub) -> None:
    p = sub.add_parser("curate", help="run a curation pipeline (dedup and filter steps) "
                       "from a TOML file",
                       description="Run the [[step]] tables of a pipeline file in order over "
                       "its [input] corpus into its [output] folder, with one report "
                       "(cooc.curate.pipeline has the format).")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = acts.add_parser("run", help="run a pipeline file")
    r.add_argument("pipeline", help="the pipeline's TOML file")
    r.add_argument("--quiet", "-q", action="store_true", help="no summary")
    r.set_defaults(func=run_pipeline_file)


def run_pipeline_file(args: argparse.Namespace) -> int:
    from cooc.curate.pipeline import load_pipeline, run_options_of, run_pipeline

    config = load_pipeline(args.pipeline)
    options = run_options_of(config)
    if args.quiet:
        from dataclasses import replace

        options = replace(options, quiet=True)
    r = run_pipeline(config, options)
    if not args.quiet:
        print(f"cooc: {r['input_records']:,} records: {r['kept']:,} kept ({r['edited']:,} "
              f"edited), {r['removed']:,} removed, {r['skipped']:,} skipped in "
              f"{r['seconds']:.2f} s", file=sys.stderr)
        for s in r["steps"]:
            by = ", ".join(f"{k} {v:,}" for k, v in s["removed_by_reason"].items())
            print(f"cooc:   {s['name']}: {by}", file=sys.stderr)
    return 0


def run_language(args: argparse.Namespace) -> int:
    from cooc.curate.language import LanguageFilter

    step = build_step(lambda: LanguageFilter(args.languages, args.threshold))
    return run_curation(args, step)
