"""A corpus folder with one of every kind of bad record and file, and its exact expected counts.

Reusable by any test: ``expected = make_bad_corpus(tmp_path)``, then read
``discover_files(tmp_path)``. Every line below carries the skip reason it must produce
(None: a good document), and the expected counts are tallied from those labels.
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from cooc.corpus.report import REASONS

GOOD = None  # label of a line that must come out as a document
BLANK = "blank"  # ignored silently, not counted


def _lines(items: list[tuple[bytes, str | None]]) -> bytes:
    return b"".join(line for line, _ in items)


def _tally(counts: Counter, items: list[tuple[object, str | None]]) -> None:
    for _, label in items:
        if label is GOOD:
            counts["documents"] += 1
        elif label != BLANK:
            counts[label] += 1


def make_bad_corpus(root: Path) -> dict[str, int]:
    """Write the corpus under ``root``; return expected counts: one key per skip reason
    (zero included), ``documents`` (good documents) and ``files`` (files opened).

    Files, in the sorted order discover_files gives: broken.parquet, cut.jsonl.gz,
    cut.jsonl.zst, empty.jsonl, good.jsonl, locked.jsonl, mixed.jsonl, notes.txt,
    notext.parquet, table.parquet; plus .hidden.jsonl and README.md, which discovery skips.
    """
    root.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter({r: 0 for r in REASONS})
    files = 0

    good = [
        (b'{"text": "good one", "id": 1}\n', GOOD),
        (b'{"id": 2, "text": "good caf\xc3\xa9 \\u65e5\\u672c"}\r\n', GOOD),  # CRLF ending
        (b"\n", BLANK),
        (b'{"text": "good \\"quoted\\" line"}\n', GOOD),
        (b'  {"text": "good with spaces"}  \n', GOOD),
        (b'{"text": "good\\nmultiline"}\n', GOOD),
        (b'{"text": "good last line, no newline"}', GOOD),
    ]
    (root / "good.jsonl").write_bytes(_lines(good))
    _tally(counts, good)
    files += 1

    mixed = [
        (b'{"text": "good first"}\n', GOOD),  # line 1
        (b'{"text": "a",}\n', "malformed_json"),  # line 2
        (b'{"text": "b"\n', "malformed_json"),
        (b'{"text": "caf\xe9"}\n', "invalid_utf8"),  # latin-1 byte
        (b'{"body": "no text field"}\n', "missing_field"),  # line 5
        (b'["text"]\n', "missing_field"),  # not an object
        (b'{"text": null}\n', "non_string_field"),  # line 7
        (b'{"text": 3}\n', "non_string_field"),
        (b'{"text": ["x"]}\n', "non_string_field"),
        (b'{"text": ""}\n', "empty_text"),  # line 10
        (b'{"text": " \\n\\t "}\n', "empty_text"),
        (b'{"text": "\\ud800 lone surrogate"}\n', "invalid_utf8"),  # line 12
        (b"   \n", BLANK),
        (b'{"text": "good after the bad ones"}\n', GOOD),  # line 14
    ]
    (root / "mixed.jsonl").write_bytes(_lines(mixed))
    _tally(counts, mixed)
    files += 1

    (root / "empty.jsonl").write_bytes(b"")
    counts["empty_file"] += 1
    files += 1

    # Truncated at a gzip member boundary, so what survives is known exactly: member 1 whole
    # (5 documents), member 2 cut inside its header (0 output) -> truncated at line 6.
    member1 = b"".join(b'{"text": "good gz %d"}\n' % i for i in range(5))
    member2 = b"".join(b'{"text": "lost gz %d"}\n' % i for i in range(5))
    (root / "cut.jsonl.gz").write_bytes(gzip.compress(member1) + gzip.compress(member2)[:10])
    counts["documents"] += 5
    counts["truncated_gzip"] += 1
    files += 1

    # Same for zstd: frame 1 whole (4 documents), frame 2 cut after 6 bytes -> line 5.
    cctx = zstandard.ZstdCompressor()
    frame1 = b"".join(b'{"text": "good zst %d"}\n' % i for i in range(4))
    frame2 = b"".join(b'{"text": "lost zst %d"}\n' % i for i in range(4))
    (root / "cut.jsonl.zst").write_bytes(cctx.compress(frame1) + cctx.compress(frame2)[:6])
    counts["documents"] += 4
    counts["truncated_zstd"] += 1
    files += 1

    _make_unreadable(root / "locked.jsonl")
    counts["unreadable_file"] += 1

    table = [("good p1", GOOD), (None, "non_string_field"), ("good p3", GOOD), ("", "empty_text"),
             (None, "non_string_field"), ("good p6", GOOD), ("good p7", GOOD)]  # fmt: skip
    pq.write_table(
        pa.table({"id": list(range(len(table))), "text": [t for t, _ in table]}),
        root / "table.parquet",
        row_group_size=3,  # rows span several row groups: row numbers must run on across them
    )
    _tally(counts, table)
    files += 1

    pq.write_table(pa.table({"body": ["no text column"]}), root / "notext.parquet")
    counts["missing_field"] += 1
    files += 1

    (root / "broken.parquet").write_bytes(b"PAR1 this is not really parquet")
    counts["bad_parquet"] += 1
    files += 1

    notes = [
        (b"good first note\n", GOOD),
        (b"\n", BLANK),
        (b"good second note\r\n", GOOD),
        (b"  \t \n", BLANK),
        (b"bad \xff note\n", "invalid_utf8"),  # line 5
        (b"good third note", GOOD),
    ]
    (root / "notes.txt").write_bytes(_lines(notes))
    _tally(counts, notes)
    files += 1

    (root / ".hidden.jsonl").write_bytes(b'{"text": "hidden, never read"}\n')
    (root / "README.md").write_text("not a corpus file\n")

    counts["files"] = files
    return dict(counts)


def _make_unreadable(path: Path) -> None:
    """chmod 000; where that does not block reading (root), a dangling symlink instead."""
    path.write_bytes(b'{"text": "locked"}\n')
    os.chmod(path, 0)
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return
    path.unlink()
    os.symlink(path.with_name("missing-target.jsonl"), path)
