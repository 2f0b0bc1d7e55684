"""Reading an n-gram index (layout: `cooc.ngram.writer`): memory-mapped, counts by searching
the trie, continuations of a context, whole levels, statistics.

Performance notes (lookups; `bench/bench_ngram.py`: order-5 index of 4 M Qwen tokens, 1e6
n-grams from the corpus, present and with a random last token, one thread, 2-core AMD EPYC
shared with other jobs, +-20 %). A k-gram lookup searches the rows of all its substrings
(`cooc.kernels.ngram_trie`); a search selects the row's bounds in ptr and the value before it
in val, then scans a short row or, in a long one, jumps to the target's high bucket with
select0 and binary-searches the bucket's low bits; the count is decoded at the last level
only. Batches of 4096+ lookups are sorted by their first tokens (`nt.batch_order`, LSD radix
sort, ~40 ns a lookup; the rows gathered by a kernel, 5 ns, where numpy's fancy index took
60), and a lookup sharing a prefix with the one before keeps its nodes of the substrings
inside it (97 % share the first token, 69 % two, 42 % all three) and the row bounds of
searches in the same rows; results are scattered back by numpy (a random store in the
kernel cost 55 ns a lookup), so the order never shows.
- first version: 3-grams 530-550 ns: level-2 searches took 260-440 ns, most of it compute.
  `bits.get_bits` branch-free (8.4 -> 3.2 ns a read; its branch on the word boundary is
  mispredicted at random positions) and a broadword `select_in_word` (7 -> 1.3 ns):
  455 / 450.
- tables of positions (see `cooc.kernels.succinct.elias_fano`): a select in the level-2 row starts
  scanned 5000 bits on average (the rows of frequent tokens are long): 415 / 360.
- reusing the row bounds of the same search slot: 370 / 305; the gather and the scatter out
  of the kernel: 318-336 / 258-260 (format 1: 377-400 / 345-365).
- 2-grams 120-160 ns; 4-grams 600-1000 ns and 5-grams 1.2-2.0 us (absent / present: 8.3
  searches a 5-gram, most of them in the long rows of levels 2 and 3, ~230 ns each). Format
  1 searched n - 1 rows: its reader before the sorted batches, measured alongside, took
  830-900 ns a 4-gram and 1.2 us a 5-gram; context remapping costs the longer lookups.
- dropped: a direct-mapped cache of searches (level, row, id) -> node (4096 slots): a few
  % slower (hits beyond the shared prefixes are rare); interpolating in a bucket before
  the binary search: no change; select samples every 64 ones instead of 256: level-2
  searches -20 % before the tables, +0.1-0.2 bytes an n-gram.
- `level_arrays` for k = 2, 3, 4, 5 in turn: 0.43 s for the 8.5 M entries (each level from
  the one before: its suffixes and last tokens are kept), the rows below prefetched.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError, IndexFormatError
from cooc.formats.artefact import restore_interrupted
from cooc.formats.checked import check_once
from cooc.formats.manifest import (
    file_problem,
    int_table,
    manifest_field_problem,
    per_order_problem,
    read_folder_manifest,
    read_vocabulary,
)
from cooc.kernels import ngram_trie as nt
from cooc.kernels.succinct import count_code as cc
from cooc.kernels.succinct import elias_fano as ef
from cooc.ngram.writer import ARRAYS, FORMAT_VERSION, LAYOUT, MAGIC, MANIFEST, VOCAB, bits_per_token

_PARALLEL_BELOW = 1 << 16  # fewer lookups than this run on the calling thread
_SORT_FROM = 1 << 12  # batches of this many lookups and more are sorted first


def _manifest(path: Path) -> dict:
    if not os.path.lexists(path):
        restore_interrupted(path)  # a writer killed mid-swap left the old index beside it
    try:
        with open(path / MANIFEST, encoding="utf-8") as f:
            m = json.load(f)
        old = isinstance(m, dict) and m.get("magic") == MAGIC and m.get("format_version") == 1
    except (OSError, ValueError):
        old = False
    if old:
        raise IndexFormatError(f"{path} is an n-gram index of format version 1 (chunked block "
                               f"codec); this cooc reads version {FORMAT_VERSION} (an Elias-Fano "
                               "trie, smaller): rebuild it with `cooc ngram count`, or export it "
                               "with the older cooc (`cooc ngram export`) and `cooc ngram import` "
                               "it with this one")
    return read_folder_manifest(path, MANIFEST, MAGIC, FORMAT_VERSION, "an n-gram index",
                                "`cooc ngram count`", IndexFormatError)


class NgramIndex:
    """A memory-mapped n-gram count index. Open with `open_ngrams(path)`."""

    def __init__(self, path: str | os.PathLike, checksums: bool = True):
        """Map the index at `path`. On the first open of these files on this machine, every
        file's sha256 is checked and every level decoded (`cooc.formats.checked`);
        checksums=False skips that (for `verify`, which runs it itself)."""
        self.path = Path(path)
        m = _manifest(self.path)
        self.manifest = m
        problem = manifest_field_problem(m, {"order": int, "vocab_size": int, "markers": bool,
                                             "grams": dict, "levels": list, "files": list})
        lev = int_table(m, "levels")
        if problem is None:
            problem = (per_order_problem(m, "grams", m["order"])
                       or per_order_problem(m, "bytes", m["order"], (int, float))
                       or (None if lev is not None else "levels is not a table of integers"))
        if problem:
            raise IndexFormatError(f"{self.path}/{MANIFEST}: {problem}; rebuild the index")
        self.order = int(m["order"])
        self.vocab_size = int(m["vocab_size"])
        self.markers = bool(m["markers"])
        specs = {e.get("name"): e for e in m.get("files", []) if e.get("name") in ARRAYS}
        if set(specs) != set(ARRAYS) or m.get("layout") != LAYOUT:
            raise IndexFormatError(f"{self.path}: the manifest's files or layout do not match "
                                   "this format; rebuild the index")
        arrays = {}
        for name, spec in specs.items():
            p = self.path / spec["file"]
            try:
                size = p.stat().st_size
            except OSError:
                raise IndexFormatError(f"{p} is missing: the index is incomplete") from None
            if size != spec["bytes"]:
                raise IndexFormatError(f"{p} has {size} bytes, the manifest says "
                                       f"{spec['bytes']}: the index is truncated or damaged")
            dt = np.dtype(spec["dtype"])
            shape = tuple(spec["shape"])
            arrays[name] = np.memmap(p, dt, "r", shape=shape) if size else np.zeros(shape, dt)
        self._a = arrays
        self.lev = lev
        self._check_tables()
        self._uni: np.ndarray | None = None
        self._level_cache: tuple | None = None  # (k, row starts, suffixes, last tokens)
        self._texts: list[str] | None = None
        self._tokenizer = None
        if checksums:
            problem = check_once(self.path, MANIFEST, m["files"], self._decode_problem)
            if problem:
                raise IndexFormatError(f"{problem}: the n-gram index is damaged; rebuild it "
                                       "(`cooc ngram verify` names every problem)")

    def _check_tables(self) -> None:
        """Every place the level table names lies inside its array, and the levels' sizes
        agree (the kernels trust the table)."""
        lev, a = self.lev, self._a
        bad = lev.shape != (self.order + 1, nt.LEVEL_FIELDS)
        words = len(a["trie"])
        grams = self.grams
        used = 1  # the spare word
        if not bad:
            for k in range(1, self.order + 1):
                n = int(lev[k, nt.NGRAMS])
                rows = self.vocab_size if k == 2 else int(lev[k - 1, nt.NGRAMS])
                seqs = [(nt.VAL, n)] + ([(nt.PTR, rows + 1)] if k > 1 else [])
                bad |= n != grams.get(k, -1) or (k == 1 and n > self.vocab_size)
                for col, want in seqs:
                    extent = ef.ef_extent(lev[k, col:])
                    if int(lev[k, col]) != want or extent is None:
                        bad = True
                        continue
                    bad |= extent[1] > words
                    used += extent[1] - extent[0]
                used += ef.TABLE_WORDS * int(lev[k, nt.TABLES] + lev[k, nt.TABLES + 1])
                nsb = (n + cc.SUPER_VALUES - 1) // cc.SUPER_VALUES
                crec = int(lev[k, nt.CREC])
                bad |= crec < 0 or crec + nsb * cc.REC > len(a["count_ptr"])
            bad |= used != words
        if bad:
            raise IndexFormatError(f"{self.path}: the level table does not match the arrays: "
                                   "the index is damaged; rebuild it")

    # -- basic facts -------------------------------------------------------------------------

    @property
    def grams(self) -> dict[int, int]:
        """Distinct n-grams per order."""
        return {int(k): int(v) for k, v in self.manifest["grams"].items()}

    @property
    def bos_id(self) -> int | None:
        return self.vocab_size - 2 if self.markers else None

    @property
    def eos_id(self) -> int | None:
        return self.vocab_size - 1 if self.markers else None

    @property
    def unigrams(self) -> np.ndarray:
        """uint64[V], read-only: the count of every token id (0: unseen). The index stores
        the observed ids and their counts; this array is decoded on first use."""
        if self._uni is None:
            a = self._a
            n = int(self.lev[1, nt.NGRAMS])
            ids, ok = ef.ef_decode(a["trie"], self.lev[1, nt.VAL : nt.VAL + ef.EF_FIELDS])
            cnt = np.empty(n, np.int64)
            ok = ok and cc.decode(a["counts"], a["count_ptr"], self.lev[1, nt.CREC], n, 0, n, cnt)
            if not ok or (n and (ids[0] < 0 or ids[-1] >= self.vocab_size
                                 or (np.diff(ids) <= 0).any() or cnt.min() < 1)):
                raise IndexFormatError(f"{self.path}: the unigrams do not decode: the index is "
                                       "damaged; rebuild it")
            uni = np.zeros(self.vocab_size, np.uint64)
            uni[ids] = cnt.astype(np.uint64)
            uni.flags.writeable = False
            self._uni = uni
        return self._uni

    def token_texts(self) -> list[str]:
        if self._texts is None:
            self._texts = read_vocabulary(self.path, self.manifest, VOCAB, None, IndexFormatError)
        return self._texts

    def _trie(self) -> tuple:
        a = self._a
        return self.lev, a["trie"], a["counts"], a["count_ptr"]

    # -- lookups -----------------------------------------------------------------------------

    def _check_ids(self, grams: np.ndarray) -> None:
        if grams.size and (int(grams.min()) < 0 or int(grams.max()) >= self.vocab_size):
            bad = int(grams.min()) if int(grams.min()) < 0 else int(grams.max())
            raise ValueError(f"token id {bad} is outside [0, {self.vocab_size})")

    def lookup(self, ids) -> int:
        """Count of the n-gram `ids` (1..order token ids; 0 if absent)."""
        a = np.asarray(ids, dtype=np.int64).reshape(1, -1)
        return int(self.lookup_many(a)[0])

    def lookup_many(self, grams, lens=None, num_threads: int = 1) -> np.ndarray:
        """Counts (uint64[m]) of the n-grams grams[q, :lens[q]] (all of each row if lens is
        None); 0 where absent."""
        g, ln = checked_batch(grams, lens, self.order)
        self._check_ids(g)
        m = g.shape[0]
        uni = self.unigrams
        trie = self._trie()
        perm = None
        if m >= _SORT_FROM and g.shape[1] > 1:  # neighbours share prefixes and cache lines
            perm = nt.batch_order(g, ln, bits_per_token(self.vocab_size))
            g, ln = nt.gather_rows(g, ln, perm)
        res = np.empty(m, np.uint64)
        if num_threads <= 1 or m < _PARALLEL_BELOW:
            nt.lookup_many(g, ln, res, uni, *trie)
        else:
            cuts = np.linspace(0, m, num_threads + 1).astype(np.int64)

            def part(i: int) -> None:
                a, b = cuts[i], cuts[i + 1]
                nt.lookup_many(g[a:b], ln[a:b], res[a:b], uni, *trie)

            with ThreadPoolExecutor(num_threads) as pool:
                list(pool.map(part, range(num_threads)))
        if perm is None:
            return res
        out = np.empty(m, np.uint64)
        out[perm] = res
        return out

    def node(self, ids) -> int:
        """Trie node of the n-gram `ids` (its entry in level len(ids), lexicographic order;
        the token id for one token), or -1 if absent."""
        a = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not 1 <= a.shape[0] <= self.order:
            raise ValueError(f"an n-gram of this index has 1..{self.order} tokens, got {a.shape[0]}")
        self._check_ids(a)
        lev, trie, _, _ = self._trie()
        return int(nt.find_node(a, self.unigrams, lev, trie))

    def continuations(self, context) -> tuple[np.ndarray, np.ndarray]:
        """(next token ids, counts) after the context `ids` (1..order-1 tokens), ids increasing:
        the row of the context's node. An empty context gives every unigram."""
        a = np.asarray(context, dtype=np.int64).reshape(-1)
        if a.shape[0] == 0:
            ids = np.flatnonzero(self.unigrams)
            return ids, np.asarray(self.unigrams[ids], np.int64)
        if a.shape[0] >= self.order:
            raise ValueError(f"a context of this order-{self.order} index has at most "
                             f"{self.order - 1} tokens, got {a.shape[0]}")
        self._check_ids(a)
        return nt.children(a, self.unigrams, *self._trie())

    # -- text forms --------------------------------------------------------------------------

    def tokenizer(self):
        """The tokenizer the index was counted with (for text forms)."""
        if self._tokenizer is None:
            desc = self.manifest.get("tokenizer")
            if not desc:
                raise CoocError(f"{self.path} was counted from token ids: name tokens as #id")
            base = self.vocab_size - (2 if self.markers else 0)
            from cooc.tokenizers import GROWN_KINDS, grown_tokenizer

            if desc.get("kind") in GROWN_KINDS:
                tok = grown_tokenizer(desc["kind"], self.token_texts()[:base])
            else:
                from cooc.tokenizers import load_tokenizer

                tok = load_tokenizer(desc["spec"])
                if tok.describe().get("vocab_sha256") != desc.get("vocab_sha256"):
                    raise CoocError(f"the installed {desc['spec']!r} tokenizer differs from the "
                                    f"one {self.path} was counted with")
            self._tokenizer = tok
        return self._tokenizer

    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text` with the index's tokenizer; with markers, a leading "<s>" and
        a trailing "</s>" (separated by whitespace) are the marker ids."""
        head = tail = False
        if self.markers:
            s = text.strip()
            head = s.startswith("<s>")
            tail = s.endswith("</s>") and len(s) > (3 if head else 0)
            if head:
                s = s[3:]
            if tail:
                s = s[:-4]
            text = s.strip() if (head or tail) else text
        ids = self.tokenizer().encode(text).astype(np.int64) if text else np.zeros(0, np.int64)
        parts = ([[self.bos_id]] if head else []) + [ids] + ([[self.eos_id]] if tail else [])
        return np.concatenate([np.asarray(p, np.int64) for p in parts])

    def parse(self, query: str) -> np.ndarray:
        """Ids of a query: "#12 #7 ..." names ids, anything else is text (`encode`)."""
        parts = query.split()
        if parts and all(p.startswith("#") and p[1:].isdigit() for p in parts):
            ids = [int(p[1:]) for p in parts]
            bad = [i for i in ids if i >= self.vocab_size]
            if bad:
                raise CoocError(f"token #{bad[0]} is not in this index's vocabulary (ids 0 to "
                                f"{self.vocab_size - 1})")
            return np.array(ids, np.int64)
        return self.encode(query)

    # -- statistics and checks ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Grams per order and bytes per gram per order and component, like Tongrams'
        print_stats: ids (the Elias-Fano values; order 1: the observed token ids), counts
        (count codes and their records), pointers (row starts and select samples). The
        components add up to the array files' bytes."""
        per = {}
        total_bytes = 0
        for k in range(1, self.order + 1):
            n = self.grams.get(k, 0)
            b = self.manifest["bytes"][str(k)]
            comp = {c: float(b[c + "_bytes"]) for c in ("id", "count", "pointer")}
            size = sum(comp.values())
            total_bytes += size
            per[k] = {"grams": n, "bytes": size,
                      "bytes_per_gram": size / n if n else 0.0,
                      **{f"{c}_bytes_per_gram": (v / n if n else 0.0) for c, v in comp.items()}}
        n_all = sum(self.grams.values())
        return {"path": str(self.path), "order": self.order, "vocab_size": self.vocab_size,
                "markers": self.markers, "tokens": self.manifest.get("tokens"),
                "documents": self.manifest.get("documents"), "grams": n_all,
                "bytes": total_bytes, "bytes_per_gram": total_bytes / n_all if n_all else 0.0,
                "orders": per}

    def verify(self) -> None:
        """Check every file's sha256 and that every level decodes (IndexFormatError if not)."""
        problem = file_problem(self.path, self.manifest["files"]) or self._decode_problem()
        if problem:
            raise IndexFormatError(problem)

    def _decode_problem(self) -> str | None:
        """Every level's ids and counts decode (what the kernels assume), or the problem."""
        self._uni = None
        try:
            _ = self.unigrams
            lev, _, cwords, crecs = self._trie()
            for k in range(1, self.order + 1):
                n = int(lev[k, nt.NGRAMS])
                cnt = np.empty(n, np.int64)
                if not (cc.check_records(crecs, lev[k, nt.CREC], n)
                        and cc.decode(cwords, crecs, lev[k, nt.CREC], n, 0, n, cnt)):
                    return f"{self.path}: the counts of level {k} are damaged"
                if k > 1:
                    self._level(k)  # raises when the level does not decode
        except IndexFormatError as e:
            return str(e)
        finally:
            self._level_cache = None
            self._uni = None
        try:
            self.token_texts()
        except IndexFormatError as e:
            return str(e)
        return None

    def _level(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rows, last tokens, suffixes, row starts) of level k >= 2, decoded level by level
        from the last one decoded (kept: `level_arrays` is called for k = 2, 3, ...)."""
        c = self._level_cache
        if c is not None and c[0] == k - 1:
            j, prev = k, c[1:]
        else:
            j, prev = 2, (np.zeros(1, np.int64),) * 3
        trie = self._a["trie"]
        while True:
            rows, toks, suffix, ptr, ok = nt.level_entries(trie, self.lev, j, *prev)
            if not ok:
                self._level_cache = None
                raise IndexFormatError(f"{self.path}: level {j} does not decode: the index is "
                                       "damaged; rebuild it")
            prev = (ptr, suffix, toks)
            if j == k:
                self._level_cache = (k, *prev)
                return rows, toks, suffix, ptr
            j += 1

    def level_arrays(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows int64, next ids int64, counts int64) of every entry of level k >= 2, in
        lexicographic order: rows are the nodes of level k - 1 (token ids for k = 2), and
        along a row the next ids increase. Calls for k = 2, 3, ... decode one level each."""
        if not 2 <= k <= self.order:
            raise ValueError(f"level must be in [2, {self.order}], got {k}")
        rows, toks, _, _ = self._level(k)
        lev, _, cwords, crecs = self._trie()
        n = int(lev[k, nt.NGRAMS])
        cnt = np.empty(n, np.int64)
        if not cc.decode(cwords, crecs, lev[k, nt.CREC], n, 0, n, cnt):
            raise IndexFormatError(f"{self.path}: the counts of level {k} are damaged")
        return rows, toks.copy(), cnt

    def iter_grams(self, k: int):
        """(grams int64[n, k], counts int64[n]) of every k-gram, in trie (lexicographic) order."""
        if k == 1:
            ids = np.flatnonzero(self.unigrams)
            return ids.reshape(-1, 1).astype(np.int64), np.asarray(self.unigrams[ids], np.int64)
        prev = np.arange(self.vocab_size, dtype=np.int64).reshape(-1, 1)
        for j in range(2, k + 1):
            rows, toks, cnt = self.level_arrays(j)
            prev = np.concatenate([prev[rows], toks.reshape(-1, 1)], axis=1)
        return prev, cnt


def checked_batch(grams, lens, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(grams int64[m, k], lens int64[m]) of a batch of n-gram queries, checked."""
    g = np.ascontiguousarray(grams)
    if g.ndim != 2 or not 1 <= g.shape[1] <= order:
        raise ValueError(f"grams must be an [m, k] array with 1 <= k <= {order}, "
                         f"got shape {g.shape}")
    if g.dtype.kind not in "iu":
        raise TypeError(f"grams must hold integer token ids, got {g.dtype}")
    g = g.astype(np.int64, copy=False)
    if lens is None:
        ln = np.full(g.shape[0], g.shape[1], np.int64)
    else:
        ln = np.ascontiguousarray(lens, dtype=np.int64)
        if ln.shape != (g.shape[0],) or (ln.size and (ln.min() < 1 or ln.max() > g.shape[1])):
            raise ValueError(f"lens must be m values in [1, {g.shape[1]}]")
    return g, ln


def open_ngrams(path: str | os.PathLike, checksums: bool = True) -> NgramIndex:
    """Open the n-gram index at `path` (memory-mapped; see `NgramIndex` for `checksums`)."""
    return NgramIndex(path, checksums)
