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
none); unigrams come `<unk>`, `<s>`, `</s>` first, then the vocabulary. Higher orders are in
lexicographic order of their word ids (lmplz writes suffix order, last word first; readers
such as KenLM's accept any order, and this one lets estimation stream the model out level by
level without sorting it); numbers are the shortest decimals that read back as the same
float32 values (lmplz's double-conversion form: `-1.2345678`, `-0.000123`, `-1.5e-7`).
A model whose words contain whitespace, are empty or repeat (byte-level tokenizers) is
written with escaped words and a first line `# cooc: words escaped` (see `escape`).
Import accepts any whitespace between fields and any n-gram order within a section, and
fails with one line naming the file and line of the first problem.

Performance notes: export formats lines into byte buffers with one kernel per chunk of
rows (`cooc.kernels.lm.format_arpa_lines`, on threads) from a UTF-8 table of the words.
Python f-strings per line took 35 s for 11.6 M n-grams; this takes about 2 s. Import parses each section with one kernel (words found in a hash table of their
bytes), falling back to the line-by-line reader for the error message or a rare form.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from cooc.errors import CoocError
from cooc.formats.artefact import enter_phase, remove_stale, replace_file, tmp_path
from cooc.formats.lock import TargetLock
from cooc.lm.model import BOS, EOS, UNK, NgramModel, sort_grams
from cooc.ngram.config import MAX_ORDER

# n-grams per `ArpaWriter.add` call of `write_arpa` (~18 MB of text at order 5)
_ROWS_PER_CHUNK = 1 << 18
# a line before \data\ (KenLM skips lines starting with "#") saying the words are escaped
ESCAPE_MARKER = "# cooc: words escaped"
_ESC = {"\\": "\\\\", " ": "\\s", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESC = {"\\": "\\", "s": " ", "t": "\t", "n": "\n", "r": "\r"}


def _needs_escape(word: str) -> bool:
    return not word or word.split() != [word]


def escape(word: str) -> str:
    r"""A word in the ARPA export's escaped form (as `cooc.ngram.google`): `\\` for a
    backslash, `\s` a space, `\t` a tab, `\n` a newline, `\r` a carriage return, `\uXXXX`
    (4 hex digits) any other character that `str.split` splits on. (`write_arpa` writes an
    empty word, or one whose text an earlier word has, as `\#<id>`, read back as is.)"""
    out = []
    for ch in word:
        e = _ESC.get(ch)
        if e is None and ch.isspace():
            e = f"\\u{ord(ch):04x}"
        out.append(ch if e is None else e)
    return "".join(out)


def unescape(word: str) -> str:
    """Inverse of `escape`; ValueError on a dangling or unknown escape."""
    if "\\" not in word or word.startswith("\\#"):
        return word
    out = []
    i = 0
    while i < len(word):
        ch = word[i]
        if ch != "\\":
            out.append(ch)
            i += 1
        elif word[i + 1 : i + 2] in _UNESC and i + 1 < len(word):
            out.append(_UNESC[word[i + 1]])
            i += 2
        elif word[i + 1 : i + 2] == "u" and len(word[i + 2 : i + 6]) == 4:
            try:
                out.append(chr(int(word[i + 2 : i + 6], 16)))
            except ValueError:
                raise ValueError(f"bad escape in word {word!r}") from None
            i += 6
        else:
            raise ValueError(f"bad escape in word {word!r}")
    return "".join(out)


def _word_table(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes of all words, offsets int64[V + 1]): word w is bytes[off[w]:off[w + 1]].
    Words must not hold a newline (ARPA words cannot). Built from one joined string: a list
    of V bytes objects cost ~45 bytes a word at the peak."""
    buf = np.frombuffer(("\n".join(words) + "\n").encode("utf-8"), np.uint8)
    ends = np.flatnonzero(buf == 10)
    if len(ends) != len(words):
        raise ValueError("an ARPA word holds a newline")
    off = np.zeros(len(words) + 1, np.int64)
    off[1:] = ends - np.arange(len(words))
    return np.delete(buf, ends), off


def _distinct(words: list[str], word_bytes: np.ndarray, word_off: np.ndarray) -> bool:
    """No word repeats: by 64-bit hashes of the table, a set of the words only if two collide."""
    from cooc.kernels import lm as kl

    h = kl.hash_words(word_bytes, word_off)
    return len(np.unique(h)) == len(h) or len(set(words)) == len(words)


def _open_write(path: Path, target: Path):
    """`path` (the temporary file) opened for writing, gzip when the target's name ends in
    .gz (the temporary name does not)."""
    if target.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=6)
    return open(path, "wb")


def write_arpa(model: NgramModel, path: str | os.PathLike, num_threads: int = 0) -> Path:
    """Write `model` as an ARPA file (gzip when the name ends in .gz), via a temporary name
    (see `ArpaWriter`)."""
    with ArpaWriter(path, num_threads) as w:
        w.begin(model.vocab, model.counts)
        for k in range(1, model.order + 1):
            g, lp, bo = model.grams[k - 1], model.logprob[k - 1], model.backoff[k - 1]
            for lo in range(0, max(1, len(g)), _ROWS_PER_CHUNK):
                hi = lo + _ROWS_PER_CHUNK
                w.add(k, g[lo:hi], lp[lo:hi], bo[lo:hi])
        return w.finish()


class ArpaWriter:
    """Writes an ARPA file order by order from slices of n-grams, without the model in memory.

    `begin(vocab, counts)`, then `add(k, grams, logprob, backoff)` for orders 1..N in turn
    (grams: word ids int[n, k]; the unigrams in one call, any order), then `finish()`, which
    puts the temporary file `<path>.tmp-<pid>` in place (fsync, atomic replace, fsync of the
    folder: `cooc.formats.artefact.replace_file`; as a context manager, leaving without
    `finish` removes it).

    Numbers are written as lmplz writes them (the shortest decimal that reads back as the
    same float32). Words containing whitespace, empty ones and repeated ones (byte-level
    tokenizers such as qwen have all three) cannot be ARPA fields: then every word is
    written `escape`d (the empty or repeated ones as `\\#<id>`) and the file starts with the
    line `# cooc: words escaped` (KenLM skips "#" lines before \\data\\; `read_arpa`
    unescapes)."""

    def __init__(self, path: str | os.PathLike, num_threads: int = 0):
        from concurrent.futures import ThreadPoolExecutor

        self.path = Path(path)
        self._lock = TargetLock(self.path, "writing an ARPA file").acquire()
        try:
            remove_stale(self.path)  # temporary files of killed writers
            self.tmp = tmp_path(self.path)
            self._f = _open_write(self.tmp, self.path)
        except BaseException:
            self._lock.release()
            raise
        self.threads = max(1, min(num_threads or (os.cpu_count() or 1), 8))
        self._pool = ThreadPoolExecutor(self.threads)
        self._k = 0
        self._done = False
        self._wrote = False

    def __enter__(self) -> ArpaWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown()
        self._f.close()
        if not self._done and self.tmp.exists():
            self.tmp.unlink()
        self._lock.release()

    def begin(self, vocab: list[str], counts: list[int]) -> None:
        escaped = any(map(_needs_escape, vocab))
        if not escaped:
            self.word_bytes, self.word_off = _word_table(vocab)
            escaped = not _distinct(vocab, self.word_bytes, self.word_off)
        if escaped:
            seen: set[str] = set()
            words = [escape(w) if w and not (w in seen or seen.add(w)) else f"\\#{i}"
                     for i, w in enumerate(vocab)]
            self.word_bytes, self.word_off = _word_table(words)
            del words, seen
        self.word_len = np.diff(self.word_off)
        first: dict[str, int] = {}  # the special words' first ids (no V-entry dict)
        for i, w in enumerate(vocab):
            if w in (UNK, BOS, EOS) and w not in first:
                first[w] = i
        self.special = np.array([first[w] for w in (UNK, BOS, EOS) if w in first], np.int64)
        self.order = len(counts)
        head = (ESCAPE_MARKER + "\n" if escaped else "") + "\\data\\\n" + "".join(
            f"ngram {k}={c}\n" for k, c in enumerate(counts, 1))
        self._f.write(head.encode())

    def add(self, k: int, grams: np.ndarray, logprob: np.ndarray, backoff: np.ndarray) -> None:
        from cooc.kernels import lm as kl

        if k != self._k:
            if k != self._k + 1:
                raise ValueError(f"order {k} after order {self._k}")
            self._k = k
            self._f.write(f"\n\\{k}-grams:\n".encode())
        grams = np.ascontiguousarray(grams, dtype=np.int32)
        if k == 1:  # lmplz's order: <unk>, <s>, </s>, then the vocabulary
            ids = grams[:, 0].astype(np.int64)
            key = len(self.special) + ids
            for j, i in enumerate(self.special):
                key[ids == i] = j
            perm = np.argsort(key, kind="stable")
            grams, logprob, backoff = grams[perm], logprob[perm], backoff[perm]
        logprob = np.ascontiguousarray(logprob, dtype=np.float32)
        backoff = np.ascontiguousarray(backoff, dtype=np.float32)
        with_backoff = k < self.order
        step = max(1 << 12, -(-len(grams) // (4 * self.threads)))

        def piece(lo: int) -> np.ndarray:
            g = grams[lo : lo + step]
            buf = np.empty(kl.arpa_lines_size(g, self.word_len), np.uint8)
            used = kl.format_arpa_lines(g, logprob[lo : lo + step], backoff[lo : lo + step],
                                        with_backoff, self.word_bytes, self.word_off, buf)
            return buf[:used]

        for buf in self._pool.map(piece, range(0, len(grams), step)):
            self._f.write(memoryview(buf))
        if not self._wrote:
            self._wrote = True
            enter_phase("writing", self.path)

    def finish(self) -> Path:
        if self._k != self.order:
            raise ValueError(f"only orders 1..{self._k} of {self.order} were written")
        self._f.write(b"\n\\end\\\n")
        self._f.close()
        replace_file(self.tmp, self.path)
        self._done = True
        return self.path


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
        except (EOFError, OSError, zlib.error) as e:
            raise self.error(f"the file is truncated or damaged ({e})") from None
        if not line:
            return None
        self.no += 1
        return line.rstrip("\r\n")

    def next_nonblank(self) -> str | None:
        while True:
            line = self.next()
            if line is None or line.strip():
                return line


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float(tok: str, what: str, lines: _Lines) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise lines.error(f"{what} {tok!r} is not a number") from None
    if math.isnan(x) or not -_FLOAT32_MAX <= x <= _FLOAT32_MAX:
        raise lines.error(f"{what} {tok!r} is not a finite number a model can hold (float32)")
    if what == "probability" and x > 0:
        raise lines.error(f"log10 probability {tok!r} is positive (a probability above 1)")
    return x


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """Read an ARPA file (plain or gzip) into a model; `CoocError` "file:line: problem" on a
    malformed file. A model without `<unk>` gets one with log10 prob -100, as KenLM does.

    The file is read whole and each section parsed by one kernel (`parse_arpa_section`);
    anything it does not accept sends the file to the line-by-line reader, which names the
    file and line of the first problem (and reads the rare forms the kernel leaves out, e.g.
    CR line ends)."""
    path = Path(path)
    if not path.is_file():
        raise CoocError(f"{path}: no such ARPA file")
    model = _read_fast(path)
    if model is not None:
        return model
    lines = _Lines(path)
    try:
        return _read(lines)
    finally:
        lines.f.close()


def _read_fast(path: Path) -> NgramModel | None:
    """The model of a well-formed ARPA file, or None (then the line-by-line reader runs)."""
    from cooc.kernels import lm as kl

    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    # UTF-8 is checked where text is free: the header (below) and the unigrams' words
    # (decoded at the end); any other byte outside numbers and known words fails the parse
    # the header, line by line (a few lines)
    pos = 0
    escaped = False
    counts: list[int] = []
    seen_data = False
    while pos < len(data):
        eol = data.find(b"\n", pos)
        eol = len(data) if eol < 0 else eol
        line = data[pos:eol].strip()
        pos = eol + 1
        if not seen_data:
            seen_data = line == b"\\data\\"
            escaped = escaped or line == ESCAPE_MARKER.encode()
        elif line.startswith(b"ngram "):
            try:
                k_s, c_s = line[6:].split(b"=")
                k, c = int(k_s), int(c_s)
            except ValueError:
                return None
            if k != len(counts) + 1 or k > MAX_ORDER or c < 0 or c > len(data) // (2 * k + 2):
                return None  # a count the file cannot hold: the line reader says where
            counts.append(c)
        elif line:
            if line != b"\\1-grams:" or not counts:
                return None
            break
    else:
        return None
    try:
        data[:pos].decode("utf-8")
    except UnicodeDecodeError:
        return None
    order = len(counts)
    text = np.frombuffer(data, np.uint8)
    n1 = counts[0]
    bits = int(kl.table_bits(max(1, n1 + 1)))
    slots = np.full((1 << bits, 2), -1, np.int64)
    wstart = np.zeros(n1 + 1, np.int64)
    wend = np.zeros(n1 + 1, np.int64)
    raw = []
    for k in range(1, order + 1):
        c = counts[k - 1]
        g = np.empty((c, k), np.int32)
        p = np.empty(c, np.float32)
        b = np.empty(c, np.float32)
        slow = np.empty((c, 2), np.int64)
        st, pos, rows, nslow = kl.parse_arpa_section(text, pos, k, c, k == order, text, wstart,
                                                     wend, slots, bits, g, p, b, slow)
        if st != 0 or rows != c:
            return None
        for r, start in slow[:nslow].tolist():  # numbers Python reads exactly
            f = data[start : data.find(b"\n", start)].split()
            try:
                x, y = float(f[0]), float(f[k + 1]) if len(f) == k + 2 else 0.0
            except ValueError:
                return None
            if not (abs(x) <= _FLOAT32_MAX and abs(y) <= _FLOAT32_MAX):
                return None  # out of float32's range: the line reader says where
            p[r], b[r] = x, y
        eol = data.find(b"\n", pos)
        line = data[pos : len(data) if eol < 0 else eol].strip()
        want = f"\\{k + 1}-grams:".encode() if k < order else b"\\end\\"
        if line != want:
            return None
        pos = len(data) if eol < 0 else eol + 1
        raw.append((g, p, b))
    # one decode: a word never holds a newline (it ends lines)
    try:
        vocab = b"\n".join(map(data.__getitem__, map(slice, wstart[:n1].tolist(),
                                                      wend[:n1].tolist()))).decode("utf-8")
    except UnicodeDecodeError:
        return None
    vocab = vocab.split("\n") if n1 else []
    del data, text
    try:
        return _finish(vocab, raw, escaped, path, None)
    except CoocError:
        return None


def _read(lines: _Lines) -> NgramModel:
    line = lines.next_nonblank()
    escaped = False
    while line is not None and line.strip() != "\\data\\":  # text before \data\ is allowed
        escaped = escaped or line.strip() == ESCAPE_MARKER
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
    return _finish(vocab, raw, escaped, lines.path, lines)


def _gram_line(path: Path, k: int, words: list[str]) -> int | str:
    """The line of the k-gram `words` in an ARPA file (read again: only for an error)."""
    lines = _Lines(path)
    try:
        in_section = False
        while (line := lines.next()) is not None:
            s = line.strip()
            if s.startswith("\\"):
                in_section = s == f"\\{k}-grams:"
            elif in_section and s.split()[1 : k + 1] == words:
                return lines.no
    except CoocError:
        pass
    finally:
        lines.f.close()
    return "?"


def _finish(vocab: list[str], raw: list, escaped: bool, path: Path,
            lines: _Lines | None) -> NgramModel:
    """The model of parsed sections (word ids in unigram order): unescape, add `<unk>`, sort."""
    def error(msg: str) -> CoocError:
        return lines.error(msg) if lines is not None else CoocError(f"{path}: {msg}")

    if escaped:
        try:
            vocab = [unescape(w) for w in vocab]
        except ValueError as e:
            raise error(f"{e} (the file says its words are escaped)") from None
        if len(set(vocab)) != len(vocab):
            raise error("two unigrams are the same word once unescaped")
    if UNK not in vocab:  # KenLM adds <unk> with -100 when a model has none
        vocab.append(UNK)
        g, p, b = raw[0]
        raw[0] = (np.concatenate([g, [[len(vocab) - 1]]]), np.append(p, np.float32(-100.0)),
                  np.append(b, np.float32(0.0)))
    grams, logprob, backoff = [], [], []
    for k, (g, p, b) in enumerate(raw, 1):
        o = sort_grams(g) if k > 1 else np.argsort(g[:, 0])
        gs = g[o]
        if k > 1 and len(gs) > 1 and (gs[1:] == gs[:-1]).all(1).any():
            raise error(f"the \\{k}-grams: section lists an n-gram twice")
        grams.append(np.ascontiguousarray(gs.astype(np.int32)))
        logprob.append(p[o])
        backoff.append(b[o])
    for k, (p, b) in enumerate(zip(logprob, backoff, strict=True), 1):
        if not (np.isfinite(p).all() and np.isfinite(b).all() and (p <= 0).all()):
            raise error(f"the \\{k}-grams: section holds a probability that is positive or not "
                        "finite, or a backoff that is not finite")
    model = NgramModel(vocab, grams, logprob, backoff, {"source": str(path)})
    for k in range(2, len(grams) + 1):
        missing = np.flatnonzero(model.parents(k) < 0)
        if missing.size:
            words = [vocab[int(i)] for i in grams[k - 1][missing[0]]]
            where = _gram_line(path, k, words)
            raise CoocError(f"{path}:{where}: the {k}-gram {' '.join(words)!r} has no context "
                            f"{' '.join(words[:-1])!r} in the \\{k - 1}-grams: section (every "
                            "n-gram's first n-1 words must be an n-gram of the model)")
    for name in (BOS, EOS):
        if model.word_id(name) < 0:
            raise CoocError(f"{path}: the model has no {name} unigram")
    return model
