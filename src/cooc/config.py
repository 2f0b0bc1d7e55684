"""Typed, frozen job configuration.

One config object per job, recorded verbatim in the index manifest. CLI flags are generated
from the dataclass fields (see `cooc.cli.options`), so a parameter has one name everywhere.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal

PACKINGS = ("document", "concat")
Packing = Literal["document", "concat"]


def _opt(help: str, **kw: Any) -> Any:
    """A dataclass field with CLI help text attached."""
    default = kw.pop("default")
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class WindowConfig:
    """How the token stream is cut into context windows."""

    context_length: int = _opt("tokens per context window", default=128)
    packing: str = _opt(
        "document: each document is cut into chunks on its own (the last chunk may be shorter); "
        "concat: documents are joined with the end-of-text token, then cut, as in pretraining",
        default="document",
        choices=PACKINGS,
    )
    include_self: bool = _opt(
        "count a token as its own neighbour when it occurs twice in one window", default=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.context_length, int) or self.context_length < 2:
            raise ValueError(
                f"context_length must be an integer >= 2, got {self.context_length!r}"
            )
        if self.packing not in PACKINGS:
            raise ValueError(f"packing must be one of {PACKINGS}, got {self.packing!r}")


def default_memory_bytes() -> int:
    """A quarter of physical RAM: leaves room for the OS page cache and the tokenizer."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return max(256 << 20, total // 4)


def parse_bytes(text: str | int) -> int:
    """'256M', '8G', '1.5g', '1048576' -> bytes."""
    if isinstance(text, int):
        return text
    s = str(text).strip().upper().removesuffix("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    mult = 1
    if s and s[-1] in units:
        mult = units[s[-1]]
        s = s[:-1]
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"cannot read a memory size from {text!r}; use e.g. 512M or 8G") from None
    if value <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    return int(value * mult)


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines the content of a co-occurrence index."""

    tokenizer: str = _opt(
        "qwen (default), whitespace, tiktoken:<encoding or .tiktoken file>, "
        "hf:<tokenizer.json, folder or hub id>",
        default="qwen",
    )
    text_field: str = _opt("JSON/Parquet field holding the text", default="text")
    window: WindowConfig = field(default_factory=WindowConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuildConfig:
        d = dict(d)
        d["window"] = WindowConfig(**d.get("window", {}))
        return cls(**d)


@dataclass(frozen=True)
class RunOptions:
    """How a job runs; never changes the result (property-tested), so not part of the index."""

    num_proc: int = 0  # 0 = all cores
    memory_bytes: int = 0  # 0 = default_memory_bytes()
    batch_size: int = 1024  # documents per tokenizer batch
    tmp_dir: str | None = None
    quiet: bool = False
    strict: bool = False
    resume: bool = True  # go on from the checkpoint a killed run left with the same inputs
    engine: str = "local"  # local: this process; ray: tasks on a Ray cluster (in-process: tests)
    address: str | None = None  # Ray cluster address (None: start a local one)

    def resolved_num_proc(self) -> int:
        return self.num_proc if self.num_proc > 0 else (os.cpu_count() or 1)

    def resolved_memory(self) -> int:
        return self.memory_bytes if self.memory_bytes > 0 else default_memory_bytes()
