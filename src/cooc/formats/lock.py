"""One writer per target: an advisory lock held for the whole job.

Two jobs writing the same artefact would share its checkpoint folder and mix their counts
(one of them exiting 0 with the other corpus's counts). A job takes `TargetLock(target)`
before it touches anything beside the target; a second job on the same target is refused
with a message naming the first one's process. The lock is `fcntl.flock` on a small file
beside the target (`.<name>.lock`): the kernel drops it when the holder exits or is killed,
so a crashed job never leaves a stale lock behind. The holder removes the file when it is
done (a killed holder leaves it, harmless); a process that locked a file just removed by
its holder notices (another inode at the path) and tries again.
"""

from __future__ import annotations

import contextlib
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
    locks it again does not refuse itself; the lock goes when the last holder releases it."""

    _held: dict[str, list] = {}  # lock file -> [holders, fd or None], in this process

    def __init__(self, target: str | os.PathLike, what: str = "job"):
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.what = what
        self._key: str | None = None  # set while this instance holds the lock

    def acquire(self) -> TargetLock:

        if self._key is not None:
            return self
        key = str(self.path.absolute())
        if key in TargetLock._held:
            TargetLock._held[key][0] += 1
            self._key = key
            return self
        fd = self._lock_file()
        if fd is not None:
            os.ftruncate(fd, 0)
            os.write(fd, f"process {os.getpid()} ({self.what}, since "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
        TargetLock._held[key] = [1, fd]
        self._key = key
        return self

    def _lock_file(self) -> int | None:
        """An open descriptor of the lock file, flocked by this process (None where the
        file system has no flock)."""
        import fcntl

        for _ in range(100):
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
                raise TargetBusyError(f"{self.target} is being written by {holder}; wait for "
                                      "it to finish or stop it, or write to another path") from None
            except OSError:  # a file system without flock (some network mounts): no lock
                os.close(fd)
                return None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # its holder removed it as we opened it: lock the new one
        raise CoocError(f"cannot lock {self.path}: it keeps being replaced")

    def release(self) -> None:
        """Give up this instance's hold (idempotent); the lock itself goes with the last."""
        key, self._key = self._key, None
        if key is None:
            return
        entry = TargetLock._held[key]
        entry[0] -= 1
        if entry[0] == 0:
            del TargetLock._held[key]
            if entry[1] is not None:
                with contextlib.suppress(OSError):  # removed while held: see _lock_file
                    os.unlink(self.path)
                os.close(entry[1])

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


def writes_target(parameter: str, what: str):
    """Decorator of a job that writes an artefact: it holds the lock of its target (the
    argument named `parameter`) from its first step (checkpoints, temporary folders) to
    its last."""
    import functools
    import inspect

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def job(*args, **kwargs):
            target = signature.bind(*args, **kwargs).arguments[parameter]
            with TargetLock(target, what):
                return fn(*args, **kwargs)

        return job

    return decorate
