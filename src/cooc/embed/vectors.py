"""The vectors artefact (`X.vec/`, layout in `cooc.embed.format`): `write_vectors` puts one
in place, `Vectors` (`open_vectors`) maps it and answers the usual questions, as gensim's
`KeyedVectors` does: a token's vector, the cosine similarity of two tokens, the nearest
tokens of a token or a vector, analogies (3CosAdd, 3CosMul).

Tokens are named as the other cooc commands name them: by display text ("king"), or by id
as "#123" or the int 123, the id being the token's id in the source's vocabulary (the index's
tokenizer; the row, for vectors without token ids).

Nearest neighbours are exact: every candidate row is scored with BLAS matrix products of
row blocks (`_BLOCK_ELEMENTS` scores at a time, so memory stays bounded whatever the
vocabulary), by cosine (the rows divided by their norms, computed once). Ties are broken by
row (more frequent first). Rows with a zero vector are never returned. The query tokens
themselves are excluded, as gensim does.

3CosAdd (Mikolov et al. 2013) ranks d by cos(d, b) - cos(d, a) + cos(d, c), that is by
the cosine of d with b^ - a^ + c^ (unit vectors); 3CosMul (Levy & Goldberg 2014) by
cos'(d, b) cos'(d, c) / (cos'(d, a) + epsilon) with cos' = (cos + 1) / 2 and epsilon
0.001 (the paper's; gensim's most_similar_cosmul uses 1e-6).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cooc.embed import format as fmt
from cooc.errors import CoocError, IndexFormatError
from cooc.formats.artefact import FolderArtefact, restore_interrupted
from cooc.formats.checked import check_once
from cooc.formats.lock import writes_target
from cooc.formats.manifest import (
    HashedFile,
    cooc_version,
    file_problem,
    read_folder_manifest,
    read_vocabulary,
)

__all__ = ["ANALOGY_METHODS", "Similar", "Vectors", "open_vectors", "write_vectors"]

ANALOGY_METHODS = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-3
# scores computed at once (per matrix of a block of rows x a batch of queries): 16 MB
_BLOCK_ELEMENTS = 1 << 22
_WRITE_ROWS = 1 << 16


@dataclass(frozen=True)
class Similar:
    """A token found near a query: its text, score, id (in the source's vocabulary; -1:
    none) and row in the vectors."""

    text: str
    score: float
    token_id: int
    row: int


# -- writing ----------------------------------------------------------------------------------


@writes_target("path", "cooc embed")
def write_vectors(path: str | os.PathLike, vectors: np.ndarray, texts: Sequence[str],
                  token_ids: np.ndarray | None = None, counts: np.ndarray | None = None,
                  config: dict[str, Any] | None = None) -> Path:
    """Write a vectors artefact at `path` (see `cooc.embed.format`); returns it. A vectors
    folder already there is replaced atomically; anything else there is refused.

    vectors : float [V, dim], finite; texts : V display texts; token_ids : V ids in the
    source's vocabulary (default -1: none); counts : V corpus counts (default 0: unknown);
    config : how they were made (JSON-able; recorded in the manifest)."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] < 1 or vectors.shape[1] < 1:
        raise ValueError(f"vectors must be a 2-D array of at least one row and one column, "
                         f"got shape {vectors.shape}")
    v, dim = vectors.shape
    texts = list(texts)
    if len(texts) != v or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"texts must be {v} strings, one per row, got {len(texts)}")
    ids = np.full(v, -1, np.int64) if token_ids is None else np.asarray(token_ids, np.int64)
    cnt = np.zeros(v, np.uint64) if counts is None else np.asarray(counts)
    if ids.shape != (v,) or cnt.shape != (v,):
        raise ValueError(f"token_ids and counts must have one value per row ({v})")
    if cnt.size and (cnt.dtype.kind not in "iu" or int(cnt.min()) < 0):
        raise ValueError("counts must be integers >= 0")
    config = dict(config or {})
    art = FolderArtefact(path, fmt.MAGIC, "cooc vectors")
    try:
        f = HashedFile(art.tmp / fmt.ARRAYS["vectors"][0], "<f4")
        for lo in range(0, v, _WRITE_ROWS):
            block = np.asarray(vectors[lo : lo + _WRITE_ROWS], np.float32)
            if not np.isfinite(block).all():
                raise ValueError("vectors must be finite (no NaN or infinity)")
            f.append(block)
        art.add_hashed("vectors", f, fmt.ARRAYS["vectors"][0], [v, dim])
        for name, a in (("token_ids", ids), ("counts", cnt)):
            file, dtype, _ = fmt.ARRAYS[name]
            f = HashedFile(art.tmp / file, dtype)
            f.append(a)
            art.add_hashed(name, f, file, [v])
        art.write_bytes("vocab", fmt.VOCAB, json.dumps(texts, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"))
        manifest = {"magic": fmt.MAGIC, "format_version": fmt.FORMAT_VERSION,
                    "created_by": f"cooc {cooc_version()}", "vocab_size": v, "dim": dim,
                    "config": config, "files": art.files}
        return art.finish(manifest)
    finally:
        art.abort()  # (nothing once finished)


# -- reading ----------------------------------------------------------------------------------


def _fail(path: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(f"{path}: {problem}")


class Vectors:
    """A memory-mapped vectors artefact. Open with `open_vectors(path)`.

    Attributes: `vectors` (float32 [V, dim], read-only map), `token_ids`, `counts`, `vocab`
    (the texts), `dim`, `config` (how they were made), `manifest`.
    """

    def __init__(self, path: str | os.PathLike, checksums: bool = True):
        """Map the vectors at `path`. On the first open of these files on this machine every
        file's sha256 and the structure are checked (`cooc.formats.checked`); checksums=False
        leaves that to `verify()`."""
        self.path = Path(path)
        if not os.path.lexists(self.path):
            restore_interrupted(self.path)  # a writer killed mid-swap left it beside
        m = read_folder_manifest(self.path, fmt.MANIFEST, fmt.MAGIC, fmt.FORMAT_VERSION,
                                 "a vectors folder", "`cooc embed ppmi-svd INDEX -o OUT.vec`",
                                 IndexFormatError)
        self.manifest = m
        v, dim = m.get("vocab_size"), m.get("dim")
        for name, x in (("vocab_size", v), ("dim", dim)):
            if isinstance(x, bool) or not isinstance(x, int) or x < 1:
                raise _fail(self.path, f"{fmt.MANIFEST}: {name} must be an integer >= 1, "
                                       f"got {x!r}")
        if not isinstance(m.get("config"), dict):
            raise _fail(self.path, f"{fmt.MANIFEST}: config must be an object")
        self.dim = dim
        specs = {e.get("name"): e for e in m.get("files") or []}
        if set(specs) != {*fmt.ARRAYS, "vocab"} or len(m["files"]) != len(fmt.ARRAYS) + 1:
            raise _fail(self.path, f"{fmt.MANIFEST}: the files do not match this format")
        arrays = {}
        for name, (file, dtype, cols) in fmt.ARRAYS.items():
            spec = specs[name]
            shape = (v, dim) if cols else (v,)
            nbytes = v * (dim if cols else 1) * np.dtype(dtype).itemsize
            if spec.get("file") != file or spec.get("dtype") != dtype \
                    or spec.get("shape") != list(shape) or spec.get("bytes") != nbytes:
                raise _fail(self.path, f"{fmt.MANIFEST}: {name} must be {file}, {dtype}, "
                                       f"shape {list(shape)}, {nbytes} bytes")
            p = self.path / file
            try:
                size = p.stat().st_size
            except OSError:
                raise _fail(self.path, f"{file} is missing: the vectors are incomplete; "
                                       "rebuild them") from None
            if size != nbytes:
                raise _fail(self.path, f"{file} has {size} bytes, expected {nbytes} "
                                       "(truncated or damaged; rebuild the vectors)")
            arrays[name] = np.memmap(p, np.dtype(dtype), "r", shape=shape)
        if specs["vocab"].get("file") != fmt.VOCAB:
            raise _fail(self.path, f"{fmt.MANIFEST}: vocab must be {fmt.VOCAB}")
        self.vectors = arrays["vectors"]
        self.token_ids = arrays["token_ids"]
        self.counts = arrays["counts"]
        self.vocab: list[str] = read_vocabulary(self.path, m, fmt.VOCAB, v, IndexFormatError)
        if checksums:
            problem = check_once(self.path, fmt.MANIFEST, m["files"], self._structure_problem)
            if problem:
                raise IndexFormatError(f"{problem}: the vectors are damaged; rebuild them")

    # -- facts -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"Vectors({str(self.path)!r}, vocab_size={len(self)}, dim={self.dim})"

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.manifest["config"]))

    @cached_property
    def norms(self) -> np.ndarray:
        """float32 [V]: the Euclidean norm of every row."""
        out = np.empty(len(self), np.float32)
        step = max(1, _BLOCK_ELEMENTS // self.dim)
        for lo in range(0, len(self), step):
            b = np.asarray(self.vectors[lo : lo + step], np.float64)
            out[lo : lo + step] = np.sqrt(np.einsum("ij,ij->i", b, b))
        return out

    def stats(self) -> dict[str, Any]:
        """Vocabulary size, dimensions, bytes, how the vectors were made, zero vectors and the
        spread of the norms."""
        n = self.norms
        files = {e["name"]: e["bytes"] for e in self.manifest["files"]}
        cfg = self.manifest["config"]
        return {"path": str(self.path), "vocab_size": len(self), "dim": self.dim,
                "method": cfg.get("method"), "with_token_ids": bool((self.token_ids >= 0).any()),
                "zero_vectors": int((n == 0).sum()),
                "norm": {"min": float(n.min()), "median": float(np.median(n)),
                         "max": float(n.max())},
                "bytes": int(sum(files.values())), "file_bytes": files, "config": cfg}

    def verify(self) -> None:
        """Check every file's sha256, that the vectors are finite and that the token ids are
        -1 or unique ids (IndexFormatError naming the problem)."""
        problem = file_problem(self.path, self.manifest["files"])
        if problem:
            raise IndexFormatError(f"{problem}: the vectors are damaged; rebuild them")
        problem = self._structure_problem()
        if problem:
            raise _fail(self.path, problem)

    def _structure_problem(self) -> str | None:
        step = max(1, _BLOCK_ELEMENTS // self.dim)
        for lo in range(0, len(self), step):
            if not np.isfinite(self.vectors[lo : lo + step]).all():
                return f"rows {lo}.. hold a NaN or an infinity (damaged)"
        ids = np.asarray(self.token_ids)
        real = ids[ids >= 0]
        if (ids < -1).any() or len(np.unique(real)) != len(real):
            return "token_ids.i64 holds ids below -1 or repeated ids (damaged)"
        return None

    # -- naming tokens ---------------------------------------------------------------------

    @cached_property
    def _row_of_text(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, t in enumerate(self.vocab):
            out.setdefault(t, i)
        return out

    @cached_property
    def _row_of_id(self) -> dict[int, int]:
        ids = np.asarray(self.token_ids)
        if not (ids >= 0).any():  # no token ids: #N is row N
            return {i: i for i in range(len(self))}
        return {int(t): i for i, t in enumerate(ids.tolist()) if t >= 0}

    @cached_property
    def _row_of_folded(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, t in enumerate(self.vocab):
            out.setdefault(t.lower(), i)
        return out

    def find(self, token: str | int, case_insensitive: bool = False) -> int:
        """The row of `token` (text, "#ID" or an int id), or -1 when the vectors lack it.
        case_insensitive: texts are matched lower-cased (the first row of a folded text)."""
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            return self._row_of_id.get(int(token), -1)
        if not isinstance(token, str):
            raise TypeError(f"a token is a text, '#ID' or an int id, got {token!r}")
        row = self._row_of_text.get(token, -1)
        if row < 0 and token.startswith("#") and token[1:].isdigit():
            row = self._row_of_id.get(int(token[1:]), -1)
        if row < 0 and case_insensitive:
            row = self._row_of_folded.get(token.lower(), -1)
        return row

    def row(self, token: str | int) -> int:
        """The row of `token` (text, "#ID" or an int id); CoocError when absent."""
        row = self.find(token)
        if row < 0:
            raise CoocError(f"{token!r} is not in the vectors {self.path} ({len(self):,} "
                            "tokens); name a token by its text or as #ID")
        return row

    def describe(self, row: int) -> str:
        tid = int(self.token_ids[row])
        return f"#{tid if tid >= 0 else row} {self.vocab[row]!r}"

    def _similar(self, rows: np.ndarray, scores: np.ndarray) -> list[Similar]:
        return [Similar(self.vocab[r], float(s), int(self.token_ids[r]), int(r))
                for r, s in zip(rows.tolist(), scores.tolist(), strict=True) if r >= 0]

    # -- questions -------------------------------------------------------------------------

    def vector(self, token: str | int) -> np.ndarray:
        """A copy of `token`'s vector (float32 [dim])."""
        return np.array(self.vectors[self.row(token)], np.float32)

    def similarity(self, a: str | int, b: str | int) -> float:
        """Cosine similarity of two tokens (0 when either vector is zero)."""
        x = np.asarray(self.vectors[self.row(a)], np.float64)
        y = np.asarray(self.vectors[self.row(b)], np.float64)
        n = float(np.linalg.norm(x) * np.linalg.norm(y))
        return float(x @ y / n) if n > 0 else 0.0

    def most_similar(self, query: str | int | np.ndarray, k: int = 10,
                     restrict_vocab: int = 0) -> list[Similar]:
        """The k nearest tokens by cosine to a token (itself excluded) or a vector,
        nearest first; restrict_vocab: only among the first rows (0: all)."""
        _check_k(k)
        if isinstance(query, np.ndarray):
            q = np.asarray(query, np.float32).reshape(1, -1)
            exclude = None
        else:
            row = self.row(query)
            q = np.asarray(self.vectors[row], np.float32).reshape(1, -1)
            exclude = np.array([[row]], np.int64)
        rows, scores = self.nearest_rows(q, k, exclude, restrict_vocab)
        return self._similar(rows[0], scores[0])

    def analogy(self, a: str | int, b: str | int, c: str | int, k: int = 1,
                method: str = "3cosadd", restrict_vocab: int = 0) -> list[Similar]:
        """"a is to b as c is to ?": the k best answers d (a, b and c excluded), best first,
        by `method` (3cosadd or 3cosmul; see the module)."""
        _check_k(k)
        rows = [np.array([self.row(t)], np.int64) for t in (a, b, c)]
        found, scores = self.analogy_rows(*rows, k=k, method=method,
                                          restrict_vocab=restrict_vocab)
        return self._similar(found[0], scores[0])

    # -- batches (rows in, rows out) -------------------------------------------------------

    def _unit(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(self.vectors[rows], np.float32)
        n = self.norms[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n[:, None] > 0, x / n[:, None], 0.0).astype(np.float32)

    def _restrict(self, restrict_vocab: int) -> int:
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) \
                or restrict_vocab < 0:
            raise CoocError(f"restrict_vocab must be an integer >= 0 (0: all rows), got "
                            f"{restrict_vocab!r}")
        return min(int(restrict_vocab), len(self)) if restrict_vocab else len(self)

    def nearest_rows(self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None,
                     restrict_vocab: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The k rows nearest by cosine to each query vector (float [n, dim]), excluding
        `exclude[i]` (int rows [n, m], -1: none) for query i: (rows int64 [n, k], cosines
        float32 [n, k]), nearest first, ties by row; -1 and -inf where fewer rows qualify."""
        q = np.asarray(queries, np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be an array [n, {self.dim}], got shape {q.shape}")
        qn = np.linalg.norm(q.astype(np.float64), axis=1)
        if (qn == 0).any() or not np.isfinite(qn).all():
            raise CoocError("a query vector is zero or not finite: it has no direction")
        q = (q / qn[:, None]).astype(np.float32)

        def score(lo: int, hi: int) -> np.ndarray:
            x = np.asarray(self.vectors[lo:hi], np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                return (q @ x.T) / self.norms[lo:hi]

        return self._top_k(score, len(q), k, exclude, self._restrict(restrict_vocab))

    def analogy_rows(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, k: int = 1,
                     method: str = "3cosadd", restrict_vocab: int = 0,
                     epsilon: float = COSMUL_EPSILON) -> tuple[np.ndarray, np.ndarray]:
        """Batched `analogy` over rows a[i], b[i], c[i] (int arrays of one length): (rows
        int64 [n, k], scores float32 [n, k]) with a, b and c excluded, best first."""
        if method not in ANALOGY_METHODS:
            raise CoocError(f"unknown analogy method {method!r}; choose one of "
                            f"{', '.join(ANALOGY_METHODS)}")
        a, b, c = (np.asarray(x, np.int64).ravel() for x in (a, b, c))
        if not len(a) == len(b) == len(c):
            raise ValueError("a, b and c must hold one row per question")
        exclude = np.stack([a, b, c], axis=1)
        ua, ub, uc = self._unit(a), self._unit(b), self._unit(c)
        restrict = self._restrict(restrict_vocab)
        if method == "3cosadd":
            target = ub - ua + uc
            tn = np.linalg.norm(target.astype(np.float64), axis=1)
            target = np.where(tn[:, None] > 0, target / np.maximum(tn, 1e-30)[:, None],
                              0.0).astype(np.float32)

            def score(lo: int, hi: int) -> np.ndarray:
                x = np.asarray(self.vectors[lo:hi], np.float32)
                with np.errstate(divide="ignore", invalid="ignore"):
                    return (target @ x.T) / self.norms[lo:hi]
        else:
            eps = np.float32(epsilon)

            def score(lo: int, hi: int) -> np.ndarray:
                x = np.asarray(self.vectors[lo:hi], np.float32)
                with np.errstate(divide="ignore", invalid="ignore"):
                    xt = x.T / self.norms[lo:hi]
                    pa, pb, pc = ((u @ xt + 1) / 2 for u in (ua, ub, uc))
                    return pb * pc / (pa + eps)

        return self._top_k(score, len(a), k, exclude, restrict)

    def _top_k(self, score, nq: int, k: int, exclude: np.ndarray | None,
               n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Top k (score desc, row asc) of score(lo, hi) -> float32 [nq, hi - lo] over the
        rows [0, n_rows), block by block, with excluded and zero rows left out."""
        _check_k(k)
        block = max(1, min(_BLOCK_ELEMENTS // max(nq, 1), _BLOCK_ELEMENTS // self.dim))
        best_s = np.zeros((nq, 0), np.float32)
        best_r = np.zeros((nq, 0), np.int64)
        zero = self.norms == 0
        for lo in range(0, n_rows, block):
            hi = min(n_rows, lo + block)
            s = np.asarray(score(lo, hi), np.float32)
            s[:, zero[lo:hi]] = -np.inf
            s[~np.isfinite(s)] = -np.inf
            if exclude is not None:
                qi, ci = np.nonzero((exclude >= lo) & (exclude < hi))
                s[qi, exclude[qi, ci] - lo] = -np.inf
            # candidates in increasing row order: the best so far (rows < lo, kept in row
            # order), then this block
            cand_s = np.concatenate([best_s, s], axis=1)
            cand_r = np.concatenate([best_r, np.broadcast_to(
                np.arange(lo, hi, dtype=np.int64), (nq, hi - lo))], axis=1)
            if cand_s.shape[1] <= k:
                best_s, best_r = cand_s, cand_r
                continue
            kth = -np.partition(-cand_s, k - 1, axis=1)[:, k - 1 : k]
            above = cand_s > kth
            ties = cand_s == kth
            room = k - above.sum(axis=1, keepdims=True)
            keep = above | (ties & (np.cumsum(ties, axis=1) <= room))
            best_s = cand_s[keep].reshape(nq, k)
            best_r = cand_r[keep].reshape(nq, k)
        order = np.lexsort((best_r, -best_s), axis=1) if best_s.size else \
            np.zeros(best_s.shape, np.int64)
        best_s = np.take_along_axis(best_s, order, axis=1)
        best_r = np.take_along_axis(best_r, order, axis=1)
        best_r[~np.isfinite(best_s)] = -1
        if best_s.shape[1] < k:  # fewer rows than k
            pad = k - best_s.shape[1]
            best_s = np.concatenate([best_s, np.full((nq, pad), -np.inf, np.float32)], axis=1)
            best_r = np.concatenate([best_r, np.full((nq, pad), -1, np.int64)], axis=1)
        return best_r, best_s


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise CoocError(f"k must be an integer >= 1, got {k!r}")


def open_vectors(path: str | os.PathLike, checksums: bool = True) -> Vectors:
    """Map the vectors at `path` (see `Vectors` for `checksums`)."""
    return Vectors(path, checksums=checksums)
