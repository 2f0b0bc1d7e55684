"""The merge job: indexes over several corpora -> the index of their union, without a rebuild.

Counts, occurrences and windows add. Every input's id -> union id map is strictly increasing:
a fixed vocabulary (qwen, tiktoken:, hf:) is shared, so the map is the identity; a whitespace
vocabulary is "</s>" then its words in `sorted` order, so the union vocabulary (what a union
build freezes) holds each input's words in the same relative order. A monotone map keeps a
remapped row's columns sorted and sends input rows [a, b) into one union row range, so the
merge streams union row ranges sized from the memory budget, whitespace included: it decodes
the matching rows of every input, remaps them, sums them (`sum_csrs`) and hands them to the
staged `IndexWriter`. Memory is O(vocab_size + one range); the inputs are never held whole.

With document packing every window lies inside one document, so the union build's matrix and
statistics are exactly these sums, and the writer's bytes depend on nothing else: the array
files equal a union build's byte for byte. With concat packing the windows that would span the
seam between inputs differ from a union build (the counts are still the inputs' exact sum).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc import __version__
from cooc.cooccur.build.csr import Csr, concat_rows, sum_csrs
from cooc.cooccur.reader import CoocIndex, open_index
from cooc.cooccur.verify import verify_index
from cooc.cooccur.writer import IndexWriter, NotSymmetricError
from cooc.corpus import SkipReport
from cooc.errors import CoocError
from cooc.formats.lock import writes_target
from cooc.options import RunOptions
from cooc.runtime.progress import log
from cooc.runtime.ranges import bounded_ranges
from cooc.tokenizers import GROWN_KINDS, grown_tokenizer
from cooc.tokenizers.whitespace import EOT_TEXT

# decoded inputs, remapped columns, the pairwise sums: bytes per input entry of a row range
_BYTES_PER_ENTRY = 32
_MIN_RANGE_ENTRIES = 1 << 16
_MAX_RANGE_ENTRIES = 1 << 23  # 64 MB of (column, count) pairs: larger ranges gain nothing


@dataclass
class MergeResult:
    path: Path
    inputs: list[Path]
    num_documents: int
    num_tokens: int
    num_windows: int
    num_entries: int
    seconds: float


@writes_target("out", "cooc merge")
def merge_indexes(inputs, out: str | os.PathLike, options: RunOptions | None = None) -> MergeResult:
    """Write at `out` the index of the union of the corpora of the indexes at `inputs`."""
    t0 = time.perf_counter()
    options = options or RunOptions()
    paths, out = [Path(p) for p in inputs], Path(out)
    _check_paths(paths, out)
    with ExitStack() as stack:
        indexes = [stack.enter_context(open_index(p)) for p in paths]
        _check_compatible(indexes)
        if indexes[0].meta.get("config", {}).get("window", {}).get("packing") == "concat":
            log.warning("concat packing: windows spanning the seam between inputs differ from one "
                        "build over the union (the counts are the exact sum of the inputs)")
        texts, maps, tokenizer = union_vocabulary(indexes)
        meta = _merged_meta(indexes, tokenizer)
        entries = _write(indexes, maps, texts, meta, out, options)
    corpus = meta["corpus"]
    return MergeResult(out, paths, corpus["documents"], corpus["tokens"], corpus["windows"],
                       entries, time.perf_counter() - t0)


def _check_paths(paths: list[Path], out: Path) -> None:
    if len(paths) < 2:
        raise CoocError(f"merge needs at least 2 indexes, got {len(paths)}")
    for p in paths:
        if p.resolve() == out.resolve():
            raise CoocError(f"the output {out} is also an input; write the merge to a new path")


def is_grown(index: CoocIndex) -> bool:
    """A vocabulary grown from the corpus (whitespace, words): ids differ between corpora."""
    return index.meta.get("tokenizer", {}).get("kind") in GROWN_KINDS


def counting_identity(index: CoocIndex) -> dict:
    """What must be equal for counts to add: the config and the tokenizer (for a grown
    vocabulary, all but the vocabulary itself)."""
    tokenizer = dict(index.meta.get("tokenizer", {}))
    if is_grown(index):
        tokenizer.pop("vocab_size", None)
        tokenizer.pop("vocab_sha256", None)
        return {"config": index.meta.get("config", {}), "tokenizer": tokenizer}
    return {"config": index.meta.get("config", {}), "tokenizer": tokenizer,
            "vocab_size": index.vocab_size}


def first_difference(a: dict, b: dict, prefix: str = ""):
    """(dotted field, value in a, value in b) of the first field where a and b differ, or None."""
    for key in [*a, *(k for k in b if k not in a)]:
        x, y = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(x, dict) and isinstance(y, dict):
            found = first_difference(x, y, f"{prefix}{key}.")
            if found:
                return found
        elif x != y:
            return f"{prefix}{key}", x, y
    return None


def _check_compatible(indexes: list[CoocIndex]) -> None:
    first = indexes[0]
    for other in indexes[1:]:
        found = first_difference(counting_identity(first), counting_identity(other))
        if found:
            field, x, y = found
            raise CoocError(f"cannot merge {first.path} and {other.path}: {field} differs "
                            f"({x!r} vs {y!r}); merge indexes built with the same tokenizer "
                            "and window settings")


def union_vocabulary(indexes: list[CoocIndex]) -> tuple[list[str], list[np.ndarray], dict]:
    """(union token texts, each input's id -> union id map, the union tokenizer's describe())."""
    if not is_grown(indexes[0]):
        ids = np.arange(indexes[0].vocab_size, dtype=np.int64)
        return list(indexes[0].token_texts), [ids] * len(indexes), indexes[0].meta.get("tokenizer", {})
    vocabs = [list(index.token_texts) for index in indexes]
    words = [EOT_TEXT, *sorted({w for v in vocabs for w in v[1:]})]
    union_id = {w: i for i, w in enumerate(words)}
    maps = []
    for index, vocab in zip(indexes, vocabs, strict=True):
        m = np.fromiter((union_id[w] for w in vocab[1:]), np.int64, len(vocab) - 1)
        if vocab[0] != EOT_TEXT or np.any(np.diff(m) <= 0):
            raise CoocError(f"{index.path}: its whitespace vocabulary is not in canonical order "
                            f"({EOT_TEXT!r}, then sorted words); rebuild it with this cooc")
        maps.append(np.concatenate([[0], m]))
    kind = indexes[0].meta["tokenizer"]["kind"]
    return words, maps, grown_tokenizer(kind, words).describe()


def _listed(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def _merged_meta(indexes: list[CoocIndex], tokenizer: dict) -> dict:
    """A union build's meta (same keys), with sources and files in input order."""
    metas = [index.meta for index in indexes]
    corpora = [m.get("corpus", {}) for m in metas]
    report = sum((SkipReport.from_dict(m.get("skip_report", {})) for m in metas), SkipReport())
    return {
        "config": metas[0].get("config", {}),
        "tokenizer": tokenizer,
        "corpus": {
            "source": [s for c in corpora for s in _listed(c.get("source", []))],
            "files": [f for c in corpora for f in c.get("files", [])],
            **{k: sum(int(c.get(k, 0)) for c in corpora) for k in ("documents", "tokens", "windows")},
        },
        "count_scale": metas[0].get("count_scale", 1),
        "skip_report": report.to_dict(),
        "cooc_version": __version__,
        "merged_from": [str(index.path) for index in indexes],
    }


def _range_entries(options: RunOptions) -> int:
    share = options.resolved_memory() // 4 // _BYTES_PER_ENTRY
    return min(_MAX_RANGE_ENTRIES, max(_MIN_RANGE_ENTRIES, share))


def remapped_rows(index: CoocIndex, id_map: np.ndarray, lo: int, hi: int, chunk: int) -> Csr:
    """Union rows [lo, hi) holding `index`'s entries, in union ids (rows it lacks are empty)."""
    a, b = (int(i) for i in np.searchsorted(id_map, [lo, hi]))
    parts = [Csr(p, c, k, s) for s, p, c, k in index.iter_rows(a, b, chunk)]
    rows = concat_rows(parts) if parts else Csr.empty(0, a)
    degrees = np.zeros(hi - lo, np.int64)
    degrees[id_map[a:b] - lo] = np.diff(rows.row_ptr)
    row_ptr = np.zeros(hi - lo + 1, np.int64)
    np.cumsum(degrees, out=row_ptr[1:])
    return Csr(row_ptr, id_map[rows.cols].astype(np.uint32), rows.counts, lo)


def _summed_stat(indexes: list[CoocIndex], maps: list[np.ndarray], name: str, size: int):
    total = np.zeros(size, np.uint64)
    for index, id_map in zip(indexes, maps, strict=True):
        total[id_map] += getattr(index, name)
    return total


def _write(indexes: list[CoocIndex], maps: list[np.ndarray], texts: list[str], meta: dict,
           out: Path, options: RunOptions) -> int:
    """Stream the summed row ranges into a staged writer; returns the entries written."""
    size, nthreads, chunk = len(texts), options.resolved_num_proc(), _range_entries(options)
    bound = np.zeros(size + 1, np.int64)  # entries of a union row are at most the inputs' sum
    for index, id_map in zip(indexes, maps, strict=True):
        bound[id_map + 1] += index.degree()
    np.cumsum(bound, out=bound)
    entries = 0
    with ThreadPoolExecutor(nthreads) as pool, \
            IndexWriter(out, size, num_threads=nthreads, chunk_entries=chunk) as writer:
        for lo, hi in bounded_ranges(bound, chunk):
            parts = [remapped_rows(index, id_map, lo, hi, chunk)
                     for index, id_map in zip(indexes, maps, strict=True)]
            rows = sum_csrs(parts, pool, nthreads)
            writer.add_rows(lo, rows.row_ptr, rows.cols, rows.counts)
            entries += rows.num_entries
        occurrences = _summed_stat(indexes, maps, "occurrences", size)
        windows = _summed_stat(indexes, maps, "windows", size)
        try:
            writer.finish(occurrences, windows, texts, meta)
        except NotSymmetricError as e:
            raise CoocError(damaged_input_message(indexes, e)) from None
    return entries


def damaged_input_message(indexes: list[CoocIndex], error: Exception) -> str:
    """Sound inputs sum to a symmetric matrix, so one of them is damaged behind checksums that
    match (a buggy writer): name the first that `verify` refuses."""
    for index in indexes:
        problems = verify_index(index.path)
        if problems:
            return f"cannot merge: {problems[0]} (nothing was written)"
    return f"cannot merge: the summed counts are not symmetric ({error}); nothing was written"
