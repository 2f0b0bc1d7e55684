"""The n-gram job's config (what is counted: recorded in the index) and run options (how it
runs: never changes the result). No numpy here: the CLI builds its flags from these."""

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


@dataclass(frozen=True)
class NgramOptions:
    """How a count runs; never changes the result (tested)."""

    memory_bytes: int = 1 << 30  # the budget of `cooc.ngram.count` (tiny ones: tests)
    num_threads: int = 0  # 0: all cores
    batch_tokens: int = 0  # 0: from the memory budget
    tmp_dir: str | None = None  # spilled runs (default: the system's temp folder)
    quiet: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.memory_bytes, bool) or not isinstance(self.memory_bytes, int) \
                or self.memory_bytes < 1024:
            raise ValueError(f"memory_bytes must be an int >= 1024 (e.g. 1 << 30), got "
                             f"{self.memory_bytes!r}")
        if self.num_threads < 0 or self.batch_tokens < 0:
            raise ValueError(f"num_threads ({self.num_threads}) and batch_tokens "
                             f"({self.batch_tokens}) must be >= 0 (0: automatic)")
