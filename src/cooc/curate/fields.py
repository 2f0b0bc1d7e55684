"""Fields of the documents' own records (a score column, a language tag, ...) for steps
that decide by them, whatever format the records came in."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from cooc.curate.step import DocumentBatch


def _value(record: Any, name: str) -> Any:
    if isinstance(record, dict):
        return record.get(name)
    if isinstance(record, (bytes, bytearray, memoryview, str)):  # a raw JSON line
        try:
            obj = json.loads(bytes(record) if not isinstance(record, str) else record)
        except ValueError:
            return None
        return obj.get(name) if isinstance(obj, dict) else None
    return None


def numeric_field(batch: DocumentBatch, name: str) -> np.ndarray | None:
    """float64 values of the field `name` for every document of the batch (NaN where a
    record lacks it or holds no finite number), or None when the batch has no records to
    read it from. A column the reader put in `extra` under that name is used as is."""
    extra = batch.extra or {}
    if name in extra and name not in ("file", "line", "record"):
        return np.asarray(extra[name], dtype=np.float64)
    records = extra.get("record", extra.get("records"))
    if records is None:
        return None
    out = np.full(len(batch), np.nan)
    for i, v in enumerate(_value(r, name) for r in records):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[i] = v
    return out
