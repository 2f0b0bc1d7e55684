"""The n-gram job's config: what is counted, recorded in the index. How it runs (memory,
threads, temporary folder) is `cooc.options.RunOptions`, as for every job. No numpy here: the
CLI builds its flags from this."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_ORDER = 8


@dataclass(frozen=True)
class NgramConfig:
    """Everything that determines the content of an n-gram index (recorded in its manifest)."""

    order: int = field(default=3, metadata={"help": "highest n-gram order, 1..8"})
    tokenizer: str = field(default="qwen", metadata={
        "help": "as for cooc build: qwen, whitespace, tiktoken:..., hf:... (a token store "
                "uses its own)"})
    markers: bool = field(default=False, metadata={
        "help": "add <s> before and </s> after every document (ids V and V+1)"})
    text_field: str = field(default="text", metadata={
        "help": "JSON/Parquet field holding the text"})

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int) \
                or not 1 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be an int in [1, {MAX_ORDER}], got {self.order!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise ValueError(f"tokenizer must be a tokenizer spec such as 'qwen', got {self.tokenizer!r}")

