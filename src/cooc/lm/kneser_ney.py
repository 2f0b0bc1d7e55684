"""Interpolated modified Kneser-Ney estimation, as KenLM's `lmplz` does it (Heafield et al.
2013; KenLM lm/builder: adjust_counts, initial_probabilities, interpolate).

Counts come from the n-gram counter with markers (`cooc.ngram`): every document (a line of
a .txt file) is a sentence `<s> w1 .. wn </s>`, and no n-gram crosses sentences. The
estimator reads them as trie levels (`cooc.ngram.levels`: a k-gram is (parent row in level
k - 1, last word), levels in lexicographic order) in slices, and computes:

- adjusted counts a: raw counts for order N and for n-grams starting with `<s>` (they cannot
  be extended to the left); otherwise the number of distinct left extensions v g. The unigram
  `<s>` gets 0, and `<unk>` is added with 0;
- discounts per order from the counts of adjusted counts t1..t4: Y = t1 / (t1 + 2 t2),
  D_j = j - (j + 1) Y t_{j+1} / t_j for j = 1, 2, 3 (3 meaning 3+);
- per context c of order k: denominator sum_w a(c w), gamma(c) = sum_j D_j n_j(c) / denominator;
  uninterpolated u(c w) = (a - D(a)) / denominator;
- interpolation: p(w) = u(w) + gamma() / (unigrams - 1) (`<s>` not counted: lmplz's uniform
  distribution includes `<unk>` but not `<s>`), so `<unk>` gets the zero-count probability
  gamma() / (unigrams - 1); p(<s>) = 1 (log10 0, as lmplz writes it);
  p(c w) = u(c w) + gamma(c) p(suffix);
- backoff(g) = gamma(g) as a context of order k + 1 (1 where g extends nothing); log10 of
  both, probabilities capped at 0 as lmplz does.

lmplz computes in float32; this computes each value in float64 and stores probabilities
and gammas as float32, as lmplz does (differences are below 1e-6 in log10).

Memory. Two passes, each holding a few whole per-level arrays and slices of the rest:
1. suffix rows and adjusted counts, k = 2..N: a k-gram's suffix row is the child, with its
   last word, of its parent's suffix (`suffix_rows` over level k - 1); counting the suffix
   rows of level k gives the adjusted counts of level k - 1. Held: level k - 1's child
   offsets, last words and adjusted counts (16-20 bytes a (k-1)-gram); suffix rows and
   adjusted counts go to scratch files.
2. probabilities, k = 1..N: gamma of level k's contexts (from level k + 1) and the
   interpolated probabilities of level k (from level k - 1's), then level k is handed to the
   sink (ARPA writer or in-memory model) in slices. Held: probabilities and gammas of two
   levels (float32, 8 bytes an n-gram of each).
Order 5 on 4.2 M words (11.6 M n-grams) peaks at ~100 MB above the counts' own memory,
where holding every level took ~1 GB.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cooc.errors import CoocError
from cooc.formats.lock import writes_target
from cooc.kernels import kneser_ney as kk
from cooc.lm.config import KneserNeyConfig
from cooc.lm.model import BOS, EOS, UNK, NgramModel
from cooc.options import RunOptions
from cooc.runtime.malloc import trim
from cooc.runtime.progress import log
from cooc.runtime.scratch import scratch_dir
from cooc.runtime.spool import SpoolFiles

_SLICE = 1 << 18  # n-grams per slice of a level
_OUT_SLICE = 1 << 17  # n-grams per slice handed to the sink (~9 MB of ARPA text at order 5)


class BadDiscount(CoocError):
    """The closed-form Kneser-Ney discounts fail for an order (small or artificial data)."""


def discounts(adjusted: np.ndarray, order: int, fallback: tuple[float, ...] = ()) -> tuple:
    """(D0..D3 as float64[4], counts of counts t1..t4) of one order's adjusted counts."""
    return discounts_from_counts(np.bincount(np.minimum(adjusted, 5), minlength=6), order,
                                 fallback)


def discounts_from_counts(hist: np.ndarray, order: int,
                          fallback: tuple[float, ...] = ()) -> tuple:
    """`discounts` from the counts of adjusted counts 0..4 (hist[j]: how many n-grams have
    adjusted count j; more entries are ignored)."""
    t = np.asarray(hist[:5], np.int64)
    try:
        for j in (1, 2, 3):
            if t[j] == 0:
                raise BadDiscount(
                    f"could not estimate Kneser-Ney discounts for {order}-grams: no {order}-grams "
                    f"with adjusted count {j} (small or artificial data?); deduplicate the input "
                    "or set discount_fallback=(0.5, 1, 1.5)")
        # lmplz computes these in float32 (adjust_counts.cc); so do we, to match its output
        f = np.float32
        y = f(t[1]) / f(float(t[1]) + 2.0 * float(t[2]))
        d = np.zeros(4, np.float64)
        for j in (1, 2, 3):
            d[j] = f(j) - f(j + 1) * y * f(t[j + 1]) / f(t[j])
            if not 0 <= d[j] <= j:
                raise BadDiscount(f"the {order}-gram discount for adjusted count {j} is {d[j]:.4g}, "
                                  f"outside [0, {j}]: modified Kneser-Ney does not fit this data; "
                                  "set discount_fallback=(0.5, 1, 1.5) to override")
    except BadDiscount:
        if not fallback:
            raise
        log.warning("order %d: substituting fallback discounts %s", order, fallback)
        d = np.array([0.0, *fallback], np.float64)
    return d, t[1:5]


def _parent_slices(levels, k: int, step: int = _SLICE):
    """(lo, hi, rows) slices of level k >= 2 cut where the parent changes, so that all the
    children of a context are in one slice."""
    n = levels.size(k)
    lo = 0
    while lo < n:
        hi = min(n, lo + step)
        rows = levels.read(k, "rows", lo, min(n, hi + 1))
        if hi < n:
            cut = int(np.searchsorted(rows, rows[-1], "left"))  # the run that goes on
            if cut == 0:  # one context with more than `step` children
                step *= 2
                continue
            hi = lo + cut
            rows = rows[:cut]
        yield lo, hi, rows
        lo = hi


class KneserNey:
    """One modified Kneser-Ney estimation of order `order` over `levels` (counted with
    markers: ids V - 2 and V - 1 are <s> and </s>) whose token ids display as `texts`."""

    def __init__(self, levels, texts: list[str], order: int, scratch: Path,
                 discount_fallback: tuple[float, ...] = (), prune: tuple[int, ...] = ()):
        self.levels = levels
        self.order = order
        # pruning threshold per order (index k; lmplz --prune: a k-gram goes when its raw
        # count is <= threshold[k]); unigrams are never pruned
        pr = tuple(prune) or (0,)
        self.threshold = (0, 0) + tuple((pr + (pr[-1],) * order)[1:order])
        self.v = levels.vocab_size
        self.bos = self.v - 2
        self.fallback = discount_fallback
        self.scratch = SpoolFiles(scratch)  # suffix rows, adjusted counts
        uni = np.asarray(levels.unigrams, np.int64)
        self.present = np.flatnonzero(uni)
        bad = [texts[i] for i in self.present if texts[i] in (BOS, EOS, UNK) and i < self.bos]
        if bad:
            raise CoocError(f"the text contains the reserved word {bad[0]!r} (lmplz refuses it "
                            "too): remove or replace it before estimating")
        # model ids: the present tokens in id order (<s>, </s> last), then <unk>
        self.lm_of = np.full(self.v, -1, np.int32)
        self.lm_of[self.present] = np.arange(len(self.present), dtype=np.int32)
        self.vocab = [texts[i] for i in self.present] + [UNK]
        self.counts = [len(self.vocab)] + [self._kept(k) for k in range(2, order + 1)]
        self.disc: dict[int, np.ndarray] = {}
        self.tcounts: dict[int, np.ndarray] = {}
        self.adj1: np.ndarray | None = None

    def _kept(self, k: int) -> int:
        """n-grams of level k that survive pruning."""
        t = self.threshold[k]
        if t == 0:
            return self.levels.size(k)
        return sum(int(np.count_nonzero(self.levels.read(k, "counts", lo, lo + _SLICE) > t))
                   for lo in range(0, self.levels.size(k), _SLICE))

    # -- pass 1 ------------------------------------------------------------------------------

    def _discounts(self, k: int, hist: np.ndarray) -> None:
        self.disc[k], self.tcounts[k] = discounts_from_counts(hist, k, self.fallback)

    def adjust(self) -> None:
        """Suffix rows of levels 3..N and adjusted counts of levels 1..N - 1 (scratch), the
        discounts of every order."""
        lv, n_order = self.levels, self.order
        tail = self.bos  # first row of the n-grams starting with <s> (they end each level)
        for k in range(2, n_order + 1):
            n_below = lv.size(k - 1)
            # adjusted counts of level k - 1: distinct left extensions (< V), int32 until a
            # raw count of the <s> n-grams needs more
            adj = np.zeros(n_below, np.int32 if k > 2 else np.int64)
            if k > 2:
                # children of level k - 1 per level k - 2 node, and their last words
                start = np.zeros(lv.size(k - 2) + 1, np.int32)  # (a level holds < 2**31)
                for lo in range(0, n_below, _SLICE):
                    kk.add_counts(lv.read(k - 1, "rows", lo, lo + _SLICE), start[1:])
                np.cumsum(start, out=start)
                toks_below = lv.read(k - 1, "toks")
            next_tail = 0
            for lo in range(0, lv.size(k), _SLICE):
                hi = min(lv.size(k), lo + _SLICE)
                rows = lv.read(k, "rows", lo, hi)
                toks = lv.read(k, "toks", lo, hi)
                next_tail += int(np.count_nonzero(rows < tail))
                if k == 2:
                    suf = toks
                else:
                    r0 = int(rows[0])
                    parent_suf = (lv.read(2, "toks", r0, int(rows[-1]) + 1) if k == 3 else
                                  self.scratch.read(f"suf{k - 1}", r0, int(rows[-1]) + 1))
                    suf = kk.suffix_rows(start, toks_below, rows, parent_suf[rows - r0], toks)
                    if len(suf) and suf.min() < 0:
                        raise CoocError(f"a {k}-gram's suffix is missing from the counts")
                    suf = suf.astype(np.int32)
                    self.scratch.append(f"suf{k}", suf)
                kk.add_counts(suf, adj)
            if k == 2:
                adj[self.bos] = 0  # <s> is never predicted
                self.adj1 = adj
                self._discounts(1, _capped_hist(adj[self.present]))
            else:
                del start, toks_below
                raw = lv.read(k - 1, "counts", tail)
                if len(raw) and int(raw.max()) >= 2**31:
                    adj = adj.astype(np.int64)
                adj[tail:] = raw
                self.scratch.append(f"adj{k - 1}", adj)
                self._discounts(k - 1, _capped_hist(adj))
            del adj
            tail = next_tail
        hist = np.zeros(6, np.int64)
        for lo in range(0, lv.size(n_order), _SLICE):
            hist += _capped_hist(lv.read(n_order, "counts", lo, lo + _SLICE))
        self._discounts(n_order, hist)
        self.scratch.flush()

    # -- pass 2 ------------------------------------------------------------------------------

    def _adjusted(self, k: int, lo: int, hi: int) -> np.ndarray:
        if k == self.order:
            return self.levels.read(k, "counts", lo, hi).astype(np.int64)
        return self.scratch.read(f"adj{k}", lo, hi)

    def _suffix(self, k: int, lo: int, hi: int) -> np.ndarray:
        return self.levels.read(2, "toks", lo, hi) if k == 2 else self.scratch.read(f"suf{k}", lo, hi)

    def _gammas(self, k: int) -> np.ndarray:
        """gamma of every (k-1)-gram as a context of level k (NaN: no context)."""
        gamma = np.full(self.levels.size(k - 1), np.nan, np.float32)
        t = np.uint64(self.threshold[k])
        for lo, hi, rows in _parent_slices(self.levels, k):
            adj = self._adjusted(k, lo, hi)
            # raw counts decide pruning; without it any array of counts >= 1 prunes nothing,
            # so the adjusted ones stand in and the level's counts are not read again
            raw = self.levels.read(k, "counts", lo, hi) if t else adj
            kk.context_gammas(rows, adj, self.disc[k], gamma, raw, t)
        return gamma

    def _ids(self, k: int, lo: int, hi: int) -> np.ndarray:
        """Model ids int32[hi - lo, k] of the n-grams lo..hi of level k."""
        lv = self.levels
        cols = [lv.read(k, "toks", lo, hi)]
        rows = lv.read(k, "rows", lo, hi)
        for j in range(k - 1, 1, -1):
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            cols.append(lv.read(j, "toks", r0, r1)[rows - r0])
            rows = lv.read(j, "rows", r0, r1)[rows - r0]
        cols.append(rows)
        return self.lm_of[np.stack(cols[::-1], axis=1)]

    def emit(self, sink) -> None:
        """Hand every order's n-grams (model ids), log10 probabilities and log10 backoffs to
        `sink.add(k, grams, logprob, backoff)` in slices, orders 1..N, in lexicographic order."""
        n_order, present = self.order, self.present
        # unigrams: p(w) = u(w) + gamma() / (unigrams - 1), <unk> gets the uniform part
        a = self.adj1
        self.adj1 = None
        da = self.disc[1][np.minimum(a, 3)]
        den = float(a[present].sum())
        n_uni = self.counts[0]
        uniform = da[present].sum() / den / (n_uni - 1)
        p = (a - da) / den + uniform
        p[self.bos] = 1.0
        del a, da
        gamma_next = self._gammas(2)
        sink.add(1, np.arange(n_uni, dtype=np.int32).reshape(-1, 1),
                 _log10_prob(np.concatenate([p[present], [uniform]])),
                 _log10_backoff(np.concatenate([gamma_next[present], [np.nan]])))
        for k in range(2, n_order + 1):
            gamma = gamma_next
            lower = p
            p = np.empty(self.levels.size(k), np.float32)
            for lo, hi, rows in _parent_slices(self.levels, k):
                kk.interpolate(rows, self._adjusted(k, lo, hi), self._suffix(k, lo, hi),
                               self.disc[k], gamma, lower, p[lo:hi])
            del gamma, lower
            gamma_next = self._gammas(k + 1) if k < n_order else None
            for lo in range(0, len(p), _OUT_SLICE):
                hi = min(len(p), lo + _OUT_SLICE)
                lb = (_log10_backoff(gamma_next[lo:hi]) if gamma_next is not None
                      else np.zeros(hi - lo, np.float32))
                ids, lp = self._ids(k, lo, hi), _log10_prob(p[lo:hi])
                if self.threshold[k]:  # (contexts and suffixes of kept n-grams are kept)
                    keep = self.levels.read(k, "counts", lo, hi) > self.threshold[k]
                    ids, lp, lb = ids[keep], lp[keep], lb[keep]
                sink.add(k, ids, lp, lb)
            trim()  # the formatting threads' freed buffers (glibc keeps them per thread)

    def meta(self) -> dict:
        return {"estimator": "modified Kneser-Ney (lmplz)", "order": self.order,
                "prune": list(self.threshold[1:]) if any(self.threshold) else [],
                "discounts": {k: self.disc[k][1:].tolist() for k in sorted(self.disc)},
                "counts_of_counts": {k: self.tcounts[k].tolist() for k in sorted(self.tcounts)}}

    def suffix_rows(self) -> dict[int, np.ndarray]:
        return {k: self.scratch.read(f"suf{k}") for k in range(3, self.order + 1)}


def _capped_hist(a: np.ndarray) -> np.ndarray:
    """How many of a are 0, 1, 2, 3, 4, 5 or more, in slices (no full-size temporary)."""
    hist = np.zeros(6, np.int64)
    for lo in range(0, len(a), _SLICE):
        hist += np.bincount(np.minimum(a[lo : lo + _SLICE], 5).astype(np.int64), minlength=6)
    return hist


def _log10_prob(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.minimum(0.0, np.log10(p)).astype(np.float32)


def _log10_backoff(gamma: np.ndarray) -> np.ndarray:
    """log10 backoffs from gammas; 0 where the n-gram is no context (NaN)."""
    return np.log10(np.where(np.isnan(gamma), 1.0, gamma)).astype(np.float32)


class _ModelSink:
    """Collects `KneserNey.emit` into an `NgramModel`'s arrays."""

    def __init__(self, order: int):
        self.parts: list[list] = [[] for _ in range(order)]
        self.suffix_rows: dict[int, np.ndarray] = {}  # the estimator's, kept for the model

    def add(self, k: int, grams: np.ndarray, logprob: np.ndarray, backoff: np.ndarray) -> None:
        self.parts[k - 1].append((grams, logprob, backoff))

    def model(self, vocab: list[str], meta: dict) -> NgramModel:
        cat = [[np.concatenate([p[j] for p in level]) for level in self.parts] for j in range(3)]
        model = NgramModel(vocab, *cat, meta)
        model.suffix_rows.update(self.suffix_rows)
        return model


def _check_order(levels, order: int | None) -> int:
    n_order = order or levels.order
    if not 2 <= n_order <= levels.order:
        raise CoocError(f"order {n_order} is not in [2, {levels.order}] (the counts' order)")
    return n_order


def estimate_levels(levels, texts: list[str], order: int, sink,
                    discount_fallback: tuple[float, ...] = (),
                    tmp_dir: str | os.PathLike | None = None,
                    prune: tuple[int, ...] = ()) -> KneserNey:
    """Estimate from trie levels (`cooc.ngram.levels`) into `sink`; returns the finished
    estimator (its `meta()`, `vocab`, `counts`)."""
    scratch = scratch_dir(tmp_dir, "kn")
    try:
        kn = KneserNey(levels, texts, _check_order(levels, order), scratch, discount_fallback,
                       prune)
        del texts  # (the estimator keeps the present words only)
        kn.adjust()
        trim()
        if hasattr(sink, "begin"):
            sink.begin(kn.vocab, kn.counts)
            kn.vocab = None  # the writer has its word table: drop 20-60 B of str a word
            trim()
        kn.emit(sink)
        if isinstance(sink, _ModelSink) and not any(kn.threshold):
            sink.suffix_rows = kn.suffix_rows()  # (rows of the unpruned levels)
        return kn
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def estimate_from_ngrams(idx, order: int | None = None,
                         discount_fallback: tuple[float, ...] = (),
                         prune: tuple[int, ...] = ()) -> NgramModel:
    """The modified Kneser-Ney model of order `order` (default: the index's) from an n-gram
    index counted with markers (`NgramConfig(markers=True)`)."""
    from cooc.ngram.levels import IndexLevels

    if not idx.markers:
        raise CoocError(f"{idx.path} was counted without <s>/</s> markers: Kneser-Ney needs "
                        "sentence boundaries; count with markers=True")
    t0 = time.perf_counter()
    levels = IndexLevels(idx)
    n_order = _check_order(levels, order)
    sink = _ModelSink(n_order)
    kn = estimate_levels(levels, idx.token_texts(), n_order, sink, discount_fallback,
                         prune=prune)
    meta = {**kn.meta(), "tokens": idx.manifest.get("tokens"),
            "sentences": idx.manifest.get("documents"),
            "tokenizer": idx.manifest.get("tokenizer"), "seconds": time.perf_counter() - t0}
    return sink.model(kn.vocab, meta)


def _count_and_estimate(source, config: KneserNeyConfig, sink, options: RunOptions,
                        tmp_dir: Path | None) -> tuple[KneserNey, dict]:
    from cooc.ngram import NgramConfig
    from cooc.ngram.build import count_levels

    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = scratch_dir(tmp_dir, "lm")
    t0 = time.perf_counter()
    try:
        levels, res = count_levels(
            source, tmp / "levels",
            NgramConfig(order=config.order, tokenizer=config.tokenizer, markers=True,
                        text_field=config.text_field),
            replace(options, tmp_dir=str(tmp)))
        t1 = time.perf_counter()
        # (handed over, not kept here: the estimator drops the words it does not need)
        kn = estimate_levels(levels, _take_texts(res), config.order, sink,
                             config.discount_fallback, tmp, config.prune)
        meta = {**kn.meta(), "tokens": res.stats.tokens, "sentences": res.stats.documents,
                "tokenizer": res.header.get("tokenizer"), "count_seconds": t1 - t0,
                "seconds": time.perf_counter() - t1, "skipped": res.skipped,
                "skip_report": res.report.summary_lines()}
        return kn, meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _take_texts(res) -> list[str]:
    texts, res.texts = res.texts, []
    return texts


def estimate(source, config: KneserNeyConfig | None = None,
             options: RunOptions | None = None) -> NgramModel:
    """Estimate a model from a text corpus (files, folders, globs; a .txt line or a JSON
    document is a sentence) or a token store, in memory (see `estimate_arpa` for a model
    larger than memory). `options`: memory budget and threads of the counting, temporary
    folder (default: the system's, as there is no output file)."""
    config = config or KneserNeyConfig()
    options = options or RunOptions()
    sink = _ModelSink(config.order)
    kn, meta = _count_and_estimate(source, config, sink, options, options.resolved_tmp_dir())
    return sink.model(kn.vocab, meta)


@writes_target("out", "cooc lm estimate")
def estimate_arpa(source, out: str | os.PathLike, config: KneserNeyConfig | None = None,
                  options: RunOptions | None = None) -> dict:
    """Estimate a model as `estimate` does and stream it into the ARPA file `out` (written
    under a temporary name, renamed when complete); the model is never whole in memory.
    Temporary counts go to `options.tmp_dir`, by default beside `out`. Returns the
    estimation's facts (counts per order, discounts, tokens, timings)."""
    from cooc.lm.arpa import ArpaWriter

    config = config or KneserNeyConfig()
    options = options or RunOptions()
    with ArpaWriter(out, num_threads=options.resolved_num_proc()) as writer:
        kn, meta = _count_and_estimate(source, config, writer, options,
                                       options.resolved_tmp_dir(out))
        path = writer.finish()
    return {**meta, "path": path, "counts": kn.counts}
