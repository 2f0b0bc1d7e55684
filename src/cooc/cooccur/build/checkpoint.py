"""Build checkpoints: what a killed build keeps so that the same command resumes it.

The build folder (`.<index name>.build/` beside the index, or under --tmp-dir) holds the
spilled runs and, from the first spill on, `checkpoint.json`: the fingerprint of the inputs
and settings, how many documents are counted, the runs holding those counts (each checked
against its own checksums on resume), the per-token statistics and the unfinished window that
concat packing carries. A checkpoint is taken after a spill, at a batch boundary, with the
pending sum spilled too, so runs + checkpoint hold exactly the first `documents` documents.
The index does not depend on where the counts were cut, so a resumed build writes the same
bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cooc.cooccur.build.count import BatchStats
from cooc.cooccur.build.runs import RunFile, RunFormatError, open_run
from cooc.formats.manifest import file_sha256
from cooc.runtime.fingerprint import input_fingerprint as input_fingerprint
from cooc.runtime.progress import log

CHECKPOINT = "checkpoint.json"
_VERSION = 1


@dataclass
class Checkpoint:
    documents: int
    runs: list[RunFile]
    stats: BatchStats
    carry: np.ndarray  # uint32 tokens of concat packing's unfinished window


def _save_array(folder: Path, name: str, a: np.ndarray) -> str:
    tmp = folder / f"{name}.npy.tmp"
    with open(tmp, "wb") as f:
        np.save(f, a)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / f"{name}.npy")
    return file_sha256(folder / f"{name}.npy")


def save(folder: Path, fingerprint: dict, ck: Checkpoint) -> None:
    state = {
        "fingerprint": fingerprint,
        "documents": ck.documents,
        "num_tokens": ck.stats.num_tokens,
        "num_windows": ck.stats.num_windows,
        "runs": [r.path.name for r in ck.runs],
        "sha256": {name: _save_array(folder, name, a) for name, a in
                   (("occurrences", ck.stats.occurrences), ("windows", ck.stats.windows),
                    ("carry", ck.carry))},
    }
    tmp = folder / (CHECKPOINT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / CHECKPOINT)


def load(folder: Path, fingerprint: dict) -> Checkpoint | None:
    """The checkpoint in `folder` if it belongs to this build and is intact, else None."""
    path = folder / CHECKPOINT
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if state.get("fingerprint") != fingerprint:
            log.warning("not resuming the build in %s: it was started with other inputs or "
                        "settings", folder)
            return None
        arrays = {}
        for name, sha in state["sha256"].items():
            if file_sha256(folder / f"{name}.npy") != sha:
                raise RunFormatError(f"{name}.npy does not match its checksum")
            arrays[name] = np.load(folder / f"{name}.npy")
        runs = [open_run(folder / name) for name in state["runs"]]
        for r in runs:
            r.verify()
    except (OSError, ValueError, KeyError, RunFormatError) as e:
        log.warning("not resuming the build in %s: %s", folder, e)
        return None
    stats = BatchStats(arrays["occurrences"], arrays["windows"], int(state["num_tokens"]),
                       int(state["num_windows"]))
    log.info("resuming the build in %s: %d documents already counted, %d runs",
             folder, state["documents"], len(runs))
    return Checkpoint(int(state["documents"]), runs, stats, arrays["carry"].astype(np.uint32))
