"""The whitespace tokenizer (numba kernels over UTF-8) against `str.split()` and a dict.

Every property compares `WhitespaceTokenizer` with `reference.ReferenceWhitespace` on random
Unicode text: every whitespace character Python knows, characters whose UTF-8 is close to a
whitespace character's, lone surrogates, empty texts, words around the 7- and 8-byte
boundaries of the kernels and longer ones; with the growing arrays started tiny, so that the
kernel stops and resumes, and with threads.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import ReferenceWhitespace

import cooc.tokenizers.whitespace as ws
from cooc.errors import CoocError
from cooc.kernels import vocab as kv
from cooc.tokenizers import load_tokenizer
from cooc.tokenizers.whitespace import WhitespaceTokenizer

SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
TRICKY = [
    *SPACES,
    # near whitespace in UTF-8 (same lead bytes), controls that are not whitespace
    "\x00", "\x01", "\x08", "\x0e", "\x1b", "\x20\x20", "\x7f", "\x80", "\x84", "\x86", "\x9f",
    "\xa1", "\xc2", "\xff", "\u167f", "\u1681", "\u200b", "\u200d", "\u2027", "\u202a",
    "\u202e", "\u2030", "\u205e", "\u2060", "\u2fff", "\u3001", "\ufeff", "\ufffd", "\uffff",
    "\U0001f600", "\U0010ffff",
    # lone surrogates, and halves of a pair that meet
    "\ud800", "\udbff", "\udc00", "\udfff", "\udc80", "\udcff", "\ud83d", "\ude00",
    # the end-of-text word and words around the kernels' 7/8-byte steps
    "</s>", "</s", "a", "b", "é", "日本", "abcdefg", "abcdefgh", "abcdefghi", "éééa", "éééé",
    "x" * 15, "x" * 16, "x" * 17, "y" * 40,
]
text = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=40).map("".join)
batches = st.lists(st.lists(text, max_size=8), min_size=1, max_size=5)


@contextlib.contextmanager
def tiny_buffers():
    """Start the table, the word buffer and each batch's ids buffer as small as they go."""
    saved = ws._FIRST_BITS, ws._FIRST_BYTES, ws._BYTES_PER_ID
    ws._FIRST_BITS, ws._FIRST_BYTES, ws._BYTES_PER_ID = 1, 1, 1 << 40
    try:
        yield
    finally:
        ws._FIRST_BITS, ws._FIRST_BYTES, ws._BYTES_PER_ID = saved


def check_batch(got: list[np.ndarray], want: list[list[int]]) -> None:
    assert len(got) == len(want)
    for a, w in zip(got, want, strict=True):
        assert a.dtype == np.uint32 and a.flags.writeable
        assert a.tolist() == w


def check_vocab(tok: WhitespaceTokenizer, ref: ReferenceWhitespace) -> None:
    assert tok.vocab_size == len(ref.words)
    assert tok.token_texts() == ref.words
    assert tok.frozen == ref.frozen
    with contextlib.suppress(UnicodeEncodeError):  # (words with lone surrogates: no UTF-8)
        assert tok.describe()["vocab_sha256"] == ref.sha256()


def test_check_helpers_catch_a_difference():
    tok = load_tokenizer("whitespace")
    ref = ReferenceWhitespace()
    got = tok.encode_batch(["a\u3000b"])
    ref.encode("a\u3000b")
    with pytest.raises(AssertionError):
        check_batch(got, [[1]])
    with pytest.raises(AssertionError):
        check_batch([got[0].astype(np.int64)], [[1, 2]])
    ref.words.append("c")
    with pytest.raises(AssertionError):
        check_vocab(tok, ref)


def run_and_compare(tok: WhitespaceTokenizer, ref: ReferenceWhitespace,
                    batches: list[list[str]]) -> None:
    """Encode, freeze, encode again, checking every step against the reference."""
    for b in batches:
        check_batch(tok.encode_batch(b), [ref.encode(t) for t in b])
        check_vocab(tok, ref)
    assert tok.freeze().tolist() == ref.freeze()
    assert tok.freeze() is None
    check_vocab(tok, ref)
    for b in batches:
        check_batch(tok.encode_batch(b), [ref.encode(t) for t in b])
    unseen = "never\u00a0seen"
    with pytest.raises(CoocError, match="'never' is not in the frozen"):
        tok.encode(unseen)
    check_vocab(tok, ref)


@settings(max_examples=300)
@given(batches=batches, tiny=st.booleans())
def test_equals_str_split_and_a_dict(batches, tiny):
    with tiny_buffers() if tiny else contextlib.nullcontext():
        run_and_compare(WhitespaceTokenizer(), ReferenceWhitespace(), batches)


@settings(max_examples=100)
@given(batches=batches, words=st.lists(text.map(str.split).filter(bool).map(lambda w: w[0]),
                                       unique=True, max_size=20))
def test_grows_from_a_vocabulary(batches, words):
    vocab = ["</s>", *(w for w in words if w != "</s>")]
    with tiny_buffers():
        tok = WhitespaceTokenizer.from_vocabulary(vocab, frozen=False)
    ref = ReferenceWhitespace(vocab)
    assert tok.token_texts() == vocab
    run_and_compare(tok, ref, batches)


@settings(max_examples=50)
@given(batches=batches, cut=st.integers(0, 5))
def test_pickle_round_trip(batches, cut):
    with tiny_buffers():
        tok = WhitespaceTokenizer(num_threads=2)
        for b in batches[:cut]:
            tok.encode_batch(b)
        back = pickle.loads(pickle.dumps(tok))
        assert back.num_threads == 2 and back.describe() == tok.describe()
        assert back.token_texts() == tok.token_texts()
        for b in batches[cut:]:  # both go on growing alike
            assert [a.tolist() for a in back.encode_batch(b)] == [
                a.tolist() for a in tok.encode_batch(b)]
        assert back.freeze().tolist() == tok.freeze().tolist()
        frozen = pickle.loads(pickle.dumps(tok))
        assert frozen.frozen and frozen.freeze() is None
        assert frozen.token_texts() == tok.token_texts()
        for b in batches:
            assert [a.tolist() for a in frozen.encode_batch(b)] == [
                a.tolist() for a in tok.encode_batch(b)]


def test_every_code_point_splits_as_str_split():
    step = 1 << 16
    for lo in range(0, sys.maxunicode + 1, step):
        chars = [chr(c) for c in range(lo, min(lo + step, sys.maxunicode + 1))
                 if not 0xD800 <= c <= 0xDFFF]
        # each character alone, inside a word, and at both ends of one
        doc = " ".join(f"{ch} a{ch}b {ch}c d{ch}" for ch in chars)
        tok = WhitespaceTokenizer()
        ids = tok.encode(doc)
        words = tok.token_texts()
        assert [words[i] for i in ids] == doc.split(), hex(lo)


def test_lone_surrogates_become_replacement_characters():
    tok = WhitespaceTokenizer()
    ids = tok.encode("a\ud800 \ud83d\ude00 \udfff\ud83d b\ud83d")
    words = tok.token_texts()
    assert [words[i] for i in ids] == ["a\ufffd", "\U0001f600", "\ufffd\ufffd", "b\ufffd"]
    # a vocabulary word with a lone surrogate is kept as it is (no text encodes to it)
    tok = WhitespaceTokenizer.from_vocabulary(["</s>", "x\ud800", "x\ufffd"])
    assert tok.token_texts() == ["</s>", "x\ud800", "x\ufffd"]
    assert tok.encode("x\ud800").tolist() == [2]
    assert pickle.loads(pickle.dumps(tok)).token_texts() == tok.token_texts()


@settings(max_examples=100)
@given(suffixes=st.lists(st.text(alphabet=["a", "b", "\x00", "\x01", "é", "\U0001f600", "~"],
                                 min_size=0, max_size=30), min_size=1, max_size=80),
       prefix=st.sampled_from(["", "p", "pre" * 3, "\x00" * 7, "common-prefix-" * 3]))
def test_freeze_sorts_in_code_point_order(suffixes, prefix):
    # runs longer than 16 words with equal 7-byte keys go through the kernel's radix steps
    words = [prefix + s for s in suffixes if prefix + s]
    tok = WhitespaceTokenizer()
    ref = ReferenceWhitespace()
    doc = " ".join(words + words[::-1])
    check_batch([tok.encode(doc)], [ref.encode(doc)])
    assert tok.freeze().tolist() == ref.freeze()
    check_vocab(tok, ref)


def test_words_of_16_mib_and_more():
    n = (1 << 24) - 1  # the largest length a slot holds; longer ones saturate
    a, b, c = "a" * n, "a" * (n + 1), "a" * n + "b"
    d = "é" * (n // 2 + 1)
    docs = [f"{a} x {b} {c}", f"{c} {b}\u3000{a} {d} x", d, f"{b} {b}"]
    with tiny_buffers():
        run_and_compare(WhitespaceTokenizer(), ReferenceWhitespace(), [docs[:2], docs[2:]])


def test_growing_vocabulary_shared_by_threads():
    rng = np.random.default_rng(5)
    pool = [f"w{i}" for i in range(3000)] + ["é" * k for k in range(1, 30)] + ["日本語", "</s>"]
    p = 1.0 / np.arange(1, len(pool) + 1)
    docs = [" ".join(pool[i] for i in rng.choice(len(pool), rng.integers(0, 60), p=p / p.sum()))
            for _ in range(2000)]
    chunks = [docs[s : s + 37] for s in range(0, len(docs), 37)]
    with tiny_buffers():
        tok = WhitespaceTokenizer(num_threads=2)
        start = threading.Barrier(8)

        def work(chunk_ids):
            start.wait()
            return [(k, tok.encode_batch(chunks[k])) for k in chunk_ids]

        with ThreadPoolExecutor(8) as ex:
            done = [r for part in ex.map(work, [range(t, len(chunks), 8) for t in range(8)])
                    for r in part]
    words = tok.token_texts()
    assert len(set(words)) == len(words) == tok.vocab_size  # no word went in twice
    provisional = {}
    for k, arrays in done:
        for doc, a in zip(chunks[k], arrays, strict=True):
            assert [words[i] for i in a] == doc.split()
            provisional[doc] = a
    remap = tok.freeze()
    ref = ReferenceWhitespace()
    for doc in docs:
        ref.encode(doc)
    ref.freeze()
    for doc in docs:
        assert remap[provisional[doc]].tolist() == ref.encode(doc)
    check_vocab(tok, ref)


@settings(max_examples=30)
@given(docs=st.lists(text, min_size=1, max_size=60), threads=st.integers(2, 4))
def test_frozen_batches_split_over_threads(docs, threads):
    tok = WhitespaceTokenizer(num_threads=threads)
    tok.encode_batch(docs)
    tok.freeze()
    one = WhitespaceTokenizer.from_vocabulary(tok.token_texts(), num_threads=1)
    saved = ws._PARALLEL_BYTES
    ws._PARALLEL_BYTES = 1  # every batch is split
    try:
        want = [a.tolist() for a in one.encode_batch(docs)]
        with ThreadPoolExecutor(3) as ex:  # and several callers at once
            for got in ex.map(tok.encode_batch, [docs] * 6):
                assert [a.tolist() for a in got] == want
        with pytest.raises(CoocError, match="not in the frozen"):
            tok.encode_batch([*docs, "unseen-word", *docs])
    finally:
        ws._PARALLEL_BYTES = saved


def test_from_vocabulary_errors():
    for bad in (["</s>", ""], ["</s>", "a\nb"], ["</s>", "a b"], ["</s>", "a\u3000"],
                ["</s>", "\x85"], ["</s>", "\x1c"]):
        with pytest.raises(ValueError, match="empty or contains whitespace"):
            WhitespaceTokenizer.from_vocabulary(bad)
    for bad in (["</s>", "a", "a"], ["</s>", "</s>"], ["</s>", "x" * 9, "x" * 9]):
        with pytest.raises(ValueError, match="duplicate"):
            WhitespaceTokenizer.from_vocabulary(bad)
    with pytest.raises(ValueError, match="starts with"):
        WhitespaceTokenizer.from_vocabulary(["a", "</s>"])


# ---------------------------------------------------------------- kernels


def _table(words: list[bytes], bits: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(word buffer with slack, empty slots) of a growing table holding `words`."""
    buf = b"".join(w + b"\n" for w in words)
    arr = np.zeros(len(buf) + 8, np.uint8)
    arr[: len(buf)] = np.frombuffer(buf, np.uint8)
    slots = np.full((1 << bits, 2), -1, np.int64)
    assert kv.build_table(arr, len(buf), slots, bits, True)[1] == -1
    return arr, slots


def _probe(word: bytes, words: np.ndarray, slots: np.ndarray, bits: int = 6) -> int:
    text = np.frombuffer(word + bytes(8), np.uint8)
    h = np.uint64(kv.hash_word(text, 0, len(word)))
    return int(kv._probe(text, 0, len(word), h, words, slots, bits)[1])


N = (1 << 24) - 1  # longest length a slot holds


@pytest.mark.parametrize("stored, query", [
    (b"abcy", b"abcx"), (b"abcdefy", b"abcdefx"), (b"yabcdef", b"xabcdef"),
    (b"abcdefgy", b"abcdefgx"), (b"yabcdefgh", b"xabcdefgh"), (b"a" * 15 + b"y", b"a" * 15 + b"x"),
    (b"a" * 16 + b"y", b"a" * 16 + b"x"), (b"a" * (N + 1), b"a" * N + b"b"),
    (b"a" * (N + 1), b"a" * (N + 2)), (b"a" * (N + 2), b"a" * (N + 1)),
    # a short word's slot holds its bytes: these read as the length 65 ("A" = 0x41)
    (b"A\x00\x00x", b"q" * 65),
])
def test_a_tag_collision_is_resolved_by_the_bytes(stored, query):
    # the slot where `query` goes gets the tag of `query` but points at `stored`
    words, slots = _table([b"</s>", stored])
    assert _probe(stored, words, slots) == 1 and _probe(query, words, slots) == -1
    row = slots[slots[:, 0] & 0xFFFFFFFF == 1][0]
    slots[:] = -1
    text = np.frombuffer(query + bytes(8), np.uint8)
    h = int(kv.hash_word(text, 0, len(query)))
    home = h >> (64 - 6)
    slots[home, 0] = ((h & 0x7FFFFFFF) << 32) | 1
    slots[home, 1] = row[1]
    assert _probe(query, words, slots) == -1


def test_hash_word_reads_only_the_word():
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        word = rng.integers(0, 256, n, dtype=np.uint8)
        hashes = set()
        for _ in range(4):  # different bytes around it
            buf = rng.integers(0, 256, n + 24, dtype=np.uint8)
            buf[8 : 8 + n] = word
            hashes.add(int(kv.hash_word(buf, 8, 8 + n)))
        assert len(hashes) == 1, n
