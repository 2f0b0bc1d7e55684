"""Progress reporting: a bar on a terminal, periodic log lines otherwise, nothing when quiet."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("cooc")


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes() -> int:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (ImportError, OSError):
        return 0


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class Progress:
    """Counts tokens through a stage; shows tokens/s, ETA (when the total is known) and memory."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "tok", quiet: bool = False,
                 interval: float = 10.0):
        self.desc = desc
        self.total = total
        self.quiet = quiet
        self.interval = interval
        self.done = 0
        self.extra: dict[str, str] = {}
        self._start = time.monotonic()
        self._last_log = self._start
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True,
                             leave=False)

    def update(self, n: int, **extra: str) -> None:
        self.done += n
        self.extra.update(extra)
        if self.quiet:
            return
        mem = fmt_bytes(rss_bytes())
        if self._bar is not None:
            self._bar.update(n)
            self._bar.set_postfix(mem=mem, **self.extra, refresh=False)
            return
        now = time.monotonic()
        if now - self._last_log >= self.interval:
            self._last_log = now
            rate = self.done / max(now - self._start, 1e-9)
            eta = ""
            if self.total:
                eta = f", ETA {max(self.total - self.done, 0) / max(rate, 1e-9):.0f} s"
            more = "".join(f", {k} {v}" for k, v in self.extra.items())
            log.info("%s: %s tokens, %.0f tok/s%s, mem %s%s", self.desc, f"{self.done:,}", rate, eta,
                     mem, more)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
