"""Cutting rows (or documents) into consecutive ranges by their entry counts.

`ptr` is a cumulative count: ptr[i] entries precede row i. Every layer that streams or
threads over rows (counting, merges, runs, the index writer and reader, token stores) cuts
its work with one of these two.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def bounded_ranges(ptr: np.ndarray, max_entries: int, start: int = 0,
                   stop: int | None = None) -> Iterator[tuple[int, int]]:
    """Consecutive ranges covering [start, stop) of at most `max_entries` entries each; a row
    longer than that comes alone."""
    stop = ptr.shape[0] - 1 if stop is None else stop
    lo = int(start)
    while lo < stop:
        hi = int(np.searchsorted(ptr, ptr[lo] + max_entries, side="right")) - 1
        hi = min(max(hi, lo + 1), int(stop))
        yield lo, hi
        lo = hi


def even_ranges(ptr: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Up to `parts` consecutive ranges covering all rows, of similar entry counts."""
    n = ptr.shape[0] - 1
    if parts <= 1 or n <= 1:
        return [(0, n)]
    cuts = np.searchsorted(ptr, np.linspace(0, ptr[-1], parts + 1)[1:-1], side="left")
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, n), [n]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
