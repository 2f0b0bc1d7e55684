r"""The ARPA backoff language model format: export (as lmplz writes it) and import.

    \data\
    ngram 1=<count>
    ...
    ngram N=<count>

    \1-grams:
    <log10 prob><TAB><word><TAB><log10 backoff>
    ...
    \N-grams:
    <log10 prob><TAB><w1> <w2> ... <wN>

    \end\

As lmplz: backoffs are written for every n-gram below the highest order (0 where there is
none); unigrams come `<unk>`, `<s>`, `</s>` first, then the vocabulary; higher orders are in
suffix order (last word first); numbers read back as the same float32 values.
Import accepts any whitespace between fields and any n-gram order within a section, and
fails with one line naming the file and line of the first problem.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

from cooc.errors import CoocError
from cooc.lm.model import BOS, EOS, UNK, NgramModel, find_rows, sort_grams
from cooc.ngram.config import MAX_ORDER


def _fmt(values: np.ndarray) -> list[str]:
    """Decimal forms that read back as the same float32 values: 7 significant digits where
    they round-trip (almost always), 9 otherwise; "0" for zero."""
    v = values.astype(np.float32)
    out = [f"{x:.7g}" for x in v.tolist()]
    if out:
        bad = np.flatnonzero(np.array(out, dtype=np.float32) != v)
        for i in bad.tolist():
            out[i] = f"{float(v[i]):.9g}"
    return ["0" if x == "-0" else x for x in out] if (v == 0).any() else out


def _open_write(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="\n")
    return open(path, "w", encoding="utf-8", newline="\n")


def write_arpa(model: NgramModel, path: str | os.PathLike) -> Path:
    """Write `model` as an ARPA file (gzip when the name ends in .gz), via a temporary name."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    n = model.order
    words = model.vocab
    if any(not w or w.split() != [w] for w in words):
        bad = next(w for w in words if not w or w.split() != [w])
        raise CoocError(f"word {bad!r} is empty or contains whitespace: it cannot be written to "
                        "ARPA (estimate with a tokenizer whose tokens have no spaces, e.g. "
                        "whitespace)")
    try:
        with _open_write(tmp) as f:
            f.write("\\data\\\n")
            for k in range(1, n + 1):
                f.write(f"ngram {k}={model.counts[k - 1]}\n")
            for k in range(1, n + 1):
                f.write(f"\n\\{k}-grams:\n")
                g = model.grams[k - 1]
                if k == 1:
                    special = [i for i in (model.unk_id, model.bos_id, model.eos_id) if i >= 0]
                    rest = np.setdiff1d(np.arange(len(words)), special)
                    order = np.concatenate([np.array(special, np.int64), rest])
                else:
                    order = np.lexsort(g.T)  # suffix order: the last word is the primary key
                lp = _fmt(model.logprob[k - 1][order])
                bo = _fmt(model.backoff[k - 1][order]) if k < n else None
                gw = g[order]
                step = 1 << 16
                for lo in range(0, len(order), step):
                    rows = gw[lo : lo + step].tolist()
                    if k < n:
                        lines = [f"{p}\t{' '.join(words[w] for w in r)}\t{b}\n" for p, r, b in
                                 zip(lp[lo : lo + step], rows, bo[lo : lo + step], strict=True)]
                    else:
                        lines = [f"{p}\t{' '.join(words[w] for w in r)}\n" for p, r in
                                 zip(lp[lo : lo + step], rows, strict=True)]
                    f.write("".join(lines))
            f.write("\n\\end\\\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class _Lines:
    """Numbered lines of a text file (gzip by magic), for one-line errors."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        self.f = (gzip.open(path, "rt", encoding="utf-8") if gz
                  else open(path, encoding="utf-8"))
        self.no = 0

    def error(self, msg: str, line: int | None = None) -> CoocError:
        return CoocError(f"{self.path}:{self.no if line is None else line}: {msg}")

    def next(self) -> str | None:
        try:
            line = self.f.readline()
        except UnicodeDecodeError:
            raise self.error("not UTF-8 text") from None
        if not line:
            return None
        self.no += 1
        return line.rstrip("\r\n")

    def next_nonblank(self) -> str | None:
        while True:
            line = self.next()
            if line is None or line.strip():
                return line


def _float(tok: str, what: str, lines: _Lines) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise lines.error(f"{what} {tok!r} is not a number") from None
    if math.isnan(x) or math.isinf(x):
        raise lines.error(f"{what} {tok!r} is not a finite number")
    return x


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """Read an ARPA file (plain or gzip) into a model; `CoocError` "file:line: problem" on a
    malformed file. A model without `<unk>` gets one with log10 prob -100, as KenLM does."""
    path = Path(path)
    if not path.is_file():
        raise CoocError(f"{path}: no such ARPA file")
    lines = _Lines(path)
    try:
        return _read(lines)
    finally:
        lines.f.close()


def _read(lines: _Lines) -> NgramModel:
    line = lines.next_nonblank()
    while line is not None and line.strip() != "\\data\\":  # text before \data\ is allowed
        line = lines.next()
    if line is None:
        raise lines.error("no \\data\\ header: not an ARPA file")
    counts: dict[int, int] = {}
    header_line: dict[int, int] = {}
    line = lines.next_nonblank()
    while line is not None and line.strip().startswith("ngram "):
        spec = line.strip()[6:]
        try:
            k_s, c_s = spec.split("=")
            k, c = int(k_s), int(c_s)
        except ValueError:
            raise lines.error(f"bad header line {line.strip()!r} (expected 'ngram K=COUNT')") from None
        if k != len(counts) + 1 or not 1 <= k <= MAX_ORDER or c < 0:
            raise lines.error(f"bad header line {line.strip()!r}: orders must run 1, 2, ... up to "
                              f"{MAX_ORDER} with counts >= 0")
        counts[k] = c
        header_line[k] = lines.no
        line = lines.next_nonblank()
    if not counts:
        raise lines.error("no 'ngram K=COUNT' lines after \\data\\")
    order = len(counts)
    vocab: list[str] = []
    ids: dict[str, int] = {}
    raw: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for k in range(1, order + 1):
        want = f"\\{k}-grams:"
        if line is None or line.strip() != want:
            got = "the end of the file" if line is None else repr(line.strip())
            raise lines.error(f"missing section {want} (found {got})")
        gram_rows: list[list[int]] = []
        probs: list[float] = []
        bos_: list[float] = []
        while True:
            line = lines.next()
            if line is None:
                break
            s = line.strip()
            if not s:
                continue
            if s.startswith("\\"):
                break
            f = s.split()
            if len(f) not in (k + 1, k + 2):
                raise lines.error(f"{len(f) - 1} fields after the probability in the "
                                  f"\\{k}-grams: section: expected {k} words and an optional "
                                  "backoff")
            if len(f) == k + 2 and k == order:
                raise lines.error(f"{len(f) - 1} fields after the probability in the "
                                  f"\\{k}-grams: section: expected {k} words (the highest "
                                  "order has no backoffs)")
            probs.append(_float(f[0], "probability", lines))
            bos_.append(_float(f[k + 1], "backoff", lines) if len(f) == k + 2 else 0.0)
            if k == 1:
                w = f[1]
                if w in ids:
                    raise lines.error(f"unigram {w!r} appears twice")
                ids[w] = len(vocab)
                vocab.append(w)
                gram_rows.append([ids[w]])
            else:
                try:
                    gram_rows.append([ids[w] for w in f[1 : k + 1]])
                except KeyError as e:
                    raise lines.error(f"word {e.args[0]!r} of a {k}-gram is not a unigram") from None
            if len(probs) > counts[k]:
                raise lines.error(f"the \\{k}-grams: section has more than the {counts[k]} "
                                  f"n-grams that the header (line {header_line[k]}) says")
        if len(probs) != counts[k]:
            raise lines.error(f"the \\{k}-grams: section has {len(probs)} n-grams, the header "
                              f"(line {header_line[k]}) says {counts[k]}")
        raw.append((np.array(gram_rows, np.int64).reshape(-1, k), np.array(probs, np.float32),
                    np.array(bos_, np.float32)))
    if line is None or line.strip() != "\\end\\":
        got = "the end of the file" if line is None else repr(line.strip())
        raise lines.error(f"expected \\end\\ after the \\{order}-grams: section, found {got}")
    if UNK not in ids:  # KenLM adds <unk> with -100 when a model has none
        ids[UNK] = len(vocab)
        vocab.append(UNK)
        g, p, b = raw[0]
        raw[0] = (np.concatenate([g, [[ids[UNK]]]]), np.append(p, np.float32(-100.0)),
                  np.append(b, np.float32(0.0)))
    grams, logprob, backoff = [], [], []
    for k, (g, p, b) in enumerate(raw, 1):
        o = sort_grams(g) if k > 1 else np.argsort(g[:, 0])
        gs = g[o]
        if k > 1 and len(gs) > 1 and (np.diff(find_rows(gs, gs)) == 0).any():
            raise lines.error(f"the \\{k}-grams: section lists an n-gram twice")
        grams.append(np.ascontiguousarray(gs.astype(np.int32)))
        logprob.append(p[o])
        backoff.append(b[o])
    model = NgramModel(vocab, grams, logprob, backoff, {"source": str(lines.path)})
    for name in (BOS, EOS):
        if model.word_id(name) < 0:
            raise CoocError(f"{lines.path}: the model has no {name} unigram")
    return model
