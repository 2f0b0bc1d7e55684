"""CLI flags made once: generated from the frozen config dataclasses (what a job computes: one
name per parameter everywhere) and, for how a job runs, from `cooc.options.RunOptions`
(`add_run_arguments`, `run_options_from_args`)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from cooc.errors import CoocError
from cooc.options import RunOptions, parse_bytes


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of `cls` (recursing into nested config dataclasses)."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False:  # internal (set by cooc itself)
            continue
        if dataclasses.is_dataclass(f.type) or (isinstance(f.type, str) and f.type.endswith("Config")):
            add_config_args(parser, _nested_type(cls, f.name))
            continue
        default = f.default
        meta = f.metadata
        kw: dict[str, Any] = {"help": f"{meta.get('help', '')} (default: {default})", "dest": f.name}
        if isinstance(default, bool):
            parser.add_argument(_flag(f.name), action="store_true", default=default, **kw)
        else:
            if "choices" in meta:
                kw["choices"] = meta["choices"]
            parser.add_argument(_flag(f.name), type=type(default), default=default, **kw)


def _nested_type(cls: type, name: str) -> type:
    return type(getattr(cls(), name))


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False:
            continue
        if hasattr(args, f.name):
            kwargs[f.name] = getattr(args, f.name)
        else:
            kwargs[f.name] = config_from_args(_nested_type(cls, f.name), args)
    return cls(**kwargs)


# --- run flags: how a job runs (cooc.options.RunOptions), made here once for every command ---

_RAY_NOTE = {
    "memory": "; --engine ray: the budget of each task",
    "num_proc": "; --engine ray: threads per task, default 1",
    "tmp_dir": "; --engine ray: on storage every node sees",
}


def add_run_arguments(parser: argparse.ArgumentParser, *, memory: bool = True,
                      threads: bool = True, quiet: bool = True, tmp_dir: bool = False,
                      batch_size: bool = False, batch_tokens: bool = False,
                      strict: bool = False, fresh: bool = False, engine: bool = False) -> None:
    """Add the run flags a command uses, one spelling, default and help text each, the
    defaults those of `cooc.options.RunOptions`; read them back with `run_options_from_args`."""
    from cooc.options import RunOptions

    d = RunOptions()

    def note(name: str) -> str:
        return _RAY_NOTE[name] if engine else ""

    if memory:
        parser.add_argument("--memory", metavar="SIZE", default=None,
                            help="peak memory budget of the whole process, e.g. 512M or 8G "
                            f"(default: a quarter of RAM, at least 256M{note('memory')})")
    if threads:
        parser.add_argument("--num-proc", type=int, default=d.num_proc, metavar="N",
                            dest="num_proc",
                            help=f"worker threads (default: all cores{note('num_proc')})")
    if tmp_dir:
        parser.add_argument("--tmp-dir", metavar="DIR", default=d.tmp_dir, dest="tmp_dir",
                            help="folder for temporary files: spilled runs, checkpoints "
                            f"(default: beside the output, on its disk{note('tmp_dir')})")
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                            dest="batch_size",
                            help=f"documents per tokenizer batch (default: {d.batch_size})")
    if batch_tokens:
        parser.add_argument("--batch-tokens", type=int, default=d.batch_tokens, metavar="N",
                            dest="batch_tokens",
                            help="tokens per counting batch (default: from --memory)")
    if quiet:
        parser.add_argument("--quiet", "-q", action="store_true", default=d.quiet,
                            help="no progress or summary output")
    if strict:
        parser.add_argument("--strict", action="store_true", default=d.strict,
                            help="exit non-zero if any corpus record was skipped")
    if fresh:
        parser.add_argument("--fresh", action="store_true", default=not d.resume,
                            help="ignore the checkpoint a killed run left (by default the same "
                            "command resumes it)")
    if engine:
        parser.add_argument("--engine", choices=("local", "ray"), default=d.engine,
                            help="local: this process, all cores (default); ray: map/reduce "
                            "tasks on a Ray cluster (pip install 'cooc[ray]'), the same output")
        parser.add_argument("--address", default=d.address,
                            help="--engine ray: the cluster to join, e.g. auto or "
                            "ray://head:10001 (default: start a local one); data, output and "
                            "--tmp-dir must be on storage every node sees")


def run_options_from_args(args: argparse.Namespace, **overrides: Any):
    """The `RunOptions` of the run flags in `args` (those `add_run_arguments` added; the
    others keep their defaults), with `overrides`; CoocError for a bad value."""
    kw: dict[str, Any] = {}
    for name in ("num_proc", "batch_size", "batch_tokens", "tmp_dir", "quiet", "strict",
                 "engine", "address"):
        if hasattr(args, name):
            kw[name] = getattr(args, name)
    if hasattr(args, "fresh"):
        kw["resume"] = not args.fresh
    try:
        if getattr(args, "memory", None) is not None:
            kw["memory_bytes"] = parse_bytes(args.memory)
        return RunOptions(**{**kw, **overrides})
    except ValueError as e:
        raise CoocError(str(e)) from None
