"""`run_sharded`: one document-level step as map / shuffle / reduce tasks over the corpus's
files, on an engine (`cooc.engines`: in this process, or a Ray cluster), writing what
`run_steps` writes for the same step.

Stages (each a list of engine tasks; results go to files under `<out>.work/`, which every
node must see, e.g. the output's own shared folder):

1. map, a task per input file: the file read as batches, the step's `map_shard` writes what
   its reduce needs (hashes; shingle sets and band keys) to map/<i>/ and returns the
   count of documents; the file's skip report comes back with it.
2. reduce: the step's `reduce_shards(folders, work, engine, memory_bytes)` runs its own
   tasks (hash partitions; LSH bands) and returns every document's `Decisions` by ordinal
   (a document's ordinal is its file's first ordinal plus its position in the file, as in
   `run_steps`), saved as arrays.
3. write, a task per input file: the file read again, its slice of the decisions applied,
   kept and removed written by the same writer `run_steps` uses (`cooc.curate.output`).
4. report.json, manifest, and the folder installed at `out` in one swap.

A per-document step (`per_document = True`: its decision for a document depends on that
document alone, e.g. a threshold filter) has no reduce: the map only counts each file's
documents (for the ordinals), and each write task runs the step's own `decide` on its
file; the tasks' reports are merged (the step's `counters` summed).

The outputs hold the same records, in the same order, as `run_steps`' (compressed outputs
are cut into gzip members / zstd frames at other places, so their bytes may differ; their
contents do not). Resume: every finished task leaves a small JSON file in tasks/; a run
of the same command after a kill (same inputs, step and batch size) skips those tasks.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.discover import discover_files
from cooc.corpus.report import SkipReport
from cooc.curate.output import Outputs
from cooc.curate.records import CorpusFiles, read_batches
from cooc.curate.run import MAGIC, BatchResult, file_stats, install_output, jsonable, write_json
from cooc.curate.step import DocumentBatch
from cooc.engines import make_engine
from cooc.errors import CoocError
from cooc.formats.artefact import check_replaceable, remove_path
from cooc.formats.lock import writes_target
from cooc.options import RunOptions

DECISION_ARRAYS = ("keep", "reason", "duplicate_of", "cluster", "score")


def shard_batches(path: str, relative: str, base: int, report: SkipReport, batch_size: int,
                  text_field: str):
    """The batches of one input file, ordinals counted from `base`."""
    files = CorpusFiles((Path(path),), (relative,))
    for batch in read_batches(files, report, batch_size, text_field):
        batch.ordinals = batch.ordinals + base
        yield batch


def map_task(step: Any, i: int, path: str, relative: str, work: str, batch_size: int,
             text_field: str) -> dict[str, Any]:
    """Stage 1 for file i (an engine task): {"documents", "skip_report"}; step None: only
    count them."""
    report = SkipReport()
    batches = shard_batches(path, relative, 0, report, batch_size, text_field)
    if step is None:  # a per-document step: the map only counts the documents
        n = sum(len(b) for b in batches)
    else:
        n = step.map_shard(batches, Path(work) / "map" / str(i))
    if n != report.documents:
        raise RuntimeError(f"step {step.name} mapped {n} documents of {report.documents}")
    result = {"documents": n, "skip_report": report.to_dict()}
    write_json(Path(work) / "tasks" / f"map-{i}.json", result)
    return result


def write_task(labels: list, i: int, path: str, relative: str, base: int, documents: int,
               work: str, batch_size: int, text_field: str, step: Any = None,
               scored: bool = False) -> dict[str, Any]:
    """Stage 3 for file i (an engine task): the file's kept and removed outputs, by the
    saved decisions or, for a per-document step, by its own `decide`; returns {"hashes":
    {output name: sha256 or None}, "removed": [count per reason code]}."""
    w = Path(work)
    files = CorpusFiles((Path(path),), (relative,))
    if step is not None:  # fresh counters (the in-process engine hands every task one object)
        step = copy.deepcopy(step)
    decisions = None if step is not None else \
        {k: np.load(w / f"decisions-{k}.npy", mmap_mode="r") for k in DECISION_ARRAYS}
    scores = [labels[0][0]] if scored else []
    outputs = Outputs(files, w / "out", w / "parts" / str(i), text_field, edits=False,
                      score_names=scores)
    report = SkipReport(log=False)  # the map logged this file's bad records
    removed = np.zeros(len(labels[0][1]), np.int64)
    try:
        for batch in shard_batches(path, relative, base, report, batch_size, text_field):
            r = batch_result(batch, decisions, scored) if step is None else \
                decided(step, batch, scores)
            removed += np.bincount(r.reason[~r.kept], minlength=removed.shape[0])
            outputs.write(batch, r, labels)
    except BaseException:
        outputs.abort()
        raise
    hashes = outputs.close()
    if report.documents != documents:
        raise CoocError(f"{path} changed while it was curated: {documents} documents "
                        f"when mapped, {report.documents} now; run again")
    result = {"hashes": hashes, "removed": removed.tolist(),
              "report": jsonable(step.report()) if step is not None else None}
    write_json(w / "tasks" / f"write-{i}.json", result)
    return result


def merged_report(step: Any, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report of a per-document step from its tasks' reports: the step's `counters`
    summed (a dict counter key by key), every other field as the step itself reports it."""
    out = jsonable(step.report())
    for key in getattr(step, "counters", ()):
        values = [r[key] for r in reports if r and key in r]
        if values and all(isinstance(v, dict) for v in values):
            total: dict[str, Any] = {}
            for v in values:
                for k, x in v.items():
                    total[k] = total.get(k, 0) + x
            out[key] = dict(sorted(total.items(), key=lambda kv: -kv[1]))
        elif values:
            out[key] = sum(values)
    return out


def decided(step: Any, batch: DocumentBatch, scores: list[str]) -> BatchResult:
    """A per-document step's decisions for one batch, as the runner sees them."""
    d = step.decide(batch)
    kept = np.asarray(d.keep, bool)
    r = BatchResult(kept, np.where(kept, -1, 0).astype(np.int16),
                    np.asarray(d.reason, np.uint8), np.asarray(d.duplicate_of, np.int64),
                    np.asarray(d.cluster, np.int64), batch.texts, [None] * len(batch))
    if scores:
        score = np.asarray(d.score, np.float64)
        r.scores = np.where(np.isfinite(score), score, np.nan)[:, None]
    return r


def batch_result(batch: DocumentBatch, decisions: dict[str, np.ndarray],
                 scored: bool = False) -> BatchResult:
    """The runner's view of one step's decisions for the documents of `batch`."""
    o = batch.ordinals
    kept = np.asarray(decisions["keep"][o], bool)
    r = BatchResult(kept, np.where(kept, -1, 0).astype(np.int16),
                    np.asarray(decisions["reason"][o], np.uint8),
                    np.asarray(decisions["duplicate_of"][o], np.int64),
                    np.asarray(decisions["cluster"][o], np.int64),
                    batch.texts, [None] * len(batch))
    if scored:
        score = np.asarray(decisions["score"][o], np.float64)
        r.scores = np.where(np.isfinite(score), score, np.nan)[:, None]
    return r


def _done(work: Path, name: str) -> Any:
    try:
        return json.loads((work / "tasks" / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@writes_target("out_dir", "curation run")
def run_sharded(source: Any, step: Any, out_dir: str | os.PathLike,
                options: RunOptions | None = None, *, text_field: str = "text") -> dict[str, Any]:
    """Curate `source` with one document-level step that can be sharded (`map_shard` and
    `reduce_shards`: `ExactDedup("document")`, `MinHashDedup`) as engine tasks (see the
    module); returns the report (also written as report.json), shaped as `run_steps`'."""
    options = options or RunOptions()
    per_document = bool(getattr(step, "per_document", False))
    if not per_document and not (hasattr(step, "map_shard") and hasattr(step, "reduce_shards")):
        raise ValueError(f"step {getattr(step, 'name', step)!r} cannot run as shards; "
                         f"use engine local")
    if hasattr(step, "check_shardable"):
        step.check_shardable()
    t0 = time.monotonic()
    out_dir = Path(out_dir)
    check_replaceable(out_dir, MAGIC, "cooc curation output")
    files = CorpusFiles.of(discover_files(source))
    work = (out_dir.with_name(out_dir.name + ".work")).resolve()
    fp = jsonable({"files": file_stats(files), "step": [step.name, step.report()],
                   "batch_size": options.batch_size, "text_field": text_field,
                   "sharded": True})
    if not (options.resume and _done(work, "fingerprint") == fp):
        remove_path(work)
    (work / "tasks").mkdir(parents=True, exist_ok=True)
    write_json(work / "tasks" / "fingerprint.json", fp)
    paths = [str(p.resolve()) for p in files.paths]
    engine = make_engine(options)
    try:
        maps = {i: _done(work, f"map-{i}") for i in range(len(paths))}
        todo = [i for i, m in maps.items() if m is None]
        calls = [(None if per_document else step, i, paths[i], files.relative[i], str(work),
                  options.batch_size, text_field) for i in todo]
        for i, result in zip(todo, engine.run(map_task, calls), strict=True):
            maps[i] = result
        counts = [maps[i]["documents"] for i in range(len(paths))]
        bases = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64).tolist()
        reduced = _done(work, "reduce") if not per_document else {}
        if reduced is None:
            folders = [work / "map" / str(i) for i in range(len(paths))]
            d = step.reduce_shards(folders, work, engine, options.resolved_memory())
            for k in DECISION_ARRAYS:
                np.save(work / f"decisions-{k}.npy", getattr(d, k))
            reduced = {"step_report": jsonable(step.report()),
                       "removed": int((~d.keep).sum())}
            write_json(work / "tasks" / "reduce.json", reduced)
            shutil.rmtree(work / "map", ignore_errors=True)
        labels = [(step.name, tuple(step.reasons))]
        writes = {i: _done(work, f"write-{i}") for i in range(len(paths))}
        todo = [i for i, h in writes.items() if h is None]
        calls = [(labels, i, paths[i], files.relative[i], bases[i], counts[i], str(work),
                  options.batch_size, text_field, step if per_document else None,
                  bool(getattr(step, "writes_scores", False))) for i in todo]
        for i, hashes in zip(todo, engine.run(write_task, calls), strict=True):
            writes[i] = hashes
    finally:
        engine.close()
    report = sum((SkipReport.from_dict(maps[i]["skip_report"]) for i in range(len(paths))),
                 SkipReport())
    hashes = {k: v for i in range(len(paths)) for k, v in writes[i]["hashes"].items()}
    per_reason = np.sum([writes[i]["removed"] for i in range(len(paths))], axis=0,
                        dtype=np.int64) if paths else np.zeros(len(step.reasons), np.int64)
    removed = int(per_reason.sum())
    step_report = merged_report(step, [writes[i]["report"] for i in range(len(paths))]) \
        if per_document else reduced["step_report"]
    result = {
        "input_records": report.documents + report.total_skipped,
        "documents": report.documents, "kept": report.documents - removed,
        "removed": removed, "edited": 0, "skipped": report.total_skipped,
        "skip_report": report.to_dict(),
        "steps": [{"name": step.name,
                   "removed_by_reason": {step.reasons[c]: int(per_reason[c])
                                         for c in range(1, len(step.reasons))},
                   **step_report}],
        "files": [str(p) for p in files.paths], "outputs": sorted(hashes),
        "engine": options.engine, "batch_size": options.batch_size,
        "seconds": round(time.monotonic() - t0, 3),
    }
    install_output(work / "out", out_dir, dict(sorted(hashes.items())), result)
    shutil.rmtree(work, ignore_errors=True)
    return result
