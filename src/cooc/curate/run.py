"""`run_steps`: curation steps composed over a corpus, kept and removed documents written.

Steps run in order on every batch: a document one step removes is not given to the next,
and a text a step cut is what the next one sees. A global step (`needs_fit`) first gets
`fit` over the batches as they leave the steps before it (fresh copies of them, so their
own first pass is unchanged), then the one decide pass writes everything. Memory: half of
`RunOptions.memory_bytes` is shared evenly among the steps (`setup`), the rest is for
batches and writers.

Resume: the work goes into `<out>.work/` (outputs in out/, step spills in scratch/). Every
`checkpoint_every` batches the outputs are flushed and fsynced and checkpoint.json records
their lengths. A run of the same command (same inputs, steps, batch size) after a kill
truncates the outputs there and reads the corpus again from the start: the batches already
written are decided again, not written, so every step rebuilds its state exactly as it
was (decisions depend only on the documents before, in order), and the output is byte for
byte that of an uninterrupted run. At the end the output folder is installed at `out` in
one atomic swap (`cooc.formats.artefact.install_folder`).

Threads: with `num_proc` >= 2 the corpus is read and parsed on a second thread while the
steps decide (`cooc.runtime.prefetch`), and JSON-lines outputs are compressed, hashed and
written on a third (`Outputs(background=True)`); decisions themselves are sequential (first
seen in corpus order) and writes keep their order, so the output is the same bytes for any
thread count.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.discover import discover_files
from cooc.corpus.report import SkipReport
from cooc.curate.output import Outputs
from cooc.curate.records import CorpusFiles, read_batches
from cooc.curate.step import DocumentBatch
from cooc.errors import CoocError
from cooc.formats.artefact import check_replaceable, install_folder, remove_path
from cooc.formats.lock import writes_target
from cooc.formats.manifest import cooc_version, file_entry, file_sha256
from cooc.options import RunOptions
from cooc.runtime.prefetch import prefetch
from cooc.runtime.progress import Progress

MAGIC = "COOC-CURATED"
FORMAT_VERSION = 1
CHECKPOINT = "checkpoint.json"


@dataclass
class BatchResult:
    """What the steps decided for one batch (per document)."""

    kept: np.ndarray  # bool
    step: np.ndarray  # int16: index of the removing step, -1 kept
    reason: np.ndarray  # uint8: that step's reason code
    duplicate_of: np.ndarray
    cluster: np.ndarray
    texts: list[str]
    spans: list[dict[str, list] | None]
    # float64 [n, scoring steps]: each scoring step's score (NaN: not scored), or None
    scores: np.ndarray | None = None


def subset(batch: DocumentBatch, idx: np.ndarray) -> DocumentBatch:
    """The documents `idx` of a batch, with their `extra` (arrays and lists) alongside."""
    extra = {}
    for k, v in batch.extra.items():
        extra[k] = v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx]
    return DocumentBatch([batch.texts[i] for i in idx], batch.ordinals[idx], extra)


def apply_steps(steps: Sequence[Any], batch: DocumentBatch) -> BatchResult:
    """Run the steps in order on one batch (see the module)."""
    n = len(batch)
    r = BatchResult(np.ones(n, bool), np.full(n, -1, np.int16), np.zeros(n, np.uint8),
                    np.full(n, -1, np.int64), np.full(n, -1, np.int64), list(batch.texts),
                    [None] * n)
    alive = np.arange(n)
    scoring = [si for si, s in enumerate(steps) if getattr(s, "writes_scores", False)]
    if scoring:
        r.scores = np.full((n, len(scoring)), np.nan)
    for si, step in enumerate(steps):
        if alive.size == 0:
            break
        sub = batch if alive.size == n and si == 0 else subset(batch, alive)
        if si > 0:
            sub.texts = [r.texts[i] for i in alive]
        d = step.decide(sub)
        if len(d.keep) != alive.size:
            raise RuntimeError(f"step {step.name} decided {len(d.keep)} documents of {alive.size}")
        for j, text in (d.texts or {}).items():
            i = alive[j]
            r.texts[i] = text
            if r.spans[i] is None:
                r.spans[i] = {}
            r.spans[i][step.name] = (d.removed_spans or {}).get(j, [])
        if si in scoring:
            score = np.asarray(d.score, np.float64)
            r.scores[alive, scoring.index(si)] = np.where(np.isfinite(score), score, np.nan)
        gone = ~np.asarray(d.keep, bool)
        if gone.any():
            idx = alive[gone]
            r.kept[idx] = False
            r.step[idx] = si
            r.reason[idx] = d.reason[gone]
            r.duplicate_of[idx] = d.duplicate_of[gone]
            r.cluster[idx] = d.cluster[gone]
            alive = alive[~gone]
    return r


def file_stats(files: CorpusFiles) -> list[list]:
    """[path, size, mtime] of every input: a resumed run must read the same files."""
    stats = []
    for p in files.paths:
        st = os.stat(p)
        stats.append([str(p), st.st_size, st.st_mtime_ns])
    return stats


def _fingerprint(files: CorpusFiles, steps, batch_size: int, every: int, text_field: str) -> dict:
    return {"files": file_stats(files), "steps": [[s.name, jsonable(s.report())] for s in steps],
            "batch_size": batch_size, "checkpoint_every": every, "text_field": text_field}


def jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@writes_target("out_dir", "curation run")
def run_steps(source: Any, steps: Sequence[Any], out_dir: str | os.PathLike,
              options: RunOptions | None = None, *, text_field: str = "text",
              checkpoint_every: int = 16) -> dict[str, Any]:
    """Curate the corpus `source` (files, folders, globs: `cooc.corpus.discover_files`) with
    `steps` into `out_dir` (layout in `cooc.curate.output`); returns the report (also
    written as report.json). kept + removed + skipped = records read, always."""
    options = options or RunOptions()
    steps = list(steps)
    if not steps:
        raise ValueError("give at least one step")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"two steps share a name: {names}; each step runs once")
    t0 = time.monotonic()
    out_dir = Path(out_dir)
    check_replaceable(out_dir, MAGIC, "cooc curation output")
    files = CorpusFiles.of(discover_files(source))
    work = out_dir.with_name(out_dir.name + ".work")
    edits = any(getattr(s, "edits_text", False) for s in steps)
    score_names = [s.name for s in steps if getattr(s, "writes_scores", False)]
    fp = _fingerprint(files, steps, options.batch_size, checkpoint_every, text_field)
    fp["edits_text"] = edits
    fp["scores"] = score_names
    share = max(options.resolved_memory() // (2 * len(steps)), 1 << 20)
    for i, s in enumerate(steps):  # before anything is written: a step may refuse its share
        if hasattr(s, "setup"):
            s.setup(share, work / "scratch" / f"{i}")
    ckpt = None
    if options.resume and (work / CHECKPOINT).is_file():
        try:
            ckpt = json.loads((work / CHECKPOINT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            ckpt = None
        if ckpt is not None and ckpt.get("fingerprint") != jsonable(fp):
            ckpt = None
    if ckpt is None:
        remove_path(work)
    work.mkdir(parents=True, exist_ok=True)
    done = ckpt["batches"] if ckpt else 0

    def batches(report: SkipReport) -> Iterator[DocumentBatch]:
        return read_batches(files, report, options.batch_size, text_field)

    for g, step in enumerate(steps):
        if step.needs_fit:
            before = copy.deepcopy(steps[:g])

            def survivors(before=before) -> Iterator[DocumentBatch]:
                for b in batches(SkipReport(log=False)):  # the write pass reports skips
                    r = apply_steps(before, b) if before else None
                    yield b if r is None else subset(b, np.flatnonzero(r.kept))

            step.fit(survivors())
    threads = options.resolved_num_proc() >= 2
    outputs = Outputs(files, work / "out", work / "parts", text_field, edits,
                      ckpt["outputs"] if ckpt else None, background=threads,
                      score_names=score_names)
    report = SkipReport()
    removed = [dict.fromkeys(s.reasons[1:], 0) for s in steps]
    labels = [(s.name, tuple(s.reasons)) for s in steps]
    kept_n = edited_n = 0
    progress = Progress("curate", unit="doc", quiet=options.quiet)
    source_batches = batches(report)
    if threads:  # read and parse on a thread, one batch or two ahead
        source_batches = prefetch(source_batches, depth=2)
    try:
        for b, batch in enumerate(source_batches):
            r = apply_steps(steps, batch)
            kept_n += int(r.kept.sum())
            edited_n += len(r.spans) - r.spans.count(None)
            if not r.kept.all():  # counts per (step, reason), in order of first appearance
                code = r.step[~r.kept].astype(np.int64) * 256 + r.reason[~r.kept]
                uniq, first, counts = np.unique(code, return_index=True, return_counts=True)
                for k in np.argsort(first, kind="stable").tolist():
                    si, c = divmod(int(uniq[k]), 256)
                    key = steps[si].reasons[c]
                    removed[si][key] = removed[si].get(key, 0) + int(counts[k])
            if b >= done:
                outputs.write(batch, r, labels)
                if (b + 1) % checkpoint_every == 0:
                    offsets = outputs.checkpoint()
                    write_json(work / CHECKPOINT, {"fingerprint": jsonable(fp), "batches": b + 1,
                                                    "outputs": offsets})
            progress.update(len(batch))
    except BaseException:
        outputs.abort()
        raise
    progress.close()
    hashes = outputs.close()
    out_files = list(hashes)
    step_reports = [jsonable(s.report()) for s in steps]
    for s in steps:
        if hasattr(s, "close"):
            s.close()
    total_removed = sum(sum(d.values()) for d in removed)
    result = {
        "input_records": kept_n + total_removed + report.total_skipped,
        "documents": report.documents, "kept": kept_n, "removed": total_removed,
        "edited": edited_n, "skipped": report.total_skipped, "skip_report": report.to_dict(),
        "steps": [{"name": s.name, "removed_by_reason": removed[i], **step_reports[i]}
                  for i, s in enumerate(steps)],
        "files": [str(p) for p in files.paths], "outputs": out_files,
        "resumed_at_batch": done, "batch_size": options.batch_size,
        "seconds": round(time.monotonic() - t0, 3),
    }
    if kept_n + total_removed != report.documents:
        raise RuntimeError(f"internal error: kept {kept_n} + removed {total_removed} != "
                           f"{report.documents} documents read")
    install_output(work / "out", out_dir, hashes, result)
    shutil.rmtree(work, ignore_errors=True)
    return result


def install_output(out: Path, out_dir: Path, hashes: dict[str, str | None],
                   result: dict[str, Any]) -> None:
    """report.json written into the finished folder `out`, the manifest (sha256 of every
    file: `hashes`' where known), and the folder installed at `out_dir` in one swap."""
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    hashes = {**hashes, "report.json": None}
    entries = [file_entry(name, name, None, None, (out / name).stat().st_size,
                          sha or file_sha256(out / name)) for name, sha in hashes.items()]
    install_folder(out, out_dir, {"magic": MAGIC, "format_version": FORMAT_VERSION,
                                  "created_by": f"cooc {cooc_version()}", "files": entries,
                                  "documents": result["documents"], "kept": result["kept"],
                                  "removed": result["removed"], "skipped": result["skipped"]},
                   "cooc curation output")


def check_output(path: str | os.PathLike) -> None:
    """CoocError unless `path` is a whole curation output (manifest and checksums)."""
    from cooc.formats.manifest import file_problem, read_folder_manifest

    m = read_folder_manifest(Path(path), "manifest.json", MAGIC, FORMAT_VERSION,
                             "a curation output", "cooc dedup", error=CoocError)
    problem = file_problem(Path(path), m.get("files") or [])
    if problem:
        raise CoocError(problem)
