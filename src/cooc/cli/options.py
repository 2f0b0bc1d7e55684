"""CLI flags generated from the frozen config dataclasses (one name per parameter everywhere)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


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
