"""Cutting documents into paragraphs, lines or sentences (English and Chinese), so that a
window can be a sentence or a paragraph rather than a token chunk.

Rules (deliberately simple, fast and predictable; regular expressions, no model):
- paragraph: text between blank lines (a line holding only whitespace counts as blank);
- line: every line break ends a unit;
- sentence: sentences never cross a paragraph; inside one, a sentence ends
  - after 。！？!? or ； or …… (CJK and full-width punctuation), with any closing quotes or
    brackets that follow, whatever comes next;
  - after . ! ? (with closing quotes or brackets) followed by whitespace, unless the word
    before the period is a known abbreviation (Mr., Jan., etc., ...), a dotted one (e.g.,
    p.m., U.S.: never split, even at a sentence's end) or a single letter (initials:
    "J. R. R. Tolkien");
  line breaks inside a paragraph are spaces (hard-wrapped text).
Units are stripped of surrounding whitespace; empty units are dropped. Every unit keeps its
document's file and line, so bad-input reports and store origins still point at the source.
"""

from __future__ import annotations

import re

from cooc.corpus.readers import Document

GRANULARITIES = ("document", "paragraph", "line", "sentence")

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_CLOSERS = "\"'”’」』）)]》〉"
# CJK terminators end a sentence outright; Latin ones need whitespace after them
_CLOSE = "[" + re.escape(_CLOSERS) + "]*"
_CJK_END = re.compile(r"(?:[。！？；]|……)" + _CLOSE)
_LATIN_END = re.compile(r"[.!?]+" + _CLOSE + r"(?=\s)")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al fig figs no nos vol vols pp ed eds "
    "jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp dept est approx".split()
)


def split_text(text: str, granularity: str) -> list[str]:
    """The units of `text` at `granularity` (see the module docstring)."""
    if granularity == "document":
        t = text.strip()
        return [t] if t else []
    if granularity == "line":
        return [u.strip() for u in text.splitlines() if u.strip()]
    paragraphs = [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]
    if granularity == "paragraph":
        return paragraphs
    if granularity != "sentence":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    out: list[str] = []
    for p in paragraphs:
        out.extend(_sentences(" ".join(p.split("\n"))))
    return out


def _sentences(text: str) -> list[str]:
    ends = _sentence_ends(text)
    out, start = [], 0
    for e in ends:
        s = text[start:e].strip()
        if s:
            out.append(s)
        start = e
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def split_documents(docs: list[Document], granularity: str) -> list[Document]:
    """Each document replaced by its units (in order), which keep its source and line."""
    if granularity == "document":
        return docs
    return [Document(u, d.source, d.line) for d in docs for u in split_text(d.text, granularity)]


def unit_spans(text: str, granularity: str) -> list[tuple[int, int]]:
    """(start, end) character offsets in `text` of its units at `granularity` ("paragraph"
    or "sentence"), by the rules of `split_text`: text[s:e] is the unit (for sentences, with
    line breaks inside a paragraph left as they are instead of made spaces). Curation cuts
    units out of a document by these offsets."""
    if granularity not in ("paragraph", "sentence"):
        raise ValueError(f"granularity must be 'paragraph' or 'sentence', got {granularity!r}")
    spans: list[tuple[int, int]] = []
    start = 0
    for m in [*_BLANK_LINE.finditer(text), None]:
        end = len(text) if m is None else m.start()
        s, e = _stripped(text, start, end)
        if s < e:
            if granularity == "paragraph":
                spans.append((s, e))
            else:
                spans.extend(_sentence_spans(text, s, e))
        if m is not None:
            start = m.end()
    return spans


def _stripped(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _sentence_spans(text: str, s: int, e: int) -> list[tuple[int, int]]:
    para = text[s:e].replace("\n", " ")  # as split_text: same length, so offsets carry over
    out = []
    start = 0
    ends = _sentence_ends(para)
    for end in [*ends, len(para)]:
        a, b = _stripped(para, start, end)
        if a < b:
            out.append((s + a, s + b))
        start = end
    return out


def _sentence_ends(text: str) -> list[int]:
    ends = {m.end() for m in _CJK_END.finditer(text)}
    for m in _LATIN_END.finditer(text):
        if m.group().startswith(".") and len(m.group().rstrip(_CLOSERS)) == 1:
            word = text[: m.start()].rsplit(None, 1)[-1] if text[: m.start()].strip() else ""
            w = word.lower().lstrip("(\"'")
            if w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha()) or "." in w:
                continue
        ends.add(m.end())
    return sorted(ends)
