"""Turning tokenized documents into windows, batch after batch.

`document` packing cuts each document on its own. `concat` packing appends the end-of-text
token after every document and cuts the running stream, carrying the unfinished window over
to the next batch, so window boundaries do not depend on how the corpus was batched.
"""

from __future__ import annotations

import numpy as np

from cooc.kernels import windows


class WindowCutter:
    def __init__(self, context_length: int, packing: str, eot_id: int | None, stride: int = 0):
        if packing == "concat" and eot_id is None:
            raise ValueError("concat packing needs a tokenizer with an end-of-text token")
        self.context_length = context_length
        self.stride = stride
        self.packing = packing
        self.eot_id = eot_id
        self._carry = np.zeros(0, np.uint32)

    def cut(self, tokens: np.ndarray, doc_lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, win_ptr) of the complete windows this batch yields."""
        L = self.context_length
        doc_ptr = np.zeros(len(doc_lens) + 1, np.int64)
        np.cumsum(doc_lens, out=doc_ptr[1:])
        if self.packing == "document":
            if L == 0:  # whole documents (empty ones make no window)
                return tokens, np.unique(doc_ptr)
            if self.stride and self.stride < L:  # overlapping windows, each its own copy
                starts, lens = windows.strided_windows(doc_ptr, L, self.stride)
                out = np.empty(int(lens.sum()), np.uint32)
                windows.gather_windows(tokens, starts, lens, out)
                win_ptr = np.zeros(len(lens) + 1, np.int64)
                np.cumsum(lens, out=win_ptr[1:])
                return out, win_ptr
            return tokens, windows.document_windows(doc_ptr, L)
        return self.cut_stream(concat_stream(tokens, doc_ptr, self.eot_id))

    def cut_stream(self, stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Concat packing: the complete windows of the carry followed by `stream` (a piece
        of the packed stream, end-of-text tokens already in)."""
        L = self.context_length
        stream = np.concatenate([self._carry, stream]).astype(np.uint32, copy=False)
        full = (len(stream) // L) * L
        self._carry = stream[full:].copy()
        return stream[:full], np.arange(0, full + 1, L, dtype=np.int64)

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """The last, shorter window of concat packing (nothing for document packing)."""
        tail, self._carry = self._carry, np.zeros(0, np.uint32)
        if len(tail) == 0:
            return tail, np.zeros(1, np.int64)
        return tail, np.array([0, len(tail)], np.int64)


def concat_stream(tokens: np.ndarray, doc_ptr: np.ndarray, eot_id: int) -> np.ndarray:
    """Documents joined as concat packing reads them: each followed by the end-of-text token."""
    return np.insert(tokens, doc_ptr[1:], eot_id).astype(np.uint32, copy=False)
