r"""The Google n-gram text format (as Tongrams reads it): export an index, import it back.

A folder holds one file per order, `1-grams`, `2-grams`, ... (`.gz` when gzipped). Each file
starts with a header line holding its number of n-gram lines, then one line per n-gram:

    w1 w2 ... wk<TAB>count

in the index's (lexicographic id) order. A token is written in the escaped form of
`cooc.formats.escape` (`\s` for a space, ..., `\#<id>` for an empty or repeated text).

The export also writes `cooc-ngrams.json` (vocabulary texts, tokenizer, markers and the rest
of the index header), so that `import_google` rebuilds the same index, byte for byte. Files
without it (e.g. from another tool) are imported with the ids of the 1-grams file in its line
order and no tokenizer (text lookups then name tokens as #id).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.formats.artefact import atomic_file
from cooc.formats.escape import escape as escape  # (re-exported: the format's escapes)
from cooc.formats.escape import token_forms, unescape
from cooc.kernels import ngram as kn
from cooc.ngram.config import MAX_ORDER
from cooc.ngram.reader import NgramIndex
from cooc.ngram.writer import NgramWriter, key_shape

SIDECAR = "cooc-ngrams.json"
_SIDECAR_MAGIC = "COOC-NGRAMS-GOOGLE"
_HEADER_SKIP = {"magic", "format_version", "order", "vocab_size", "grams", "bytes", "block",
                "layout", "levels", "files", "created_by", "manifest_sha256"}
_LINES_PER_WRITE = 1 << 18


def _file_name(k: int, gz: bool) -> str:
    return f"{k}-grams" + (".gz" if gz else "")


def export_google(index: NgramIndex, out_dir: str | os.PathLike, gzip_files: bool = False) -> list[Path]:
    """Write `index` as Google n-gram files (and the sidecar) into `out_dir`; returns the files."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CoocError(f"{out} exists and is not a folder; choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    forms = np.array(token_forms(index.token_texts()), dtype=object)
    written = []
    prev = np.arange(index.vocab_size, dtype=np.int64).reshape(-1, 1)
    for k in range(1, index.order + 1):
        if k == 1:
            grams, counts = index.iter_grams(1)
        else:
            rows, toks, counts = index.level_arrays(k)
            grams = np.concatenate([prev[rows], toks.reshape(-1, 1)], axis=1)
        path = out / _file_name(k, gzip_files)
        with atomic_file(path) as tmp, _open_text_write(tmp, path.name, gzip_files) as f:
            f.write(f"{len(counts)}\n")
            for lo in range(0, len(counts), _LINES_PER_WRITE):
                g = grams[lo : lo + _LINES_PER_WRITE]
                lines = forms[g[:, 0]]
                for j in range(1, k):
                    lines = lines + " " + forms[g[:, j]]
                lines = lines + "\t" + counts[lo : lo + _LINES_PER_WRITE].astype(str).astype(object)
                f.write("\n".join(lines.tolist()))
                f.write("\n")
        written.append(path)
        if k > 1:  # level-2 rows are token ids (prev stays arange); deeper rows are entries
            prev = grams
    header = {k: v for k, v in index.manifest.items() if k not in _HEADER_SKIP}
    side = {"magic": _SIDECAR_MAGIC, "order": index.order, "vocab_size": index.vocab_size,
            "gzip": gzip_files, "header": header, "vocab": index.token_texts()}
    with atomic_file(out / SIDECAR) as tmp:
        tmp.write_text(json.dumps(side, ensure_ascii=False), encoding="utf-8")
    return written


@contextlib.contextmanager
def _open_text_write(tmp: Path, name: str, gz: bool):
    """Text (UTF-8, "\\n") written to `tmp`; gzip with the header naming `name`, as if
    written there directly."""
    with open(tmp, "wb") as raw:
        if not gz:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as f:
                yield f
            return
        with gzip.GzipFile(filename=name, mode="wb", fileobj=raw) as z, \
                io.TextIOWrapper(z, encoding="utf-8", newline="\n") as f:
            yield f


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def _read_file(path: Path, k: int, ids: dict[str, int] | None, vocab_size: int
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(grams int64[n, k], counts int64[n], texts of new tokens) of one k-grams file.

    ids None (1-grams without a sidecar): tokens get ids in line order."""
    rows: list[list[int]] = []
    counts: list[int] = []
    new: list[str] = []
    own = {} if ids is None else None

    def fail(line: int, what: str) -> CoocError:
        return CoocError(f"{path}, line {line}: {what}")

    try:
        with _open_text(path) as f:
            head = f.readline()
            try:
                declared = int(head.strip())
            except ValueError:
                raise fail(1, f"the header must be the number of n-grams, got {head.strip()[:40]!r}") from None
            line_no = 1
            for line in f:
                line_no += 1
                line = line.rstrip("\n")
                if not line:
                    continue
                gram, tab, count = line.rpartition("\t")
                if not tab:
                    raise fail(line_no, "no TAB between the n-gram and its count")
                try:
                    c = int(count)
                except ValueError:
                    raise fail(line_no, f"the count {count[:40]!r} is not an integer") from None
                if c < 1:
                    raise fail(line_no, f"the count must be >= 1, got {c}")
                toks = gram.split(" ")
                if len(toks) != k:
                    raise fail(line_no, f"{len(toks)} tokens in a {k}-grams file")
                row = []
                for t in toks:
                    if t.startswith("\\#") and t[2:].isdigit() and ids is not None:
                        i = int(t[2:])
                        if i >= vocab_size:
                            raise fail(line_no, f"token id {t} is outside the vocabulary")
                    else:
                        try:
                            text = unescape(t)
                        except ValueError as e:
                            raise fail(line_no, str(e)) from None
                        if own is not None:
                            if text in own:
                                raise fail(line_no, f"the 1-gram {t!r} appears twice")
                            own[text] = i = len(own)
                            new.append(text)
                        elif text in ids:
                            i = ids[text]
                        else:
                            raise fail(line_no, f"unknown token {t!r} (not a 1-gram)")
                    row.append(i)
                rows.append(row)
                counts.append(c)
    except OSError as e:
        raise CoocError(f"{path}: cannot read it ({e.strerror or e})") from None
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as e:
        raise CoocError(f"{path}: not UTF-8 text or a damaged gzip file ({e})") from None
    if declared != len(counts):
        raise CoocError(f"{path}, line 1: the header says {declared} n-grams, the file has "
                        f"{len(counts)}")
    grams = np.array(rows, np.int64).reshape(-1, k)
    return grams, np.array(counts, np.int64), new


def _find(folder: Path, k: int) -> Path | None:
    for name in (_file_name(k, False), _file_name(k, True)):
        if (folder / name).exists():
            return folder / name
    return None


def _pack(grams: np.ndarray, bits: int, per_word: int, nwords: int) -> np.ndarray:
    keys = np.zeros((grams.shape[0], nwords), np.uint64)
    for j in range(grams.shape[1]):
        sh = np.uint64((per_word - 1 - j % per_word) * bits)
        keys[:, j // per_word] |= (grams[:, j].astype(np.uint64) + np.uint64(1)) << sh
    return keys


def _read_sidecar(folder: Path) -> dict[str, Any] | None:
    """The folder's cooc-ngrams.json (written by `export_google`), checked field by field, or
    None when there is none; CoocError naming the file and the field when it is unusable."""
    path = folder / SIDECAR
    if not path.exists():
        return None
    hint = "; remove it to import without it"
    try:
        side = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CoocError(f"{path} is unreadable ({e}){hint}") from None
    if not isinstance(side, dict) or side.get("magic") != _SIDECAR_MAGIC:
        raise CoocError(f"{path} is not a cooc n-gram sidecar (bad magic){hint}")
    order, vocab, header = side.get("order"), side.get("vocab"), side.get("header")
    problem = None
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        problem = f"order must be an integer in 1..{MAX_ORDER}, got {order!r}"
    elif not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        problem = "vocab must be a list of strings"
    elif not isinstance(header, dict):
        problem = "header must be an object"
    elif not isinstance(header.get("markers"), bool):
        problem = f"header.markers must be true or false, got {header.get('markers')!r}"
    elif not (header.get("tokenizer") is None or isinstance(header["tokenizer"], dict)):
        problem = "header.tokenizer must be an object or null"
    if problem:
        raise CoocError(f"{path}: {problem}{hint}")
    # the index's own fields are the new writer's to set (older exports copied some)
    side["header"] = {k: v for k, v in header.items() if k not in _HEADER_SKIP}
    return side


def import_google(folder: str | os.PathLike, out: str | os.PathLike, num_threads: int = 1) -> Path:
    """Build an n-gram index at `out` from the Google n-gram files in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CoocError(f"{folder} is not a folder of Google n-gram files (1-grams, 2-grams, ...)")
    side = _read_sidecar(folder)
    order = 0
    while order < MAX_ORDER and _find(folder, order + 1) is not None:
        order += 1
    if order == 0:
        raise CoocError(f"{folder} has no 1-grams file (1-grams or 1-grams.gz)")
    if side is not None and side["order"] != order:
        raise CoocError(f"{folder}: {SIDECAR} says order {side['order']}, the folder has "
                        f"1..{order}-grams files")
    if side is not None:
        texts = list(side["vocab"])
        ids = {}
        for i, t in enumerate(texts):
            if t and t not in ids:
                ids[t] = i
        header = dict(side["header"])
        grams1, counts1, _ = _read_file(_find(folder, 1), 1, ids, len(texts))
    else:
        grams1, counts1, texts = _read_file(_find(folder, 1), 1, None, 0)
        ids = {t: i for i, t in enumerate(texts)}
        header = {"tokenizer": None, "markers": False}
    vocab = len(texts)
    if vocab == 0:
        raise CoocError(f"{_find(folder, 1)}: no 1-grams")
    bits, per_word, nwords = key_shape(order, vocab)
    with NgramWriter(out, order, vocab, texts, header, num_threads) as writer:
        if len(np.unique(grams1[:, 0])) != len(grams1):
            raise CoocError(f"{_find(folder, 1)}: a 1-gram appears twice")
        writer.unigrams[grams1[:, 0]] = counts1.astype(np.uint64)
        prev_keys = None
        for k in range(2, order + 1):
            path = _find(folder, k)
            grams, counts, _ = _read_file(path, k, ids, vocab)
            perm = np.lexsort(grams.T[::-1])
            grams, counts = grams[perm], counts[perm]
            if len(grams) > 1 and (np.diff(grams, axis=0) != 0).any(axis=1).sum() != len(grams) - 1:
                raise CoocError(f"{path}: an n-gram appears twice")
            if k == 2:
                rows = grams[:, 0]
                missing = np.flatnonzero(writer.unigrams[rows] == 0)
            else:
                rows = kn.parents_of(_pack(grams[:, :-1], bits, per_word, nwords), prev_keys)
                missing = np.flatnonzero(rows < 0)
            if len(missing):
                bad = " ".join(texts[i] for i in grams[missing[0]])
                raise CoocError(f"{path}: the {k}-gram {bad!r} has no {k - 1}-gram prefix in "
                                f"{_file_name(k - 1, False)}")
            writer.add_level(k, rows, grams[:, -1], counts)
            prev_keys = _pack(grams, bits, per_word, nwords)
        return writer.finish()
