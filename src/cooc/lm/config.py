"""The Kneser-Ney estimation job's config (what is estimated). No numpy here: the CLI builds
its flags from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from cooc.ngram.config import MAX_ORDER


@dataclass(frozen=True)
class KneserNeyConfig:
    """Everything that determines an estimated model (as lmplz's options)."""

    order: int = field(default=5, metadata={"help": "highest n-gram order, 2..8"})
    tokenizer: str = field(default="whitespace", metadata={
        "help": "whitespace (as lmplz), qwen, tiktoken:..., hf:... (a token store uses its own)"})
    text_field: str = field(default="text", metadata={
        "help": "JSON/Parquet field holding the text"})
    discount_fallback: tuple[float, ...] = field(default=(), metadata={"cli": False,
        "help": "discounts D1 D2 D3+ for orders whose closed-form estimate fails "
                "(lmplz --discount_fallback; default: fail)"})
    prune: tuple[int, ...] = field(default=(), metadata={"cli": False,
        "help": "per order, drop the n-grams whose count is at most this (lmplz --prune; "
                "non-decreasing, the last value repeats, unigrams are never pruned)"})

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int) \
                or not 2 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be an int in [2, {MAX_ORDER}], got {self.order!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise ValueError(f"tokenizer must be a spec such as 'whitespace', got {self.tokenizer!r}")
        fb = tuple(self.discount_fallback)
        if fb and (len(fb) != 3 or not all(0 <= float(d) <= j for j, d in enumerate(fb, 1))):
            raise ValueError(f"discount_fallback must be three discounts D1 in [0, 1], D2 in "
                             f"[0, 2], D3+ in [0, 3] (e.g. 0.5 1 1.5), got {self.discount_fallback!r}")
        object.__setattr__(self, "discount_fallback", tuple(float(d) for d in fb))
        pr = tuple(self.prune)
        if pr and (len(pr) > self.order or any(isinstance(t, bool) or not isinstance(t, int)
                                               or t < 0 for t in pr)
                   or list(pr) != sorted(pr) or pr[0] != 0):
            raise ValueError(f"prune must be up to {self.order} non-decreasing counts >= 0 "
                             f"starting with 0 (unigrams are not pruned), e.g. 0 1 1, got "
                             f"{self.prune!r}")
        object.__setattr__(self, "prune", pr)

    def thresholds(self) -> tuple[int, ...]:
        """The pruning threshold of every order 1..order (0: keep all)."""
        pr = self.prune or (0,)
        return pr + (pr[-1],) * (self.order - len(pr))
