"""prefetch: same items in the same order, errors where they happened, no thread left behind."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cooc.runtime.prefetch import prefetch


@given(st.lists(st.integers()), st.integers(1, 4))
def test_same_items_in_order(items, depth):
    assert list(prefetch(iter(items), depth)) == items


def test_error_is_raised_at_its_item():
    def gen():
        yield 1
        yield 2
        raise ValueError("bad record")

    got = []
    with pytest.raises(ValueError, match="bad record"):
        for x in prefetch(gen()):
            got.append(x)
    assert got == [1, 2]


def test_consumer_stopping_early_ends_the_producer():
    produced = []

    def gen():
        for i in range(1000):
            produced.append(i)
            yield i

    it = prefetch(gen())
    assert next(it) == 0
    it.close()
    time.sleep(0.3)
    assert len(produced) < 10  # one ahead, not the whole input
    assert not any(t.name == "cooc-prefetch" and t.is_alive() for t in threading.enumerate())
