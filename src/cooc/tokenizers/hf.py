"""Any Hugging Face `tokenizers` tokenizer: `hf:<tokenizer.json | folder | hub id>`.

Needs the optional `tokenizers` package (pip install 'cooc[hf]'), imported only here. A hub id
is downloaded by `tokenizers` itself, so it works online only; offline, point at a
tokenizer.json on disk.

What differs from calling `tokenizer.encode(text)` yourself, on purpose:
- no special tokens are added (add_special_tokens=False) and special-token strings in the
  text stay text (`encode_special_tokens = True`), as for every cooc tokenizer;
- truncation and padding configured in tokenizer.json are switched off: cooc never cuts a
  document silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from cooc.errors import CoocError, missing_extra
from cooc.tokenizers.base import (
    Tokenizer,
    bytes_to_display,
    check_text,
    fix_surrogates,
)
from cooc.tokenizers.tiktoken_ import EOT_STRINGS


class HFTokenizer(Tokenizer):
    """A `tokenizers.Tokenizer` (tokenizer.json), without special tokens, truncation or padding."""

    kind = "hf"

    def __init__(self, loaded: _Loaded, *, spec: str, num_threads: int, source: dict) -> None:
        self._tok = loaded.tok
        self.spec = spec
        self.num_threads = num_threads
        self.vocab_size = loaded.vocab_size
        self.eot_id = loaded.eot_id
        self._source = {**source, "sha256": loaded.sha256}

    def encode(self, text: str) -> np.ndarray:
        return self._encode_many([check_text(text)])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Performance notes: `Tokenizer.encode` holds the GIL (measured: 2 Python threads ran
        at 1.0 core), so a thread pool of `encode` gains nothing; `encode_batch_fast` releases
        it, skips offsets (~1.5x less CPU than `encode`) and runs on tokenizers' own Rayon pool,
        whose size is RAYON_NUM_THREADS or all cores, not `num_threads`. So num_threads == 1
        encodes one text per call (one core); num_threads > 1 hands the whole batch to Rayon.
        """
        texts = [check_text(t) for t in texts]
        if self.num_threads <= 1:
            return [self._encode_many([t])[0] for t in texts]
        return self._encode_many(texts)

    def _encode_many(self, texts: list[str]) -> list[np.ndarray]:
        try:
            encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        except (TypeError, UnicodeEncodeError):  # lone surrogates cannot cross into Rust
            texts = [fix_surrogates(t) for t in texts]
            encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        return [np.array(e.ids, dtype=np.uint32) for e in encs]

    def token_texts(self) -> list[str]:
        texts = [""] * self.vocab_size
        vocab = self._tok.get_vocab(with_added_tokens=False)
        style = _display_style(json.loads(self._tok.to_str()))
        for s, i in vocab.items():
            texts[i] = _display(s, style)
        for i, added in self._tok.get_added_tokens_decoder().items():
            texts[i] = added.content
        return texts

    def describe(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "spec": self.spec,
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "eot_id": self.eot_id,
            "vocab_sha256": self._source["sha256"],
            "tokenizers_version": version("tokenizers"),
            **{k: v for k, v in self._source.items() if k != "sha256"},
        }


def load_hf(rest: str, num_threads: int) -> HFTokenizer:
    """`rest` is what follows 'hf:' — a tokenizer.json, a folder holding one, or a hub id."""
    if not rest:
        raise CoocError("hf: needs a tokenizer.json path, a folder holding one, or a hub id")
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise missing_extra("tokenizers", "hf") from None
    path = os.path.expanduser(rest)
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(path):
            raise CoocError(f"folder {rest} has no tokenizer.json")
    if os.path.isfile(path):
        full = os.path.abspath(path)
        source = {"tokenizer_file": full}
        return HFTokenizer(
            _from_file(full), spec=f"hf:{full}", num_threads=num_threads, source=source
        )
    if rest.startswith(("/", ".", "~")) or rest.endswith(".json") or rest.count("/") > 1:
        raise CoocError(f"tokenizer file not found: {rest} (give a tokenizer.json or its folder)")
    source = {"hub_id": rest}
    return HFTokenizer(_from_hub(rest), spec=f"hf:{rest}", num_threads=num_threads, source=source)


class _Loaded(NamedTuple):
    """A loaded tokenizer and what is derived from it once per process (the vocab dict of a
    150k-token model takes ~0.1 s to build)."""

    tok: Any
    sha256: str
    vocab_size: int
    eot_id: int | None


def _prepare(tok: Any, sha256: str) -> _Loaded:
    tok.no_truncation()
    tok.no_padding()
    tok.encode_special_tokens = True
    vocab = tok.get_vocab(with_added_tokens=True)
    # Only added tokens can be the eot: Qwen's BPE has an ordinary token spelling "</s>".
    added = {t.content: i for i, t in tok.get_added_tokens_decoder().items()}
    eot = next((added[s] for s in EOT_STRINGS if s in added), None)
    return _Loaded(tok, sha256, max(vocab.values()) + 1 if vocab else 0, eot)


@functools.lru_cache(maxsize=8)
def _from_file(path: str) -> _Loaded:
    from tokenizers import Tokenizer as HFTok

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CoocError(f"cannot read tokenizer file {path}: {e.strerror}") from None
    try:
        tok = HFTok.from_str(data.decode("utf-8"))
    except Exception as e:  # tokenizers raises plain Exception for every parse error
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CoocError(f"{path} is not a tokenizers tokenizer.json: {msg}") from None
    return _prepare(tok, hashlib.sha256(data).hexdigest())


@functools.lru_cache(maxsize=8)
def _from_hub(hub_id: str) -> _Loaded:
    from tokenizers import Tokenizer as HFTok

    try:
        tok = HFTok.from_pretrained(hub_id)
    except Exception as e:  # tokenizers raises plain Exception for HTTP and parse errors alike
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CoocError(
            f"hf:{hub_id} is not a local file or folder, and loading it from the Hugging Face "
            f"hub failed ({msg}); offline, give the path of a tokenizer.json"
        ) from None
    # No file on disk to hash: hash the canonical serialization instead.
    return _prepare(tok, hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest())


def _walk_types(node: Any) -> set[str]:
    """Every component 'type' in a tokenizer.json subtree."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.add(node["type"])
        for v in node.values():
            found |= _walk_types(v)
    elif isinstance(node, list):
        for v in node:
            found |= _walk_types(v)
    return found


def _display_style(config: dict[str, Any]) -> str:
    """'byte_level' (GPT-2/Qwen/Llama-3), 'metaspace' (SentencePiece '▁'), or 'plain'."""
    parts = {k: config.get(k) for k in ("normalizer", "pre_tokenizer", "decoder")}
    types = _walk_types(parts)
    if "ByteLevel" in types:
        return "byte_level"
    if "Metaspace" in types or "\u2581" in json.dumps(parts, ensure_ascii=False):
        return "metaspace"
    return "plain"


@functools.lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: the printable stand-in of each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _display(token: str, style: str) -> str:
    if style == "byte_level":
        table = _unicode_to_byte()
        if all(c in table for c in token):
            return bytes_to_display(bytes(table[c] for c in token))
        return token
    if style == "metaspace":
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):  # byte fallback
            try:
                return bytes_to_display(bytes([int(token[3:5], 16)]))
            except ValueError:
                return token
        return token.replace("\u2581", " ")
    return token
