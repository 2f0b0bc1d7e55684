"""The one life of every artefact cooc writes: a temporary copy beside the target, checksums,
fsync, then a swap that never leaves the target empty.

Why one: each format used to do it its own way, with different guarantees. The index writer
renamed the old index away and then the new one in (between the two, the target held
nothing); the n-gram, LM-trie and token-store writers deleted the old folder first (a kill
at that moment left neither the old artefact nor the new one). Here it is written once:

Folder artefacts (co-occurrence index `X.cooc/`, token store `X.tokens/`, n-gram index
`X.ngrams/`, LM trie `X.lm/`), through `FolderArtefact` (or `install_folder` for a writer
that keeps its own temporary folder, as the resumable token store does):

1. the files are written into `<target>.tmp-<pid>` beside the target (same file system, so
   renames are atomic), each one checksummed (sha256) as it is written where the writer
   can (`HashedFile`), otherwise once when it is done;
2. every file and folder is fsynced, then the manifest is written last and fsynced: a
   folder with a manifest is whole (phase "checksummed");
3. the swap: with no target, `os.rename`; with one, Linux `renameat2(RENAME_EXCHANGE)`
   exchanges the two folders in one step, so at every instant the target path holds either
   the complete old artefact or the complete new one; the parent folder is fsynced and the
   old copy (now at the temporary name) deleted. Where the exchange is unsupported (another
   OS, a file system without it), the target is renamed to `<target>.old-<pid>`, the new
   folder renamed in and the old one deleted; a kill between the two renames leaves the
   old artefact at `.old-<pid>`, which the next writer of that target (and a reader that
   finds the target missing: `restore_interrupted`) puts back.

Leftovers of killed writers (`<target>.tmp-<pid>`, `<target>.old-<pid>` of pids no longer
running) are removed when the next writer of that target starts (`remove_stale`).

File artefacts (ARPA files, exports, Google n-gram files), through `atomic_file` or
`replace_file`: a temporary file `<target>.tmp-<pid>` beside the target, fsynced, then
`os.replace` (atomic for files) and an fsync of the parent folder.

Every step is announced to a phase hook (`set_phase_hook`), for fault-injection tests: a
test kills the writer at each phase and checks that the target still opens as the old or
the new artefact, never neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cooc.errors import CoocError
from cooc.formats.lock import TargetLock
from cooc.formats.manifest import HashedFile, file_entry, file_sha256, write_manifest
from cooc.runtime.scratch import pid_alive

MANIFEST = "manifest.json"
PHASES = ("writing", "checksummed", "swapping", "swapped")
RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_SYS_RENAMEAT2 = {"x86_64": 316, "amd64": 316, "aarch64": 276, "arm64": 276}
_LEFTOVER = re.compile(r"\.(tmp|old)-(\d+)$")

_phase_hook: Callable[[str, Path], Any] | None = None


# -- phases -----------------------------------------------------------------------------------


def set_phase_hook(fn: Callable[[str, Path], Any] | None) -> Callable[[str, Path], Any] | None:
    """For fault-injection tests only: call `fn(phase, target)` at every phase of every
    artefact this process writes; returns the hook it replaces (None: none; pass None to
    remove it). Phases, in order (`PHASES`):

    - "writing": the first data file of the artefact is written (the temporary copy is
      partial);
    - "checksummed": every file and the manifest are written and fsynced, before the swap;
    - "swapping": just before the exchange or rename that puts the new artefact in place;
    - "swapped": the new artefact is in place, the old copy not yet removed.

    A hook that kills the process (`os.kill(os.getpid(), signal.SIGKILL)`) at a phase shows
    what a crash there leaves behind; one that raises shows the writer's clean-up."""
    global _phase_hook
    previous, _phase_hook = _phase_hook, fn
    return previous


def enter_phase(phase: str, target: str | os.PathLike) -> None:
    """Announce that the writer of `target` reached `phase` (one of `PHASES`) to the hook."""
    if phase not in PHASES:
        raise ValueError(f"unknown artefact phase {phase!r}; phases: {', '.join(PHASES)}")
    if _phase_hook is not None:
        _phase_hook(phase, Path(target))


# -- names and leftovers ----------------------------------------------------------------------


def tmp_path(target: str | os.PathLike, pid: int | None = None) -> Path:
    """`<target>.tmp-<pid>`: where this process (or `pid`) writes the new copy of `target`."""
    target = Path(target)
    return target.with_name(f"{target.name}.tmp-{os.getpid() if pid is None else pid}")


def old_path(target: str | os.PathLike, pid: int | None = None) -> Path:
    """`<target>.old-<pid>`: where the swap without exchange parks the old copy of `target`."""
    target = Path(target)
    return target.with_name(f"{target.name}.old-{os.getpid() if pid is None else pid}")


def leftovers(target: str | os.PathLike) -> list[tuple[str, int, Path]]:
    """("tmp" or "old", pid, path) of every `<target>.tmp-<pid>` and `<target>.old-<pid>`
    beside `target`, of running writers or not."""
    target = Path(target)
    out = []
    try:
        names = os.listdir(target.parent if str(target.parent) else ".")
    except OSError:
        return out
    for name in names:
        if not name.startswith(target.name + "."):
            continue
        m = _LEFTOVER.fullmatch(name[len(target.name):])
        if m:
            out.append((m.group(1), int(m.group(2)), target.with_name(name)))
    return sorted(out, key=lambda x: (x[0], x[1]))


def restore_interrupted(target: str | os.PathLike) -> bool:
    """If `target` is missing and a writer that is no longer running left the old copy at
    `<target>.old-<pid>` (killed between the two renames of a swap without exchange), rename
    it back; returns whether it did. Cheap: a directory listing, only when `target` is
    missing."""
    target = Path(target)
    if os.path.lexists(target):
        return False
    olds = [(p.stat().st_mtime, p) for kind, pid, p in leftovers(target)
            if kind == "old" and not pid_alive(pid) and os.path.lexists(p)]
    if not olds:
        return False
    try:
        os.rename(max(olds)[1], target)
    except OSError:
        return False
    fsync_dir(target.parent)
    return True


def remove_stale(target: str | os.PathLike) -> None:
    """Before writing `target`: put back an old copy a killed swap left (`restore_interrupted`),
    then delete the temporary and old copies of writers that are no longer running."""
    target = Path(target)
    restore_interrupted(target)
    for _, pid, p in leftovers(target):
        if not pid_alive(pid):
            remove_path(p)


def remove_path(path: str | os.PathLike) -> None:
    """Delete a file or a folder tree, if there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# -- durability -------------------------------------------------------------------------------


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a written file's data to disk (it may have been written through any handle)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (names created, renamed or removed in it) to disk."""
    try:
        fd = os.open(path if str(path) else ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. a platform that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: str | os.PathLike) -> None:
    """fsync every file and folder under `folder`, and `folder` itself."""
    for root, dirs, files in os.walk(folder):
        for f in files:
            fsync_file(os.path.join(root, f))
        for d in dirs:
            fsync_dir(os.path.join(root, d))
    fsync_dir(folder)


# -- the swap ---------------------------------------------------------------------------------


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def renameat2(src: str | os.PathLike, dst: str | os.PathLike, flags: int = 0, *,
              syscall_only: bool = False) -> None:
    """Linux renameat2(2) through ctypes: glibc's wrapper (glibc >= 2.28), else the raw
    system call (number 316 on x86_64, 276 on aarch64), or only the latter with
    `syscall_only`. Raises OSError with the call's errno (ENOSYS where neither exists)."""
    libc = _libc() if sys.platform.startswith("linux") else None
    a, b = os.fsencode(src), os.fsencode(dst)
    fn = None if libc is None or syscall_only else getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int
        r = fn(_AT_FDCWD, a, _AT_FDCWD, b, flags)
    else:
        nr = _SYS_RENAMEAT2.get(platform.machine().lower())
        if libc is None or nr is None:
            raise OSError(errno.ENOSYS, "renameat2 is not available here", str(src))
        sc = libc.syscall
        sc.restype = ctypes.c_long
        r = sc(ctypes.c_long(nr), ctypes.c_int(_AT_FDCWD), ctypes.c_char_p(a),
               ctypes.c_int(_AT_FDCWD), ctypes.c_char_p(b), ctypes.c_uint(flags))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(src), None, str(dst))


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap the paths `a` and `b` (both must exist) in one atomic step; False where the
    system or file system cannot (then nothing was changed)."""
    try:
        renameat2(a, b, RENAME_EXCHANGE)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            return False
        raise
    return True


_INSTALLED: list[Path] = []


def installed() -> list[Path]:
    """The targets this process has put in place so far (an interrupted command says which
    of its outputs are new)."""
    return list(_INSTALLED)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (the swap and the removal of the old
    copy): an interrupt lands before the swap (nothing changed) or after it (the new one is
    in place), never between the swap and the clean-up. The Python handlers are swapped for
    ones that only take note (blocking the signals would not do: any thread may receive
    them); outside the main thread nothing is deferred. SIGKILL cannot wait: the swap itself
    is one step, and the next writer removes the old copy."""
    import signal

    received: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))
                    for s in wanted}
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if received:  # delivered again, now, to the handler it was meant for
                signal.raise_signal(received[0])


def swap_into_place(new: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the finished folder `new` (beside `target`) in place of `target` so that `target`
    always holds the whole old or the whole new artefact (see the module docstring), then
    delete the old copy; returns `target`."""
    with signals_deferred():  # a deferred interrupt lands as the block ends: record first
        _swap(Path(new), Path(target))
        _INSTALLED.append(Path(target))
    return Path(target)


def _swap(new: Path, target: Path) -> Path:
    enter_phase("swapping", target)
    if not os.path.lexists(target):
        os.rename(new, target)
        fsync_dir(target.parent)
        enter_phase("swapped", target)
        return target
    if exchange(new, target):
        fsync_dir(target.parent)
        enter_phase("swapped", target)
        remove_path(new)  # the old artefact, now at the temporary name
        return target
    old = old_path(target)
    remove_path(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # put the old artefact back
        raise
    fsync_dir(target.parent)
    enter_phase("swapped", target)
    remove_path(old)
    return target


# -- folder artefacts -------------------------------------------------------------------------


def is_artefact(path: str | os.PathLike, magic: str, manifest: str = MANIFEST) -> bool:
    """Whether `path` is a folder whose manifest has `magic` (of any version)."""
    import json

    try:
        with open(Path(path) / manifest, encoding="utf-8") as f:
            return json.load(f).get("magic") == magic
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def check_replaceable(path: str | os.PathLike, magic: str, what: str) -> None:
    """Refuse (CoocError) to replace `path` unless it is missing, an empty folder, or an
    artefact of the same kind (`magic`, any version): a writer never deletes anything else
    (`what` names the kind, e.g. "cooc index")."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink() and (not any(path.iterdir())
                                                    or is_artefact(path, magic)):
        return
    raise CoocError(f"refusing to replace {path}: it exists and is not a {what}; "
                    "remove it or choose another output path")


def install_folder(folder: str | os.PathLike, target: str | os.PathLike,
                   manifest: dict[str, Any], what: str) -> Path:
    """Finish the folder artefact written in `folder`: fsync every file and folder in it,
    write `manifest` last (fsynced), then swap it into place at `target`
    (`swap_into_place`); returns `target`. The manifest must have the shape of every
    folder format (`cooc.formats.manifest`); `what` names the kind for the refusal when
    `target` became something else meanwhile."""
    folder, target = Path(folder), Path(target)
    missing = [k for k in ("magic", "format_version", "created_by", "files") if k not in manifest]
    if missing:
        raise RuntimeError(f"internal error: the manifest of {target} lacks {missing}")
    fsync_tree(folder)
    write_manifest(folder, manifest)
    fsync_dir(folder)
    enter_phase("checksummed", target)
    check_replaceable(target, manifest["magic"], what)
    return swap_into_place(folder, target)


class FolderArtefact:
    """A folder artefact being written: `tmp` (`<target>.tmp-<pid>`) to write the files
    into, their manifest entries, and `finish(manifest)` to install it (`install_folder`).

    Starting removes the leftovers of killed writers of `target` (`remove_stale`) and
    refuses a target that is not a `what` (`magic`): before the work, not after it. Use as a
    context manager: leaving without `finish` (or by an exception) deletes the temporary
    folder and leaves the target as it was.
    """

    def __init__(self, target: str | os.PathLike, magic: str, what: str):
        self.target = Path(target)
        self.magic = magic
        self.what = what
        self.lock = TargetLock(self.target, what).acquire()  # a job may hold it already
        try:
            remove_stale(self.target)
            check_replaceable(self.target, magic, what)
        except BaseException:
            self.lock.release()
            raise
        self.tmp = tmp_path(self.target)
        remove_path(self.tmp)
        self.tmp.mkdir(parents=True)
        self.files: list[dict[str, Any]] = []
        self.state = "open"

    def __enter__(self) -> FolderArtefact:
        return self

    def __exit__(self, *exc) -> None:
        if self.state == "open":
            self.abort()

    def add(self, name: str, file: str, dtype: str | None, shape: list[int] | None,
            nbytes: int, sha256: str) -> dict[str, Any]:
        """Record a written file (path relative to the folder) with its checksum; returns its
        manifest entry. The first one announces the phase "writing"."""
        entry = file_entry(name, file, dtype, shape, nbytes, sha256)
        self.files.append(entry)
        if len(self.files) == 1:
            enter_phase("writing", self.target)
        return entry

    def add_hashed(self, name: str, f: HashedFile, file: str,
                   shape: list[int] | None) -> dict[str, Any]:
        """Record a file written (and hashed) through `f`, closing it."""
        f.close()
        return self.add(name, file, f.dtype, shape, f.nbytes, f.h.hexdigest())

    def add_file(self, name: str, file: str, dtype: str | None = None,
                 shape: list[int] | None = None, sha256: str | None = None) -> dict[str, Any]:
        """Record a file written by other means (a memory map, `tofile`); hashed here unless
        its `sha256` is known."""
        path = self.tmp / file
        return self.add(name, file, dtype, shape, path.stat().st_size,
                        sha256 if sha256 is not None else file_sha256(path))

    def write_bytes(self, name: str, file: str, data: bytes) -> dict[str, Any]:
        """Write a small non-array file (e.g. vocab.json) and record it."""
        import hashlib

        (self.tmp / file).write_bytes(data)
        return self.add(name, file, None, None, len(data), hashlib.sha256(data).hexdigest())

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Install the artefact (`install_folder`): its manifest must hold `files` (this
        object's `files`, in the writer's order)."""
        if self.state != "open":
            raise RuntimeError(f"the artefact {self.target} was already {self.state}")
        try:
            install_folder(self.tmp, self.target, manifest, self.what)
        except BaseException:
            self.abort()
            raise
        self.state = "finished"
        self.lock.release()
        return self.target

    def abort(self) -> None:
        """Drop the temporary folder; the target is untouched."""
        if self.state == "finished":
            return
        self.state = "aborted"
        remove_path(self.tmp)
        self.lock.release()


# -- file artefacts ---------------------------------------------------------------------------


def replace_file(tmp: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the finished file `tmp` (closed, beside `target`) in place: fsync it, `os.replace`
    (atomic), fsync the parent folder; announces "checksummed", "swapping" and "swapped"."""
    tmp, target = Path(tmp), Path(target)
    fsync_file(tmp)
    enter_phase("checksummed", target)
    with signals_deferred():
        enter_phase("swapping", target)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        enter_phase("swapped", target)
        _INSTALLED.append(target)
    return target


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Write a file artefact: yields the temporary path `<target>.tmp-<pid>` to write (and
    close) inside the block; on leaving it normally the file goes into place
    (`replace_file`), on an exception it is deleted and `target` is untouched. Leftover
    temporary files of killed writers of `target` are removed first."""
    target = Path(target)
    if target.is_dir():
        raise CoocError(f"{target} is a folder; give the name of the file to write")
    with TargetLock(target, "writing a file"):
        remove_stale(target)
        tmp = tmp_path(target)
        remove_path(tmp)
        try:
            yield tmp
            enter_phase("writing", target)
            replace_file(tmp, target)
        finally:
            remove_path(tmp)
