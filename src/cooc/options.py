"""How a job runs: memory budget, threads, temporary folder, progress. One `RunOptions` for
every job (co-occurrence builds, token stores, n-gram counts, estimation); never part of an
artefact, since no option changes a result (property-tested)."""

from __future__ import annotations

import os
from dataclasses import dataclass


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

