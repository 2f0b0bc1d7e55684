"""The threads of the BLAS behind numpy (OpenBLAS), set for a block of code.

Why: OpenBLAS's threads wait for each other at every call; on a machine whose cores are busy
with other work they wait a long time. The PPMI-SVD's dense steps (Gram matrices and products
of a 43,726 x 120 block, 2 shared cores) took 16.4 s with OpenBLAS's 2 threads and 2.7 s with
one. A job that runs its own threads (row blocks, one BLAS call each) wants one BLAS thread
per call: `blas_threads(1)`.

How: the OpenBLAS libraries this process has loaded are found in /proc/self/maps and their
`*openblas_set_num_threads*` entry points called through ctypes (as threadpoolctl does; its
symbol names, plain and of scipy's builds). Elsewhere (another BLAS, another OS) nothing is
changed. The setting is the process's: every thread sees it until the block ends.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

_PREFIXES = ("openblas", "scipy_openblas")
_SUFFIXES = ("", "64_")
_found: list[tuple] | None = None


def _libraries() -> list[tuple]:
    """(get_num_threads, set_num_threads) of every OpenBLAS loaded now."""
    global _found
    if _found is not None:
        return _found
    out = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = sorted({line.split()[-1] for line in f
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        paths = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    out.append((get, put))
    _found = out
    return out


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with `n` BLAS threads (OpenBLAS; elsewhere a no-op), then put back the
    number there was."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS, so that it is found)

    libs = _libraries()
    before = [get() for get, _ in libs]
    for _, put in libs:
        put(int(n))
    try:
        yield
    finally:
        for (_, put), k in zip(libs, before, strict=True):
            put(k)
