"""Full check of an index directory: checksums, then every row decoded and checked
(`verify_index`: the problems as a list; `check_index` and `CoocIndex.verify`: raise them).

Memory stays O(vocab_size + chunk): rows are decoded chunk by chunk, and symmetry is checked
with per-token hash sums (`cooc.kernels.codec.sym_hash_rows`) before a mismatch is located
exactly with pair lookups.
"""

from __future__ import annotations

import hashlib
import os
from itertools import pairwise
from pathlib import Path

import numpy as np

from cooc.cooccur import format
from cooc.cooccur.reader import CoocIndex, read_manifest, whole_index_problem
from cooc.errors import IndexFormatError
from cooc.kernels import codec
from cooc.runtime.ranges import bounded_ranges
from cooc.tokenizers import GROWN_KINDS

_CHUNK_ENTRIES = 1 << 22
_PROBLEMS = {
    codec.BLOCK_OFFSET: "block at entry {e} does not start where the previous block ends",
    codec.ROW_SIZE: "bits do not fill the row's words in data.bin (block at entry {e})",
    codec.COLS_NOT_INCREASING: "columns not increasing at entry {e}",
    codec.COL_OUT_OF_RANGE: "column out of range at entry {e}",
    codec.COUNT_OVERFLOW: "count >= 2**32 at entry {e}",
}


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 23):
            h.update(chunk)
    return h.hexdigest()


def verify_index(path: str | os.PathLike) -> list[str]:
    """Problems found in the index at `path`, one line each; an empty list means it is sound.

    Checks every array's checksum, then (if the index opens) the structure: the id maps are
    inverse permutations in degree order, every block decodes where the skip table says,
    columns strictly increase and are < vocab_size, counts fit 32 bits, the diagonal count
    matches the manifest, and count(a, b) == count(b, a) for every stored pair. Structural
    checking stops at the first problem, which is reported with its row and entry.
    """
    path = Path(path)
    try:
        manifest = read_manifest(path)
    except IndexFormatError as e:
        return [str(e)]
    problems = []
    algo = manifest.get("checksum")
    if algo != format.CHECKSUM:
        problems.append(f"{path}: unknown checksum {algo!r} in {format.MANIFEST}")
    else:
        for spec in manifest.get("files") or []:
            fname = str(spec.get("file"))
            fpath = path / fname
            if not fpath.is_file():
                problems.append(f"{path}: {fname} is missing")
            elif _file_digest(fpath, algo) != spec.get(algo):
                problems.append(f"{path}: {algo} mismatch in {fname}")
    try:
        index = CoocIndex.open(path, checksums=False)  # the checksums were read above
    except IndexFormatError as e:
        return problems + [str(e)]
    with index:
        problem = _check_structure(index)
    if problem:
        problems.append(f"{path}: {problem}")
    return problems


def check_index(path: str | os.PathLike) -> None:
    """`verify_index` as every artefact's `verify()` answers: IndexFormatError naming the index
    and every problem found, on one line; None when the index is sound."""
    problems = verify_index(path)
    if problems:
        raise IndexFormatError("; ".join(problems))


def _check_structure(index: CoocIndex) -> str | None:
    x = index._arrays
    V = index.vocab_size
    m = index._manifest
    row_ptr, row_word = x["row_ptr"], x["row_word"]
    token_of_rank = x["token_of_rank"]
    problem = whole_index_problem(index) or _vocabulary_order_problem(index)
    if problem:
        return problem
    deg = np.diff(row_ptr)
    if not np.array_equal(token_of_rank, np.argsort(-deg, kind="stable")):
        return "token_of_rank.bin is not the degree order (by degree, then by token id)"
    pb = m["payload_bits"]
    if pb["ids"] + pb["counts"] + pb["padding"] != 64 * int(row_word[-1]):
        return "payload_bits in manifest.json do not add up to the size of data.bin"

    h_row = np.zeros(V, dtype=np.uint64)
    h_col = np.zeros(V, dtype=np.uint64)
    diag = 0
    for lo, hi in bounded_ranges(row_ptr, _CHUNK_ENTRIES, 0, V):
        args = (row_ptr, row_word, index._blk_ptr, x["skip"], x["data"], format.BLOCK_SIZE, V)
        problem, r, e = codec.verify_rows(lo, hi, *args)
        if problem:
            return f"row {r}: " + _PROBLEMS[problem].format(e=e)
        ptr, ranks, counts, _ = codec.decode_rows(lo, hi, *args)
        diag += codec.sym_hash_rows(lo, ptr, token_of_rank[ranks], counts, h_row, h_col)
    if diag != m["num_diagonal"]:
        return f"{diag} diagonal entries, manifest.json says {m['num_diagonal']}"
    bad = np.flatnonzero(h_row != h_col)
    if bad.size:
        return _locate_asymmetry(index, int(bad[0]))
    return None


def _vocabulary_order_problem(index: CoocIndex) -> str | None:
    """A vocabulary grown from the corpus must be '</s>' then sorted words, as merge and diff
    need it (indexes of older versions were not sorted: they open, but verify says so)."""
    if index.meta.get("tokenizer", {}).get("kind") not in GROWN_KINDS:
        return None
    words = list(index.token_texts)[1:]
    if any(a >= b for a, b in pairwise(words)):
        return ("its grown vocabulary is not sorted (merge and diff need it sorted); rebuild "
                "it with this cooc")
    return None


def _locate_asymmetry(index: CoocIndex, t: int) -> str:
    """Row t and column t differ: name the first pair whose two directions disagree."""
    cols, counts = index.row(t)
    mirror = index.pair_counts(cols.astype(np.int64), np.full(cols.shape[0], t))
    off = np.flatnonzero((mirror != counts) & (cols != t))
    if off.size:
        b = int(cols[off[0]])
        return (f"row {t}: count({t}, {b}) = {int(counts[off[0]])} but "
                f"count({b}, {t}) = {int(mirror[off[0]])}")
    for start, ptr, c, n in index.iter_rows(chunk_entries=_CHUNK_ENTRIES):
        hit = np.flatnonzero(c == t)
        for i in hit:
            a = start + int(np.searchsorted(ptr, i, side="right")) - 1
            if a != t and index.pair_count(t, a) != int(n[i]):
                return (f"row {a}: count({a}, {t}) = {int(n[i])} but "
                        f"count({t}, {a}) = {index.pair_count(t, a)}")
    return f"row {t}: its entries differ from column {t} (hash mismatch)"
