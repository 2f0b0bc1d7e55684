"""A backoff language model as a compressed trie on disk (`X.lm/`), with probabilities and
backoffs optionally quantized, and its memory-mapped scorer (KenLM `query` semantics).

    from cooc.lm import read_arpa
    from cooc.lm.trie import TrieConfig, write_trie, open_trie_lm
    write_trie(read_arpa("m.arpa"), "m.lm", TrieConfig(quantization_bits=8))
    lm = open_trie_lm("m.lm")
    lm.score(["a sentence"]).perplexity        # or lm.score_ids(ids, sent_ptr)

Layout (format_version 1; every array little-endian, memory-mappable, sha256 in the manifest)

    manifest.json  magic "COOC-LM", format_version, order, vocab_size, quantization_bits
                   (0: float32 values), grams and dropped n-grams per order, the level table
                   (`cooc.kernels.lm_trie`: two Elias-Fano sequences and the value places per
                   level), bytes per order and component, "files": {name, file, dtype,
                   shape, bytes, sha256} per file (vocab.json too, with null dtype and shape;
                   `cooc.formats.manifest`)
    vocab.json     the words, in model id order (as `NgramModel.vocab`)
    tokmap.i32     int32[V]: model id -> trie token id (trie ids rank the words by unigram
                   probability, most probable first: small ids, small Elias-Fano gaps)
    unigrams.f32   float32[V, 2]: log10 prob and backoff of every trie token id
    trie.u64       levels 2..order: Elias-Fano row starts and context-remapped ids
                   (`cooc.kernels.lm_trie`), all in one word array
    codes.u64      quantized: per level, the prob codes then the backoff codes, bit-packed
                   (q bits an entry; the highest order has no backoffs); float32 values:
                   values.f32 instead
    centres.f32    quantized: per level, 2**q prob bin centres then 2**q backoff centres

Quantization (KenLM's binning): per order and per kind, the values are sorted and cut into
2**q bins of equal population (fewer distinct values than bins: each its own bin, exact);
a value is stored as the code of the nearest bin centre (the mean of its bin). Backoffs keep
an exact 0 when any is 0. Unigrams stay float32, as KenLM's trie keeps them.

An n-gram whose (n-1)-suffix is not in the model is never reached by the scorer (it extends a
context only after finding the shorter n-gram), so it is dropped (counted in the manifest):
the trie's context remapping needs every suffix.

Performance notes (`bench/bench_lm_trie.py`; order-5 Kneser-Ney models of the English shared
corpus; 2-core AMD EPYC shared with other jobs, timings +-30 %):
- size, 8-bit, everything but the vocabulary's text: 10 MB of text, 4.69 M n-grams: 3.16
  bytes/n-gram (ids 0.82 with the 4-byte model id -> trie id map 0.13, pointers 0.30,
  probs 1.10 and backoffs 0.81 with the unigrams' float32 0.13 each); 40 MB, 16.8 M
  n-grams: 3.18. float32 values: 8.08; 4-bit: 2.34. The hash scorer: 44-46 bytes/n-gram.
  Select samples every 512 ones instead of 256: -0.05 bytes/n-gram, +20 % time.
- ids: word ids ranked by unigram probability (vocabulary order: alphabetical) and context
  remapping above level 2 make most remapped ids small: level-5 ids cost 0.21-0.38 bytes;
  level 2 (plain word ids) costs most, ~1.9 bytes: a partitioned Elias-Fano would cut it.
- 8-bit perplexity differs from the unquantized by 1.3e-3 (10 MB) and 2.0e-3 (40 MB)
  relative; single tokens can move by more than 1 (log10) where a value sits in a wide
  tail bin. 4-bit: 9e-3.
- speed: ~0.8 us a token from ids (hash scorer ~0.14 us). A long row used to be binary
  searched with a select per step (0.9 us a token); a linear scan was 5.7 us; the jump to
  the target's high bucket with select0 and a scan of the bucket 1.7 us (buckets hold
  hundreds of entries in dense rows); the jump plus a binary search over the bucket's low
  bits 0.8 us. Select samples every 64 ones: -10 % time, +0.27 bytes/n-gram; kept at 256.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from cooc.errors import IndexFormatError
from cooc.formats.artefact import FolderArtefact, restore_interrupted
from cooc.formats.checked import check_once
from cooc.formats.lock import writes_target
from cooc.formats.manifest import (
    HashedFile,
    array_entry_problem,
    cooc_version,
    file_problem,
    int_table,
    manifest_field_problem,
    per_order_problem,
    read_folder_manifest,
    read_vocabulary,
)
from cooc.kernels import lm_trie as kt
from cooc.kernels.succinct import elias_fano
from cooc.kernels.succinct.elias_fano import ef_extent
from cooc.lm.model import NgramModel, find_rows
from cooc.lm.scorer import Scores, checked_ids, score_sentences_threaded

MAGIC = "COOC-LM"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCAB = "vocab.json"
# array name -> (file, dtype, columns)
ARRAYS = {
    "tokmap": ("tokmap.i32", "<i4", 1),
    "unigrams": ("unigrams.f32", "<f4", 2),
    "trie": ("trie.u64", "<u8", 1),
    "codes": ("codes.u64", "<u8", 1),
    "centres": ("centres.f32", "<f4", 1),
    "values": ("values.f32", "<f4", 1),
}


@dataclass(frozen=True)
class TrieConfig:
    """How a model is stored (recorded in the manifest)."""

    quantization_bits: int = field(default=8, metadata={
        "help": "bits per quantized log10 prob and backoff of orders >= 2 (2..16; 0: float32, "
                "unquantized)"})

    def __post_init__(self) -> None:
        q = self.quantization_bits
        if isinstance(q, bool) or not isinstance(q, int) or not (q == 0 or 2 <= q <= 16):
            raise ValueError(f"quantization_bits must be 0 (float32) or an int in [2, 16], "
                             f"got {q!r}")


# -- quantization -----------------------------------------------------------------------------


def quantize(values: np.ndarray, bits: int, keep_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(codes int64[n], centres float32[2**bits]) of values by equal-population binning; a
    value's code is its nearest centre. keep_zero: 0.0 is a centre of its own when present."""
    nb = 1 << bits
    v = np.asarray(values, np.float64)
    zero = keep_zero and bool((v == 0).any())
    rest = np.sort(v[v != 0] if zero else v)
    uniq = np.unique(rest)
    nbins = nb - (1 if zero else 0)
    if len(uniq) <= nbins:
        centres = uniq
    else:
        cuts = np.unique((np.arange(nbins) * len(rest)) // nbins)
        sums = np.add.reduceat(rest, cuts)
        centres = np.unique(sums / np.diff(np.append(cuts, len(rest))))
    if zero:
        centres = np.unique(np.append(centres, 0.0))
    centres = centres.astype(np.float32)
    if not len(centres):
        centres = np.zeros(1, np.float32)
    c64 = centres.astype(np.float64)
    codes = np.searchsorted((c64[1:] + c64[:-1]) / 2, v).astype(np.int64)
    out = np.full(nb, centres[-1], np.float32)
    out[: len(centres)] = centres
    return codes, out


# -- writing ----------------------------------------------------------------------------------


def _sorted_levels(model: NgramModel, tokmap: np.ndarray):
    """Per order: grams in trie ids sorted, and their log10 probs and backoffs."""
    out = []
    for k in range(2, model.order + 1):
        g = tokmap[model.grams[k - 1].astype(np.int64)]
        perm = np.lexsort(g.T[::-1]) if len(g) else np.zeros(0, np.int64)
        out.append((g[perm], model.logprob[k - 1][perm], model.backoff[k - 1][perm]))
    return out


@writes_target("path", "cooc lm index")
def write_trie(model: NgramModel, path: str | os.PathLike, config: TrieConfig | None = None) -> Path:
    """Write `model` as an LM trie folder at `path` (see the module docstring); returns it.
    An LM trie already there is replaced (`cooc.formats.artefact`: the path holds the whole
    old trie or the whole new one at every instant); anything else there is refused."""
    config = config or TrieConfig()
    path = Path(path)
    art = FolderArtefact(path, MAGIC, "cooc LM trie")
    try:
        return _write_trie(model, art, config)
    finally:
        art.abort()  # (nothing once finished)


def _write_trie(model: NgramModel, art: FolderArtefact, config: TrieConfig) -> Path:
    v = len(model.vocab)
    n = model.order
    q = config.quantization_bits
    if model.grams[0].shape[0] != v:
        raise ValueError(f"the model's unigrams ({model.grams[0].shape[0]}) must be its whole "
                         f"vocabulary ({v} words)")
    for w in (model.unk_id, model.bos_id, model.eos_id):
        if w < 0:
            raise ValueError("the model's vocabulary needs <unk>, <s> and </s>")
    lp1 = np.asarray(model.logprob[0], np.float32)
    rank = np.argsort(-lp1.astype(np.float64), kind="stable")
    tokmap = np.empty(v, np.int64)
    tokmap[rank] = np.arange(v)
    uni = np.empty((v, 2), np.float32)
    uni[tokmap, 0] = lp1
    uni[tokmap, 1] = model.backoff[0]
    levels = _sorted_levels(model, tokmap)
    # keep the n-grams the scorer can reach: prefix and suffix present (and kept)
    prev_grams = np.arange(v, dtype=np.int64).reshape(-1, 1)
    prev_all = prev_grams  # level k - 1 before dropping
    prev_rank = None
    grams_kept = {1: v}
    dropped = {1: 0}
    parts = []  # per level: (ptr, val, prob, backoff)
    for k in range(2, n + 1):
        g, lp, bo = levels[k - 2]
        if k == 2:
            parent = g[:, 0].copy()
            suffix = g[:, 1].copy()
        else:
            parent = find_rows(prev_grams, g[:, :-1])
            suffix = find_rows(prev_grams, g[:, 1:])
        missing = parent < 0
        if missing.any():  # a prefix dropped one level down is fine: this one goes too
            absent = find_rows(prev_all, g[missing, :-1]) < 0
            if absent.any():
                bad = g[np.flatnonzero(missing)[np.flatnonzero(absent)[0]]]
                raise ValueError(f"the {k}-gram {[model.vocab[rank[t]] for t in bad]} has no "
                                 f"{k - 1}-gram prefix in the model: not a backoff model")
        keep = (suffix >= 0) & ~missing
        prev_all = g
        g, lp, bo, parent, suffix = g[keep], lp[keep], bo[keep], parent[keep], suffix[keep]
        dropped[k] = int((~keep).sum())
        grams_kept[k] = len(g)
        ptr = elias_fano.row_starts(parent, len(prev_grams))
        ids = g[:, 1] if k == 2 else prev_rank[suffix]
        val = elias_fano.level_values(ptr, ids)
        parts.append((ptr, val, lp, bo))
        prev_rank = np.arange(len(g), dtype=np.int64) - ptr[parent]
        prev_grams = g
    # the Elias-Fano sequences, in one word array
    lev = np.zeros((n + 1, kt.LEVEL_FIELDS), np.int64)
    lev[:, kt.BACKOFF_OFF] = -1
    word = 0
    seqs = []
    for k in range(2, n + 1):
        ptr, val = parts[k - 2][:2]
        for col, seq in ((elias_fano.PTR, ptr), (elias_fano.VAL, val)):
            m = len(seq)
            universe = int(seq[-1]) if m else 0
            ell = int(elias_fano.ef_low_bits(m, universe))
            lo_w, hi_w, sel_w, hi_bits = elias_fano.ef_words(m, universe, ell)
            sel0_w = int(elias_fano.ef_zero_samples(m, universe, ell)) if col == elias_fano.VAL else 0
            lev[k, col : col + elias_fano.EF_FIELDS] = (m, ell, word, word + lo_w, word + lo_w + hi_w,
                                               hi_bits, word + lo_w + hi_w + sel_w if sel0_w
                                               else -1)
            word += lo_w + hi_w + sel_w + sel0_w
            seqs.append((seq, k, col))
    trie = np.zeros(word + 1, np.uint64)  # one spare word: reads past a segment stay inside
    for seq, k, col in seqs:
        e = lev[k, col : col + elias_fano.EF_FIELDS]
        elias_fano.ef_write(seq.astype(np.int64), int(e[1]), trie, int(e[2]), int(e[3]), int(e[4]),
                    int(e[6]))
    # values
    # order 1: "ids" is the model id -> trie id map
    stats = {1: {"grams": v, "ids": 4.0 * v, "pointers": 0.0, "probs": 4.0 * v, "backoffs": 4.0 * v}}
    values_f32: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    code_bits = 0
    code_parts = []
    voff = 0
    for k in range(2, n + 1):
        _, _, lp, bo = parts[k - 2]
        kinds = [(0, lp, False)] + ([(1, bo, True)] if k < n else [])
        st = {"grams": grams_kept[k], "probs": 0.0, "backoffs": 0.0}
        for col, x, keep_zero in kinds:
            name = "probs" if col == 0 else "backoffs"
            if q == 0:
                lev[k, kt.PROB_OFF + col] = voff
                values_f32.append(np.asarray(x, np.float32))
                voff += len(x)
                st[name] = 4.0 * len(x)
            else:
                codes, cen = quantize(x, q, keep_zero)
                lev[k, kt.PROB_OFF + col] = code_bits
                lev[k, kt.PROB_CENTRE + col] = sum(len(c) for c in centres)
                centres.append(cen)
                code_parts.append((codes, code_bits))
                code_bits += len(codes) * q
                st[name] = len(codes) * q / 8 + 4.0 * len(cen)
        ptr_e, val_e = (lev[k, c : c + elias_fano.EF_FIELDS] for c in (elias_fano.PTR, elias_fano.VAL))
        # ids: the low and high parts of val; pointers: all of ptr and val's select samples
        st["ids"] = 8.0 * int(val_e[4] - val_e[2])
        st["pointers"] = 8.0 * (int(ptr_e[4] - ptr_e[2])) + 8.0 * (
            _sample_words(ptr_e) + _sample_words(val_e))
        stats[k] = st
    codes_words = np.zeros(((code_bits + 63) >> 6) + 1, np.uint64)
    for codes, off in code_parts:
        kt.pack_codes(codes, q, codes_words, off)
    arrays = {"tokmap": tokmap.astype(np.int32), "unigrams": uni, "trie": trie,
              "codes": codes_words if q else np.zeros(0, np.uint64),
              "centres": np.concatenate(centres) if centres else np.zeros(0, np.float32),
              "values": np.concatenate(values_f32) if values_f32 else np.zeros(0, np.float32)}
    for name, (file, dt, cols) in ARRAYS.items():
        a = np.ascontiguousarray(arrays[name], dtype=dt)
        f = HashedFile(art.tmp / file, dt)
        f.append(a)
        art.add_hashed(name, f, file, [len(a), cols] if cols > 1 else [len(a)])
    art.write_bytes("vocab", VOCAB, json.dumps(list(model.vocab), ensure_ascii=False).encode("utf-8"))
    manifest = {"magic": MAGIC, "format_version": FORMAT_VERSION, "order": n,
                "vocab_size": v, **asdict(config),
                "grams": {str(k): int(c) for k, c in grams_kept.items()},
                "dropped": {str(k): int(c) for k, c in dropped.items()},
                "levels": lev.tolist(), "sample": elias_fano.SAMPLE,
                "bytes": {str(k): {c: float(s[c]) for c in ("ids", "pointers", "probs",
                                                             "backoffs")}
                          for k, s in stats.items()},
                "files": art.files, "created_by": f"cooc {cooc_version()}"}
    return art.finish(manifest)


def _sample_words(ef: np.ndarray) -> int:
    ones = (int(ef[0]) + (1 << elias_fano.SAMPLE) - 1) >> elias_fano.SAMPLE
    zeros = (int(ef[5]) - int(ef[0]) + (1 << elias_fano.SAMPLE) - 1) >> elias_fano.SAMPLE if ef[6] >= 0 else 0
    return ones + zeros


@writes_target("path", "cooc lm index")
def arpa_to_trie(arpa: str | os.PathLike, path: str | os.PathLike,
                 config: TrieConfig | None = None) -> Path:
    """Read an ARPA file and write it as an LM trie."""
    from cooc.lm.arpa import read_arpa

    return write_trie(read_arpa(arpa), path, config)


# -- reading and scoring ----------------------------------------------------------------------


class TrieLanguageModel:
    """A memory-mapped LM trie compiled for scoring. Open with `open_trie_lm(path)`.

    Parameters
    ----------
    path : the `X.lm` folder.
    num_threads : threads for large batches (1: the calling thread only).
    verify : check every file's sha256 (and that every sequence decodes) before use.
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 1, verify: bool = True):
        self.path = Path(path)
        self.num_threads = max(1, num_threads)
        if not os.path.lexists(self.path):
            restore_interrupted(self.path)  # a writer killed mid-swap left the old trie beside it
        m = read_folder_manifest(self.path, MANIFEST, MAGIC, FORMAT_VERSION, "an LM trie",
                                 "`cooc lm index MODEL.arpa -o OUT.lm`", IndexFormatError)
        self.manifest = m
        problem = manifest_field_problem(m, {"order": int, "vocab_size": int,
                                             "quantization_bits": int, "levels": list,
                                             "files": list, "dropped": dict})
        lev = int_table(m, "levels")
        if problem is None:
            problem = (per_order_problem(m, "grams", m["order"])
                       or per_order_problem(m, "bytes", m["order"], (int, float))
                       or (None if lev is not None else "levels is not a table of integers"))
        if problem is None and not all(isinstance(x, int) and not isinstance(x, bool)
                                       for x in m["dropped"].values()):
            problem = "dropped must hold counts"
        if problem:
            raise IndexFormatError(f"{self.path}/{MANIFEST}: {problem}; rebuild the LM trie")
        self.order = int(m["order"])
        self.vocab_size = int(m["vocab_size"])
        self.quantization_bits = int(m["quantization_bits"])
        a = {}
        specs = {e.get("name"): e for e in m.get("files", []) if e.get("name") in ARRAYS}
        if set(specs) != set(ARRAYS):
            raise IndexFormatError(f"{self.path}: the manifest's files do not match this format")
        for name, spec in specs.items():
            p = self.path / spec["file"]
            try:
                size = p.stat().st_size
            except OSError:
                raise IndexFormatError(f"{p} is missing: the LM trie is incomplete") from None
            if size != spec["bytes"]:
                raise IndexFormatError(f"{p} has {size} bytes, the manifest says "
                                       f"{spec['bytes']}: the LM trie is truncated or damaged")
            problem = array_entry_problem(spec, size)
            if problem:
                raise IndexFormatError(f"{self.path}/{MANIFEST}: {problem}; rebuild the LM trie")
            shape = tuple(spec["shape"])
            dt = np.dtype(spec["dtype"])
            a[name] = np.memmap(p, dt, "r", shape=shape) if size else np.zeros(shape, dt)
        self._a = a
        self.lev = lev
        if self.lev.shape != (self.order + 1, kt.LEVEL_FIELDS) or m.get("sample") != elias_fano.SAMPLE:
            raise IndexFormatError(f"{self.path}: the level table does not match this format")
        self.tokmap = a["tokmap"]
        self.vocab: list[str] = read_vocabulary(self.path, m, VOCAB, None, IndexFormatError)
        if len(self.vocab) != self.vocab_size or self.tokmap.shape != (self.vocab_size,):
            raise IndexFormatError(f"{self.path}: vocabulary and manifest disagree")
        self._check_tables()
        self._ids = {w: i for i, w in enumerate(self.vocab)}
        self.unk = self._ids.get("<unk>", -1)
        self.bos = self._ids.get("<s>", -1)
        self.eos = self._ids.get("</s>", -1)
        if verify:
            problem = check_once(self.path, MANIFEST, m["files"], self._decode_problem)
            if problem:
                raise IndexFormatError(f"{problem}: the LM trie is damaged; rebuild it")

    def _check_tables(self) -> None:
        """Every place the level table names lies inside its array (the kernels trust it)."""
        a, lev, n, v = self._a, self.lev, self.order, self.vocab_size
        bad = a["unigrams"].shape != (v, 2)
        tm = np.asarray(self.tokmap)
        bad |= bool(len(tm) and (int(tm.min()) < 0 or int(tm.max()) >= v))
        words = len(a["trie"])
        q = self.quantization_bits
        bad |= not (q == 0 or 2 <= q <= 16)
        for k in range(2, n + 1):
            for col in (elias_fano.PTR, elias_fano.VAL):
                extent = ef_extent(lev[k, col:])
                bad |= extent is None or extent[1] > words
            grams = int(lev[k, elias_fano.VAL])
            bad |= int(lev[k, elias_fano.PTR]) != int(lev[k - 1, elias_fano.VAL] if k > 2 else v) + 1
            for col in (0, 1):
                off = int(lev[k, kt.PROB_OFF + col])
                if off < 0:
                    bad |= col == 0 or k < n
                elif q == 0:
                    bad |= off + grams > len(a["values"])
                else:
                    bad |= (off + grams * q > 64 * len(a["codes"])
                            or not 0 <= int(lev[k, kt.PROB_CENTRE + col]) <= len(a["centres"]) - (1 << q))
        if bad:
            raise IndexFormatError(f"{self.path}: the level table does not match the arrays: "
                                   "the LM trie is damaged; rebuild it")

    # -- facts -----------------------------------------------------------------------------

    @property
    def grams(self) -> dict[int, int]:
        return {int(k): int(c) for k, c in self.manifest["grams"].items()}

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (what scoring maps)."""
        return int(sum(s["bytes"] for s in self.manifest["files"] if s["name"] in ARRAYS))

    def stats(self) -> dict:
        """Grams, bytes and bytes per n-gram per order and per component (ids: the remapped
        next-word ids, for order 1 the model id -> trie id map; pointers: row starts and
        select samples; probs, backoffs: codes and bin centres, or float32). Everything but
        the vocabulary's text."""
        per = {}
        for k in range(1, self.order + 1):
            b = self.manifest["bytes"][str(k)]
            g = self.grams[k]
            size = sum(b.values())
            per[k] = {"grams": g, "bytes": size, "bytes_per_gram": size / g if g else 0.0,
                      **{f"{c}_bytes_per_gram": (x / g if g else 0.0) for c, x in b.items()}}
        total = sum(o["bytes"] for o in per.values())
        n_all = sum(self.grams.values())
        return {"path": str(self.path), "order": self.order, "vocab_size": self.vocab_size,
                "quantization_bits": self.quantization_bits, "grams": n_all,
                "dropped": sum(int(x) for x in self.manifest["dropped"].values()),
                "bytes": total, "bytes_per_gram": total / n_all if n_all else 0.0,
                "file_bytes": self.nbytes, "orders": per}

    def verify(self) -> None:
        """Check every file's sha256 and that every sequence decodes (IndexFormatError)."""
        problem = file_problem(self.path, self.manifest["files"]) or self._decode_problem()
        if problem:
            raise IndexFormatError(f"{problem}: the LM trie is damaged; rebuild it")

    def _decode_problem(self) -> str | None:
        """Every sequence decodes and every value is sane (what the kernels assume)."""
        try:
            self._check_decodes()
        except IndexFormatError as e:
            return str(e)
        return None

    def _check_decodes(self) -> None:
        trie = self._a["trie"]
        for k in range(2, self.order + 1):
            for col in (elias_fano.PTR, elias_fano.VAL):
                seq = self.lev[k, col : col + elias_fano.EF_FIELDS]
                vals, ok = elias_fano.ef_decode(trie, seq)
                if not ok or (len(vals) > 1 and (np.diff(vals) < 0).any()):
                    raise IndexFormatError(f"{self.path}: level {k} does not decode")

    def _args(self) -> tuple:
        a = self._a
        return (self.lev, a["trie"], a["unigrams"], a["codes"], a["centres"], a["values"],
                np.int64(self.quantization_bits))

    # -- lookups ---------------------------------------------------------------------------

    def lookup(self, words: list[str]) -> tuple[float, float] | None:
        """(log10 prob, log10 backoff) of an n-gram given as words, or None if absent."""
        ids = [self._ids.get(w, -1) for w in words]
        if not 1 <= len(ids) <= self.order or min(ids) < 0:
            return None
        g = np.asarray(self.tokmap)[np.array(ids, np.int64)].astype(np.int64)
        e = int(kt.find_gram(g, self._a["trie"], self.lev))
        if e < 0:
            return None
        k = len(ids)
        lev, _, uni, codes, centres, values, qbits = self._args()
        return tuple(float(kt.value(k, e, col, lev, uni, codes, centres, values, qbits))
                     for col in (0, 1))

    def to_model(self) -> NgramModel:
        """The model the trie holds (values as stored: bin centres when quantized)."""
        trie = self._a["trie"]
        inv = np.empty(self.vocab_size, np.int64)
        inv[np.asarray(self.tokmap, np.int64)] = np.arange(self.vocab_size)
        uni = np.asarray(self._a["unigrams"])
        grams = [np.arange(self.vocab_size, dtype=np.int32).reshape(-1, 1)]
        logprob = [uni[np.asarray(self.tokmap), 0].copy()]
        backoff = [uni[np.asarray(self.tokmap), 1].copy()]
        prev = np.arange(self.vocab_size, dtype=np.int64).reshape(-1, 1)  # trie ids
        prev_last = np.arange(self.vocab_size, dtype=np.int64)
        prev_suffix = prev_ptr = None
        args = self._args()
        for k in range(2, self.order + 1):
            ptr, _ = elias_fano.ef_decode(trie, self.lev[k, elias_fano.PTR : elias_fano.PTR + elias_fano.EF_FIELDS])
            val, _ = elias_fano.ef_decode(trie, self.lev[k, elias_fano.VAL : elias_fano.VAL + elias_fano.EF_FIELDS])
            parent = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            start = ptr[parent]
            base = np.where(start > 0, val[np.maximum(start - 1, 0)], 0)
            ids = val - base
            suffix = ids if k == 2 else prev_ptr[prev_suffix[parent]] + ids
            last = prev_last[suffix]
            g = np.concatenate([prev[parent], last.reshape(-1, 1)], 1)
            e = np.arange(len(g), dtype=np.int64)
            lp = _level_values(k, e, 0, args)
            bo = _level_values(k, e, 1, args)
            mg = inv[g]
            perm = np.lexsort(mg.T[::-1])
            grams.append(mg[perm].astype(np.int32))
            logprob.append(lp[perm])
            backoff.append(bo[perm])
            prev, prev_last, prev_suffix, prev_ptr = g, last, suffix, ptr
        return NgramModel(list(self.vocab), grams, logprob, backoff,
                          {"source": str(self.path)})

    # -- scoring ---------------------------------------------------------------------------

    def encode(self, sentences: list[str], ascii_spaces: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """(model ids int32, sentence pointers int64) of whitespace-separated sentences
        (ascii_spaces: split on ASCII whitespace only, as KenLM does)."""
        get = self._ids.get
        ids: list[int] = []
        lens = np.zeros(len(sentences) + 1, np.int64)
        for i, s in enumerate(sentences):
            ws = s.split() if not ascii_spaces else \
                [w.decode("utf-8", "surrogatepass")
                 for w in s.encode("utf-8", "surrogatepass").split()]
            lens[i + 1] = len(ws)
            ids.extend(map(get, ws, repeat(self.unk, len(ws))))
        return np.array(ids, np.int32), np.cumsum(lens)

    def score_ids(self, words: np.ndarray, sent_ptr: np.ndarray) -> Scores:
        """Scores of sentences given as model ids (words[sent_ptr[s]:sent_ptr[s+1]]), as
        `LanguageModel.score_ids`."""
        words, sent_ptr = checked_ids(words, sent_ptr, self.vocab_size, self.unk)
        tm = self.tokmap
        args = (self.order, np.int64(tm[self.bos]), np.int64(tm[self.eos]), tm, *self._args())
        return score_sentences_threaded(kt.score_sentences, words, sent_ptr, args,
                                        self.num_threads, self.unk)

    def score(self, sentences: list[str] | str) -> Scores:
        """Scores of whitespace-tokenized sentences (a str is one sentence)."""
        if isinstance(sentences, str):
            sentences = [sentences]
        return self.score_ids(*self.encode(sentences))


def _level_values(k: int, entries: np.ndarray, col: int, args: tuple) -> np.ndarray:
    lev, _, _, codes, centres, values, qbits = args
    off = int(lev[k, kt.PROB_OFF + col])
    if off < 0:
        return np.zeros(len(entries), np.float32)
    if int(qbits) == 0:
        return np.asarray(values[off : off + len(entries)], np.float32).copy()
    c = kt.unpack_codes(codes, np.int64(off), np.int64(len(entries)), qbits)
    return np.asarray(centres, np.float32)[int(lev[k, kt.PROB_CENTRE + col]) + c]


def open_trie_lm(path: str | os.PathLike, num_threads: int = 1,
                 verify: bool = True) -> TrieLanguageModel:
    """Open the LM trie at `path` (memory-mapped; checksums checked unless verify=False)."""
    return TrieLanguageModel(path, num_threads=num_threads, verify=verify)
