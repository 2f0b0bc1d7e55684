r"""Vectors out of cooc: word2vec's text and binary formats (what gensim's
`KeyedVectors.load_word2vec_format(path, binary=...)` and the original C tools read), and a
numpy `.npy` matrix with a vocabulary file; `read_word2vec` reads both word2vec formats back.

    word2vec     "V dim\n", then per row "token v1 v2 ... vdim\n" (floats in %.9g: float32
                 round-trips exactly)
    word2vec-binary
                 "V dim\n", then per row the token's UTF-8, b" ", dim little-endian float32
                 and b"\n" (the C tool's layout; gensim reads it too)
    npy          PATH: float32 [V, dim] (numpy's .npy); PATH with the suffix ".vocab.txt"
                 beside it: "token count\n" per row (word2vec's -save-vocab layout)

Tokens are written in the escaped form of `cooc.formats.escape`: word2vec's fields are
separated by spaces and its lines by newlines, so a space in a token is `\s`, a tab `\t`, a
newline `\n`, a carriage return `\r`, a backslash `\\`; an empty or repeated text is
`\#<token id>`. Texts without these characters (every word of the `words` and `whitespace`
tokenizers) are written as they are. `read_word2vec` undoes the escapes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from cooc.embed.vectors import Vectors
from cooc.errors import CoocError
from cooc.formats.artefact import atomic_file
from cooc.formats.escape import id_form, token_forms, unescape

FORMATS = ("word2vec", "word2vec-binary", "npy")
_ROWS_PER_WRITE = 1 << 14


def vector_forms(vectors: Vectors) -> list[str]:
    """The written form of every row's token (see the module)."""
    ids = np.asarray(vectors.token_ids)
    ids = np.where(ids >= 0, ids, np.arange(len(ids)))
    return token_forms(vectors.vocab, ids.tolist())


def export_vectors(vectors: Vectors, fmt: str, path: str | os.PathLike) -> list[Path]:
    """Write `vectors` as `fmt` (one of FORMATS) at `path`; returns the files written (each
    put in place atomically)."""
    if fmt not in FORMATS:
        raise CoocError(f"unknown vectors format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    forms = vector_forms(vectors)
    v, dim = len(vectors), vectors.dim
    if fmt == "npy":
        vocab = path.with_name(path.name.removesuffix(".npy") + ".vocab.txt")
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(vectors.vectors, np.dtype("<f4")), allow_pickle=False)
        with atomic_file(vocab) as tmp, open(tmp, "w", encoding="utf-8",
                                             errors="surrogatepass", newline="\n") as f:
            counts = np.asarray(vectors.counts).tolist()
            for lo in range(0, v, _ROWS_PER_WRITE):
                f.write("".join(f"{w} {c}\n" for w, c in zip(
                    forms[lo : lo + _ROWS_PER_WRITE], counts[lo : lo + _ROWS_PER_WRITE],
                    strict=True)))
        return [path, vocab]
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        f.write(f"{v} {dim}\n".encode("ascii"))
        if fmt == "word2vec":
            line = " ".join(["%.9g"] * dim)
            for lo in range(0, v, _ROWS_PER_WRITE):
                block = np.asarray(vectors.vectors[lo : lo + _ROWS_PER_WRITE], np.float32)
                f.write("".join(f"{w} {line % tuple(row)}\n" for w, row in zip(
                    forms[lo : lo + _ROWS_PER_WRITE], block.tolist(), strict=True)).encode(
                    "utf-8", "surrogatepass"))
        else:
            for lo in range(0, v, _ROWS_PER_WRITE):
                block = np.asarray(vectors.vectors[lo : lo + _ROWS_PER_WRITE], "<f4")
                buf = io.BytesIO()
                for w, row in zip(forms[lo : lo + _ROWS_PER_WRITE], block, strict=True):
                    buf.write(w.encode("utf-8", "surrogatepass") + b" " + row.tobytes() + b"\n")
                f.write(buf.getvalue())
    return [path]


def read_word2vec(path: str | os.PathLike, binary: bool = False
                  ) -> tuple[list[str], np.ndarray, list[int | None]]:
    """(token texts, vectors float32 [V, dim], the id of every `\\#<id>` form or None) of a
    word2vec text or binary file (tokens unescaped as `cooc.formats.escape` writes them)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise CoocError(f"{p}: cannot read it ({e.strerror})") from None
    nl = data.find(b"\n")
    try:
        v, dim = (int(x) for x in data[:nl].split())
    except ValueError:
        raise CoocError(f"{p}: the first line must be 'V dim'") from None
    forms: list[str] = []
    out = np.empty((v, dim), np.float32)
    pos = nl + 1
    if binary:
        width = 4 * dim
        for i in range(v):
            while data[pos : pos + 1] == b"\n":  # gensim writes no newline after a vector
                pos += 1
            sp = data.find(b" ", pos)
            if sp < 0 or sp + 1 + width > len(data):
                raise CoocError(f"{p}: row {i} is truncated")
            forms.append(data[pos:sp].decode("utf-8", "surrogatepass"))
            out[i] = np.frombuffer(data, "<f4", dim, sp + 1)
            pos = sp + 1 + width
    else:
        lines = data[pos:].decode("utf-8", "surrogatepass").split("\n")
        if len(lines) < v:
            raise CoocError(f"{p}: {len(lines)} lines after the header, expected {v}")
        for i in range(v):
            parts = lines[i].rstrip(" ").split(" ")
            if len(parts) != dim + 1:
                raise CoocError(f"{p}:{i + 2}: expected a token and {dim} numbers")
            forms.append(parts[0])
            out[i] = np.array(parts[1:], np.float32)
    try:
        texts = [unescape(w) if id_form(w) is None else "" for w in forms]
    except ValueError as e:
        raise CoocError(f"{p}: {e}") from None
    return texts, out, [id_form(w) for w in forms]
