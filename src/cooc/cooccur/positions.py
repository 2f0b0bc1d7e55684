"""Where two tokens occur relative to each other: how often, how far apart, in which order.

`cooc build ... --positions` writes, beside the index OUT, a folder OUT.positions/ of four
channel indexes over the same windows (each an ordinary cooc index: counted by the distance
kernel, summed, spilled and merged like any build, so every guarantee of a build holds):

    pairs           N(a, b)   occurrence pairs (p, q) at distance 1..R within a window
    distance        S(a, b)   their summed distances |p - q|
    first           F(a, b)   those where the smaller token id comes first
    first_distance  D(a, b)   the summed distances of those

R is --radius, or context length - 1 (the whole window). The index is symmetric, so order
is stored for the smaller id: for a < b, a comes first in F pairs and b in N - F. From these,
per pair: the count, the mean distance S / N, how often each comes first, and the mean signed
offset of b relative to a. The channels cost four counting passes (a text corpus is
tokenized once, into a temporary token store).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from cooc.cooccur.config import BuildConfig
from cooc.errors import CoocError
from cooc.formats.artefact import fsync_tree, remove_stale, swap_into_place
from cooc.formats.lock import writes_target
from cooc.options import RunOptions

MAGIC = "COOC-POSITIONS"
VERSION = 1
CHANNELS = ("pairs", "distance", "first", "first_distance")


def positions_path(index: str | os.PathLike) -> Path:
    return Path(f"{index}.positions")


def _channel_config(config: BuildConfig, name: str, radius: int) -> BuildConfig:
    distances = ",".join(str(d) for d in range(1, radius + 1))
    win = config.window
    kw = dict(stride=win.stride, min_count=win.min_count, include_self=win.include_self,
              first_only=name.startswith("first"), distance_weights="", radius=radius)
    if name.endswith("distance"):
        kw.update(count_mode="weights", distance_weights=distances, radius=0)
    else:
        kw.update(count_mode="occurrences")
    return replace(config, window=replace(win, **kw))


def positions_radius(config: BuildConfig) -> int:
    win = config.window
    radius = win.radius or (win.effective_radius if win.count_mode in ("harmonic", "weights")
                            else win.context_length - 1)
    if radius < 1:
        raise CoocError("positions over whole documents (context_length 0) need a radius >= 1, "
                        "got radius=0")
    return radius


@writes_target("out", "cooc build --positions")
def build_positions(source, out: str | os.PathLike, config: BuildConfig,
                    options: RunOptions) -> Path:
    """Write OUT.positions/ for the index OUT built from `source` with `config`."""
    from cooc.cooccur.build.job import build_index
    from cooc.store.sources import open_token_store
    from cooc.store.tokenize import tokenize_corpus

    radius = positions_radius(config)
    target = positions_path(out)
    remove_stale(target)  # leftovers of a killed swap
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        store = source if open_token_store(source) is not None else None
        if store is None:  # tokenize once for the four passes
            store = tmp / "tokens"
            tokenize_corpus(source, store, replace(config), replace(options, quiet=True))
        for name in CHANNELS:
            build_index(store, tmp / f"{name}.cooc", _channel_config(config, name, radius),
                        replace(options, quiet=True, strict=False))
        shutil.rmtree(tmp / "tokens", ignore_errors=True)
        (tmp / "positions.json").write_text(json.dumps(
            {"magic": MAGIC, "version": VERSION, "radius": radius, "channels": list(CHANNELS),
             "config": config.to_dict()}, indent=2))
        fsync_tree(tmp)
        swap_into_place(tmp, target)  # the whole old folder or the whole new one, always
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_positions_meta(folder: Path) -> dict:
    """positions.json of a positions folder, checked (CoocError naming the folder if not)."""
    try:
        meta = json.loads((folder / "positions.json").read_bytes())
    except FileNotFoundError:
        raise CoocError(f"{folder} holds no positions: build them with the build's positions "
                        "option (build_positions)") from None
    except (OSError, ValueError) as e:
        raise CoocError(f"{folder}/positions.json is unreadable or not JSON ({e}); rebuild "
                        "the positions with the build's positions option") from None
    if not isinstance(meta, dict) or meta.get("magic") != MAGIC or meta.get("version") != VERSION:
        raise CoocError(f"{folder}: not a cooc positions folder of version {VERSION}")
    radius, channels = meta.get("radius"), meta.get("channels", list(CHANNELS))
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1 or (
            channels != list(CHANNELS)):
        raise CoocError(f"{folder}/positions.json: radius or channels are damaged; rebuild the "
                        "positions with the build's positions option")
    return meta


def verify_positions(folder: Path) -> list[str]:
    """Problems of a positions folder: its positions.json, then each channel's full verify."""
    from cooc.cooccur.verify import verify_index

    try:
        read_positions_meta(folder)
    except CoocError as e:
        return [str(e)]
    return [p for name in CHANNELS for p in verify_index(folder / f"{name}.cooc")]


@dataclass(frozen=True)
class PairPositions:
    a: int
    b: int
    pairs: int  # occurrence pairs within the radius (unordered for a == b)
    radius: int
    mean_distance: float  # nan when the pair never met
    a_first: int  # pairs where a comes first
    b_first: int
    mean_offset: float  # mean of pos(b) - pos(a): > 0 when b tends to follow a


class Positions:
    """The four channels of OUT.positions/, opened."""

    def __init__(self, index: str | os.PathLike):
        from cooc.cooccur.reader import open_index

        folder = Path(index) if Path(index).name.endswith(".positions") else positions_path(index)
        self.radius = int(read_positions_meta(folder)["radius"])
        self.channels = {name: open_index(folder / f"{name}.cooc") for name in CHANNELS}

    def pair(self, a: int, b: int) -> PairPositions:
        c = {name: idx.pair_count(a, b) for name, idx in self.channels.items()}
        n, s, f, fd = c["pairs"], c["distance"], c["first"], c["first_distance"]
        if a == b:  # ordered pairs of one token's occurrences: each unordered pair twice
            return PairPositions(a, b, n // 2, self.radius, s / n if n else float("nan"),
                                 f, f, 0.0)
        if a < b:
            a_first, a_first_dist = f, fd
        else:
            a_first, a_first_dist = n - f, s - fd
        b_first, b_first_dist = n - a_first, s - a_first_dist
        mean = s / n if n else float("nan")
        offset = (a_first_dist - b_first_dist) / n if n else float("nan")
        return PairPositions(a, b, n, self.radius, mean, a_first, b_first, offset)

    def close(self) -> None:
        for idx in self.channels.values():
            idx.close()
