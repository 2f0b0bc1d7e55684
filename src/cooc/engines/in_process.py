"""The engine that runs tasks one after the other in this process (tests, the reference)."""

from __future__ import annotations

from collections.abc import Callable, Iterator


class InProcessEngine:
    """Runs tasks one after the other in this process, each on all threads."""

    name = "in-process"

    def __init__(self, num_threads: int):
        self.num_threads = num_threads
        self.parallelism = 1

    def put(self, obj):
        return obj

    def run(self, fn: Callable, calls: list[tuple]) -> Iterator:
        for args in calls:
            yield fn(*args)

    def close(self) -> None:
        pass

