"""What every curation command (`cooc dedup ...`, `cooc filter ...`) shares: its arguments
and the run of one step with its summary line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from cooc.cli.options import add_run_arguments, run_options_from_args
from cooc.errors import CoocError


def add_curation_arguments(p: argparse.ArgumentParser, normalize: bool = True,
                           engine: bool = False, seed: bool = True) -> None:
    """The arguments every curation command takes: inputs, output folder, text field, seed,
    checkpoints and the run flags."""
    p.add_argument("data", nargs="+", metavar="SOURCE", help="corpus files, folders or globs")
    p.add_argument("--out-dir", "-o", required=True,
                   help="folder to write: kept/, removed/ (the input's formats), report.json")
    p.add_argument("--text-field", default="text",
                   help="JSON/Parquet field holding the text (default: text)")
    if normalize:
        p.add_argument("--normalize", action="store_true",
                       help="compare texts lowercased with whitespace runs made one space")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="hash seed (default: 0)")
    p.add_argument("--checkpoint-every", type=int, default=16, metavar="N",
                   help="batches between checkpoints of a resumable run (default: 16)")
    add_run_arguments(p, memory=True, threads=True, batch_size=True, quiet=True, fresh=True,
                      engine=engine)


def build_step(make: Callable[[], Any]) -> Any:
    """The step `make` builds; a ValueError (a bad setting) becomes the one-line CLI error."""
    try:
        return make()
    except ValueError as e:
        raise CoocError(str(e)) from None


def run_curation(args: argparse.Namespace, step) -> int:
    """Run one step over args.data into args.out_dir (run_steps, or run_sharded for
    --engine ray) and print the summary."""
    from cooc.curate.run import run_steps

    options = run_options_from_args(args)
    try:
        if options.engine == "local":
            r = run_steps(args.data, [step], args.out_dir, options, text_field=args.text_field,
                          checkpoint_every=args.checkpoint_every)
        else:
            from cooc.curate.sharded import run_sharded

            r = run_sharded(args.data, step, args.out_dir, options, text_field=args.text_field)
    except ValueError as e:
        raise CoocError(str(e)) from None
    if not args.quiet:
        s = r["steps"][0]
        by = ", ".join(f"{k} {v:,}" for k, v in s["removed_by_reason"].items())
        resumed = f", resumed at batch {r['resumed_at_batch']}" \
            if r.get("resumed_at_batch") else ""
        print(f"cooc: {r['input_records']:,} records: {r['kept']:,} kept ({r['edited']:,} "
              f"edited), {r['removed']:,} removed ({by}), {r['skipped']:,} skipped -> "
              f"{args.out_dir} in {r['seconds']:.2f} s{resumed}", file=sys.stderr)
        for reason, n in r["skip_report"]["skipped"].items():
            print(f"cooc: skipped {reason}: {n}", file=sys.stderr)
    return 0
