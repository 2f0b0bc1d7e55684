"""SGNS in PyTorch from a pairs artefact (`X.pairs/`): the reference pipeline's trainer, for
a GPU (`device="cuda"`) or to check cooc's own trainer against. Needs `pip install
'cooc[torch]'`; torch is imported on the first call only.

    res = train_sgns_torch("corpus.pairs", dim=100, negative=5, epochs=1, device="cuda")
    write_vectors("corpus.vec", res.vectors, res.texts, res.token_ids, res.counts, res.config)

Model: two `nn.Embedding(V, dim, sparse=True)`, input (the result, word2vec's syn0,
uniform in +-0.5/dim) and output (zeros). A batch of (target, context) pairs is one step
of the loss -log s(u.v) - sum_k log s(-u.n_k), u the target's input vector, v the context's
output vector, n_k `negative` words drawn from the unigram^0.75 table
(`torch.multinomial`, with replacement), averaged over the batch. Optimizer: SparseAdam
(only the rows a batch touches are updated); its learning rate falls linearly from `lr` to `lr * 1e-4` over the run's pairs, as word2vec's does.
Pairs are read shard after shard, `SHUFFLE_PAIRS` at a time, and shuffled within that
buffer (the shards keep corpus order). With a seed, a CPU run is reproducible. torch's
CPU threads are the run's (`RunOptions.num_proc`) while it trains: its default pool of
every core spins against other jobs on a shared machine (10x slower steps seen on 2 cores).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from cooc.embed.pairs import open_pairs
from cooc.embed.word2vec import Word2VecResult
from cooc.errors import CoocError, missing_extra
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, log

__all__ = ["DEVICES", "train_sgns_torch"]

DEVICES = ("cpu", "cuda")
SHUFFLE_PAIRS = 1 << 20  # pairs read and shuffled at a time


def import_torch():
    """torch, or the CoocError naming the pip line."""
    try:
        import torch
    except ImportError:
        raise missing_extra("torch", "torch") from None
    return torch


def _check_args(dim, negative, epochs, batch_size, lr, device, seed):
    for name, v, why in (("dim", dim, "the vectors' size, e.g. 100"),
                         ("negative", negative, "negatives per pair, e.g. 5"),
                         ("epochs", epochs, "passes over the pairs, e.g. 1"),
                         ("batch_size", batch_size, "pairs per step, e.g. 4096")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an int >= 1 ({why}), got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
        raise ValueError(f"lr must be a number in (0, 10] (SparseAdam's first step size, e.g. "
                         f"0.001), got {lr!r}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


def train_sgns_torch(pairs: str | os.PathLike, *, dim: int = 100, negative: int = 5,
                     epochs: int = 1, batch_size: int = 4096, lr: float = 0.001,
                     device: str = "cpu", seed: int = 1,
                     options: RunOptions | None = None) -> Word2VecResult:
    """Train skip-gram vectors with negative sampling on the pairs at `pairs` (see the
    module's docstring); returns them as `train_word2vec` does (rows: the pairs' dense ids,
    most frequent first)."""
    _check_args(dim, negative, epochs, batch_size, lr, device, seed)
    options = options or RunOptions()
    p = open_pairs(pairs)
    vocab = p.vocab
    torch = import_torch()
    if device == "cuda" and not torch.cuda.is_available():
        raise CoocError("device cuda was asked for but torch sees no CUDA GPU (a CPU build of "
                        "torch, or no driver); use device cpu")
    V, lr = p.vocab_size, float(lr)
    dev = torch.device(device)
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    cpu_gen = torch.Generator().manual_seed(int(seed) + 1)  # the shuffles
    inp = torch.nn.Embedding(V, dim, sparse=True).to(dev)
    out = torch.nn.Embedding(V, dim, sparse=True).to(dev)
    with torch.no_grad():
        inp.weight.uniform_(-0.5 / dim, 0.5 / dim, generator=gen)
        out.weight.zero_()
    params = [inp.weight, out.weight]
    opt = torch.optim.SparseAdam(params, lr=lr)
    unigram = torch.tensor(np.asarray(p.unigram, np.float64), device=dev)
    total = p.pairs * epochs
    logsig = torch.nn.functional.logsigmoid
    step = seen = 0
    loss_sum = 0.0
    last_losses: list[float] = []
    progress = Progress("sgns-torch", total=total, unit="pair", quiet=options.quiet)
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(options.resolved_num_proc())  # restored below
    try:
        for _ in range(epochs):
            for t_np, c_np in p.iter_batches(SHUFFLE_PAIRS):
                order = torch.randperm(len(t_np), generator=cpu_gen)
                tt = torch.from_numpy(t_np.astype(np.int64))[order].to(dev)
                cc = torch.from_numpy(c_np.astype(np.int64))[order].to(dev)
                for a in range(0, len(tt), batch_size):
                    t, c = tt[a : a + batch_size], cc[a : a + batch_size]
                    b = len(t)
                    neg = torch.multinomial(unigram, b * negative, replacement=True,
                                            generator=gen).view(b, negative)
                    for g in opt.param_groups:
                        g["lr"] = lr * max(1e-4, 1.0 - seen / total)
                    u = inp(t)
                    pos = logsig((u * out(c)).sum(-1))
                    negs = logsig(-torch.bmm(out(neg), u.unsqueeze(2)).squeeze(2)).sum(-1)
                    loss = -(pos + negs).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    seen += b
                    value = float(loss.detach())
                    loss_sum += value
                    last_losses.append(value)
                    del last_losses[:-100]
                    progress.update(b, loss=f"{value:.4f}")
    finally:
        torch.set_num_threads(threads)
        progress.close()
    seconds = time.perf_counter() - t0
    vectors = inp.weight.detach().to("cpu").numpy().astype(np.float32, copy=True)
    if not np.isfinite(vectors).all():
        raise CoocError(f"training diverged (a vector is NaN or infinite); lower lr ({lr})")
    pcfg = p.config
    config: dict[str, Any] = {
        "method": "sgns-torch", "model": "sgns", "dim": int(dim), "negative": int(negative),
        "epochs": int(epochs), "batch_size": int(batch_size), "lr": lr,
        "optimizer": "sparse-adam", "device": device, "seed": int(seed),
        "torch": torch.__version__, "vocab_size": V,
        "pairs": {"path": str(p.path), "manifest_sha256": p.manifest.get("manifest_sha256"),
                  **{k: pcfg.get(k) for k in ("window", "dynamic_window", "min_count",
                                              "sample", "seed", "tokenizer", "source")}},
        "tokenizer": pcfg.get("tokenizer"), "window": pcfg.get("window")}
    stats = {"steps": step, "pairs": p.pairs * epochs, "seconds": seconds,
             "pairs_per_second": p.pairs * epochs / max(seconds, 1e-9),
             "mean_loss": loss_sum / max(step, 1),
             "final_loss": float(np.mean(last_losses)) if last_losses else None}
    log.info("sgns-torch: %s pairs in %.1f s on %s, %.0f pairs/s, final loss %.4f",
             f"{stats['pairs']:,}", seconds, device, stats["pairs_per_second"],
             stats["final_loss"] or 0.0)
    return Word2VecResult(vectors, np.asarray(vocab["token_id"], np.int64),
                          np.asarray(vocab["count"], np.int64), list(vocab["text"]), config,
                          stats)
