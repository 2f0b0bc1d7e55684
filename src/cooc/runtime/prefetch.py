"""Running a producer (reading and parsing the corpus) one step ahead of its consumer.

Parsing JSON holds the GIL but the tokenizer and the counting kernels release it, so reading
the next batch on a thread overlaps with the work on the current one. One batch is read
ahead (`depth`), which bounds the extra memory to one batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """The items of `items`, produced on a background thread up to `depth` ahead; an
    exception in the producer is raised here, at the item where it happened."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for x in items:
                if not put((x, None)):
                    return
        except BaseException as e:  # handed to the consumer
            put((_END, e))
            return
        put((_END, None))

    t = threading.Thread(target=produce, name="cooc-prefetch", daemon=True)
    t.start()
    try:
        while True:
            x, err = q.get()
            if x is _END:
                if err is not None:
                    raise err
                return
            yield x
    finally:
        stop.set()  # the consumer stopped early (or failed): let the producer end
        t.join(timeout=5)
