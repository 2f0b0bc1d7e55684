"""Slow, obviously-correct references for every fast path. Pure Python, no numpy tricks."""

from __future__ import annotations

from collections import Counter


def reference_windows(docs: list[list[int]], context_length: int, packing: str = "document",
                      eot_id: int | None = None, stride: int = 0) -> list[list[int]]:
    """Cut token lists into windows the way cooc documents it."""
    if stride and stride < context_length:
        out = []
        for doc in docs:
            s = 0
            while s < len(doc):
                out.append(doc[s : s + context_length])
                if s + context_length >= len(doc):
                    break
                s += stride
        return out
    if packing == "document":
        out = []
        for doc in docs:
            for s in range(0, len(doc), context_length):
                out.append(doc[s : s + context_length])
        return out
    stream: list[int] = []
    for doc in docs:
        stream.extend(doc)
        stream.append(eot_id)
    return [stream[s : s + context_length] for s in range(0, len(stream), context_length)]


def reference_dict_of_sets(windows: list[list[int]], include_self: bool = False) -> dict[int, set[int]]:
    """The reference system: for each token, the set of tokens it met in some window."""
    met: dict[int, set[int]] = {}
    for w in windows:
        for i, a in enumerate(w):
            s = met.setdefault(a, set())
            for j, b in enumerate(w):
                if i != j and (a != b or include_self):
                    s.add(b)
    return met


def reference_counts(windows: list[list[int]], mode: str = "windows",
                     include_self: bool = False) -> Counter:
    """Directed pair counts {(a, b): count} for a != b (and a == b with include_self)."""
    c: Counter = Counter()
    for w in windows:
        if mode == "windows":
            seen = set()
            for i, a in enumerate(w):
                for j, b in enumerate(w):
                    if i != j and (a != b or include_self):
                        seen.add((a, b))
            for p in seen:
                c[p] += 1
        else:  # occurrences: ordered pairs of distinct positions
            for i, a in enumerate(w):
                for j, b in enumerate(w):
                    if i != j and (a != b or include_self):
                        c[(a, b)] += 1
    return c


def csr_to_counter(row_ptr, cols, counts, row_start: int = 0) -> Counter:
    out: Counter = Counter()
    for r in range(len(row_ptr) - 1):
        for i in range(int(row_ptr[r]), int(row_ptr[r + 1])):
            out[(r + row_start, int(cols[i]))] = int(counts[i])
    return out


def reference_distance_counts(windows: list[list[int]], weights: list, include_self: bool = False) -> Counter:
    """Directed {(a, b): sum of weights[d]} over ordered occurrence pairs (p, q), p != q, of
    one window at distance d = |p - q| <= len(weights) - 1 (weights[0] unused)."""
    c: Counter = Counter()
    radius = len(weights) - 1
    for w in windows:
        for p, a in enumerate(w):
            for q, b in enumerate(w):
                d = abs(p - q)
                if p != q and d <= radius and (a != b or include_self) and weights[d]:
                    c[(a, b)] += weights[d]
    return c


def reference_min_count(docs: list[list[int]], min_count: int) -> list[list[int]]:
    """Documents without the tokens seen fewer than min_count times in all of them."""
    freq = Counter(t for d in docs for t in d)
    return [[t for t in d if freq[t] >= min_count] for d in docs]


class ReferenceWhitespace:
    """The whitespace tokenizer as `str.split()` and a dict: ids in first-seen order, "</s>"
    id 0; a word that cannot be UTF-8 (lone surrogates) has them replaced by U+FFFD; `freeze`
    sorts the other words in code-point order and returns old id -> new id."""

    def __init__(self, words: list[str] | None = None, frozen: bool = False):
        self.words = list(words or ["</s>"])
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.frozen = frozen

    def encode(self, text: str) -> list[int]:
        out = []
        for w in text.split():
            try:
                w.encode("utf-8")
            except UnicodeEncodeError:
                w = w.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            if w not in self.ids:
                if self.frozen:
                    raise KeyError(w)
                self.ids[w] = len(self.words)
                self.words.append(w)
            out.append(self.ids[w])
        return out

    def freeze(self) -> list[int]:
        new = ["</s>", *sorted(self.words[1:])]
        ids = {w: i for i, w in enumerate(new)}
        remap = [ids[w] for w in self.words]
        self.words, self.ids, self.frozen = new, ids, True
        return remap

    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(b"".join(w.encode("utf-8") + b"\n" for w in self.words)).hexdigest()
