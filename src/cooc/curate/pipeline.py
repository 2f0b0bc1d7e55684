"""Pipelines: curation steps in order over a corpus, from a TOML file or a dict, one report.

    [input]
    paths = ["data/*.jsonl.zst"]     # files, folders, globs (relative to the TOML file)
    text_field = "text"              # optional

    [output]
    dir = "curated"
    checkpoint_every = 16            # optional: batches between checkpoints

    [run]                            # optional: RunOptions (memory, num_proc, batch_size, ...)
    memory = "4G"

    [[step]]
    type = "dedup-exact"             # see STEPS; the other keys are the step's parameters
    granularity = "document"

    [[step]]
    type = "filter-perplexity"
    model = "en.arpa"
    quantile = 0.333

Every step runs as `run_steps` runs them (a document one step removes is not given to the
next; global steps are fit on what the steps before them keep); the output folder, report
and resume are `run_steps`'. A key a step does not take, or a missing one, is refused before
anything is read, naming the step and the key.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

from cooc.errors import CoocError
from cooc.options import RunOptions, parse_bytes

# type -> (the step's class, imported when a pipeline uses it; the parameters that are
# paths, relative to the pipeline's folder)
STEPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dedup-exact": ("cooc.curate.exact.ExactDedup", ()),
    "dedup-bloom": ("cooc.curate.bloom.BloomDedup", ("initial", "save_to")),
    "dedup-minhash": ("cooc.curate.minhash.MinHashDedup", ()),
    "filter-perplexity": ("cooc.curate.perplexity.PerplexityFilter", ("model",)),
    "filter-classifier": ("cooc.curate.classifier.ClassifierFilter", ("model",)),
    "filter-dsir": ("cooc.curate.dsir.DSIRResample", ("target",)),
    "filter-language": ("cooc.curate.language.LanguageFilter", ()),
    "filter-contamination": ("cooc.curate.contamination.ContaminationFilter", ("eval_sets",)),
}


def step_class(kind: str) -> Callable[..., Any]:
    module, name = STEPS[kind][0].rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def load_pipeline(path: str | os.PathLike) -> dict[str, Any]:
    """The pipeline of a TOML file, its paths made relative to the file's folder."""
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CoocError(f"{path}: cannot read it ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CoocError(f"{path}: not valid TOML ({e})") from None
    config["base_dir"] = str(path.parent)
    return config


def _resolve(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, str) and not os.path.isabs(value):
        return str(base / value)
    return value


def build_steps(config: dict[str, Any]) -> list[Any]:
    """The steps of a pipeline dict (`[[step]]` tables), checked."""
    base = Path(config.get("base_dir", "."))
    specs = config.get("step")
    if not isinstance(specs, list) or not specs:
        raise CoocError("the pipeline has no [[step]] tables; give at least one")
    steps = []
    for i, spec in enumerate(specs, 1):
        if not isinstance(spec, dict) or "type" not in spec:
            raise CoocError(f"step {i}: give its type, one of {sorted(STEPS)}")
        kind = spec["type"]
        if kind not in STEPS:
            raise CoocError(f"step {i}: unknown type {kind!r}; one of {sorted(STEPS)}")
        make, path_keys = step_class(kind), STEPS[kind][1]
        params = {k: v for k, v in spec.items() if k != "type"}
        accepted = inspect.signature(make).parameters
        for key in params:
            if key not in accepted or key in ("options",):
                raise CoocError(f"step {i} ({kind}): unknown parameter {key!r}; it takes "
                                f"{sorted(k for k in accepted if k != 'options')}")
        for key in path_keys:
            if key in params:
                params[key] = _resolve(params[key], base)
        try:
            steps.append(make(**params))
        except (TypeError, ValueError) as e:
            raise CoocError(f"step {i} ({kind}): {e}") from None
    return steps


def run_options_of(config: dict[str, Any]) -> RunOptions:
    run = dict(config.get("run") or {})
    if "memory" in run:
        try:
            run["memory_bytes"] = parse_bytes(run.pop("memory"))
        except ValueError as e:
            raise CoocError(f"[run] memory: {e}") from None
    try:
        return RunOptions(**run)
    except (TypeError, ValueError) as e:
        raise CoocError(f"[run]: {e}") from None


def run_pipeline(config: dict[str, Any] | str | os.PathLike,
                 options: RunOptions | None = None) -> dict[str, Any]:
    """Run a pipeline (a dict as `load_pipeline` gives, or a TOML file's path); returns the
    report `run_steps` writes."""
    from cooc.curate.run import run_steps

    if not isinstance(config, dict):
        config = load_pipeline(config)
    base = Path(config.get("base_dir", "."))
    inp, out = config.get("input") or {}, config.get("output") or {}
    paths = inp.get("paths")
    if isinstance(paths, str):
        paths = [paths]
    if not paths or not all(isinstance(p, str) for p in paths):
        raise CoocError("[input] paths: give the corpus files, folders or globs")
    if not isinstance(out.get("dir"), str):
        raise CoocError("[output] dir: give the folder to write")
    steps = build_steps(config)
    options = options or run_options_of(config)
    try:
        return run_steps(_resolve(paths, base), steps, _resolve(out["dir"], base), options,
                         text_field=inp.get("text_field", "text"),
                         checkpoint_every=out.get("checkpoint_every", 16))
    except ValueError as e:
        raise CoocError(str(e)) from None
