"""What the local build (`job`) and the distributed one (`distributed`) share: the result,
the config of a build from a token store, the checks made before an index is written, and
the manifest's description of what was counted."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cooc import __version__
from cooc.cooccur.config import BuildConfig
from cooc.corpus import SkipReport
from cooc.errors import CoocError
from cooc.runtime.progress import log
from cooc.tokenizers import Tokenizer


@dataclass
class BuildResult:
    path: Path
    num_documents: int
    num_tokens: int
    num_windows: int
    num_entries: int
    report: SkipReport
    timings: dict[str, float] = field(default_factory=dict)
    spills: int = 0
    spilled_bytes: int = 0
    peak_rss: int = 0

def config_for_store(config: BuildConfig, store) -> BuildConfig:
    """The config of a build from a token store: the store's tokenizer and granularity."""
    g = store.manifest.get("granularity", "document")
    if config.granularity not in ("document", g):
        raise CoocError(f"token store {store.path} holds {g} units: granularity="
                        f"{config.granularity!r} needs a store tokenized with it")
    return replace(config, tokenizer=store.manifest["tokenizer"]["spec"], granularity=g)

class StrictError(CoocError):
    """`strict` and bad records were skipped: raised before anything is written."""

    def __init__(self, message: str, report: SkipReport):
        super().__init__(message)
        self.report = report

def check_documents(num_documents: int, report: SkipReport, out: Path) -> None:
    """A corpus with no document to count gives an empty index (the identity of merge and
    diff: a filtered shard may well be empty), said loudly rather than silently."""
    if num_documents == 0:
        skipped = (f" ({report.total_skipped:,} bad records skipped, see above)"
                   if report.total_skipped else "")
        log.warning("no documents to count%s: the index at %s will be empty", skipped, out)


def check_strict(report: SkipReport, strict: bool, out: Path) -> None:
    """With `strict`, any skipped record stops the build before the index is replaced."""
    if strict and report.total_skipped:
        raise StrictError(f"strict: {report.total_skipped:,} bad records skipped (see the report "
                          f"above); nothing was written at {out}", report)

def count_saturated(counts: np.ndarray) -> int:
    return int(np.count_nonzero(counts == np.uint32(0xFFFFFFFF)))

def check_saturation(saturated: int, config: BuildConfig) -> None:
    """Counts are stored as uint32 and saturate at 2**32-1: an error where the weights are
    scaled (the stored values would be wrong), a warning otherwise."""
    if not saturated:
        return
    scale = count_scale(config)
    if scale > 1:
        raise CoocError(f"{saturated:,} pair counts reached 2**32-1 (stored scaled by {scale:,} "
                        "for exact weighted sums); use a smaller radius or simpler weights")
    log.warning("%s pair counts reached 2**32-1 and are stored as that", f"{saturated:,}")

def count_scale(config: BuildConfig) -> int:
    """Stored counts are the weighted sums times this (harmonic and weights modes)."""
    win = config.window
    return win.distance_weighting()[1] if win.count_mode in ("harmonic", "weights") else 1

def index_meta(config: BuildConfig, tokenizer: Tokenizer, corpus_desc: dict, num_docs: int,
               stats, report: SkipReport) -> dict:
    """The manifest's "meta" of a built index: what was counted, how, from what."""
    return {
        "config": config.to_dict(),
        "tokenizer": tokenizer.describe(),
        "corpus": {**corpus_desc, "documents": num_docs, "tokens": stats.num_tokens,
                   "windows": stats.num_windows},
        "count_scale": count_scale(config),
        "skip_report": report.to_dict(),
        "cooc_version": __version__,
    }
