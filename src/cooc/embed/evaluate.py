"""Intrinsic evaluation of vectors: word-pair similarity (Spearman's rho against human
scores) and analogies (accuracy of 3CosAdd and 3CosMul), as gensim's `evaluate_word_pairs`
and `evaluate_word_analogies` do.

Similarity files (WordSim353, SimLex-999, MEN, ...): one pair a line, `word1 word2 score`,
the fields separated by a tab, else by a comma, else by whitespace; blank lines and lines
starting with "#" are skipped, and so is a first line whose score is not a number (a
header). A pair with a word the vectors lack is out of vocabulary (OOV): counted, left out
of rho.

Analogy files (`questions-words.txt`): `: section` lines start a section, every other line
holds four words `a b c d`, "a is to b as c is to d". A question with a word the vectors
lack (or outside the first `restrict_vocab` rows) is OOV: counted, not asked. The others
are answered by the best row (a, b and c excluded); accuracy is over the questions asked,
as gensim reports it.

case_insensitive: words are looked up lower-cased when their text is absent (a
lower-cased vocabulary, such as the `words` tokenizer's, then matches "Athens").
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cooc.embed.vectors import ANALOGY_METHODS, Vectors
from cooc.errors import CoocError

_QUESTIONS_PER_BATCH = 512


def _read_lines(path: str | os.PathLike) -> list[str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CoocError(f"{p}: no such evaluation file") from None
    except IsADirectoryError:
        raise CoocError(f"{p} is a folder; give an evaluation file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CoocError(f"{p}: cannot read it as UTF-8 text ({e})") from None


def _fields(line: str) -> list[str]:
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    if "," in line:
        return [f.strip() for f in line.split(",")]
    return line.split()


def read_similarity_file(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """The (word1, word2, score) pairs of a similarity file (format in the module)."""
    pairs = []
    header_allowed = True
    for lineno, line in enumerate(_read_lines(path), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        f = _fields(s)
        if len(f) < 3 or not f[0] or not f[1]:
            raise CoocError(f"{path}:{lineno}: expected 'word1 word2 score', got {s[:80]!r}")
        try:
            score = float(f[2])
        except ValueError:
            if header_allowed:
                header_allowed = False
                continue
            raise CoocError(f"{path}:{lineno}: the score {f[2]!r} is not a number") from None
        if not np.isfinite(score):
            raise CoocError(f"{path}:{lineno}: the score {f[2]!r} is not a finite number")
        header_allowed = False
        pairs.append((f[0], f[1], score))
    if not pairs:
        raise CoocError(f"{path} holds no word pairs ('word1 word2 score' lines)")
    return pairs


def read_analogy_file(path: str | os.PathLike) -> list[tuple[str, list[tuple[str, ...]]]]:
    """The sections of an analogy file: [(name, [(a, b, c, d), ...]), ...]."""
    sections: list[tuple[str, list[tuple[str, ...]]]] = []
    for lineno, line in enumerate(_read_lines(path), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith(":"):
            sections.append((s[1:].strip(), []))
            continue
        words = s.split()
        if len(words) != 4:
            raise CoocError(f"{path}:{lineno}: an analogy line holds 4 words 'a b c d', got "
                            f"{s[:80]!r}")
        if not sections:
            sections.append(("", []))
        sections[-1][1].append(tuple(words))
    if not any(q for _, q in sections):
        raise CoocError(f"{path} holds no analogy questions ('a b c d' lines)")
    return sections


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of x, ties given their mean rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    out = np.empty(len(x), np.float64)
    out[order] = np.repeat(mean_rank, ends - starts)
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the ranks (NaN with fewer than 2 values or a constant
    side)."""
    if len(x) < 2:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    d = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / d) if d > 0 else float("nan")


@dataclass
class SimilarityResult:
    file: str
    pairs: int  # in the file
    oov: int  # pairs with a word the vectors lack
    spearman: float  # over the other pairs


def evaluate_similarity(vectors: Vectors, path: str | os.PathLike,
                        case_insensitive: bool = False) -> SimilarityResult:
    """Spearman's rho of the vectors' cosines against a similarity file's scores."""
    pairs = read_similarity_file(path)
    a = np.array([vectors.find(p[0], case_insensitive) for p in pairs], np.int64)
    b = np.array([vectors.find(p[1], case_insensitive) for p in pairs], np.int64)
    ok = (a >= 0) & (b >= 0)
    human = np.array([p[2] for p in pairs], np.float64)[ok]
    x = np.asarray(vectors.vectors[a[ok]], np.float64)
    y = np.asarray(vectors.vectors[b[ok]], np.float64)
    n = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(n > 0, np.einsum("ij,ij->i", x, y) / n, 0.0)
    return SimilarityResult(str(path), len(pairs), int((~ok).sum()), spearman(cos, human))


@dataclass
class AnalogySection:
    section: str
    questions: int = 0
    oov: int = 0  # questions with a word outside the vocabulary: not asked
    correct: dict[str, int] = field(default_factory=dict)  # method -> right answers

    @property
    def asked(self) -> int:
        return self.questions - self.oov

    def accuracy(self, method: str) -> float:
        return self.correct.get(method, 0) / self.asked if self.asked else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "asked": self.asked,
                "accuracy": {m: self.accuracy(m) for m in self.correct}}


@dataclass
class AnalogyResult:
    file: str
    sections: list[AnalogySection]
    total: AnalogySection

    def to_dict(self) -> dict:
        return {"file": self.file, "total": self.total.to_dict(),
                "sections": [s.to_dict() for s in self.sections]}


def evaluate_analogy(vectors: Vectors, path: str | os.PathLike,
                     methods: tuple[str, ...] = ANALOGY_METHODS, case_insensitive: bool = False,
                     restrict_vocab: int = 0) -> AnalogyResult:
    """Accuracy of each method on an analogy file, per section and in total (a question is
    right when the best answer is d; rows beyond `restrict_vocab` are neither answers nor
    question words, 0: all)."""
    for m in methods:
        if m not in ANALOGY_METHODS:
            raise CoocError(f"unknown analogy method {m!r}; choose from "
                            f"{', '.join(ANALOGY_METHODS)}")
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int) \
            or restrict_vocab < 0:
        raise CoocError(f"restrict_vocab must be an integer >= 0 (0: all rows), got "
                        f"{restrict_vocab!r}")
    limit = min(restrict_vocab, len(vectors)) if restrict_vocab else len(vectors)
    total = AnalogySection("total", correct={m: 0 for m in methods})
    out = []
    for name, questions in read_analogy_file(path):
        sec = AnalogySection(name, len(questions), correct={m: 0 for m in methods})
        rows = np.array([[vectors.find(w, case_insensitive) for w in q] for q in questions],
                        np.int64).reshape(-1, 4)
        ok = ((rows >= 0) & (rows < limit)).all(axis=1)
        sec.oov = int((~ok).sum())
        asked = rows[ok]
        for lo in range(0, len(asked), _QUESTIONS_PER_BATCH):
            q = asked[lo : lo + _QUESTIONS_PER_BATCH]
            for m in methods:
                found, _ = vectors.analogy_rows(q[:, 0], q[:, 1], q[:, 2], k=1, method=m,
                                                restrict_vocab=limit)
                sec.correct[m] += int((found[:, 0] == q[:, 3]).sum())
        out.append(sec)
        total.questions += sec.questions
        total.oov += sec.oov
        for m in methods:
            total.correct[m] += sec.correct[m]
    return AnalogyResult(str(path), out, total)
