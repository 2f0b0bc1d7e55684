"""Reading an n-gram index (layout: `cooc.ngram.writer`): memory-mapped, counts by descending
the trie, continuations of a context, statistics.

Performance notes (lookups; see the benchmark `bench/bench_ngram.py` for figures): a k-gram
lookup is one dense read (level 1) and k - 1 chunk searches, each a binary search over the
chunk's block skip entries and one block search with the codec's `_find_in_block`; the count
is decoded at the last level only. Batches go through `kn.lookup_many` in groups of 32, stage
by stage. Order-5 index of 4 M Qwen tokens, 1e6 3-grams, one thread, 2-core AMD EPYC shared
with other jobs (+-20 %; base / now, ns per lookup, present and random-last-token sets):
- as it was (groups of 32, touch loads): 590-640 / 530-550. Even with the queries' blocks in
  cache a 3-gram costs ~300 ns: the work is mostly compute (two block searches ~90 ns each,
  the Rice count ~50 ns), not cache misses.
- software prefetch per stage instead of touch loads, a SWAR select for the Rice count, a
  bucket jump for sparse blocks: within noise (-5 %).
- sorting a batch of 4096+ lookups by its first tokens (`kn.batch_order`, LSD radix sort,
  ~40 ns a lookup) and copying a node from the previous lookup when it shares the prefix
  (in the bench 97 % share the first token, 69 % two, 42 % all three): 380-400 / 345-365.
  The kernel on sorted input is ~240 ns; numpy's argsort instead of the radix sort is as
  fast on this machine. Results are scattered back, so the order never shows.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError, IndexFormatError
from cooc.fileio import read_folder_manifest
from cooc.kernels import ngram as kn
from cooc.ngram.writer import ARRAYS, FORMAT_VERSION, MAGIC, MANIFEST, VOCAB, bits_per_token

_PARALLEL_BELOW = 1 << 16  # fewer lookups than this run on the calling thread
_SORT_FROM = 1 << 12  # batches of this many lookups and more are sorted first


class NgramIndex:
    """A memory-mapped n-gram count index. Open with `open_ngrams(path)`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        m = read_folder_manifest(self.path, MANIFEST, MAGIC, FORMAT_VERSION, "an n-gram index",
                                 "`cooc ngram count`", IndexFormatError)
        self.manifest = m
        self.order = int(m["order"])
        self.vocab_size = int(m["vocab_size"])
        self.markers = bool(m["markers"])
        arrays = {}
        for name, spec in m["files"].items():
            p = self.path / spec["file"]
            try:
                size = p.stat().st_size
            except OSError:
                raise IndexFormatError(f"{p} is missing: the index is incomplete") from None
            if size != spec["nbytes"]:
                raise IndexFormatError(f"{p} has {size} bytes, the manifest says "
                                       f"{spec['nbytes']}: the index is truncated or damaged")
            dt = np.dtype(spec["dtype"])
            shape = tuple(spec["shape"])
            a = (np.memmap(p, dt, "r", shape=shape) if size else np.zeros(shape, dt))
            arrays[name] = a
        self._a = arrays
        self.unigrams = arrays["unigrams"]
        if self.unigrams.shape[0] != self.vocab_size or set(arrays) != set(ARRAYS):
            raise IndexFormatError(f"{self.path}: arrays do not match the manifest")
        self.levels = np.zeros((self.order + 1, 3), np.int64)
        for lv in m["levels"]:
            self.levels[lv["order"]] = (lv["chunk_base"], lv["shift"], lv["chunks"])
        # (first entry, first block, first word) per chunk slot, interleaved: one cache line
        # per chunk for a lookup instead of three
        self._ctab = np.stack([np.asarray(arrays[n], np.int64)
                               for n in ("entry_ptr", "blk_ptr", "row_word")], 1)
        self._texts: list[str] | None = None
        self._tokenizer = None

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

    def token_texts(self) -> list[str]:
        if self._texts is None:
            self._texts = json.loads((self.path / VOCAB).read_text(encoding="utf-8"))
        return self._texts

    def _trie(self) -> tuple:
        a = self._a
        return self.levels, self._ctab, a["skip"], a["words"], np.int64(self.vocab_size)

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
        g = np.ascontiguousarray(grams)
        if g.ndim != 2 or not 1 <= g.shape[1] <= self.order:
            raise ValueError(f"grams must be an [m, k] array with 1 <= k <= {self.order}, "
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
        self._check_ids(g)
        m = g.shape[0]
        trie = self._trie()
        perm = None
        if m >= _SORT_FROM and g.shape[1] > 1:  # neighbours share prefixes and cache lines
            perm = kn.batch_order(g, ln, bits_per_token(self.vocab_size))
            g, ln = g[perm], ln[perm]
        if num_threads <= 1 or m < _PARALLEL_BELOW:
            res = kn.lookup_many(g, ln, self.unigrams, *trie)
        else:
            res = np.empty(m, np.uint64)
            cuts = np.linspace(0, m, num_threads + 1).astype(np.int64)

            def part(i: int) -> None:
                a, b = cuts[i], cuts[i + 1]
                res[a:b] = kn.lookup_many(g[a:b], ln[a:b], self.unigrams, *trie)

            with ThreadPoolExecutor(num_threads) as pool:
                list(pool.map(part, range(num_threads)))
        if perm is None:
            return res
        out = np.empty(m, np.uint64)
        out[perm] = res
        return out

    def node(self, ids) -> int:
        """Trie node of the n-gram `ids` (its entry in level len(ids)), or -1 if absent."""
        a = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not 1 <= a.shape[0] <= self.order:
            raise ValueError(f"an n-gram of this index has 1..{self.order} tokens, got {a.shape[0]}")
        self._check_ids(a)
        return int(kn.find_node(a, self.unigrams, *self._trie()))

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
        node = self.node(a)
        if node < 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return kn.row_entries(np.int64(node), a.shape[0] + 1, *self._trie())

    # -- text forms --------------------------------------------------------------------------

    def tokenizer(self):
        """The tokenizer the index was counted with (for text forms)."""
        if self._tokenizer is None:
            desc = self.manifest.get("tokenizer")
            if not desc:
                raise CoocError(f"{self.path} was counted from token ids: name tokens as #id")
            base = self.vocab_size - (2 if self.markers else 0)
            if desc.get("kind") == "whitespace":
                from cooc.tokenizers.whitespace import WhitespaceTokenizer

                tok = WhitespaceTokenizer.from_vocabulary(self.token_texts()[:base])
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
            ids = np.array([int(p[1:]) for p in parts], np.int64)
            self._check_ids(ids)
            return ids
        return self.encode(query)

    # -- statistics and checks ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Grams per order and bytes per gram per order and component (ids, counts,
        pointers: skip entries, chunk tables and word padding), like Tongrams' print_stats."""
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
        for spec in self.manifest["files"].values():
            h = hashlib.sha256()
            with open(self.path / spec["file"], "rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                    h.update(chunk)
            if h.hexdigest() != spec["sha256"]:
                raise IndexFormatError(f"{self.path / spec['file']} fails its checksum")
        for lv in self.manifest["levels"]:
            _, _, bad = kn.decode_chunks(0, lv["chunks"], lv["chunk_base"], self._ctab,
                                         self._a["skip"], self._a["words"],
                                         np.int64(self.vocab_size) << lv["shift"])
            if bad >= 0:
                raise IndexFormatError(f"{self.path}: level {lv['order']} chunk {bad} is damaged")

    def level_arrays(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows int64, next ids int64, counts int64) of every entry of level k >= 2, in order."""
        lv = next(x for x in self.manifest["levels"] if x["order"] == k)
        ids, cnt, bad = kn.decode_chunks(0, lv["chunks"], lv["chunk_base"], self._ctab,
                                         self._a["skip"], self._a["words"],
                                         np.int64(self.vocab_size) << lv["shift"])
        if bad >= 0:
            raise IndexFormatError(f"{self.path}: level {k} chunk {bad} is damaged")
        base = lv["chunk_base"]
        eptr = np.asarray(self._a["entry_ptr"][base : base + lv["chunks"] + 1])
        chunk = np.repeat(np.arange(lv["chunks"], dtype=np.int64), np.diff(eptr))
        rows = (chunk << lv["shift"]) + ids // self.vocab_size
        return rows, ids % self.vocab_size, cnt

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


def open_ngrams(path: str | os.PathLike) -> NgramIndex:
    """Open the n-gram index at `path` (memory-mapped)."""
    return NgramIndex(path)
