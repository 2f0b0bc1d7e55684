"""One writer per target: an advisory lock held for the whole job.

Two jobs writing the same artefact would share its checkpoint folder and mix their counts
(one of them exiting 0 with the other corpus's counts). A job takes `TargetLock(target)`
before it touches anything beside the target; a second job on the same target is refused
with a message naming the first one's process. The lock is `fcntl.flock` on a small file
beside the target (`.<name>.lock`): the kernel drops it when the holder exits or is killed,
so a crashed job never leaves a stale lock behind, and the file itself is harmless.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cooc.errors import CoocError


class TargetBusyError(CoocError):
    """Another live process is writing the same target."""


def lock_path(target: str | os.PathLike) -> Path:
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


class TargetLock:
    """Exclusive, non-blocking lock on `target` for this process (a context manager).

    Re-entrant within one process: a job that locks its target and then calls a writer that
    locks it again does not refuse itself."""

    _held: dict[str, int] = {}  # lock file -> depth, in this process

    def __init__(self, target: str | os.PathLike, what: str = "job"):
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> TargetLock:
        import fcntl

        key = str(self.path.resolve())
        if TargetLock._held.get(key):
            TargetLock._held[key] += 1
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise CoocError(f"cannot write beside {self.target}: {e.strerror} "
                            f"({self.path}); choose another output path") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise TargetBusyError(f"{self.target} is being written by {holder}; wait for it to "
                                  "finish or stop it, or write to another path") from None
        except OSError:  # a file system without flock (some network mounts): no lock
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} ({self.what}, since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
        self._fd = fd
        TargetLock._held[key] = 1
        return self

    def release(self) -> None:
        key = str(self.path.resolve())
        depth = TargetLock._held.get(key, 0)
        if depth > 1:
            TargetLock._held[key] = depth - 1
            return
        TargetLock._held.pop(key, None)
        if self._fd is not None:
            # the file stays: removing it would let a third process lock a new inode while a
            # second one still waits on the old one
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TargetLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"
