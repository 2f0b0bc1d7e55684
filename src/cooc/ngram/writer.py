"""On-disk layout of an n-gram count index (`X.ngrams/`) and its writer.

Layout (format_version 2; every array little-endian, memory-mappable, sha256 in the manifest)

    manifest.json   magic "COOC-NGRAMS", format_version, order, vocab_size (V, markers
                    included), tokenizer (`Tokenizer.describe()`, or null for integer ids),
                    markers, grams per order, bytes per order and component, the level
                    table ("levels", `cooc.kernels.ngram_trie`), the code constants
                    ("layout"), and "files": {name, file, dtype, shape, bytes, sha256} per
                    file (vocab.json too, with null dtype and shape; `cooc.formats.manifest`)
    vocab.json      the display text of every id 0..V-1 ("<s>", "</s>" last with markers)
    trie.u64        the Elias-Fano sequences of every level (`cooc.kernels.succinct.elias_fano`), one
                    after the other (the level table gives each one's words), then their
                    tables of positions, in the same order, then one spare word
    counts.u64      the count codes of levels 1..order (`cooc.kernels.succinct.count_code`), one
                    after the other, then one spare word
    count_ptr.u32   the count codes' superblock records, level after level

The trie (`cooc.kernels.ngram_trie`; Tongrams' layout: Pibiri and Venturini, "Efficient data
structures for massive n-gram datasets", SIGIR 2017). Level 1: the observed token ids (an
Elias-Fano sequence) and their counts in token order; a 1-gram's node is its token id.
Level k >= 2: the distinct k-grams in lexicographic order of their token ids; its rows are
the nodes of level k - 1 (token ids for k = 2) and a k-gram's node is its position in the
level (so nodes, rows and `NgramIndex.level_arrays` are the ones of format 1). Per level an
Elias-Fano sequence of the row starts (ptr), one of the per-row prefix-summed ids (val), and
the counts (count - 1 in exp-Golomb codes with a parameter per block of 128, records of 64
blocks pointing into them). A 2-gram's id is its last token; a longer k-gram's id is
*context remapped*: the rank of its last token among the continuations of its (k-2)-token
middle, i.e. the position of its (k-1)-suffix in its row of level k - 1. Select samples
whose block of 256 ones (or zeros) spans more than SELECT_SPAN bits point to a table of the
block's positions instead, so that no select scans more than SELECT_SPAN bits.

Why (the order-5 benchmark of `cooc.ngram.reader`, 4 M Qwen tokens, 8.6 M n-grams). Format 1
coded each level as chunks of 2**shift rows of the project's block codec with ids
(row mod 2**shift) * V + token: the id gap between rows cost ~log2 V bits per entry, 2.72
bytes per n-gram in all (the unigrams a dense V x 8 bytes). Elias-Fano sequences with per-row
prefix sums cost 2 + log2(mean id gap) bits per entry, and context remapping makes the ids
of long n-grams small: most 4- and 5-grams' middles have few continuations (mean id gaps:
1718 at level 2, 124 at 3, 17 at 4, 2 at 5). Bytes per n-gram, ids / counts / pointers:
level 2 1.59 / 0.41 / 0.22, 3 1.12 / 0.27 / 0.28, 4 0.76 / 0.21 / 0.32, 5 0.37 / 0.20 / 0.36,
unigrams 0.47 / 0.80 / 0; 1.33 in all. Tried and dropped: remapping by the last word only
(Tongrams' remapping order 1; a lookup searches 2n - 3 rows instead of n (n - 1) / 2): level-4
and -5 ids 1.34 bytes, +0.5 bytes per n-gram in all; token ids ranked by count (as the LM
trie): -0.03 bytes, but levels would no longer be in token-id order; tables of positions
from 2048 bits: +0.06 bytes and no faster; no tables: a level-2 search 1.4x as long (a
select in the level-2 row starts scanned 5000 bits on average: the rows of frequent tokens
are long, so the row starts around them are far apart).
The price of remapping: a lookup of an n-gram searches every one of its substrings, and
reading a level back (`NgramIndex.level_arrays`) follows the suffixes down to the tokens,
level by level.

Writing. Levels arrive as (row, token, count) streams in order (`add_level`) and are spooled
to the temporary folder `X.ngrams.tmp-<pid>`. At `finish` each level is read back in groups
of up to 2**22 entries (fewer under a small --memory): its counts are coded (on a second
thread) and appended, its ids remapped
(a k-gram's suffix is found in level k - 1's spooled tokens, through memory maps: the
suffixes of one row's entries share a row below, searched by galloping, and the rows below
of later entries are prefetched) and its row starts, values and suffixes spooled. Then every
sequence is written, group by group, into the memory-mapped `trie.u64` (sequences on
threads: they share no word), and the tables of positions they made are appended.
Memory: a few groups per thread, and the page cache for the mapped spools. The manifest is
written last and the folder swapped into place (`cooc.formats.artefact`: the target holds
the whole old index or the whole new one at every instant).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.formats.artefact import FolderArtefact
from cooc.formats.manifest import HashedFile, cooc_version, file_sha256
from cooc.kernels import ngram_trie as nt
from cooc.kernels.succinct import count_code as cc
from cooc.kernels.succinct import elias_fano as ef
from cooc.ngram.config import MAX_ORDER

MAGIC = "COOC-NGRAMS"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
VOCAB = "vocab.json"
BOS_TEXT = "<s>"
EOS_TEXT = "</s>"
MAX_COUNT = cc.MAX_VALUE + 1  # 2**63 - 1
# array name -> (file, dtype)
ARRAYS = {
    "trie": ("trie.u64", "<u8"),
    "counts": ("counts.u64", "<u8"),
    "count_ptr": ("count_ptr.u32", "<u4"),
}
LAYOUT = {"sample": ef.SAMPLE, "count_block": cc.BLOCK, "count_super": cc.SUPER,
          "level_fields": nt.LEVEL_FIELDS, "table_words": ef.TABLE_WORDS}
_SPOOL = (("rows", "<i8"), ("toks", "<u4"), ("cnts", "<u8"))
_BUILT = (("ptr", "<i8"), ("val", "<i8"), ("suffix", "<i8"))
_GROUP_ENTRIES = 1 << 22  # at most, a whole number of count superblocks
_GROUP_BYTES = 64  # per entry of a group in flight: spooled inputs, outputs, count codes
SELECT_SPAN = 4096  # sample blocks longer than this (bits) get tables of positions
_PROBLEMS = {
    nt.ROW_RANGE: "its row is not a node of level {j}",
    nt.ROWS_DECREASE: "rows decrease",
    nt.TOKENS_NOT_INCREASING: "tokens do not increase along its row",
    nt.TOKEN_RANGE: "a token id is outside the vocabulary",
}


def bits_per_token(vocab_size: int) -> int:
    """Bits of one token in a packed key (ids stored + 1, 0 = past the end)."""
    return max(1, int(vocab_size).bit_length())


def key_shape(order: int, vocab_size: int) -> tuple[int, int, int]:
    """(bits per token, tokens per word, words per key) of padded `order`-gram keys."""
    bits = bits_per_token(vocab_size)
    if bits > 32:
        raise ValueError(f"vocab_size {vocab_size} is too large for n-gram keys (at most 2**32 - 1)")
    per_word = 64 // bits
    return bits, per_word, -(-order // per_word)


class NgramWriter:
    """Write an n-gram index from its levels; see the module docstring.

    Parameters
    ----------
    path : the `X.ngrams` folder to create (an n-gram index there is replaced at `finish`).
    order : highest order (1..8).
    vocab_size : V, markers included.
    texts : the display text of every id (V strings).
    header : extra manifest fields (tokenizer, markers, corpus, ...).
    num_threads : threads at `finish` (count codes are made beside the remapping).

    Fill `unigrams` (uint64[V], the count of every token id) and call `add_level` for
    k = 2..order. Use as a context manager: leaving the block by an exception, or without
    `finish`, removes the temporary folder and leaves nothing at `path`.
    """

    def __init__(self, path: str | os.PathLike, order: int, vocab_size: int, texts: list[str],
                 header: dict[str, Any], num_threads: int = 1,
                 memory_bytes: int = 1 << 30):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order must be in [1, {MAX_ORDER}], got {order}")
        if len(texts) != vocab_size:
            raise ValueError(f"{len(texts)} token texts for vocab_size {vocab_size}")
        self.path = Path(path)
        self.order = order
        self.vocab_size = vocab_size
        self.texts = texts
        self.header = header
        self.num_threads = max(1, num_threads)
        # entries a thread encodes at once: half the budget over the threads (a whole number
        # of count superblocks, at least one)
        per = memory_bytes // (2 * _GROUP_BYTES * self.num_threads)
        self.group = int(min(_GROUP_ENTRIES, max(cc.SUPER_VALUES,
                                                 per // cc.SUPER_VALUES * cc.SUPER_VALUES)))
        self._art = FolderArtefact(self.path, MAGIC, "cooc n-gram index")
        self.tmp = self._art.tmp
        self.unigrams = np.zeros(vocab_size, np.uint64)
        self._spools = {k: [open(self._spool_path(k, n), "wb") for n, _ in _SPOOL]
                        for k in range(2, order + 1)}
        self.grams = {k: 0 for k in range(2, order + 1)}
        self._done = False

    def __enter__(self) -> NgramWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            self.abort()

    def abort(self) -> None:
        self._close_spools()
        self._art.abort()

    def _close_spools(self) -> None:
        for files in self._spools.values():
            for f in files:
                f.close()

    def _spool_path(self, k: int, name: str) -> Path:
        return self.tmp / f"level{k}.{name}.tmp"

    def add_level(self, k: int, rows: np.ndarray, toks: np.ndarray, cnts: np.ndarray) -> None:
        """Append the next entries of level k (rows non-decreasing, tokens increasing per row,
        counts in [1, 2**63 - 1])."""
        if not 2 <= k <= self.order:
            raise ValueError(f"level must be in [2, {self.order}], got {k}")
        if not len(rows) == len(toks) == len(cnts):
            raise ValueError(f"rows, toks and cnts differ in length: {len(rows)}, {len(toks)}, "
                             f"{len(cnts)}")
        if len(cnts):
            lo, hi = int(np.min(cnts)), int(np.max(cnts))
            if lo < 1 or hi > MAX_COUNT:
                raise CoocError(f"a {k}-gram has count {lo if lo < 1 else hi}: counts must be "
                                f"in [1, {MAX_COUNT}]")
        for f, a, (_, dt) in zip(self._spools[k], (rows, toks, cnts), _SPOOL, strict=True):
            f.write(np.ascontiguousarray(a, dtype=dt).tobytes())
        self.grams[k] += len(rows)

    # -- finish ------------------------------------------------------------------------------

    def _read(self, k: int, name: str, lo: int, hi: int) -> np.ndarray:
        dt = np.dtype(dict(_SPOOL + _BUILT)[name])
        with open(self._spool_path(k, name), "rb") as f:
            return np.fromfile(f, dt, hi - lo, offset=lo * dt.itemsize)

    def _map(self, k: int, name: str) -> np.ndarray:
        dt = np.dtype(dict(_SPOOL + _BUILT)[name])
        p = self._spool_path(k, name)
        return np.memmap(p, dt, "r") if p.stat().st_size else np.zeros(0, dt)

    def _gram(self, k: int, e: int) -> str:
        """The k-gram at entry e of the spooled level k, as text (for error messages)."""
        toks = []
        for j in range(k, 1, -1):
            toks.append(int(self._read(j, "toks", e, e + 1)[0]))
            e = int(self._read(j, "rows", e, e + 1)[0])
        toks.append(e)
        return " ".join(repr(self.texts[t]) if 0 <= t < self.vocab_size else f"#{t}"
                        for t in reversed(toks))

    def _problem(self, k: int, problem: int, e: int) -> Exception:
        if problem == nt.NO_SUFFIX:
            return CoocError(f"the {k}-gram {self._gram(k, e)} has no {k - 1}-gram suffix (its "
                             f"last {k - 1} tokens) in level {k - 1}: an n-gram index needs "
                             "every n-gram's prefix and suffix (counted n-grams always have them)")
        if problem == nt.NOT_UNIGRAM:
            return CoocError(f"the 2-gram {self._gram(2, e)} has a token without a unigram count: "
                             "an n-gram index needs every token of an n-gram as a 1-gram")
        return ValueError(f"level {k}, entry {e}: " + _PROBLEMS[problem].format(j=k - 1) +
                          " (add_level needs rows that are nodes of the level below, in order, "
                          "with tokens increasing along each row)")

    def _remap_level(self, k: int, counts: HashedFile, cptr: HashedFile, pool) -> int:
        """Pass 1 of level k: code its counts (on the pool, beside the remapping) and spool
        its row starts, values and suffixes. Returns the universe of its values."""
        n = self.grams[k]
        nrows = self.vocab_size if k == 2 else self.grams[k - 1]
        if k >= 3:
            prev = (self._map(k - 1, "ptr"), self._map(k - 1, "toks"), self._map(k - 1, "suffix"))
        else:
            prev = (np.zeros(1, np.int64), np.zeros(1, np.uint32), np.zeros(1, np.int64))
        state = np.zeros(6, np.int64)
        state[2] = state[4] = -1
        out = {name: open(self._spool_path(k, name), "wb") for name, _ in _BUILT}
        try:
            for lo in range(0, n, self.group):
                hi = min(n, lo + self.group)
                coded = pool.submit(cc.encode, self._read(k, "cnts", lo, hi), 0)
                rows, toks = self._read(k, "rows", lo, hi), self._read(k, "toks", lo, hi)
                top = min(nrows, max(int(rows.max()), -1)) + 1
                ptr = np.empty(max(0, top - int(state[0])) + 1, np.int64)
                val = np.empty(hi - lo, np.int64)
                suf = np.empty(hi - lo, np.int64)
                npt, problem, e = nt.remap_part(rows, toks, lo, k, self.vocab_size, nrows,
                                                self.unigrams, *prev, state, ptr, val, suf)
                words, recs = coded.result()
                if problem != nt.OK:
                    raise self._problem(k, problem, int(e))
                cc.rebase(recs, counts.nbytes // 8)
                counts.append(words)
                cptr.append(recs)
                for name, a in (("ptr", ptr[:npt]), ("val", val), ("suffix", suf)):
                    if name != "suffix" or k < self.order:  # (suffixes: for the level above)
                        a.tofile(out[name])
            tail = np.empty(nrows + 1 - int(state[0]) if state[0] <= nrows else 0, np.int64)
            nt.ptr_tail(state, nrows, n, tail)
            tail.tofile(out["ptr"])
        finally:
            for f in out.values():
                f.close()
        return int(state[3]) if n else 0

    def _levels(self, pool) -> tuple:
        """Pass 1 of every level: (level table with counts and sizes, sequences as
        (level, column, values, universe, zero samples), count words and records per level
        boundary, the observed token ids); the count files are written."""
        lev = np.zeros((self.order + 1, nt.LEVEL_FIELDS), np.int64)
        counts = HashedFile(self.tmp / ARRAYS["counts"][0], ARRAYS["counts"][1])
        cptr = HashedFile(self.tmp / ARRAYS["count_ptr"][0], ARRAYS["count_ptr"][1])
        try:
            observed = np.flatnonzero(self.unigrams).astype(np.int64)
            lev[1, nt.NGRAMS] = len(observed)
            words, recs = cc.encode(self.unigrams[observed], 0)
            counts.append(words)
            cptr.append(recs)
            seqs = [(1, nt.VAL, len(observed), int(observed[-1]) if len(observed) else 0, False)]
            cword, crec = [0, counts.nbytes // 8], [0, cptr.nbytes // 4]
            for k in range(2, self.order + 1):
                lev[k, nt.CREC] = crec[-1]
                lev[k, nt.NGRAMS] = self.grams[k]
                universe = self._remap_level(k, counts, cptr, pool)
                cword.append(counts.nbytes // 8)
                crec.append(cptr.nbytes // 4)
                nrows = self.vocab_size if k == 2 else self.grams[k - 1]
                seqs.append((k, nt.PTR, nrows + 1, self.grams[k], False))
                seqs.append((k, nt.VAL, self.grams[k], universe, True))
            counts.append(np.zeros(1, np.uint64))  # a spare word: reads past the end stay inside
        finally:
            counts.close()
            cptr.close()
        self._digests = {"counts": counts.h.hexdigest(), "count_ptr": cptr.h.hexdigest()}
        return lev, seqs, cword, crec, observed

    def _sequence(self, k: int, col: int, observed: np.ndarray):
        """`seq(lo, hi)`: values lo..hi-1 of the sequence of level k, column col."""
        if k == 1:
            return lambda lo, hi: observed[lo:hi]
        name = "ptr" if col == nt.PTR else "val"
        return lambda lo, hi: self._read(k, name, lo, hi)

    @staticmethod
    def _layout(lev: np.ndarray, seqs: list) -> int:
        """Place the Elias-Fano sequences in trie.u64, one after the other (their tables of
        positions follow them all): fills their level-table columns; returns their words."""
        word = 0
        for k, col, n, universe, zeros in seqs:
            lb = int(ef.ef_low_bits(n, universe))
            lo_w, hi_w, sel_w, hi_bits = (int(x) for x in ef.ef_words(n, universe, lb))
            z_w = int(ef.ef_zero_samples(n, universe, lb)) if zeros else 0
            lev[k, col : col + ef.EF_FIELDS] = (n, lb, word, word + lo_w, word + lo_w + hi_w,
                                                hi_bits, word + lo_w + hi_w + sel_w if zeros else -1)
            word += lo_w + hi_w + sel_w + z_w
        return word

    def _write_trie(self, lev: np.ndarray, seqs: list, words: int, observed: np.ndarray,
                    pool) -> str:
        """Write every sequence into the memory-mapped trie.u64 (sequences in parallel: they
        share no word), then their tables of positions and the spare word; returns its
        sha256."""
        path = self.tmp / ARRAYS["trie"][0]
        mapped = np.memmap(path, np.uint64, "w+", shape=(words,))  # (level 1: a word at least)

        def write(i: int, trie: np.ndarray = mapped) -> tuple[np.ndarray, int]:
            k, col = seqs[i][:2]
            nseq, lb, lo_w, hi_w, sel_w, hi_bits, sel0_w = (int(x) for x in
                                                            lev[k, col : col + ef.EF_FIELDS])
            span = -1 if k == 1 else SELECT_SPAN  # level 1 is never searched
            first = np.zeros(2, np.int64)
            ntab = np.zeros(1, np.int64)
            tabs = np.zeros(0, np.uint64)
            seq = self._sequence(k, col, observed)
            last = 0
            for lo in range(0, nseq, self.group):
                v = seq(lo, min(nseq, lo + self.group))
                tabs = ef.ef_write_part(v, lo, last, nseq, lb, trie, lo_w, hi_w, sel_w, sel0_w,
                                        span, first, ntab, tabs)
                last = int(v[-1])
            tabs = ef.ef_write_end(nseq, last, lb, trie, hi_w, sel0_w, hi_bits, span, first, ntab,
                                   tabs)
            return tabs[: int(ntab[0]) * ef.TABLE_WORDS], int(ntab[0])

        big_first = sorted(range(len(seqs)), key=lambda i: -seqs[i][2])  # (threads balance)
        written = [None] * len(seqs)
        for i, w in zip(big_first, pool.map(write, big_first), strict=True):
            written[i] = w
        first = words
        for (k, col, n, _, _), (_, ntab) in zip(seqs, written, strict=True):
            _, _, _, _, sel_w, hi_bits, sel0_w = (int(x) for x in lev[k, col : col + ef.EF_FIELDS])
            ef.ef_place_tables(mapped, sel_w, (n + (1 << ef.SAMPLE) - 1) >> ef.SAMPLE, first)
            if sel0_w >= 0:
                ef.ef_place_tables(mapped, sel0_w,
                                   (hi_bits - n + (1 << ef.SAMPLE) - 1) >> ef.SAMPLE, first)
            lev[k, nt.TABLES + (0 if col == nt.PTR else 1)] = ntab
            first += ntab * ef.TABLE_WORDS
        mapped.flush()
        del mapped, write
        with open(path, "ab") as f:
            for tabs, _ in written:
                tabs.astype("<u8", copy=False).tofile(f)
            np.zeros(1, "<u8").tofile(f)  # a spare word: reads past the end stay inside
        return file_sha256(path)

    def finish(self) -> Path:
        self._close_spools()
        if len(self.unigrams) and int(self.unigrams.max()) > MAX_COUNT:
            raise CoocError(f"a token occurs {int(self.unigrams.max())} times: counts must be at "
                            f"most {MAX_COUNT}")
        with ThreadPoolExecutor(self.num_threads) as pool:
            lev, seqs, cword, crec, observed = self._levels(pool)
            words = self._layout(lev, seqs)
            self._digests["trie"] = self._write_trie(lev, seqs, words, observed, pool)
        for name, (file, dt) in ARRAYS.items():
            size = (self.tmp / file).stat().st_size
            self._art.add(name, file, np.dtype(dt).str, [size // np.dtype(dt).itemsize], size,
                          self._digests[name])
        stats = _component_bytes(lev, self.order, cword, crec)
        for p in self.tmp.glob("level*.tmp"):
            p.unlink()
        self._art.write_bytes("vocab", VOCAB,
                              json.dumps(self.texts, ensure_ascii=False).encode("utf-8"))
        grams = {1: int(lev[1, nt.NGRAMS]), **self.grams}
        manifest = {"magic": MAGIC, "format_version": FORMAT_VERSION, "order": self.order,
                    "vocab_size": self.vocab_size, **self.header,
                    "grams": {str(k): int(n) for k, n in grams.items()},
                    "bytes": {str(k): s for k, s in stats.items()},
                    "layout": LAYOUT, "levels": lev.tolist(), "files": self._art.files,
                    "created_by": f"cooc {cooc_version()}"}
        self._art.finish(manifest)
        self._done = True
        return self.path


def _sequence_words(row: np.ndarray) -> tuple[int, int]:
    """(low and high words, sample words) of the Elias-Fano sequence of a level-table slice."""
    n, lb, _, _, _, hi_bits, sel0_w = (int(x) for x in row)
    data = ((n * lb + 63) >> 6) + ((hi_bits + 63) >> 6)
    samples = (n + (1 << ef.SAMPLE) - 1) >> ef.SAMPLE
    if sel0_w >= 0:
        samples += (hi_bits - n + (1 << ef.SAMPLE) - 1) >> ef.SAMPLE
    return data, samples


def _component_bytes(lev: np.ndarray, order: int, cword: list[int],
                     crec: list[int]) -> dict[int, dict[str, float]]:
    """Bytes per order and component, as `NgramIndex.stats` reports them: ids (the val
    sequence's low and high bits; order 1: the observed token ids, samples included),
    counts (count code and records), pointers (the ptr sequence, and the select samples and
    tables of positions of both). The spare words of trie.u64 and counts.u64 go to order
    1's pointers: the components add up to the array files' bytes."""
    out = {}
    for k in range(1, order + 1):
        data, samples = _sequence_words(lev[k, nt.VAL : nt.VAL + ef.EF_FIELDS])
        samples += ef.TABLE_WORDS * int(lev[k, nt.TABLES] + lev[k, nt.TABLES + 1])
        ptr = sum(_sequence_words(lev[k, nt.PTR : nt.PTR + ef.EF_FIELDS])) if k > 1 else 0
        ids = 8 * (data + samples) if k == 1 else 8 * data
        pointers = 16 if k == 1 else 8 * (ptr + samples)
        cnt = 8 * (cword[k] - cword[k - 1]) + 4 * (crec[k] - crec[k - 1])
        out[k] = {"id_bytes": float(ids), "count_bytes": float(cnt), "pointer_bytes": float(pointers)}
    return out
