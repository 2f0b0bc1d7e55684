"""Exports of an index to the formats its users already have tools for.

- pickle: the reference system's `Dict[int, Set[int]]` (token id -> ids it met), for seeds
  and scripts written against it. Built in memory: it is as large as the sets it holds.
- tsv: the reference system's readable file: token_id, token_text, cooccurring_count,
  example_cooccurring_tokens as `id:text;id:text;...` (the most frequent neighbours first).
  Texts are escaped (backslash, tab, newline, carriage return, ';' and ':') so every row is
  one line with four fields.
- parquet: an edge list (a, b, count), each unordered pair once with a <= b (or both
  directions with directed=True), written row range by row range.
- scipy: a V x V `scipy.sparse.csr_matrix` of counts, saved with `save_npz`.
All writers write a temporary file beside the target and put it in place atomically
(`cooc.formats.artefact.atomic_file`: fsync, replace, fsync of the folder).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cooc.errors import CoocError, missing_extra
from cooc.formats.artefact import atomic_file

FORMATS = ("pickle", "tsv", "parquet", "scipy")

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", ";": "\\;", ":": "\\:"})


def escape_text(text: str) -> str:
    return text.translate(_ESCAPES)


def to_dict_of_sets(index) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for row_start, row_ptr, cols, _ in index.iter_rows():
        for r in np.flatnonzero(np.diff(row_ptr)):
            out[row_start + int(r)] = set(cols[row_ptr[r] : row_ptr[r + 1]].tolist())
    return out


def export_pickle(index, path) -> Path:
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(to_dict_of_sets(index), f, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def export_tsv(index, path, examples: int = 10) -> Path:
    texts = index.token_texts
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("token_id\ttoken_text\tcooccurring_count\texample_cooccurring_tokens\n")
        for row_start, row_ptr, cols, counts in index.iter_rows():
            for r in np.flatnonzero(np.diff(row_ptr)):
                lo, hi = row_ptr[r], row_ptr[r + 1]
                c, n = cols[lo:hi], counts[lo:hi]
                top = c[np.lexsort((c, -n.astype(np.int64)))[:examples]]
                ex = ";".join(f"{int(t)}:{escape_text(texts[int(t)])}" for t in top)
                tid = row_start + int(r)
                f.write(f"{tid}\t{escape_text(texts[tid])}\t{hi - lo}\t{ex}\n")
    return Path(path)


def export_parquet(index, path, directed: bool = False) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("a", pa.uint32()), ("b", pa.uint32()), ("count", pa.uint32())])
    with atomic_file(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for row_start, row_ptr, cols, counts in index.iter_rows():
                rows = np.repeat(np.arange(row_start, row_start + len(row_ptr) - 1, dtype=np.uint32),
                                 np.diff(row_ptr))
                keep = slice(None) if directed else rows <= cols
                w.write_table(pa.table({"a": rows[keep], "b": cols[keep], "count": counts[keep]},
                                       schema=schema))
    return Path(path)


def to_scipy(index):
    try:
        import scipy.sparse as sp
    except ImportError:
        raise missing_extra("scipy", "scipy") from None
    ptrs, cols, counts = [], [], []
    base = 0
    for _, row_ptr, c, n in index.iter_rows():
        ptrs.append(row_ptr[1:] + base)
        base += int(row_ptr[-1])
        cols.append(c)
        counts.append(n)
    indptr = np.concatenate([np.zeros(1, np.int64)] + ptrs)
    v = index.vocab_size
    data = np.concatenate(counts) if counts else np.zeros(0, np.uint32)
    indices = np.concatenate(cols) if cols else np.zeros(0, np.uint32)
    return sp.csr_matrix((data, indices.astype(np.int32), indptr), shape=(v, v))


def export_scipy(index, path) -> Path:
    import scipy.sparse as sp

    m = to_scipy(index)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            sp.save_npz(f, m)
    return Path(path)


def export(index, fmt: str, path, **kw) -> Path:
    writers = {"pickle": export_pickle, "tsv": export_tsv, "parquet": export_parquet,
               "scipy": export_scipy}
    if fmt not in writers:
        raise CoocError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](index, path, **kw)
