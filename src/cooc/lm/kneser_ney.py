"""Interpolated modified Kneser-Ney estimation, as KenLM's `lmplz` does it (Heafield et al.
2013; KenLM lm/builder: adjust_counts, initial_probabilities, interpolate).

Counts come from an n-gram index counted with markers (`cooc.ngram`): every document (a line
of a .txt file) is a sentence `<s> w1 .. wn </s>`, and no n-gram crosses sentences. Then,
vectorised level by level over the index's trie levels (a k-gram is (parent row in level
k - 1, last word); its suffix row is found by a sorted search):

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

lmplz computes in float32; this computes in float64 and rounds at the end (differences are
below 1e-6 in log10).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cooc.errors import CoocError
from cooc.kernels import lm as kl
from cooc.lm.config import KneserNeyConfig
from cooc.lm.model import BOS, EOS, UNK, NgramModel
from cooc.pipeline.progress import log


class BadDiscount(CoocError):
    """The closed-form Kneser-Ney discounts fail for an order (small or artificial data)."""


def discounts(adjusted: np.ndarray, order: int, fallback: tuple[float, ...] = ()) -> tuple:
    """(D0..D3 as float64[4], counts of counts t1..t4) of one order's adjusted counts."""
    t = np.bincount(np.minimum(adjusted, 5), minlength=6)[:5].astype(np.int64)
    try:
        for j in (1, 2, 3):
            if t[j] == 0:
                raise BadDiscount(
                    f"could not estimate Kneser-Ney discounts for {order}-grams: no {order}-grams "
                    f"with adjusted count {j} (small or artificial data?); deduplicate the input "
                    "or pass --discount-fallback 0.5 1 1.5")
        # lmplz computes these in float32 (adjust_counts.cc); so do we, to match its output
        f = np.float32
        y = f(t[1]) / f(float(t[1]) + 2.0 * float(t[2]))
        d = np.zeros(4, np.float64)
        for j in (1, 2, 3):
            d[j] = f(j) - f(j + 1) * y * f(t[j + 1]) / f(t[j])
            if not 0 <= d[j] <= j:
                raise BadDiscount(f"the {order}-gram discount for adjusted count {j} is {d[j]:.4g}, "
                                  f"outside [0, {j}]: modified Kneser-Ney does not fit this data; "
                                  "pass --discount-fallback 0.5 1 1.5 to override")
    except BadDiscount:
        if not fallback:
            raise
        log.warning("order %d: substituting fallback discounts %s", order, fallback)
        d = np.array([0.0, *fallback], np.float64)
    return d, t[1:5]


def estimate_from_ngrams(idx, order: int | None = None,
                         discount_fallback: tuple[float, ...] = ()) -> NgramModel:
    """The modified Kneser-Ney model of order `order` (default: the index's) from an n-gram
    index counted with markers (`NgramConfig(markers=True)`)."""
    if not idx.markers:
        raise CoocError(f"{idx.path} was counted without <s>/</s> markers: Kneser-Ney needs "
                        "sentence boundaries; count with --markers")
    n_order = order or idx.order
    if not 2 <= n_order <= idx.order:
        raise CoocError(f"order {n_order} is not in [2, {idx.order}] (the index's order)")
    t0 = time.perf_counter()
    v = idx.vocab_size
    bos = v - 2  # <s>; </s> is v - 1
    texts = idx.token_texts()
    uni = np.asarray(idx.unigrams, np.int64)
    present = np.flatnonzero(uni)
    bad = [texts[i] for i in present if texts[i] in (BOS, EOS, UNK) and i < bos]
    if bad:
        raise CoocError(f"the text contains the reserved word {bad[0]!r} (lmplz refuses it too): "
                        "remove or replace it before estimating")
    # levels: parent rows (level k - 1 node; token id for k = 2), last tokens, raw counts
    rows, toks, raw = {1: None}, {1: None}, {1: uni}
    for k in range(2, n_order + 1):
        r, t, c = idx.level_arrays(k)
        # int32 rows and tokens (< 2**31 n-grams a level, ids < 2**31): 8 bytes an n-gram less
        rows[k], toks[k], raw[k] = r.astype(np.int32), t.astype(np.int32), c
        del r, t
    n = {1: v, **{k: len(raw[k]) for k in range(2, n_order + 1)}}
    # suffix rows: the (k-1)-suffix of (parent p, w) is (suffix(p), w) in level k - 1
    # (level k - 1 is in (row, token) order: node r's children are a run found by bincount)
    suf = {2: toks[2]}
    for k in range(3, n_order + 1):
        start = np.zeros(len(raw[k - 2]) + 1, np.int64)
        np.cumsum(np.bincount(rows[k - 1], minlength=len(raw[k - 2])), out=start[1:])
        pos = kl.find_children(start, toks[k - 1], suf[k - 1][rows[k]], toks[k])
        del start
        if len(pos) and pos.min() < 0:
            raise CoocError(f"{idx.path}: a {k}-gram's suffix is missing from the index")
        suf[k] = pos.astype(np.int32)  # rows of the level below (< 2**31 n-grams a level)
    first = {1: np.arange(v)}
    for k in range(2, n_order + 1):
        first[k] = first[k - 1][rows[k]]
    # adjusted counts
    adj = {n_order: raw[n_order]}
    for k in range(n_order - 1, 0, -1):
        a = np.bincount(suf[k + 1], minlength=n[k]).astype(np.int64)
        sb = first[k] == bos
        a[sb] = raw[k][sb]
        adj[k] = a
    adj[1][bos] = 0
    del first  # (arrays are dropped as soon as they are used up: peak memory)
    for k in range(2, n_order + 1):
        raw[k] = None
    mask1 = uni > 0  # unigrams of the model (with <unk>, added below)
    n_uni = int(mask1.sum()) + 1
    disc, tcounts = {}, {}
    for k in range(1, n_order + 1):
        a = adj[k][mask1] if k == 1 else adj[k]
        disc[k], tcounts[k] = discounts(a, k, discount_fallback)
    # initial probabilities and gammas per context
    gamma = {}
    u = {}
    for k in range(1, n_order + 1):
        a = adj[k]
        da = disc[k][np.minimum(a, 3)]
        if k == 1:
            den = float(a[mask1].sum())
            gamma[1] = np.array([da[mask1].sum() / den])
            u[1] = (a - da) / den
        else:
            den = np.bincount(rows[k], weights=a, minlength=n[k - 1])
            gs = np.bincount(rows[k], weights=da, minlength=n[k - 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                gamma[k] = gs / den  # nan where the (k-1)-gram is no context
            u[k] = (a - da) / den[rows[k]]
            del den, gs
        adj[k] = a = da = None
    # interpolation
    p = {1: u[1] + gamma[1][0] / (n_uni - 1)}
    p_unk = gamma[1][0] / (n_uni - 1)
    p[1][bos] = 1.0
    u[1] = None
    for k in range(2, n_order + 1):
        p[k] = u[k] + gamma[k][rows[k]] * p[k - 1][suf[k]]
        u[k] = None
    # output in model ids: the present tokens in id order (<s>, </s> are last), then <unk>
    lm_of = np.full(v, -1, np.int32)
    lm_of[present] = np.arange(len(present))
    vocab = [texts[i] for i in present] + [UNK]
    grams, logprob, backoff = [], [], []
    prev = lm_of.reshape(-1, 1)
    for k in range(1, n_order + 1):
        if k == 1:
            g = np.arange(n_uni, dtype=np.int32).reshape(-1, 1)
            pk = np.concatenate([p[1][present], [p_unk]])
        else:
            g = np.concatenate([prev[rows[k]], lm_of[toks[k]].reshape(-1, 1)], 1)
            prev = g
            rows[k] = toks[k] = None
            pk = p[k]
        with np.errstate(divide="ignore"):
            lp = np.minimum(0.0, np.log10(pk))
        if k < n_order:
            gk = gamma[k + 1]
            bo = np.where(np.isnan(gk), 1.0, gk)
            bo = np.concatenate([bo[present], [1.0]]) if k == 1 else bo
            lb = np.log10(bo)
        else:
            lb = np.zeros(len(pk))
        grams.append(np.ascontiguousarray(g))
        logprob.append(lp.astype(np.float32))
        backoff.append(lb.astype(np.float32))
        p[k] = gamma[k] = pk = lp = lb = None
    meta = {"estimator": "modified Kneser-Ney (lmplz)", "order": n_order,
            "discounts": {k: disc[k][1:].tolist() for k in disc},
            "counts_of_counts": {k: tcounts[k].tolist() for k in tcounts},
            "tokens": idx.manifest.get("tokens"), "sentences": idx.manifest.get("documents"),
            "tokenizer": idx.manifest.get("tokenizer"),
            "seconds": time.perf_counter() - t0}
    model = NgramModel(vocab, grams, logprob, backoff, meta)
    # the index's level order is the model's (lm_of keeps id order): its suffix rows hold
    model.suffix_rows.update({k: suf[k] for k in range(3, n_order + 1)})
    return model


def estimate(source, config: KneserNeyConfig | None = None, *, memory_bytes: int = 1 << 30,
             num_threads: int = 0, tmp_dir: str | os.PathLike | None = None,
             quiet: bool = False) -> NgramModel:
    """Estimate a model from a text corpus (files, folders, globs; a .txt line or a JSON
    document is a sentence) or a token store: count n-grams with markers into a temporary
    n-gram index, then `estimate_from_ngrams`."""
    from cooc.ngram import NgramConfig, NgramOptions, count_ngrams, open_ngrams

    config = config or KneserNeyConfig()
    tmp = Path(tempfile.mkdtemp(prefix="cooc-lm-", dir=tmp_dir))
    try:
        res = count_ngrams(source, tmp / "counts.ngrams",
                           NgramConfig(order=config.order, tokenizer=config.tokenizer,
                                       markers=True, text_field=config.text_field),
                           NgramOptions(memory_bytes=memory_bytes, num_threads=num_threads,
                                        tmp_dir=str(tmp), quiet=quiet))
        model = estimate_from_ngrams(open_ngrams(res.path), config.order,
                                     config.discount_fallback)
        model.meta.update(count_seconds=res.timings.get("total"), skipped=res.skipped,
                          peak_rss=res.peak_rss)
        return model
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
