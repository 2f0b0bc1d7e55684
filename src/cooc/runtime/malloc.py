"""Keeping glibc's allocator from holding on to freed memory (best effort, Linux only).

glibc raises its mmap threshold after large blocks are freed (up to 32 MB), so later numpy
buffers come from heap arenas, one per thread, that are rarely returned to the system: a
256 MB-budget build grew ~200 MB of freed-but-kept memory this way. A fixed threshold keeps
large buffers on mmap (returned at free), fewer arenas bound the rest, and `trim` hands back
what is left after a spill.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018  (glibc only)
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


def bound_allocator() -> bool:
    """Fix the mmap threshold at 1 MB and limit arenas; True if it took effect."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20) == 1
    libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)
    libc.mallopt(_M_ARENA_MAX, 2)
    return ok


def trim() -> None:
    """Return free heap memory to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
