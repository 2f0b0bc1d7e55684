"""`cooc tokenize`: corpus -> token store, so later builds never tokenize again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cooc.cli.options import add_run_arguments, run_options_from_args
from cooc.cooccur.config import BuildConfig
from cooc.errors import CoocError


def register(sub) -> None:
    p = sub.add_parser(
        "tokenize",
        help="tokenize a corpus once into a token store (resumable)",
        description="Write a corpus's token ids as memory-mappable shards with a manifest. "
        "`cooc build STORE` then counts without tokenizing, for any window setting. A killed "
        "run leaves OUT.partial; the same command again resumes after the finished shards.",
    )
    p.add_argument("data", nargs="*", help="corpus files, folders or globs (none: the built-in corpus)")
    p.add_argument("--out-file", "-o", required=True, help="token store folder to create")
    defaults = BuildConfig()
    p.add_argument("--tokenizer", default=defaults.tokenizer,
                   help=f"as for cooc build (default: {defaults.tokenizer})")
    p.add_argument("--text-field", default=defaults.text_field,
                   help=f"JSON/Parquet field holding the text (default: {defaults.text_field})")
    p.add_argument("--granularity", default="document",
                   choices=("document", "paragraph", "line", "sentence"),
                   help="store documents whole (default) or as paragraph, line or sentence units")
    p.add_argument("--shard-tokens", type=int, default=0,
                   help="tokens per shard (default: 2**25); a crash loses at most one shard")
    add_run_arguments(p, memory=True, threads=True, batch_size=True, quiet=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cooc.runtime.progress import fmt_bytes
    from cooc.store.tokenize import DEFAULT_SHARD_TOKENS, tokenize_corpus

    if args.shard_tokens < 0:
        raise CoocError(f"--shard-tokens must be >= 0 (0: 2**25), got {args.shard_tokens}")
    options = run_options_from_args(args)
    config = BuildConfig(tokenizer=args.tokenizer, text_field=args.text_field,
                         granularity=args.granularity)
    r = tokenize_corpus(list(args.data) or None, Path(args.out_file), config, options,
                        args.shard_tokens or DEFAULT_SHARD_TOKENS)
    if not args.quiet:
        resumed = f", {r.resumed_documents:,} documents resumed" if r.resumed_documents else ""
        print(f"cooc: {r.num_documents:,} documents, {r.num_tokens:,} tokens in {r.num_shards} "
              f"shards -> {r.path} in {r.timings['total']:.2f} s (peak memory "
              f"{fmt_bytes(r.peak_rss)}{resumed})", file=sys.stderr)
        for line in r.report.summary_lines():
            print(f"cooc: skipped {line}", file=sys.stderr)
    return 0
