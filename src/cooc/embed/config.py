"""What a PPMI-SVD run computes (recorded in the vectors' manifest). No numpy here: the CLI
builds its flags from it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

EIGEN_WEIGHTS = (0.0, 0.5, 1.0)


def _int(name: str, v: Any, lo: int, what: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo} ({what}), got {v!r}")


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


@dataclass(frozen=True)
class PpmiSvdConfig:
    """PPMI-SVD (Levy, Goldberg & Dagan 2015) of a co-occurrence index: the vectors are
    U_dim * S_dim^eig of the truncated SVD of the (shifted, smoothed) PPMI matrix of the kept
    tokens (see `cooc.embed.ppmi`), computed by randomized block Krylov iteration
    (`cooc.embed.svd`)."""

    dim: int = field(default=100, metadata={"help": "dimensions of the vectors"})
    alpha: float = field(default=0.75, metadata={
        "help": "context-distribution smoothing: context counts are raised to this power "
                "(1: none)"})
    shift: float = field(default=1.0, metadata={
        "help": "subtract log(SHIFT) from the PMI before clipping at 0 (shifted PPMI, as "
                "SGNS with SHIFT negative samples; 1: none)"})
    eig: float = field(default=0.5, metadata={
        "help": "eigenvalue weighting p: vectors are U * S^p", "choices": EIGEN_WEIGHTS})
    min_count: int = field(default=5, metadata={
        "help": "keep tokens seen at least this often in the corpus (words and contexts)"})
    max_vocab: int = field(default=0, metadata={
        "help": "keep at most this many tokens, the most frequent (0: no limit)"})
    block_size: int = field(default=0, metadata={
        "help": "SVD: vectors per block of the randomized block Krylov iteration (0: 0.4 dim, "
                "at least 8)"})
    iterations: int = field(default=9, metadata={
        "help": "SVD: block Krylov iterations, two passes over the matrix each; the subspace "
                "holds block_size * (iterations + 1) vectors"})
    seed: int = field(default=0, metadata={"help": "random seed of the SVD's start block"})

    def __post_init__(self) -> None:
        _int("dim", self.dim, 1, "the number of dimensions, e.g. 100")
        if not _number(self.alpha) or not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be a number in (0, 1] (0.75 is the usual smoothing), "
                             f"got {self.alpha!r}")
        if not _number(self.shift) or self.shift < 1:
            raise ValueError(f"shift must be a number >= 1 (k of log k; 1: no shift), "
                             f"got {self.shift!r}")
        if not _number(self.eig) or float(self.eig) not in EIGEN_WEIGHTS:
            raise ValueError(f"eig must be one of 0, 0.5, 1, got {self.eig!r}")
        _int("min_count", self.min_count, 1, "occurrences of a kept token")
        _int("max_vocab", self.max_vocab, 0, "0: no limit")
        _int("block_size", self.block_size, 0, "0: 0.4 dim")
        _int("iterations", self.iterations, 0, "e.g. 9")
        _int("seed", self.seed, 0, "any integer >= 0")
        for name in ("alpha", "shift", "eig"):
            object.__setattr__(self, name, float(getattr(self, name)))

        if self.block * (self.iterations + 1) < self.dim:
            raise ValueError(f"the SVD's subspace, block_size * (iterations + 1) = "
                             f"{self.block} * {self.iterations + 1}, must hold at least dim = "
                             f"{self.dim} vectors (4 dim is usual): raise block_size or "
                             "iterations")

    @property
    def block(self) -> int:
        """The block size in use: `block_size`, or 0.4 dim (at least 8)."""
        return self.block_size or max(8, math.ceil(0.4 * self.dim))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
