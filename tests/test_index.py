"""Writer, reader and verifier of the on-disk index, against a dict-of-pairs reference."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from manifest_edit import resealed

from cooc.cooccur import CoocIndex, IndexWriter, format, open_index, verify_index, write_index
from cooc.errors import CoocError, IndexFormatError

MAX_COUNT = 2**32 - 1
TEXTS_SPECIAL = ["", "\n", "\t", "\\n", "a\x00b", "é", "日本", "🙂", "\ud800", "\r\n\x1b[0m"]


# -- reference ------------------------------------------------------------------------------------


class Matrix:
    """A symmetric count matrix as a dict {(a, b): count} holding both directions."""

    def __init__(self, vocab_size: int, pairs: dict[tuple[int, int], int]):
        self.vocab_size = vocab_size
        self.pairs = pairs

    @classmethod
    def random(cls, vocab_size: int, seed: int, n_pairs: int, hub: bool = False,
               diagonal: bool = False, huge: bool = False) -> Matrix:
        rng = np.random.default_rng(seed)
        pairs: dict[tuple[int, int], int] = {}

        def add(a, b, c):
            pairs[(a, b)] = pairs[(b, a)] = c

        def count():
            if huge and rng.random() < 0.2:
                return MAX_COUNT if rng.random() < 0.5 else int(rng.integers(1, MAX_COUNT))
            return int(rng.geometric(0.4))

        for _ in range(n_pairs):
            a, b = (int(x) for x in rng.integers(0, vocab_size, 2))
            if a != b or diagonal:
                add(a, b, count())
        if hub:  # one token next to (almost) everything: rows longer than a block
            h = int(rng.integers(0, vocab_size))
            for b in range(vocab_size):
                if b != h and rng.random() < 0.9:
                    add(h, b, count())
        return cls(vocab_size, pairs)

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keys = sorted(self.pairs)
        ptr = np.zeros(self.vocab_size + 1, dtype=np.int64)
        for a, _ in keys:
            ptr[a + 1] += 1
        np.cumsum(ptr, out=ptr)
        cols = np.array([b for _, b in keys], dtype=np.uint32)
        counts = np.array([self.pairs[k] for k in keys], dtype=np.uint32)
        return ptr, cols, counts

    def row(self, a: int) -> list[tuple[int, int]]:
        return sorted((b, c) for (x, b), c in self.pairs.items() if x == a)

    def write(self, path, texts=None, meta=None) -> Path:
        V = self.vocab_size
        ptr, cols, counts = self.csr()
        texts = texts or [f"t{i}" for i in range(V)]
        occ = np.arange(V, dtype=np.uint64) * 3
        win = np.arange(V, dtype=np.uint64) + 2**40
        return write_index(path, V, ptr, cols, counts, occ, win, texts, meta or {"k": "v"})


def assert_index_matches(ix: CoocIndex, m: Matrix) -> None:
    """Every reader method against the reference; names the first difference."""
    V = m.vocab_size
    assert ix.vocab_size == V
    assert ix.num_entries == len(m.pairs)
    diag = sum(1 for a, b in m.pairs if a == b)
    assert ix.num_pairs == (len(m.pairs) - diag) // 2 + diag
    deg = np.zeros(V, dtype=np.int64)
    for a, _ in m.pairs:
        deg[a] += 1
    assert ix.degree().tolist() == deg.tolist()
    for a in range(V):
        cols, counts = ix.row(a)
        assert cols.dtype == np.uint32 and counts.dtype == np.uint32
        got = list(zip(cols.tolist(), counts.tolist(), strict=True))
        assert got == m.row(a), f"row {a} differs"


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture
def small(tmp_path):
    m = Matrix.random(300, seed=1, n_pairs=2000, hub=True, diagonal=True, huge=True)
    return m, m.write(tmp_path / "idx", texts=TEXTS_SPECIAL + [f"x{i}" for i in range(290)])


# -- the reference helper is trusted only after it failed once ----------------------------------


def test_reference_check_can_fail(small):
    m, path = small
    wrong = Matrix(m.vocab_size, dict(m.pairs))
    (a, b), c = next(iter(wrong.pairs.items()))
    wrong.pairs[(a, b)] = c + 1
    with open_index(path) as ix, pytest.raises(AssertionError, match=f"row {a} differs"):
        assert_index_matches(ix, wrong)


# -- round trips ----------------------------------------------------------------------------------


def test_round_trip_small(small):
    m, path = small
    with open_index(path) as ix:
        assert_index_matches(ix, m)
        assert ix.token_texts[: len(TEXTS_SPECIAL)] == TEXTS_SPECIAL
        assert ix.token_text(8) == "\ud800"
        assert len(ix.token_texts) == 300 and ix.token_texts[-1] == "x289"
        assert ix.occurrences.tolist() == (np.arange(300) * 3).tolist()
        assert ix.windows.dtype == np.dtype("<u8") and int(ix.windows[1]) == 2**40 + 1
        assert ix.manifest["meta"] == {"k": "v"} and ix.meta == {"k": "v"}
        assert ix.manifest["magic"] == "COOC-INDEX" and ix.manifest["format_version"] == 1
        keys = list(m.pairs)
        a = np.array([k[0] for k in keys] + [0, 1, 299])
        b = np.array([k[1] for k in keys] + [0, 1, 0])
        want = [m.pairs.get((x, y), 0) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        assert ix.pair_counts(a, b).tolist() == want
        assert ix.pair_counts(a.reshape(-1, 1), b.reshape(-1, 1)).shape == (len(a), 1)
        x, y = keys[0]
        assert ix.pair_count(x, y) == m.pairs[(x, y)]
        assert ix.degree([0, 5]).tolist() == ix.degree()[[0, 5]].tolist()
    assert verify_index(path) == []


def test_nbytes_adds_up(small):
    _, path = small
    with open_index(path) as ix:
        nb = ix.nbytes()
        on_disk = sum(p.stat().st_size for p in path.glob("*.bin"))
        assert nb["total"] == on_disk
        parts = ("ids", "counts", "offsets", "id_map", "stats", "text_offsets", "texts")
        assert sum(nb[k] for k in parts) == on_disk
        assert ix.bytes_per_entry == pytest.approx((on_disk - nb["texts"]) / ix.num_entries)


@settings(max_examples=40)
@given(st.integers(1, 400), st.integers(0, 2**32 - 1), st.integers(0, 1500), st.booleans(),
       st.booleans(), st.booleans())
def test_round_trip_random(vocab, seed, n_pairs, hub, diagonal, huge):
    m = Matrix.random(vocab, seed, n_pairs, hub=hub, diagonal=diagonal, huge=huge)
    with tempfile.TemporaryDirectory() as d:
        path = m.write(Path(d) / "idx")
        with open_index(path) as ix:
            assert_index_matches(ix, m)
            rng = np.random.default_rng(seed)
            a = rng.integers(0, vocab, 500)
            b = rng.integers(0, vocab, 500)
            want = [m.pairs.get((x, y), 0) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
            assert ix.pair_counts(a, b).tolist() == want
            ptr, cols, counts = m.csr()
            for chunk in (1, 7, 130, 10**9):
                got = list(ix.iter_rows(chunk_entries=chunk))
                starts = [g[0] for g in got]
                assert starts == sorted(set(starts)) and (not got or starts[0] == 0)
                assert np.concatenate([g[2] for g in got]).tolist() == cols.tolist()
                assert np.concatenate([g[3] for g in got]).tolist() == counts.tolist()
                lens = np.concatenate([np.diff(g[1]) for g in got])
                assert lens.tolist() == np.diff(ptr).tolist()
                if chunk > 1:
                    assert all(g[1][-1] <= chunk or len(g[1]) == 2 for g in got)


def test_iter_rows_range_feeds_a_writer(small, tmp_path):
    m, path = small
    with open_index(path) as ix:
        assert [s for s, *_ in ix.iter_rows(10, 20, chunk_entries=10**9)] == [10]
        assert list(ix.iter_rows(5, 5)) == []
        with IndexWriter(tmp_path / "copy", ix.vocab_size) as w:
            for start, ptr, cols, counts in ix.iter_rows(chunk_entries=333):
                w.add_rows(start, ptr, cols, counts)
            w.finish(ix.occurrences, ix.windows, list(ix.token_texts), ix.meta)
    assert files_of(tmp_path / "copy") == files_of(path)


def test_empty_matrix(tmp_path):
    m = Matrix(3, {})
    path = m.write(tmp_path / "idx")
    with open_index(path) as ix:
        assert_index_matches(ix, m)
        assert ix.pair_counts(np.array([0, 2]), np.array([1, 2])).tolist() == [0, 0]
        assert list(ix.iter_rows())[0][2].shape == (0,)
        assert ix.pair_counts([], []).shape == (0,)
    assert verify_index(path) == []


# -- determinism ------------------------------------------------------------------------------------


def test_any_split_and_chunking_gives_identical_bytes(tmp_path):
    m = Matrix.random(500, seed=3, n_pairs=4000, hub=True)
    ptr, cols, counts = m.csr()
    V = m.vocab_size
    stats = np.ones(V, np.uint64), np.ones(V, np.uint64), ["t"] * V, {"m": 1}
    ref = files_of(write_index(tmp_path / "whole", V, ptr, cols, counts, *stats))
    rng = np.random.default_rng(0)
    for trial, chunk in enumerate((1, 50, 10**6)):
        cuts = np.unique(np.concatenate([[0, V], rng.integers(0, V + 1, 6)]))
        path = tmp_path / f"split{trial}"
        with IndexWriter(path, V, chunk_entries=chunk) as w:
            w.add_rows(0, np.zeros(1, np.int64), cols[:0], counts[:0])  # zero rows is fine
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
                s, e = ptr[lo], ptr[hi]
                w.add_rows(int(lo), ptr[lo : hi + 1] - s, cols[s:e], counts[s:e])
            w.finish(*stats)
        assert files_of(path) == ref, f"cuts {cuts.tolist()}, chunk {chunk}"


def test_manifest_has_no_timestamp_and_lists_arrays(small):
    _, path = small
    manifest = json.loads((path / "manifest.json").read_text())
    assert "created_at" not in manifest and manifest["created_by"].startswith("cooc ")
    assert [a["name"] for a in manifest["files"]] == list(format.ARRAYS)
    for a in manifest["files"]:
        assert a["dtype"][0] in "<|" and (path / a["file"]).stat().st_size == a["bytes"]
        assert len(a["sha256"]) == 64


# -- writer: lifecycle and input checks ---------------------------------------------------------


def test_exception_inside_with_leaves_nothing(tmp_path):
    m = Matrix.random(50, seed=4, n_pairs=100)
    ptr, cols, counts = m.csr()
    target = tmp_path / "idx"
    with pytest.raises(RuntimeError, match="boom"), IndexWriter(target, 50) as w:
        w.add_rows(0, ptr[:11], cols[: ptr[10]], counts[: ptr[10]])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with IndexWriter(target, 50) as w:  # leaving without finish() aborts too
        w.add_rows(0, ptr, cols, counts)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="aborted"):
        w.add_rows(0, ptr, cols, counts)


def test_existing_index_is_replaced_only_at_finish(tmp_path):
    target = tmp_path / "idx"
    old = Matrix.random(40, seed=5, n_pairs=100)
    new = Matrix.random(60, seed=6, n_pairs=100)
    old.write(target)
    ptr, cols, counts = new.csr()
    with IndexWriter(target, 60) as w:
        w.add_rows(0, ptr, cols, counts)
        with open_index(target) as ix:
            assert ix.vocab_size == 40  # still the old one
        w.finish(np.zeros(60, np.uint64), np.zeros(60, np.uint64), [""] * 60, {})
    with open_index(target) as ix:
        assert_index_matches(ix, new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]
    with pytest.raises(ValueError), IndexWriter(target, 60) as w:  # failed rewrite keeps it
        w.add_rows(0, ptr, cols, counts)
        w.finish(np.zeros(59, np.uint64), np.zeros(60, np.uint64), [""] * 60, {})
    with open_index(target) as ix:
        assert ix.vocab_size == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_refuses_to_replace_other_things(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_text("x")
    for name in ("file", "dir"):
        with pytest.raises(CoocError, match="not a cooc index"):
            IndexWriter(tmp_path / name, 5)
    assert (tmp_path / "dir" / "keep.txt").exists()


@pytest.mark.parametrize(
    "rows, message",
    [
        ([[1, 1]], "row 0, entry 1: columns not strictly increasing"),
        ([[5]], r"column out of range \(5 >= vocab_size=3\)"),
        ([[-1]], "cols holds -1"),
    ],
)
def test_add_rows_rejects_bad_rows(tmp_path, rows, message):
    ptr = np.array([0, len(rows[0])], np.int64)
    with IndexWriter(tmp_path / "idx", 3) as w, pytest.raises(ValueError, match=message):
        w.add_rows(0, ptr, np.array(rows[0]), np.ones(len(rows[0]), np.int64))


def test_writer_argument_checks(tmp_path):
    one = np.array([0, 1], np.int64)
    with IndexWriter(tmp_path / "idx", 3) as w:
        with pytest.raises(ValueError, match="count is 0"):
            w.add_rows(0, one, np.array([1]), np.array([0]))
        with pytest.raises(ValueError, match="expected row_start=0, got 1"):
            w.add_rows(1, one, np.array([1]), np.array([1]))
        with pytest.raises(ValueError, match="outside uint32"):
            w.add_rows(0, one, np.array([1]), np.array([2**32]))
        with pytest.raises(ValueError, match="go past vocab_size"):
            w.add_rows(0, np.zeros(5, np.int64), np.array([]), np.array([]))
        with pytest.raises(ValueError, match="must be equal"):
            w.add_rows(0, one, np.array([1, 2]), np.array([1]))
        with pytest.raises(ValueError, match="rows 0..2 were never added"):
            w.finish(np.zeros(3), np.zeros(3), ["a"] * 3, {})
    for bad in (0, -1, format.MAX_VOCAB + 1):
        with pytest.raises(ValueError, match="vocab_size"):
            IndexWriter(tmp_path / "x", bad)
    with pytest.raises(TypeError, match="vocab_size"):
        IndexWriter(tmp_path / "x", 2.0)
    assert list(tmp_path.iterdir()) == []


def test_finish_rejects_asymmetric_matrix(tmp_path):
    ptr = np.array([0, 1, 2, 2], np.int64)
    with pytest.raises(ValueError, match="not symmetric: row 0"):
        write_index(tmp_path / "idx", 3, ptr, np.array([1, 0]), np.array([2, 3]),
                    np.zeros(3, np.int64), np.zeros(3, np.int64), ["a"] * 3, {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "occ, texts, meta, err, message",
    [
        (np.zeros(2, np.int64), ["a"] * 3, {}, ValueError, "occurrences must have vocab_size=3"),
        (np.zeros(3), ["a"] * 3, {}, ValueError, "occurrences must hold integers"),
        (np.zeros(3, np.int64), ["a"] * 2, {}, ValueError, "token_texts must be a sequence of"),
        (np.zeros(3, np.int64), ["a", b"b", "c"], {}, TypeError, r"token_texts\[1\] must be a str"),
        (np.zeros(3, np.int64), ["a"] * 3, {"x": object()}, ValueError, "JSON-serialisable"),
        (np.zeros(3, np.int64), ["a"] * 3, [], TypeError, "meta must be a dict"),
        (-np.ones(3, np.int64), ["a"] * 3, {}, ValueError, "occurrences holds -1"),
    ],
)
def test_finish_argument_checks(tmp_path, occ, texts, meta, err, message):
    with pytest.raises(err, match=message):
        write_index(tmp_path / "idx", 3, np.zeros(4, np.int64), np.array([]), np.array([]),
                    occ, np.zeros(3, np.int64), texts, meta)
    assert list(tmp_path.iterdir()) == []


# -- reader: argument checks ------------------------------------------------------------------------


def test_reader_argument_checks(small):
    _, path = small
    ix = open_index(path)
    with pytest.raises(ValueError, match="a=300 is not a token id"):
        ix.pair_count(300, 1)
    with pytest.raises(TypeError, match="token id"):
        ix.row(1.5)
    with pytest.raises(ValueError, match="b holds -1"):
        ix.pair_counts([1, 2], [0, -1])
    with pytest.raises(ValueError, match="one shape"):
        ix.pair_counts([1, 2], [0])
    with pytest.raises(ValueError, match="chunk_entries"):
        next(ix.iter_rows(chunk_entries=0))
    with pytest.raises(IndexError):
        ix.token_texts[300]
    ix.close()
    with pytest.raises(ValueError, match="is closed"):
        ix.row(0)


# -- damaged indexes ----------------------------------------------------------------------------------


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert "\n" not in msg and msg, msg
    return msg


@pytest.mark.parametrize("name", list(format.ARRAYS))
def test_flipped_byte_is_reported_and_never_crashes(small, name):
    m, path = small
    f = path / format.file_name(name)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x5A
    f.write_bytes(bytes(data))
    problems = verify_index(path)
    assert problems and problems[0] == f"{path}: sha256 mismatch in {name}.bin"
    try:  # whatever open() makes of it: a clean error or garbage, never a crash
        with open_index(path) as ix:
            for a in range(m.vocab_size):
                ix.row(a)
            ix.pair_counts(np.arange(300), np.arange(300)[::-1])
            list(ix.iter_rows())
    except IndexFormatError as e:
        one_line(e)


@pytest.mark.parametrize("name", list(format.ARRAYS))
def test_truncated_file_fails_open(small, name):
    _, path = small
    f = path / format.file_name(name)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 1] if data else b"x")
    with pytest.raises(IndexFormatError) as e:
        open_index(path)
    assert one_line(e.value).startswith(f"{path}: {name}.bin has ")
    assert any(f"{name}.bin" in p for p in verify_index(path))


def test_missing_file_and_manifest(small):
    _, path = small
    (path / "skip.bin").unlink()
    with pytest.raises(IndexFormatError, match="skip.bin is missing"):
        open_index(path)
    assert f"{path}: skip.bin is missing" in verify_index(path)
    (path / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match="manifest.json is missing") as e:
        open_index(path)
    one_line(e.value)
    assert len(verify_index(path)) == 1
    with pytest.raises(IndexFormatError, match="no such directory"):
        open_index(path / "nope")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(magic="NOPE"), "magic is 'NOPE', expected 'COOC-INDEX'"),
        (lambda m: m.update(format_version=2), "format_version 2 is not supported"),
        (lambda m: m.update(vocab_size="x"), "vocab_size must be an integer"),
        (lambda m: m.update(num_blocks=m["num_blocks"] + 1), "has shape"),
        (lambda m: m["files"][0].update(dtype=">i8"), "row_ptr must be row_ptr.bin with dtype"),
        (lambda m: m.pop("files"), "'files' must be a list"),
        (lambda m: m.update(num_entries=m["num_entries"] + 2), "row_ptr.bin is not a valid"),
    ],
)
def test_bad_manifest(small, edit, message):
    _, path = small
    mpath = path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    edit(manifest)
    mpath.write_text(json.dumps(resealed(manifest)))
    with pytest.raises(IndexFormatError, match=message) as e:
        CoocIndex.open(path)
    assert one_line(e.value).startswith(str(path))


def test_manifest_not_json(small):
    _, path = small
    (path / "manifest.json").write_bytes(b"{\xff")
    with pytest.raises(IndexFormatError, match="not JSON") as e:
        open_index(path)
    one_line(e.value)


def rewrite_with_checksums(path: Path, name: str, arr: np.ndarray) -> None:
    """Replace an array and fix its checksum: only the structural checks can catch it."""
    import hashlib

    raw = arr.tobytes()
    (path / format.file_name(name)).write_bytes(raw)
    mpath = path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    for spec in manifest["files"]:
        if spec["name"] == name:
            spec["sha256"] = hashlib.sha256(raw).hexdigest()
    mpath.write_text(json.dumps(resealed(manifest)))


def test_verify_locates_an_asymmetric_count(tmp_path):
    # two rows of 1 entry each: count(0, 1) = 1 = count(1, 0); make count(1, 0) = 2
    m = Matrix(2, {(0, 1): 1, (1, 0): 1})
    path = m.write(tmp_path / "idx")
    with open_index(path) as ix:
        data = np.array(ix._arrays["data"])
    # each row is one word: code 0 (count 1, zero bits); code 1 packs count-1 in one bit
    assert data.tolist() == [0, 0, 0]
    data[1] = 1 | (1 << 6)  # row 1: code 1, value 1 -> count 2
    rewrite_with_checksums(path, "data", data)
    assert verify_index(path) == [f"{path}: row 0: count(0, 1) = 1 but count(1, 0) = 2"]


def test_verify_reports_columns_not_increasing(tmp_path):
    m = Matrix(5, {(0, b): 1 for b in range(1, 5)} | {(b, 0): 1 for b in range(1, 5)})
    path = m.write(tmp_path / "idx")
    with open_index(path) as ix:
        data = np.array(ix._arrays["data"])
        w = int(ix._arrays["row_word"][0])
    # row 0 holds ranks 1..4: y = (0, 0, 0), so l = 0 and hz = 0: no id bits at all. Set l = 1
    # (bit 0) and the first low bit (bit 19, after l:5 hz:8 code:6): y = (1, 0, 0) decodes
    # to ranks 1, 3, 3, 4
    data[w] |= np.uint64(1 | (1 << 19))
    rewrite_with_checksums(path, "data", data)
    assert verify_index(path) == [f"{path}: row 0: columns not increasing at entry 2"]


def test_verify_reports_wrong_diagonal_count(small):
    _, path = small
    mpath = path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["num_diagonal"] -= 2
    mpath.write_text(json.dumps(resealed(manifest)))
    assert verify_index(path)[-1].endswith("manifest.json says "
                                           f"{manifest['num_diagonal']}")


def test_write_leaves_no_temp_files(small):
    _, path = small
    assert sorted(os.listdir(path)) == sorted(
        ["manifest.json"] + [format.file_name(n) for n in format.ARRAYS])
    assert [p.name for p in path.parent.iterdir()] == ["idx"]


def test_direct_and_staged_writers_write_the_same_bytes(tmp_path):
    """With degrees given up front the writer encodes in one pass; the bytes must not change."""
    from cooc.cooccur.writer import IndexWriter

    rng = np.random.default_rng(11)
    v = 300
    dense = np.triu(rng.integers(0, 3, (v, v)) * (rng.random((v, v)) < 0.2), 1)
    dense = dense + dense.T
    row_ptr = np.concatenate([[0], np.cumsum((dense > 0).sum(1))]).astype(np.int64)
    cols = np.nonzero(dense)[1].astype(np.uint32)
    counts = dense[dense > 0].astype(np.uint32)
    stats = np.ones(v, np.uint64)
    texts = [f"t{i}" for i in range(v)]
    outs = {}
    for mode, degrees in (("staged", None), ("direct", np.diff(row_ptr))):
        with IndexWriter(tmp_path / f"{mode}.cooc", v, degrees=degrees) as w:
            for lo in range(0, v, 70):
                hi = min(v, lo + 70)
                a, b = row_ptr[lo], row_ptr[hi]
                w.add_rows(lo, row_ptr[lo : hi + 1] - a, cols[a:b], counts[a:b])
            outs[mode] = w.finish(stats, stats, texts, {})
    files = sorted(p.name for p in outs["direct"].iterdir())
    assert files == sorted(p.name for p in outs["staged"].iterdir())
    for name in files:
        assert (outs["direct"] / name).read_bytes() == (outs["staged"] / name).read_bytes(), name
    with pytest.raises(ValueError, match="degrees said"):
        with IndexWriter(tmp_path / "bad.cooc", v, degrees=np.diff(row_ptr) + 1) as w:
            w.add_rows(0, row_ptr, cols, counts)
