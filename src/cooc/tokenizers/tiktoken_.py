"""Byte-level BPE run by `tiktoken` (its Rust core releases the GIL): `tiktoken:` specs and Qwen.

Specs handled here:
  tiktoken:<encoding name>                e.g. tiktoken:cl100k_base. tiktoken downloads the ranks
                                          once and caches them (TIKTOKEN_CACHE_DIR); offline with
                                          an empty cache this fails with a CoocError saying so.
  tiktoken:<path>.tiktoken[?pattern=P]    a ranks file (base64 token, space, rank per line).
                                          P: cl100k (default), o200k, qwen, r50k. A bare ranks
                                          file has no special tokens, so eot_id is None.
The default pattern is cl100k's because most .tiktoken files in circulation are cl100k-era
vocabularies; pick the pattern the vocabulary was trained with, or ids will differ from the
model's.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.tokenizers.base import (
    EMPTY_IDS,
    Tokenizer,
    bytes_to_display,
    check_text,
    fix_surrogates,
    map_threads,
)

# Pre-tokenization patterns, copied from tiktoken_ext/openai_public.py and Qwen2's tokenizer.json.
PATTERNS = {
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
    "qwen": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "r50k": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
}
DEFAULT_PATTERN = "cl100k"

# End-of-text strings, most common first; the first one that is a special token is eot_id.
EOT_STRINGS = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>")


class TiktokenTokenizer(Tokenizer):
    """A `tiktoken.Encoding`, optionally NFC-normalizing text first (Qwen2 does).

    Performance notes: `encode_to_numpy` fills a uint32 buffer in Rust, skipping the Python
    int list that `encode_ordinary` builds, and releases the GIL, so a plain thread pool
    scales (tiktoken's own `encode_ordinary_batch` does the same with lists). With no allowed
    and no disallowed special tokens it is exactly `encode_ordinary`: special-token strings
    stay text.
    The NFC check is `unicodedata.is_normalized`, a quick check that costs far less than
    normalizing; only text that is not NFC pays for `normalize`.
    """

    def __init__(
        self,
        encoding: Any,
        *,
        spec: str,
        kind: str,
        num_threads: int,
        nfc: bool = False,
        eot_id: int | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        self._enc = encoding
        self.spec = spec
        self.kind = kind
        self.num_threads = num_threads
        self.nfc = nfc
        self.vocab_size = int(encoding.max_token_value) + 1
        self.eot_id = eot_id
        self._source = dict(source or {})
        self._encode = _numpy_encoder(encoding)

    def encode(self, text: str) -> np.ndarray:
        text = check_text(text)
        if not text:
            return EMPTY_IDS.copy()
        if self.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        try:
            return self._encode(text)
        except UnicodeEncodeError:
            return self._encode(fix_surrogates(text))

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return map_threads(self.encode, texts, self.num_threads)

    def token_bytes(self) -> list[bytes | None]:
        """Bytes of every id (None for ids no token uses); special tokens as their UTF-8 text."""
        return list(self._token_bytes)

    @functools.cached_property
    def _token_bytes(self) -> tuple[bytes | None, ...]:
        # one pass over the ranks dict: 151k decode_single_token_bytes calls took 0.3 s
        ranks = getattr(self._enc, "_mergeable_ranks", None)
        if ranks is None:
            dec = self._enc.decode_single_token_bytes
            out: list[bytes | None] = []
            for i in range(self.vocab_size):
                try:
                    out.append(dec(i))
                except KeyError:
                    out.append(None)
            return tuple(out)
        out = [None] * self.vocab_size
        for b, r in ranks.items():
            out[r] = b
        for text, r in self._enc._special_tokens.items():
            out[r] = text.encode("utf-8")
        return tuple(out)

    @functools.cached_property
    def _token_texts(self) -> tuple[str, ...]:
        return tuple("" if b is None else bytes_to_display(b) for b in self._token_bytes)

    def token_texts(self) -> list[str]:
        return list(self._token_texts)

    @functools.cached_property
    def _vocab_sha256(self) -> str:
        # The canonical .tiktoken serialization of the ranks (base64, space, rank, newline in
        # rank order), which is byte-identical to a canonical ranks file such as qwen.tiktoken,
        # so `sha256sum file.tiktoken` gives the same digest. Special tokens are listed in
        # describe() next to it.
        special = {self._enc.encode_single_token(s) for s in self._enc.special_tokens_set}
        b64 = base64.b64encode
        return hashlib.sha256(b"".join(
            b64(b) + b" %d\n" % rank for rank, b in enumerate(self._token_bytes)
            if b is not None and rank not in special
        )).hexdigest()

    def describe(self) -> dict[str, Any]:
        specials = sorted(
            (self._enc.encode_single_token(s), s) for s in self._enc.special_tokens_set
        )
        return {
            "spec": self.spec,
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "eot_id": self.eot_id,
            "vocab_sha256": self._vocab_sha256,
            "num_special_tokens": len(specials),
            "special_tokens_sha256": hashlib.sha256(
                "".join(f"{i} {s}\n" for i, s in specials).encode()
            ).hexdigest(),
            "pattern_sha256": hashlib.sha256(self._enc._pat_str.encode()).hexdigest(),
            "nfc": self.nfc,
            "tiktoken_version": _tiktoken_version(),
            **self._source,
        }


def _numpy_encoder(encoding: Any) -> Any:
    """text -> writable uint32 array, ignoring special tokens."""
    if hasattr(encoding, "encode_to_numpy"):  # tiktoken >= 0.8
        to_numpy = encoding.encode_to_numpy

        def encode(text: str) -> np.ndarray:
            # frombuffer over Rust's buffer is read-only; a copy (4 bytes a token) is far
            # cheaper than the BPE and spares callers (numba kernels) read-only surprises.
            return to_numpy(text, disallowed_special=()).copy()

    else:

        def encode(text: str) -> np.ndarray:
            return np.array(encoding.encode_ordinary(text), dtype=np.uint32)

    return encode


def _tiktoken_version() -> str:
    from importlib.metadata import version

    return version("tiktoken")


def find_eot(encoding: Any) -> int | None:
    for s in EOT_STRINGS:
        if s in encoding.special_tokens_set:
            return int(encoding.encode_single_token(s))
    return None


def load_tiktoken_spec(rest: str, num_threads: int) -> TiktokenTokenizer:
    """`rest` is what follows 'tiktoken:' — an encoding name or a ranks file path."""
    path, _, query = rest.partition("?")
    pattern = DEFAULT_PATTERN
    if query:
        key, _, value = query.partition("=")
        if key != "pattern" or value not in PATTERNS:
            raise CoocError(
                f"cannot read {query!r} in tokenizer spec 'tiktoken:{rest}': the only option is "
                f"?pattern=NAME with NAME one of {', '.join(PATTERNS)}"
            )
        pattern = value
    looks_like_path = os.sep in path or path.endswith(".tiktoken") or os.path.exists(path)
    if looks_like_path:
        full = os.path.abspath(os.path.expanduser(path))
        enc = _encoding_from_file(full, pattern)
        spec = f"tiktoken:{full}" + (f"?pattern={pattern}" if query else "")
        source = {"vocab_file": full, "pattern": pattern}
        return TiktokenTokenizer(
            enc, spec=spec, kind="tiktoken", num_threads=num_threads, source=source
        )
    if query:
        raise CoocError(
            f"?pattern= applies to a ranks file, not to the named encoding {path!r}, "
            "which has its own pattern"
        )
    enc = _named_encoding(path)
    return TiktokenTokenizer(
        enc,
        spec=f"tiktoken:{path}",
        kind="tiktoken",
        num_threads=num_threads,
        eot_id=find_eot(enc),
        source={"encoding": path},
    )


@functools.lru_cache(maxsize=8)
def _named_encoding(name: str) -> Any:
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except ValueError as e:  # unknown name
        raise CoocError(
            f"tiktoken has no encoding {name!r}; known: {', '.join(tiktoken.list_encoding_names())}"
            " (or give a ranks file: tiktoken:/path/file.tiktoken)"
        ) from e
    except OSError as e:  # requests' errors are OSErrors too
        raise CoocError(
            f"tiktoken:{name} needs its ranks file, which tiktoken downloads once and caches "
            f"(TIKTOKEN_CACHE_DIR); the download failed ({type(e).__name__}). Offline, copy the "
            "cache from a machine that has it, or use tiktoken:/path/file.tiktoken"
        ) from e


def read_ranks(path: str) -> dict[bytes, int]:
    """A .tiktoken ranks file -> {token bytes: rank}, with errors a user can act on."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CoocError(f"tokenizer ranks file not found: {path}") from None
    except OSError as e:
        raise CoocError(f"cannot read tokenizer ranks file {path}: {e.strerror}") from None
    if sys.version_info >= (3, 11):
        # fast path (2x): one strict binascii call per line, no regex; errors fall through to
        # the line-by-line loop below, which names the bad line
        a2b = binascii.a2b_base64
        try:
            ranks = {a2b(tok, strict_mode=True): int(rank)
                     for tok, rank in map(bytes.split, filter(None, data.splitlines()))}
            if ranks:
                return ranks
        except (ValueError, binascii.Error):
            pass
    ranks = {}
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise CoocError(
                f"{path}:{lineno} is not a .tiktoken ranks line (base64 token, space, rank): "
                f"{line[:80]!r}"
            ) from None
    if not ranks:
        raise CoocError(f"tokenizer ranks file {path} is empty")
    return ranks


@functools.lru_cache(maxsize=8)
def _encoding_from_file(
    path: str, pattern: str, special_tokens: tuple[tuple[str, int], ...] = ()
) -> Any:
    import tiktoken

    ranks = read_ranks(path)
    return tiktoken.Encoding(
        os.path.basename(path),
        pat_str=PATTERNS[pattern],
        mergeable_ranks=ranks,
        special_tokens=dict(special_tokens),
    )


def encoding_from_file(
    path: str, pattern: str, special_tokens: tuple[tuple[str, int], ...] = ()
) -> Any:
    """A cached `tiktoken.Encoding` for a ranks file (one load per process and arguments)."""
    return _encoding_from_file(path, pattern, special_tokens)
