"""Memory-mapped reader of a cooc index (format: `cooc.cooccur.format`).

`CoocIndex.open` reads the manifest, checks magic, version, the manifest's own checksum and
fields, array dtypes, shapes and file sizes, maps the arrays and checks the offset arrays
(O(vocab_size), milliseconds), so no kernel is handed an offset outside the data. On the first
open of these files on this machine it also checks every file's sha256 and the checks that
read a whole array (`whole_index_problem`), and remembers that they passed
(`cooc.formats.checked`). Per-entry checks of the compressed rows are `CoocIndex.verify`
(`cooc.cooccur.verify.verify_index`); `CoocIndex.stats` gives the corpus and index figures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cooc.cooccur import format
from cooc.errors import IndexFormatError
from cooc.formats.artefact import restore_interrupted
from cooc.formats.checked import check_once
from cooc.formats.manifest import check_manifest_checksum, manifest_files
from cooc.kernels import codec
from cooc.runtime.ranges import bounded_ranges
from cooc.tokenizers import GROWN_KINDS

_CHUNK_ENTRIES = 1 << 22


def _fail(path: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(f"{path}: {problem}")


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the index at `path`, with magic and version checked and its file list
    under `files` in today's entry shape (`cooc.formats.manifest.manifest_files`: indexes
    written before listed them as `arrays`). An index a killed writer left at
    `<path>.old-<pid>` is put back first (`cooc.formats.artefact.restore_interrupted`)."""
    path = Path(path)
    if not os.path.lexists(path):
        restore_interrupted(path)
    if not path.is_dir():
        what = "no such directory" if not path.exists() else "not a directory"
        raise _fail(path, f"not a cooc index ({what})")
    mpath = path / format.MANIFEST
    try:
        with open(mpath, "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise _fail(path, f"not a cooc index: {format.MANIFEST} is missing "
                          "(an interrupted write? rebuild the index)") from None
    except (OSError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _fail(path, f"{format.MANIFEST} is unreadable or not JSON ({msg})") from None
    if not isinstance(manifest, dict) or manifest.get("magic") != format.MAGIC:
        magic = manifest.get("magic") if isinstance(manifest, dict) else None
        raise _fail(path, f"not a cooc index: magic is {magic!r}, expected {format.MAGIC!r}")
    version = manifest.get("format_version")
    if version != format.FORMAT_VERSION:
        raise _fail(path, f"format_version {version!r} is not supported: this cooc reads version "
                          f"{format.FORMAT_VERSION} (upgrade cooc or rebuild the index)")
    problem = check_manifest_checksum(manifest)
    if problem:
        raise _fail(path, f"{format.MANIFEST} {problem}")
    files = manifest_files(manifest)
    if files is None:
        raise _fail(path, f"{format.MANIFEST}: 'files' must be a list of objects with file "
                          f"and bytes")
    manifest.pop("arrays", None)
    manifest["files"] = files
    return manifest


def _int_field(path: Path, manifest: dict, key: str, lo: int = 0) -> int:
    v = manifest.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _fail(path, f"{format.MANIFEST}: {key} must be an integer >= {lo}, got {v!r}")
    return v


def _map(path: Path, spec: dict, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path / spec["file"], dtype=dtype, mode="r", shape=shape)


def _check_meta(path: Path, manifest: dict) -> None:
    """The descriptive fields readers act on have the types they expect (a sealed manifest
    with other types is a writer's bug, reported rather than met as a traceback later)."""
    meta = manifest.get("meta", {})
    problem = None
    if not isinstance(meta, dict):
        problem = "meta is not an object"
    else:
        for key in ("config", "tokenizer", "corpus", "skip_report"):
            if not isinstance(meta.get(key, {}), dict):
                problem = f"meta.{key} is not an object"
        scale = meta.get("count_scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            problem = f"meta.count_scale must be an integer >= 1, got {scale!r}"
        corpus = meta.get("corpus", {})
        for key in ("documents", "tokens", "windows"):
            v = corpus.get(key, 0) if isinstance(corpus, dict) else 0
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                problem = f"meta.corpus.{key} must be an integer >= 0, got {v!r}"
        tokenizer = meta.get("tokenizer", {})
        if isinstance(tokenizer, dict) and not isinstance(tokenizer.get("kind", ""), str):
            problem = "meta.tokenizer.kind is not a string"
        config = meta.get("config")
        if problem is None and config is not None:
            from cooc.cooccur.config import BuildConfig

            try:
                BuildConfig.from_dict(config)
            except (TypeError, ValueError) as e:
                problem = f"meta.config is not a valid build configuration ({e})"
    if problem:
        raise _fail(path, f"{format.MANIFEST}: {problem}; rebuild the index")


def whole_index_problem(index: CoocIndex) -> str | None:
    """The checks that read whole arrays (O(vocab_size + text bytes)), run on first use and by
    verify: the id maps are inverse permutations, the token texts are UTF-8 (lone surrogates
    as written with surrogatepass) cut at character boundaries, and a vocabulary grown from
    the corpus starts with '</s>' and has no word with whitespace, as name lookups assume
    (merge checks the order it needs itself: indexes of older versions are not sorted)."""
    from cooc.tokenizers.whitespace import EOT_TEXT

    x = index._arrays
    V = index.vocab_size
    rank, token_of_rank = x["rank"], x["token_of_rank"]
    bad = np.flatnonzero(rank[token_of_rank] != np.arange(V, dtype=np.uint32))
    if bad.size:
        return f"rank.bin and token_of_rank.bin are not inverse permutations (rank {bad[0]})"
    text, offsets = x["text"], x["text_offsets"]
    starts = offsets[:-1][offsets[:-1] < offsets[1:]]
    if np.any((np.asarray(text[starts]) & 0xC0) == 0x80):
        return "text.bin has a token text that starts inside a UTF-8 character"
    try:
        np.asarray(text).tobytes().decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        return f"text.bin is not UTF-8 (byte {e.start})"
    if index.meta.get("tokenizer", {}).get("kind") in GROWN_KINDS:
        words = list(index.token_texts)
        if words[0] != EOT_TEXT:
            return f"its grown vocabulary does not start with {EOT_TEXT!r}"
        if any(not w or w.split() != [w] for w in words[1:]):
            return "its grown vocabulary has an empty word or one with whitespace"
    return None


class TokenTexts(Sequence):
    """Lazy, read-only list of display texts (decoded on access)."""

    def __init__(self, offsets: np.ndarray, text: np.ndarray):
        self._offsets = offsets
        self._text = text

    def __len__(self) -> int:
        return self._offsets.shape[0] - 1

    def __iter__(self):
        # one read of the blob: item by item took ~1.3 s for Qwen's 151 k texts
        blob, offs = self._text.tobytes(), self._offsets.tolist()
        return (blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(offs[:-1], offs[1:], strict=True))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"token ids are integers, got {i!r}")
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"token id {i} out of range [0, {n})")
        s, e = int(self._offsets[j]), int(self._offsets[j + 1])
        return bytes(self._text[s:e]).decode("utf-8", "surrogatepass")


class CoocIndex:
    """A co-occurrence index opened for reading. Create with `CoocIndex.open(path)`."""

    def __init__(self, path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray],
                 blk_ptr: np.ndarray):
        self.path = path
        self._manifest = manifest
        self._a: dict[str, np.ndarray] | None = arrays
        self._blk_ptr = blk_ptr
        self._rows: np.ndarray | None = None
        self._vocab_size = int(manifest["vocab_size"])
        self._num_entries = int(manifest["num_entries"])
        self._num_diagonal = int(manifest["num_diagonal"])

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, checksums: bool = True) -> CoocIndex:
        """Map the index at `path`; raises IndexFormatError if it is missing or damaged.
        checksums=False skips the first-use sha256 and whole-array checks (for `verify`,
        which runs them itself)."""
        path = Path(path)
        manifest = read_manifest(path)
        try:
            index = cls._open(path, manifest)
            if checksums:
                problem = check_once(path, format.MANIFEST, manifest["files"],
                                     lambda: whole_index_problem(index))
                if problem:
                    raise _fail(path, f"{problem}: the index is damaged; rebuild it "
                                      "(`cooc verify` lists every problem)")
            return index
        except IndexFormatError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as e:  # never a numpy traceback
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise _fail(path, f"cannot map the index arrays ({msg})") from None

    @classmethod
    def _open(cls, path: Path, manifest: dict) -> CoocIndex:
        _check_meta(path, manifest)
        V = _int_field(path, manifest, "vocab_size", 1)
        N = _int_field(path, manifest, "num_entries")
        D = _int_field(path, manifest, "num_diagonal")
        nblk = _int_field(path, manifest, "num_blocks")
        if manifest.get("block_size") != format.BLOCK_SIZE:
            raise _fail(path, f"block_size {manifest.get('block_size')!r} is not "
                              f"{format.BLOCK_SIZE}")
        if V > format.MAX_VOCAB or D > N or (N - D) % 2:
            raise _fail(path, f"inconsistent sizes in {format.MANIFEST} (vocab_size={V}, "
                              f"num_entries={N}, num_diagonal={D})")
        pb = manifest.get("payload_bits")
        if not isinstance(pb, dict) or not all(
            isinstance(pb.get(k), int) and pb[k] >= 0 for k in ("ids", "counts", "padding")
        ):
            raise _fail(path, f"{format.MANIFEST}: payload_bits is missing or malformed")
        specs = manifest.get("files")
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise _fail(path, f"{format.MANIFEST}: 'files' must be a list of objects")
        by_name = {s.get("name"): s for s in specs}
        missing = [n for n in format.ARRAYS if n not in by_name]
        if missing:
            raise _fail(path, f"{format.MANIFEST} lists no array {missing[0]!r}")

        def spec_shape(name):
            shape = by_name[name].get("shape")
            if not isinstance(shape, list) or not all(isinstance(x, int) for x in shape):
                raise _fail(path, f"{format.MANIFEST}: bad shape for {name}")
            return tuple(shape)

        num_words = spec_shape("data")[0] - 1 if spec_shape("data") else -1
        text_bytes = spec_shape("text")[0] if spec_shape("text") else -1
        arrays = {}
        for name, (dtype, _) in format.ARRAYS.items():
            spec = by_name[name]
            want = format.expected_shape(name, V, nblk, num_words, text_bytes)
            if spec.get("dtype") != dtype or spec.get("file") != format.file_name(name):
                raise _fail(path, f"{format.MANIFEST}: {name} must be {format.file_name(name)} "
                                  f"with dtype {dtype}, got {spec.get('file')!r} "
                                  f"{spec.get('dtype')!r}")
            if min(want) < 0:
                raise _fail(path, f"{format.MANIFEST}: the shapes of data and text are missing "
                                  f"or invalid, so the size of {name} is unknown")
            if spec_shape(name) != want:
                raise _fail(path, f"{format.MANIFEST}: {name} has shape {spec_shape(name)}, "
                                  f"expected {want}")
            nbytes = int(np.prod(want)) * np.dtype(dtype).itemsize
            fpath = path / spec["file"]
            try:
                size = fpath.stat().st_size
            except FileNotFoundError:
                raise _fail(path, f"{spec['file']} is missing") from None
            if spec.get("bytes") != nbytes:
                raise _fail(path, f"{format.MANIFEST}: {spec['file']} is listed with "
                                  f"{spec.get('bytes')!r} bytes, its shape needs {nbytes}")
            if size != nbytes:
                raise _fail(path, f"{spec['file']} has {size} bytes, expected {nbytes} "
                                  "(truncated or partial write?)")
            arrays[name] = _map(path, spec, np.dtype(dtype), want)

        row_ptr, row_word = arrays["row_ptr"], arrays["row_word"]
        deg = np.diff(row_ptr)
        if row_ptr[0] != 0 or row_ptr[-1] != N or deg.min() < 0 or deg.max() > V:
            raise _fail(path, "row_ptr.bin is not a valid offset array (corrupt)")
        if row_word[0] != 0 or row_word[-1] != num_words or np.diff(row_word).min() < 0:
            raise _fail(path, "row_word.bin is not a valid offset array (corrupt)")
        blk_ptr = np.zeros(V + 1, dtype=np.int64)
        np.cumsum((deg + format.BLOCK_SIZE - 1) // format.BLOCK_SIZE, out=blk_ptr[1:])
        if blk_ptr[-1] != nblk:
            raise _fail(path, f"row_ptr.bin implies {int(blk_ptr[-1])} blocks, manifest says "
                              f"{nblk} (corrupt)")
        for name in ("rank", "token_of_rank"):
            if arrays[name].max() >= V:
                raise _fail(path, f"{name}.bin holds ids >= vocab_size (corrupt)")
        to = arrays["text_offsets"]
        if to[0] != 0 or to[-1] != text_bytes or np.diff(to.astype(np.int64)).min() < 0:
            raise _fail(path, "text_offsets.bin is not a valid offset array (corrupt)")
        return cls(path, manifest, arrays, blk_ptr)

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the mappings (arrays handed out earlier stay valid while referenced)."""
        self._a = None
        self._rows = None

    def __enter__(self) -> CoocIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"CoocIndex({str(self.path)!r}, vocab_size={self._vocab_size}, "
                f"num_entries={self._num_entries})")

    @property
    def _arrays(self) -> dict[str, np.ndarray]:
        if self._a is None:
            raise ValueError(f"index {self.path} is closed")
        return self._a

    # -- sizes and statistics -----------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def num_entries(self) -> int:
        """Stored (directed) entries: every off-diagonal pair counts twice."""
        return self._num_entries

    @property
    def num_pairs(self) -> int:
        """Unordered pairs a < b with a count, plus diagonal entries (counted once)."""
        return (self._num_entries - self._num_diagonal) // 2 + self._num_diagonal

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._manifest))

    @property
    def meta(self) -> dict[str, Any]:
        """The caller's dict given to the writer's finish()."""
        return self.manifest["meta"]

    @property
    def count_scale(self) -> int:
        """Stored counts are the counts times this: weighted modes (harmonic, user weights)
        store their exact sums as integers; divide by it for the weighted value."""
        return int(self.meta.get("count_scale", 1))

    @property
    def occurrences(self) -> np.ndarray:
        return self._arrays["occurrences"]

    @property
    def windows(self) -> np.ndarray:
        return self._arrays["windows"]

    @property
    def token_texts(self) -> TokenTexts:
        a = self._arrays
        return TokenTexts(a["text_offsets"], a["text"])

    def token_text(self, token: int) -> str:
        return self.token_texts[self._check_id(token, "token")]

    def degree(self, ids: Any = None) -> np.ndarray:
        """Number of neighbours of every token, or of `ids` (array-like of token ids)."""
        row_ptr = self._arrays["row_ptr"]
        if ids is None:
            return np.diff(row_ptr)
        ids = self._check_ids(ids, "ids")
        return row_ptr[ids + 1] - row_ptr[ids]

    def nbytes(self) -> dict[str, int]:
        """Bytes per component: ids, counts, offsets (row index, skip offsets, padding),
        id_map, stats, text_offsets, texts (UTF-8 blob), total (all array files)."""
        m = self._manifest
        size = {s["name"]: s["bytes"] for s in m["files"] if s["name"] in format.ARRAYS}
        nblk = m["num_blocks"]
        ids = m["payload_bits"]["ids"] // 8 + 4 * nblk
        counts = m["payload_bits"]["counts"] // 8
        structure = size["data"] + size["skip"] + size["row_ptr"] + size["row_word"]
        return {
            "ids": ids,
            "counts": counts,
            "offsets": structure - ids - counts,
            "id_map": size["rank"] + size["token_of_rank"],
            "stats": size["occurrences"] + size["windows"],
            "text_offsets": size["text_offsets"],
            "texts": size["text"],
            "total": sum(size.values()),
        }

    @property
    def bytes_per_entry(self) -> float:
        """Index bytes (all arrays but the text blob) per stored directed entry (nan for an
        index without entries: there is nothing to divide by)."""
        nb = self.nbytes()
        return (nb["total"] - nb["texts"]) / self._num_entries if self._num_entries else float("nan")

    # -- statistics and checks ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Corpus and index figures: documents, tokens, windows, vocabulary (size, seen),
        pairs, directed entries, degree distribution, bytes per component and per entry, the
        tokenizer and window settings, and the skip report."""
        m = self.meta
        deg = self.degree()
        seen = deg[deg > 0]
        corpus = m.get("corpus", {})
        return {
            "path": str(self.path),
            "documents": corpus.get("documents"),
            "tokens": corpus.get("tokens"),
            "windows": corpus.get("windows"),
            "vocab_size": self.vocab_size,
            "vocab_seen": int(np.count_nonzero(self.occurrences)),
            "pairs": self.num_pairs,
            "directed_entries": self.num_entries,
            "degree": {
                "min": int(seen.min()) if len(seen) else 0,
                "median": float(np.median(seen)) if len(seen) else 0.0,
                "mean": float(seen.mean()) if len(seen) else 0.0,
                "p90": float(np.percentile(seen, 90)) if len(seen) else 0.0,
                "p99": float(np.percentile(seen, 99)) if len(seen) else 0.0,
                "max": int(seen.max()) if len(seen) else 0,
            },
            "index_bytes": self.nbytes(),
            "bytes_per_entry": self.bytes_per_entry,
            "tokenizer": m.get("tokenizer", {}).get("spec"),
            "window": m.get("config", {}).get("window"),
            "skipped": m.get("skip_report", {}),
        }

    def verify(self) -> None:
        """Recompute every array's checksum and check the structure (rows decode, columns
        increase, counts symmetric, id maps and statistics consistent): IndexFormatError
        naming the index and every problem found, on one line; None when sound. The checks
        are `cooc.cooccur.verify.verify_index`, which returns the problems as a list."""
        from cooc.cooccur.verify import check_index

        check_index(self.path)

    # -- queries ------------------------------------------------------------------------------

    def row(self, token: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour ids uint32, counts uint32) of `token`, sorted by neighbour id."""
        a = self._check_id(token, "token")
        _, cols, counts = self._decode(a, a + 1)
        return cols, counts

    def pair_count(self, a: int, b: int) -> int:
        """count(a, b), 0 if the pair never co-occurred."""
        a = self._check_id(a, "a")
        b = self._check_id(b, "b")
        return int(self.pair_counts(np.array([a]), np.array([b]))[0])

    def pair_counts(self, a: Any, b: Any) -> np.ndarray:
        """count(a[i], b[i]) for arrays of token ids of one shape -> uint32 array of it."""
        a_arr = self._check_ids(a, "a")
        b_arr = self._check_ids(b, "b")
        if a_arr.shape != b_arr.shape:
            raise ValueError(f"a and b must have one shape, got {a_arr.shape} and {b_arr.shape}")
        x = self._arrays
        if self._rows is None:  # built on first use, so open() stays O(checks)
            self._rows = codec.row_table(x["row_ptr"], self._blk_ptr, x["row_word"])
        out = codec.pair_counts(a_arr.ravel(), b_arr.ravel(), self._rows, x["skip"],
                                x["data"], x["rank"], format.BLOCK_SIZE)
        return out.reshape(a_arr.shape)

    def iter_rows(self, start: int = 0, stop: int | None = None,
                  chunk_entries: int = _CHUNK_ENTRIES
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Decode rows [start, stop) in consecutive ranges of about `chunk_entries` entries.

        Yields (row_start, row_ptr int64[n+1] from 0, cols uint32, counts uint32), rows sorted
        by column: the arguments `IndexWriter.add_rows` takes. A row longer than
        `chunk_entries` comes alone.
        """
        V = self._vocab_size
        stop = V if stop is None else stop
        for name, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= V:
                raise ValueError(f"{name} must be an int in [0, {V}], got {v!r}")
        if isinstance(chunk_entries, bool) or not isinstance(chunk_entries, int) \
                or chunk_entries < 1:
            raise ValueError(f"chunk_entries must be a positive int, got {chunk_entries!r}")
        for lo, hi in bounded_ranges(self._arrays["row_ptr"], chunk_entries, start, stop):
            ptr, cols, counts = self._decode(lo, hi)
            yield lo, ptr, cols, counts

    # -- internals ----------------------------------------------------------------------------

    def _decode(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self._arrays
        V = self._vocab_size
        ptr, ranks, counts, bad = codec.decode_rows(lo, hi, x["row_ptr"], x["row_word"],
                                                    self._blk_ptr, x["skip"], x["data"],
                                                    format.BLOCK_SIZE, V)
        if bad < 0:
            cols, counts, bad = codec.permute_rows(ptr, ranks, counts, x["token_of_rank"], V)
            bad = bad + lo if bad >= 0 else bad
        if bad >= 0:
            raise _fail(self.path, f"row {bad} does not decode (corrupt; run verify_index)")
        return ptr, cols, counts

    def _check_id(self, v: Any, name: str) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be a token id (int), got {v!r}")
        if not 0 <= v < self._vocab_size:
            raise ValueError(f"{name}={v} is not a token id: vocab_size is {self._vocab_size}")
        return int(v)

    def _check_ids(self, v: Any, name: str) -> np.ndarray:
        arr = np.asarray(v)
        if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
            raise TypeError(f"{name} must be an array of token ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self._vocab_size):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(f"{name} holds {bad}, not a token id: vocab_size is "
                             f"{self._vocab_size}")
        return np.ascontiguousarray(arr, dtype=np.int64)


def open_index(path: str | os.PathLike) -> CoocIndex:
    """`CoocIndex.open(path)`."""
    return CoocIndex.open(path)
