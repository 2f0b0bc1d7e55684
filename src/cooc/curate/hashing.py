"""128-bit text hashes (xxh3_128, from the xxhash package) as two uint64 columns, and the
text units that dedup hashes: documents, paragraphs, C4-style three-sentence spans.

Performance notes: encoding and hashing run as `map` over C functions (str.encode,
xxhash.xxh3_128_digest), the digests are joined once and viewed as uint64 pairs: no Python
statement runs per document. xxh3_128 was chosen over blake2/md5 (cryptographic, 5-10x
slower) and over 64-bit hashes (a billion documents would collide: p ~ n^2 / 2^65 = 3%).
"""

from __future__ import annotations

import itertools

import numpy as np
import xxhash

from cooc.corpus.segment import unit_spans

GRANULARITIES = ("document", "paragraph", "span")
SPAN_SENTENCES = 3  # sentences per span, as C4


def normalized(text: str) -> str:
    """Lowercased, whitespace runs made one space, ends stripped (the --normalize key)."""
    return " ".join(text.lower().split())


def hash128(texts: list[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo): the two uint64 halves of xxh3_128(UTF-8 of each text, seed)."""
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    encoded = map(str.encode, texts)
    digests = b"".join(map(xxhash.xxh3_128_digest, encoded, itertools.repeat(seed)))
    pairs = np.frombuffer(digests, "<u8").reshape(-1, 2)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


def units(text: str, granularity: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the units dedup compares: the whole text ("document"),
    paragraphs (blank-line separated), or spans of `SPAN_SENTENCES` consecutive sentences
    (sentences by `cooc.corpus.segment`, grouped from each document's first sentence; the
    last span may be shorter; a span may cross a paragraph break)."""
    if granularity == "document":
        return [(0, len(text))]
    if granularity == "paragraph":
        return unit_spans(text, "paragraph")
    if granularity != "span":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    sentences = unit_spans(text, "sentence")
    return [(sentences[i][0], sentences[min(i + SPAN_SENTENCES, len(sentences)) - 1][1])
            for i in range(0, len(sentences), SPAN_SENTENCES)]


def cut(text: str, spans: list[tuple[int, int]], drop: list[bool]) -> tuple[str, list[list[int]]]:
    """`text` without the dropped units, and the [start, end) ranges cut. A unit's range runs
    to the next unit's start (it takes the whitespace after it); a dropped last unit's range
    starts at the end of the unit before it, so no dangling separator is left."""
    ranges: list[list[int]] = []
    n = len(spans)
    for i, (s, _) in enumerate(spans):
        if not drop[i]:
            continue
        if i + 1 < n:
            a, b = s, spans[i + 1][0]
        else:
            a, b = (spans[i - 1][1] if i > 0 else s), len(text)
        if ranges and a <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], b)
        else:
            ranges.append([a, b])
    pieces = []
    pos = 0
    for a, b in ranges:
        pieces.append(text[pos:a])
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces), ranges
