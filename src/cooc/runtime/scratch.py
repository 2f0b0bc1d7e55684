"""Scratch folders of a running job (spilled runs, spooled tokens, estimation scratch):
named after the process, so that the next job in the same folder removes those of processes
that died (a killed job cannot clean up after itself)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"cooc-([a-z]+)-(\d+)-[^/]+")


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (our own pid counts as running)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True



def scratch_dir(parent: str | os.PathLike | None, kind: str) -> Path:
    """A new folder `cooc-<kind>-<pid>-<random>` in `parent` (None: the system's temp
    folder), after removing the scratch folders that dead processes left there."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lowercase letters, got {kind!r}")
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    remove_dead_scratch(parent)
    return Path(tempfile.mkdtemp(prefix=f"cooc-{kind}-{os.getpid()}-", dir=parent))


def remove_dead_scratch(parent: str | os.PathLike) -> list[Path]:
    """Remove the scratch folders in `parent` whose process is gone; returns them."""
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        m = _NAME.fullmatch(name)
        path = Path(parent) / name
        if m and not pid_alive(int(m.group(2))) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
