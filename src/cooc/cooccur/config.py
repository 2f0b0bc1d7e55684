"""Typed, frozen job configuration.

One config object per job, recorded verbatim in the index manifest. CLI flags are generated
from the dataclass fields (see `cooc.cli.options`), so a parameter has one name everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

PACKINGS = ("document", "concat")
Packing = Literal["document", "concat"]


def _opt(help: str, **kw: Any) -> Any:
    """A dataclass field with CLI help text attached."""
    default = kw.pop("default")
    return field(default=default, metadata={"help": help, **kw})


COUNT_MODES = ("windows", "occurrences", "harmonic", "weights")
# token positions and window lengths are int32 in the kernels' arrays
MAX_LENGTH = (1 << 31) - 1
MAX_COUNT_SCALE = 1 << 20


@dataclass(frozen=True)
class WindowConfig:
    """How the token stream is cut into context windows, and what a pair's count is."""

    context_length: int = _opt("tokens per context window; 0: whole documents", default=128)
    packing: str = _opt(
        "document: each document is cut into chunks on its own (the last chunk may be shorter); "
        "concat: documents are joined with the end-of-text token, then cut, as in pretraining",
        default="document",
        choices=PACKINGS,
    )
    include_self: bool = _opt(
        "count a token as its own neighbour when it occurs twice in one window", default=False
    )
    count_mode: str = _opt(
        "windows: windows holding both; occurrences: pairs of occurrences; harmonic: "
        "occurrence pairs weighted 1/distance (GloVe); weights: by --distance-weights",
        default="windows",
        choices=COUNT_MODES,
    )
    radius: int = _opt("count only occurrence pairs at most this far apart within a window "
                       "(a sliding +-R window; 0: the whole window)", default=0)
    distance_weights: str = _opt("--count-mode weights: weights of distances 1, 2, ... as "
                                 "decimals, e.g. 1,0.5,0.25 (sets the radius)", default="")
    stride: int = _opt("--packing document: start a window every STRIDE tokens (overlapping "
                       "windows, up to the one that reaches the document's end; 0: every "
                       "context-length tokens)", default=0)
    first_only: bool = _opt("count only occurrence pairs whose smaller token id comes first "
                            "(a channel of positions, see cooc.cooccur.positions)", default=False,
                            cli=False)
    min_count: int = _opt("drop tokens seen fewer times in the corpus before cutting windows "
                          "(GloVe's vocabulary cut)", default=1)

    def __post_init__(self) -> None:
        L = self.context_length
        if isinstance(L, bool) or not isinstance(L, int) or (L < 2 and L != 0) or L > MAX_LENGTH:
            raise ValueError(f"context_length must be an integer in [2, {MAX_LENGTH:,}] (or 0: "
                             f"whole documents), got {L!r}")
        for name in ("radius", "stride", "min_count"):
            v = getattr(self, name)
            if isinstance(v, int) and v > MAX_LENGTH:
                raise ValueError(f"{name} must be at most {MAX_LENGTH:,}, got {v!r}")
        if self.packing not in PACKINGS:
            raise ValueError(f"packing must be one of {PACKINGS}, got {self.packing!r}")
        if L == 0 and self.packing != "document":
            raise ValueError(f"context_length 0 (whole documents) needs packing='document', "
                             f"got packing={self.packing!r}")
        if self.count_mode not in COUNT_MODES:
            raise ValueError(f"count_mode must be one of {COUNT_MODES}, got {self.count_mode!r}")
        if not isinstance(self.radius, int) or self.radius < 0:
            raise ValueError(f"radius must be an integer >= 0, got {self.radius!r}")
        if self.radius and self.count_mode == "windows":
            raise ValueError(f"radius={self.radius} counts occurrence pairs: set count_mode to "
                             "'occurrences', 'harmonic' or 'weights', or radius=0")
        if self.distance_weights and self.count_mode != "weights":
            raise ValueError(f"distance_weights={self.distance_weights!r} needs "
                             f"count_mode='weights', got count_mode={self.count_mode!r}")
        if not isinstance(self.min_count, int) or self.min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {self.min_count!r}")
        if not isinstance(self.stride, int) or self.stride < 0 or (L and self.stride > L):
            raise ValueError(f"stride must be an integer in [0, context_length], got {self.stride!r}")
        if self.stride and (self.packing != "document" or L == 0):
            raise ValueError(f"stride={self.stride} needs packing='document' and context_length "
                             f"> 0, got packing={self.packing!r}, context_length={L}")
        if self.min_count > 1 and self.packing != "document":
            raise ValueError(f"min_count={self.min_count} needs packing='document', got "
                             f"packing={self.packing!r}")
        if self.count_mode in ("harmonic", "weights"):
            self.distance_weighting()  # validates

    @property
    def by_distance(self) -> bool:
        """Counted by the distance kernel (occurrence pairs within a radius, weighted)."""
        return self.count_mode in ("harmonic", "weights") or (
            self.count_mode == "occurrences" and self.radius > 0) or self.first_only

    def distance_weighting(self) -> tuple[list[int], int]:
        """(integer weights of distances 0..R, scale): a pair at distance d adds
        weights[d] / scale. Fractions are scaled to a common denominator, so sums are exact."""
        from fractions import Fraction
        from math import lcm

        if self.count_mode == "weights":
            if not self.distance_weights:
                raise ValueError("count_mode='weights' needs distance_weights='w1,w2,...', "
                                 "e.g. '1,0.5,0.25'; got none")
            try:
                fr = [Fraction(x.strip()) for x in self.distance_weights.split(",")]
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"cannot read distance weights {self.distance_weights!r}; "
                                 "give decimals like 1,0.5,0.25") from None
            if any(f < 0 for f in fr):
                raise ValueError("distance weights must be >= 0")
            if self.radius and self.radius != len(fr):
                raise ValueError(f"radius={self.radius} but {len(fr)} distance weights: set "
                                 f"radius={len(fr)} or 0 (the weights set it)")
        else:
            R = self.radius or self.context_length - 1
            if R < 1:
                raise ValueError("count_mode='harmonic' over whole documents (context_length 0) "
                                 "needs a radius >= 1, got radius=0")
            if lcm(*range(1, min(R, 64) + 1)) > MAX_COUNT_SCALE:  # before a list of R weights
                raise ValueError(f"harmonic weights up to distance {R:,} need a common "
                                 f"denominator above {MAX_COUNT_SCALE:,}: use a radius of at most "
                                 f"{_max_harmonic_radius()}")
            fr = [Fraction(1, d) for d in range(1, R + 1)]
        scale = lcm(*(f.denominator for f in fr))
        if scale > MAX_COUNT_SCALE:
            raise ValueError(f"the distance weights need a common denominator of {scale:,}, "
                             f"more than {MAX_COUNT_SCALE:,}: use a smaller radius or "
                             "weights with fewer decimals")
        return [0] + [int(f * scale) for f in fr], scale

    @property
    def effective_radius(self) -> int:
        """The largest distance counted (by_distance modes)."""
        if self.count_mode in ("harmonic", "weights"):
            return len(self.distance_weighting()[0]) - 1
        return self.radius or max(self.context_length - 1, 0)


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines the content of a co-occurrence index."""

    tokenizer: str = _opt(
        "qwen (default), whitespace, words (lower-cased letter runs), tiktoken:<encoding or "
        ".tiktoken file>, "
        "hf:<tokenizer.json, folder or hub id>",
        default="qwen",
    )
    text_field: str = _opt("JSON/Parquet field holding the text", default="text")
    granularity: str = _opt(
        "document, or cut documents into paragraph, line or sentence units first (English "
        "and Chinese rules): units are the documents windows are cut from; with "
        "--context-length 0 a window is one unit",
        default="document",
        choices=("document", "paragraph", "line", "sentence"),
    )
    window: WindowConfig = field(default_factory=WindowConfig)

    def __post_init__(self) -> None:
        for name in ("tokenizer", "text_field"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        choices = _choices(self, "granularity")
        if self.granularity not in choices:
            raise ValueError(f"granularity must be one of {choices}, got {self.granularity!r}")
        if not isinstance(self.window, WindowConfig):
            raise ValueError(f"window must be a WindowConfig, got {self.window!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuildConfig:
        d = dict(d)
        d["window"] = WindowConfig(**d.get("window", {}))
        return cls(**d)


def _choices(obj: Any, name: str) -> tuple:
    return next(f.metadata["choices"] for f in dataclasses.fields(obj) if f.name == name)


def _max_harmonic_radius() -> int:
    """The largest radius whose harmonic weights 1/1 .. 1/R have a common denominator within
    MAX_COUNT_SCALE (16 for 2**20)."""
    from math import lcm

    r = 1
    while lcm(*range(1, r + 2)) <= MAX_COUNT_SCALE:
        r += 1
    return r
