"""How a job runs: memory budget, threads, temporary folder, progress. One `RunOptions` for
every job (co-occurrence builds, token stores, merges, n-gram counts, Kneser-Ney estimation);
never part of an artefact, since no option changes a result (property-tested).

Defaults, the same for every job (and every command: `cooc.cli.options.add_run_arguments`
makes the flags from this class):

- memory: a quarter of physical RAM, at least 256 MiB (`default_memory_bytes`);
- threads: all cores (`num_proc=0`);
- temporary files: beside the output, so they are on the same disk as the artefact they
  become (`resolved_tmp_dir`);
- progress: shown on stderr unless `quiet`.

No numpy here: the CLI builds its parser from this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENGINES = ("local", "ray", "in-process")


def default_memory_bytes() -> int:
    """A quarter of physical RAM (at least 256 MiB): leaves room for the OS page cache, the
    tokenizer and whatever else runs beside the job, and is what every job gets unless told."""
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
        raise ValueError(f"memory size must be positive, got {text!r}; use e.g. 512M or 8G")
    return int(value * mult)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class RunOptions:
    """How a job runs; never changes the result (property-tested), so not part of any artefact.

    Fields (0 / None: the default, resolved when the job starts):

    num_proc : worker threads; 0 = all cores (`resolved_num_proc`). With `engine="ray"`,
        threads per task (0: 1), since the cluster gives the parallelism.
    memory_bytes : peak memory budget of the whole process; 0 = a quarter of RAM
        (`resolved_memory`). With `engine="ray"`, the budget of each task.
    batch_size : documents per tokenizer batch (text corpora).
    batch_tokens : tokens per n-gram counting batch; 0 = from the memory budget.
    tmp_dir : folder for spilled runs and checkpoints; None = beside the output
        (`resolved_tmp_dir`), on the same disk as the artefact.
    quiet : no progress output.
    strict : fail (after writing) when any corpus record was skipped.
    resume : go on from the checkpoint a killed run left with the same inputs.
    engine : local (this process), ray (tasks on a Ray cluster) or in-process (the task
        engine in this process: tests).
    address : the Ray cluster to join (None: start a local one).
    """

    num_proc: int = 0
    memory_bytes: int = 0
    batch_size: int = 1024
    batch_tokens: int = 0
    tmp_dir: str | None = None
    quiet: bool = False
    strict: bool = False
    resume: bool = True
    engine: str = "local"
    address: str | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.num_proc) or self.num_proc < 0:
            raise ValueError(f"num_proc must be an int >= 0 (0: all cores), got {self.num_proc!r}")
        if not _is_int(self.memory_bytes) or self.memory_bytes < 0:
            raise ValueError(f"memory_bytes must be an int >= 0 (0: a quarter of RAM; "
                             f"parse_bytes('8G') for 8 GiB), got {self.memory_bytes!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1 (documents per tokenizer batch), "
                             f"got {self.batch_size!r}")
        if not _is_int(self.batch_tokens) or self.batch_tokens < 0:
            raise ValueError(f"batch_tokens must be an int >= 0 (0: from the memory budget), "
                             f"got {self.batch_tokens!r}")
        if self.tmp_dir is not None:
            if not isinstance(self.tmp_dir, (str, os.PathLike)) or not str(self.tmp_dir):
                raise ValueError(f"tmp_dir must be a folder path or None (beside the output), "
                                 f"got {self.tmp_dir!r}")
            object.__setattr__(self, "tmp_dir", os.fspath(self.tmp_dir))
        for name in ("quiet", "strict", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose local or ray")
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise ValueError(f"address must be a Ray cluster address such as 'auto' or "
                             f"'ray://head:10001', or None (a local cluster), got {self.address!r}")

    def resolved_num_proc(self) -> int:
        """Threads to use: `num_proc`, or all cores (the work is CPU-bound and the result does
        not depend on the thread count). At most the cores this process may use: each
        thread holds vocabulary-sized buffers, so 1,000 threads on 2 cores only broke the
        memory budget (1.0 GB at 400M) without counting faster."""
        cores = _usable_cores()
        if self.num_proc <= 0:
            return cores
        if self.num_proc > cores:
            _warn_once(f"num_proc {self.num_proc} is more than the {cores} cores this process "
                       f"may use; using {cores}")
            return cores
        return self.num_proc

    def resolved_memory(self) -> int:
        """The budget in bytes: `memory_bytes`, or `default_memory_bytes()`."""
        return self.memory_bytes if self.memory_bytes > 0 else default_memory_bytes()

    def resolved_tmp_dir(self, out: str | os.PathLike | None = None) -> Path | None:
        """Where temporary files go: `tmp_dir`, or the folder of `out` (temporary files are
        spills of the artefact being made: on its disk they need no space elsewhere and a
        rename, not a copy, installs it). None when neither is known (the system's temp
        folder; jobs that write no file)."""
        if self.tmp_dir:
            return Path(self.tmp_dir)
        if out is None:
            return None
        return Path(out).parent


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        import logging

        logging.getLogger("cooc").warning(message)
