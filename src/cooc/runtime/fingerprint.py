"""What must not change for a killed job to be resumed: its settings and every input's path,
size and modification time."""

from __future__ import annotations

from pathlib import Path

FINGERPRINT_VERSION = 1


def input_fingerprint(files: list[Path], config: dict, extra: dict | None = None) -> dict:
    """What must not change for a build to be resumed: settings and every input's
    path, size and modification time."""
    def stat(f: Path) -> list:
        try:
            st = f.stat()
        except OSError:  # unreadable: skipped and reported by the reader
            return [str(f), None, None]
        return [str(f), st.st_size, st.st_mtime_ns]

    return {"version": FINGERPRINT_VERSION, "config": config, "files": [stat(Path(f)) for f in files],
            **(extra or {})}

