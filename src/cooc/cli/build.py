"""`cooc build`: corpus -> co-occurrence index (+ optional exports)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cooc.cli.options import (
    add_config_args,
    add_run_arguments,
    config_from_args,
    run_options_from_args,
)
from cooc.cooccur.config import BuildConfig
from cooc.errors import CoocError

_PICKLE_SUFFIXES = (".pkl", ".pickle")


def register(sub) -> None:
    p = sub.add_parser(
        "build",
        help="count which tokens meet in context windows; write an index",
        description="Tokenize a corpus (JSONL, JSONL.gz/.zst, Parquet, text; a file, folder or "
        "glob), cut it into context windows and count, for every pair of tokens, the windows "
        "holding both. With no data, builds the built-in corpus (Python's pydoc topics).",
    )
    p.add_argument("data", nargs="*", help="corpus files, folders or globs")
    p.add_argument("--data-dir", action="append", default=[], help="corpus folder (repeatable)")
    p.add_argument("--out-file", "-o", help="index path (default: <data name>.cooc); a name "
                   "ending in .pkl also writes the Dict[int, Set[int]] pickle there and puts "
                   "the index beside it as <name>.cooc")
    p.add_argument("--readable-out", help="also write the readable TSV here")
    p.add_argument("--pickle-out", help="also write the Dict[int, Set[int]] pickle here")
    p.add_argument("--parquet-out", help="also write a Parquet edge list here")
    add_config_args(p, BuildConfig)
    p.add_argument("--positions", action="store_true", help="also write OUT.positions/: per "
                   "pair, how far apart and in which order the tokens occur (`cooc positions`; "
                   "four more counting passes)")
    add_run_arguments(p, memory=True, threads=True, tmp_dir=True, batch_size=True, quiet=True,
                      strict=True, fresh=True, engine=True)
    p.set_defaults(func=run)


def _out_paths(args, sources: list[str]) -> tuple[Path, Path | None]:
    pickle_out = Path(args.pickle_out) if args.pickle_out else None
    if args.out_file:
        out = Path(args.out_file)
        if out.suffix in _PICKLE_SUFFIXES:
            return out.with_suffix(".cooc"), pickle_out or out
        return out, pickle_out
    name = Path(sources[0].rstrip("/")).name.split(".")[0] if sources else "pydoc-topics"
    return Path(f"{name or 'corpus'}.cooc"), pickle_out


def run(args: argparse.Namespace) -> int:
    from cooc.cooccur import open_index
    from cooc.cooccur.build.common import StrictError
    from cooc.cooccur.build.job import build_index
    from cooc.runtime.progress import fmt_bytes

    sources = list(args.data) + list(args.data_dir)
    try:
        config = config_from_args(BuildConfig, args)
    except ValueError as e:
        raise CoocError(str(e)) from None
    # --strict is decided by the job before the index is replaced: nothing changes on failure
    options = run_options_from_args(args)
    out, pickle_out = _out_paths(args, sources)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    try:
        result = build_index(sources or None, out, config, options)
    except StrictError as e:
        for line in e.report.summary_lines():
            say(f"cooc: skipped {line}")
        raise
    r = result
    t = r.timings
    tokens = "tokens in windows (overlapping)" if config.window.stride else "tokens"
    say(f"cooc: {r.num_documents:,} documents, {r.num_tokens:,} {tokens}, {r.num_windows:,} windows "
        f"-> {r.num_entries // 2:,} pairs in {t.get('total', 0):.2f} s "
        f"(tokenize {t.get('tokenize', 0):.2f} s, count {t.get('count', 0):.2f} s, "
        f"merge {t.get('merge', 0):.2f} s, write {t.get('write', 0):.2f} s; "
        f"peak memory {fmt_bytes(r.peak_rss)}, spills {r.spills})")
    for line in r.report.summary_lines():
        say(f"cooc: skipped {line}")
    if args.positions:
        from cooc.cooccur.positions import build_positions

        say(f"cooc: positions {build_positions(sources or None, out, config, options)}")
    with open_index(out) as index:
        say(f"cooc: index {out} ({fmt_bytes(index.nbytes()['total'])}, "
            + (f"{index.bytes_per_entry:.2f} bytes per entry)" if index.num_entries else
               "no pairs)"))
        from cooc.cooccur import export

        if pickle_out:
            export.export_pickle(index, pickle_out)
            say(f"cooc: pickle {pickle_out}")
        if args.readable_out:
            export.export_tsv(index, args.readable_out)
            say(f"cooc: readable {args.readable_out}")
        if args.parquet_out:
            export.export_parquet(index, args.parquet_out)
            say(f"cooc: parquet {args.parquet_out}")
    return 0
