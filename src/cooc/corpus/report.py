"""What the corpus readers read, and everything they skipped, with where and why.

A run never dies on one bad record or file: the readers count it here instead. Reports are
plain mutable dataclasses that add up (`sum(shard_reports, SkipReport())`) and round-trip
through JSON (`to_dict` / `from_dict`), so worker processes can send theirs back.

Skip reasons (`where` is ``"path:line"``; line 0 means the file as a whole):

- ``malformed_json``: a JSON-lines line that does not parse.
- ``invalid_utf8``: a line that is not valid UTF-8, or a JSON string holding a lone
  surrogate escape (``"\\ud800"``), which no tokenizer can encode.
- ``missing_field``: a JSON line that is not an object or lacks the text field; a Parquet
  file without the text column (once per file).
- ``non_string_field``: the text field is null, a number, a list, ...; a Parquet text
  column whose type is not string (once per file).
- ``empty_text``: the text is empty or only whitespace.
- ``empty_file``: a file that holds no data (zero bytes, or decompresses to nothing).
- ``truncated_gzip`` / ``truncated_zstd``: a compressed file that is cut short or corrupt;
  the documents before that point are kept, the rest of the file is skipped.
- ``unreadable_file``: a file that cannot be opened or read (permissions, a folder, I/O error).
- ``bad_parquet``: a Parquet file that pyarrow cannot read (from that row on).

Blank lines are not skips: they are ignored without being counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

REASONS = (
    "malformed_json",
    "invalid_utf8",
    "missing_field",
    "non_string_field",
    "empty_text",
    "empty_file",
    "truncated_gzip",
    "truncated_zstd",
    "unreadable_file",
    "bad_parquet",
)
MAX_SAMPLES = 5  # per reason; enough to find the bad file without keeping millions of strings

logger = logging.getLogger("cooc")


@dataclass
class SkipReport:
    """Counters for one read: documents yielded, files opened, bytes read, skips by reason.

    ``files`` counts files opened successfully (reading may still have ended early);
    ``bytes_read`` counts uncompressed bytes of the lines read (for Parquet: of the texts).
    ``skipped`` maps a reason to its count; ``samples`` maps it to its first
    ``MAX_SAMPLES`` ``(where, message)`` pairs.
    """

    documents: int = 0
    files: int = 0
    bytes_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # False for a second read of the same files (a fit pass): counted, not logged twice
    log: bool = field(default=True, compare=False)

    def skip(self, reason: str, where: str, message: str) -> None:
        """Count one skipped record or file. ``where`` is ``"path:line"``."""
        if reason not in REASONS:
            raise ValueError(
                f"unknown skip reason {reason!r}; use one of {REASONS} "
                "or add it to REASONS in cooc/corpus/report.py"
            )
        message = " ".join(message.split())  # one line, whatever the library put in it
        n = self.skipped.get(reason, 0) + 1
        self.skipped[reason] = n
        if n <= MAX_SAMPLES:
            self.samples.setdefault(reason, []).append((where, message))
        if not self.log:
            return
        if n <= MAX_SAMPLES:
            logger.warning("%s: %s (skipped: %s)", where, message, reason)
        elif n == MAX_SAMPLES + 1:
            # A corpus with a million bad lines must not bury the log; the count stays exact.
            logger.warning(
                "%s: %s (skipped: %s; further %s skips are logged at DEBUG level only)",
                where,
                message,
                reason,
                reason,
            )
        else:
            logger.debug("%s: %s (skipped: %s)", where, message, reason)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def __add__(self, other: SkipReport) -> SkipReport:
        if not isinstance(other, SkipReport):
            return NotImplemented
        reasons = [r for r in REASONS if r in self.skipped or r in other.skipped]
        return SkipReport(
            documents=self.documents + other.documents,
            files=self.files + other.files,
            bytes_read=self.bytes_read + other.bytes_read,
            skipped={r: self.skipped.get(r, 0) + other.skipped.get(r, 0) for r in reasons},
            samples={
                r: (self.samples.get(r, []) + other.samples.get(r, []))[:MAX_SAMPLES]
                for r in reasons
                if r in self.samples or r in other.samples
            },
        )

    def __radd__(self, other: Any) -> SkipReport:
        # Lets plain `sum(reports)` (start value 0) work too.
        if other == 0:
            return self + SkipReport()
        return NotImplemented

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "documents": self.documents,
            "files": self.files,
            "bytes_read": self.bytes_read,
            "skipped": dict(self.skipped),
            "samples": {r: [[w, m] for w, m in s] for r, s in self.samples.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SkipReport:
        """The report `to_dict` wrote; ValueError, in one line, for anything else (a
        damaged manifest)."""
        try:
            return cls._from_dict(d)
        except (AttributeError, TypeError, ValueError) as e:
            raise ValueError(f"not a skip report ({type(e).__name__}: {e})") from None

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> SkipReport:
        return cls(
            documents=int(d.get("documents", 0)),
            files=int(d.get("files", 0)),
            bytes_read=int(d.get("bytes_read", 0)),
            skipped={str(r): int(n) for r, n in d.get("skipped", {}).items()},
            samples={
                str(r): [(str(w), str(m)) for w, m in s] for r, s in d.get("samples", {}).items()
            },
        )

    def summary_lines(self) -> list[str]:
        """One line per reason seen, e.g. ``malformed_json: 3 (first at a.jsonl:17: ...)``."""
        lines = []
        for reason in REASONS:
            n = self.skipped.get(reason, 0)
            if not n:
                continue
            first = self.samples.get(reason)
            where = f" (first at {first[0][0]}: {first[0][1]})" if first else ""
            lines.append(f"{reason}: {n}{where}")
        return lines
