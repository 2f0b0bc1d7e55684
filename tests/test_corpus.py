"""Corpus layer: discovery, streaming readers, skip accounting, the built-in corpus."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from corpus_fixtures import make_bad_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.corpus import (
    Document,
    SkipReport,
    default_corpus_documents,
    discover_files,
    iter_batches,
    iter_documents,
)
from cooc.corpus import readers as readers_mod
from cooc.corpus.default import DEFAULT_CORPUS_NAME
from cooc.corpus.report import MAX_SAMPLES, REASONS
from cooc.errors import CoocError


def read(files, **kw) -> tuple[list[Document], SkipReport]:
    report = SkipReport()
    return list(iter_documents(files, report=report, **kw)), report


def write_jsonl(path: Path, texts: list[str], blanks: list[bool] | None = None) -> list[int]:
    """Write texts as JSON lines (compressed by suffix); return each text's line number."""
    lines, numbers = [], []
    for i, text in enumerate(texts):
        if blanks and blanks[i]:
            lines.append(b"\n")
        lines.append(json.dumps({"text": text}, ensure_ascii=False).encode() + b"\n")
        numbers.append(len(lines))
    compress(path, b"".join(lines))
    return numbers


def compress(path: Path, data: bytes) -> None:
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith((".zst", ".zstd")):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


# --- the bad corpus -----------------------------------------------------------------------


@pytest.fixture
def bad_corpus(tmp_path):
    root = tmp_path / "bad"
    return root, make_bad_corpus(root)


def test_bad_corpus_exact_counts(bad_corpus):
    root, expected = bad_corpus
    docs, report = read(discover_files(root))
    assert len(docs) == report.documents == expected["documents"]
    assert report.files == expected["files"]
    assert {r: report.skipped.get(r, 0) for r in REASONS} == {r: expected[r] for r in REASONS}
    assert all("good" in d.text for d in docs)  # the fixture marks every good text so


def test_bad_corpus_skip_locations(bad_corpus):
    root, _ = bad_corpus
    _, report = read(discover_files(root))
    first = {r: s[0][0] for r, s in report.samples.items()}
    assert first == {
        "malformed_json": f"{root / 'mixed.jsonl'}:2",
        "invalid_utf8": f"{root / 'mixed.jsonl'}:4",
        "missing_field": f"{root / 'mixed.jsonl'}:5",
        "non_string_field": f"{root / 'mixed.jsonl'}:7",
        "empty_text": f"{root / 'mixed.jsonl'}:10",
        "empty_file": f"{root / 'empty.jsonl'}:0",
        "truncated_gzip": f"{root / 'cut.jsonl.gz'}:6",
        "truncated_zstd": f"{root / 'cut.jsonl.zst'}:5",
        "unreadable_file": f"{root / 'locked.jsonl'}:0",
        "bad_parquet": f"{root / 'broken.parquet'}:0",
    }
    wheres = {r: [w for w, _ in s] for r, s in report.samples.items()}
    assert wheres["invalid_utf8"] == [
        f"{root / n}" for n in ("mixed.jsonl:4", "mixed.jsonl:12", "notes.txt:5")
    ]
    assert wheres["non_string_field"][3:] == [f"{root / 'table.parquet'}:{i}" for i in (2, 5)]
    assert wheres["missing_field"][2] == f"{root / 'notext.parquet'}:0"
    assert "no column 'text' (columns: body)" in report.samples["missing_field"][2][1]


def test_bad_corpus_document_locations(bad_corpus):
    root, _ = bad_corpus
    docs, _ = read(discover_files(root))
    where = {(Path(d.source).name, d.line): d.text for d in docs}
    assert where[("mixed.jsonl", 14)] == "good after the bad ones"
    assert where[("good.jsonl", 2)] == "good café 日本"
    assert where[("good.jsonl", 7)] == "good last line, no newline"
    assert where[("good.jsonl", 6)] == "good\nmultiline"
    assert where[("notes.txt", 3)] == "good second note"  # CRLF dropped
    assert [n for (f, n) in where if f == "table.parquet"] == [1, 3, 6, 7]
    assert [n for (f, n) in where if f == "cut.jsonl.gz"] == [1, 2, 3, 4, 5]


def test_skips_are_logged_with_location(bad_corpus, caplog):
    root, _ = bad_corpus
    with caplog.at_level(logging.WARNING, logger="cooc"):
        read(discover_files(root))
    assert f"{root / 'mixed.jsonl'}:2: Expecting" in caplog.text


def test_fast_json_backend_gives_the_same_report(bad_corpus, monkeypatch):
    """A fast loader (orjson when installed) must not change reasons or messages."""
    root, _ = bad_corpus
    files = discover_files(root)
    _, plain = read(files)
    calls = []

    def strict(raw: bytes):  # like orjson: raises on bad UTF-8 and on (lone) surrogate escapes
        calls.append(raw)
        if b"\\ud" in raw.lower():
            raise ValueError("surrogate escape")
        return json.loads(raw.decode("utf-8"))

    monkeypatch.setattr(readers_mod, "_fast_loads", lambda: strict)
    _, fast = read(files)
    assert calls and fast == plain


def test_real_orjson_if_installed(bad_corpus, monkeypatch):
    orjson = pytest.importorskip("orjson")
    root, _ = bad_corpus
    files = discover_files(root)
    monkeypatch.setattr(readers_mod, "_fast_loads", lambda: None)
    _, plain = read(files)
    monkeypatch.setattr(readers_mod, "_fast_loads", lambda: orjson.loads)
    _, fast = read(files)
    assert fast == plain


# --- readers ------------------------------------------------------------------------------


def test_folder_named_like_a_file_is_unreadable(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    docs, report = read([tmp_path / "dir.jsonl", tmp_path / "gone.jsonl.gz"])
    assert docs == [] and report.skipped == {"unreadable_file": 2}
    assert report.samples["unreadable_file"][0][0] == f"{tmp_path / 'dir.jsonl'}:0"


def test_permission_denied_is_unreadable(tmp_path):
    path = tmp_path / "locked.jsonl"
    path.write_text('{"text": "x"}\n')
    path.chmod(0)
    try:
        path.read_bytes()
    except PermissionError:
        pass
    else:
        pytest.skip(
            "chmod 000 does not block reading here (root); the fixture uses a dangling link"
        )
    _, report = read([path])
    assert report.skipped == {"unreadable_file": 1}
    assert report.samples["unreadable_file"][0] == (
        f"{path}:0",
        "cannot read the file: Permission denied",
    )


TRUNCATION_TEXTS = [f"document {i} " + "word " * (i % 37) for i in range(2000)]


@pytest.mark.parametrize("name", ["cut.jsonl.gz", "cut.jsonl.zst", "cut.txt.gz", "cut.txt.zst"])
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_truncation_keeps_a_clean_prefix(name, data):
    """Cut anywhere: what comes out is an exact prefix of the documents, never a partial line."""
    texts = TRUNCATION_TEXTS
    if name.startswith("cut.txt"):
        raw = "".join(t + "\n" for t in texts).encode()
    else:
        raw = b"".join(json.dumps({"text": t}).encode() + b"\n" for t in texts)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        compress(path, raw)
        blob = path.read_bytes()
        keep = data.draw(st.integers(0, len(blob) - 1), label="bytes kept")
        path.write_bytes(blob[:keep])
        docs, report = read([path])
    assert [d.text for d in docs] == texts[: len(docs)]
    assert [d.line for d in docs] == list(range(1, len(docs) + 1))
    reason = "truncated_gzip" if name.endswith(".gz") else "truncated_zstd"
    if keep == 0:
        assert report.skipped == {"empty_file": 1}
    else:
        assert report.skipped == {reason: 1}
        assert report.samples[reason][0][0] == f"{path}:{len(docs) + 1}"


def test_corrupt_compressed_files(tmp_path):
    (tmp_path / "a.jsonl.gz").write_bytes(b"not gzip at all\n")
    (tmp_path / "b.jsonl.zst").write_bytes(b"not zstd at all\n")
    _, report = read([tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.zst"])
    assert report.skipped == {"truncated_gzip": 1, "truncated_zstd": 1}


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path):
    parts = [b'{"text": "part %d line %d"}\n' % (p, i) for p in range(3) for i in range(4)]
    (tmp_path / "a.jsonl.gz").write_bytes(
        b"".join(gzip.compress(b"".join(parts[i : i + 4])) for i in (0, 4, 8))
    )
    cctx = zstandard.ZstdCompressor()
    (tmp_path / "b.jsonl.zst").write_bytes(
        b"".join(cctx.compress(b"".join(parts[i : i + 4])) for i in (0, 4, 8))
    )
    for name in ("a.jsonl.gz", "b.jsonl.zst"):
        docs, report = read([tmp_path / name])
        assert [d.line for d in docs] == list(range(1, 13)) and report.total_skipped == 0
        assert docs[-1].text == "part 2 line 3"


def test_streamed_zstd_without_content_size(tmp_path):
    buf = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(buf, closefd=False) as w:
        for i in range(1000):
            w.write(b'{"text": "streamed %d"}\n' % i)
    (tmp_path / "s.jsonl.zstd").write_bytes(buf.getvalue())
    docs, report = read([tmp_path / "s.jsonl.zstd"])
    assert len(docs) == 1000 and report.total_skipped == 0


def test_text_field_and_bom(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"content": "x", "text": 1}\n{"content": "y"}\n')
    docs, report = read([path], text_field="content")
    assert [(d.text, d.line) for d in docs] == [("x", 1), ("y", 2)]
    assert report.bytes_read == path.stat().st_size


def test_txt_one_document_per_line(tmp_path):
    path = tmp_path / "a.txt.zst"
    compress(path, "\ufeffline one\u2028same line\r\n\nline two\rkept\n".encode())
    docs, _ = read([path])
    assert [(d.text, d.line) for d in docs] == [
        ("line one\u2028same line", 1),
        ("line two\rkept", 3),
    ]


def test_parquet_column_types(tmp_path):
    pq.write_table(
        pa.table({"text": pa.array(["a", None, "b"], pa.large_string())}), tmp_path / "l.parquet"
    )
    pq.write_table(
        pa.table({"text": pa.array(["c", "c", "d"]).dictionary_encode()}), tmp_path / "d.parquet"
    )
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "n.parquet")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "e.parquet")
    docs, report = read(
        [tmp_path / n for n in ("l.parquet", "d.parquet", "n.parquet", "e.parquet")]
    )
    assert [(Path(d.source).name, d.text, d.line) for d in docs] == [
        ("l.parquet", "a", 1), ("l.parquet", "b", 3),
        ("d.parquet", "c", 1), ("d.parquet", "c", 2), ("d.parquet", "d", 3),
    ]  # fmt: skip
    assert report.skipped == {"non_string_field": 2, "empty_file": 1}
    assert report.samples["non_string_field"][1] == (
        f"{tmp_path / 'n.parquet'}:0",
        "column 'text' has type int64, not string",
    )
    assert report.bytes_read == 5


def test_corrupt_parquet_row_group_keeps_the_groups_before(tmp_path):
    path = tmp_path / "mid.parquet"
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(3000)]}), path, row_group_size=1000)
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    blob = bytearray(path.read_bytes())
    blob[start : start + 40] = bytes(b ^ 0xFF for b in blob[start : start + 40])
    path.write_bytes(bytes(blob))
    docs, report = read([path])
    assert [d.line for d in docs] == list(range(1, 1001))
    assert report.skipped == {"bad_parquet": 1}
    where, message = report.samples["bad_parquet"][0]
    assert where == f"{path}:1001" and "\n" not in message


def test_invalid_utf8_parquet_value_costs_its_row_only(tmp_path):
    """F5: one invalid UTF-8 value in a string column dropped the rest of the file (1,999 of
    3,000 good rows lost, a bad_parquet skip at the wrong row)."""
    values = [f"row {i}".encode() for i in range(3000)]
    values[1000] = b"bad \xff\xfe row"
    raw = pa.array(values, pa.binary())
    unchecked = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())  # not validated
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": unchecked}), path, row_group_size=700)
    docs, report = read([path])
    assert [d.line for d in docs] == [r for r in range(1, 3001) if r != 1001]
    assert docs[1000].text == "row 1001"
    assert report.skipped == {"invalid_utf8": 1}
    assert report.samples["invalid_utf8"][0][0] == f"{path}:1001"


def test_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="discover_files"):
        iter_documents(str(tmp_path / "a.jsonl"))
    with pytest.raises(ValueError, match="not a corpus file"):
        iter_documents([tmp_path / "a.csv"])
    with pytest.raises(ValueError, match="text_field"):
        iter_documents([tmp_path / "a.jsonl"], text_field="")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            iter_batches([tmp_path / "a.jsonl"], batch_size=bad)


def test_default_report_is_optional(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", ["x", "y"])
    assert [d.text for d in iter_documents([tmp_path / "a.jsonl"])] == ["x", "y"]


doc_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff"), min_size=1
).filter(lambda t: not t.isspace())


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz", "r.jsonl.zst"])
@given(texts=st.lists(doc_text, max_size=30), data=st.data())
@settings(max_examples=40, deadline=None)
def test_jsonl_roundtrip(name, texts, data):
    blanks = data.draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts)))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        numbers = write_jsonl(path, texts, blanks)
        docs, report = read([path])
    assert [d.text for d in docs] == texts
    assert [d.line for d in docs] == numbers
    assert {d.source for d in docs} <= {str(path)}
    assert report.skipped == ({"empty_file": 1} if not texts else {})


@given(texts=st.lists(doc_text, max_size=60), batch_size=st.integers(1, 70))
@settings(max_examples=30, deadline=None)
def test_batches_do_not_change_documents(texts, batch_size):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "b.jsonl"
        write_jsonl(path, texts + [""])  # one skip, to compare the reports too
        docs, report = read([path])
        batch_report = SkipReport()
        batches = list(iter_batches([path], report=batch_report, batch_size=batch_size))
    assert [d for b in batches for d in b] == docs
    assert all(len(b) == batch_size for b in batches[:-1]) and all(batches)
    assert batch_report == report


# --- discovery ----------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """data/{b.jsonl, a.txt.gz, notes.md, sub/c.parquet, sub/d.jsonl.zst, .hid/e.jsonl, .f.jsonl}"""
    monkeypatch.chdir(tmp_path)
    for rel in ("data/b.jsonl", "data/a.txt.gz", "data/notes.md", "data/sub/c.parquet",
                "data/sub/d.jsonl.zst", "data/.hid/e.jsonl", "data/.f.jsonl"):  # fmt: skip
        Path(rel).parent.mkdir(parents=True, exist_ok=True)
        Path(rel).write_bytes(b"x")
    return tmp_path


def names(paths: list[Path]) -> list[str]:
    return [p.as_posix() for p in paths]


def test_discover_folder_is_recursive_sorted_and_skips_hidden(tree):
    assert names(discover_files("data")) == [
        "data/a.txt.gz",
        "data/b.jsonl",
        "data/sub/c.parquet",
        "data/sub/d.jsonl.zst",
    ]


def test_discover_file_glob_and_list(tree):
    assert names(discover_files(Path("data/b.jsonl"))) == ["data/b.jsonl"]
    assert names(discover_files("data/*.jsonl")) == ["data/b.jsonl"]
    assert names(discover_files("data/**/*.jsonl*")) == ["data/b.jsonl", "data/sub/d.jsonl.zst"]
    assert names(discover_files(["data/sub", "data/b.jsonl"])) == [
        "data/b.jsonl",
        "data/sub/c.parquet",
        "data/sub/d.jsonl.zst",
    ]
    assert names(discover_files("data/.f.jsonl")) == ["data/.f.jsonl"]  # named explicitly: kept


def test_discover_is_canonical_and_deduplicated(tree):
    a = discover_files(["data/sub", "./data/b.jsonl", "data", "data/sub/../b.jsonl"])
    b = discover_files(["data/b.jsonl", "data/sub/d.jsonl.zst", "data"])
    assert a == b == discover_files("data")
    # One file spelled two ways is listed once, under its smallest spelling.
    absolute = str(tree / "data/b.jsonl")
    assert names(discover_files([absolute, "data/b.jsonl"])) == [Path(absolute).as_posix()]


def test_discover_errors(tree):
    with pytest.raises(CoocError, match="data path not found: nope"):
        discover_files("nope")
    with pytest.raises(CoocError, match="data path not found: data/\\*.csv"):
        discover_files("data/*.csv")
    Path("empty").mkdir()
    with pytest.raises(CoocError, match=r"no corpus files \(\.jsonl, \.json, .*\) under empty"):
        discover_files(["data", "empty"])
    with pytest.raises(CoocError, match="not a corpus file: data/notes.md"):
        discover_files("data/notes.md")
    with pytest.raises(CoocError, match="no data path given"):
        discover_files([])


def test_discover_keeps_dangling_links_and_survives_link_loops(tree):
    os.symlink("missing.jsonl", "data/sub/dangling.jsonl")
    os.symlink("..", "data/sub/loop")
    found = names(discover_files("data"))
    assert "data/sub/dangling.jsonl" in found and not any("loop" in f for f in found)
    _, report = read([Path("data/sub/dangling.jsonl")])
    assert report.skipped == {"unreadable_file": 1}


# --- SkipReport ---------------------------------------------------------------------------


def make_report(tag: str, n: int) -> SkipReport:
    r = SkipReport(documents=10, files=2, bytes_read=100)
    for i in range(n):
        r.skip("malformed_json", f"{tag}.jsonl:{i + 1}", f"bad {i}")
    r.skip("empty_text", f"{tag}.jsonl:99", "empty")
    return r


def test_report_add_and_sum():
    a, b = make_report("a", 4), make_report("b", 3)
    total = a + b
    assert (total.documents, total.files, total.bytes_read) == (20, 4, 200)
    assert total.skipped == {"malformed_json": 7, "empty_text": 2} and total.total_skipped == 9
    assert [w for w, _ in total.samples["malformed_json"]] == [
        "a.jsonl:1",
        "a.jsonl:2",
        "a.jsonl:3",
        "a.jsonl:4",
        "b.jsonl:1",
    ]
    assert sum([a, b], SkipReport()) == total == sum([a, b])
    assert a.skipped == {"malformed_json": 4, "empty_text": 1}  # operands unchanged


def test_report_roundtrip_and_summary():
    r = make_report("a", 7)
    assert SkipReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert len(r.samples["malformed_json"]) == MAX_SAMPLES
    assert r.summary_lines() == [
        "malformed_json: 7 (first at a.jsonl:1: bad 0)",
        "empty_text: 1 (first at a.jsonl:99: empty)",
    ]
    assert SkipReport().summary_lines() == []


def test_report_logging_is_capped(caplog):
    with caplog.at_level(logging.DEBUG, logger="cooc"):
        make_report("a", MAX_SAMPLES + 3)
    levels = [rec.levelno for rec in caplog.records if "malformed_json" in rec.getMessage()]
    assert levels == [logging.WARNING] * (MAX_SAMPLES + 1) + [logging.DEBUG] * 2


def test_report_rejects_unknown_reason():
    with pytest.raises(ValueError, match="unknown skip reason 'oops'"):
        SkipReport().skip("oops", "a:1", "x")


# --- default corpus -----------------------------------------------------------------------


def test_default_corpus_is_nonempty_and_deterministic():
    docs = list(default_corpus_documents())
    assert DEFAULT_CORPUS_NAME == "pydoc-topics"
    assert len(docs) > 10 and all(d.text.strip() for d in docs)
    assert docs == list(default_corpus_documents())
    assert [d.line for d in docs] == sorted(d.line for d in docs) and docs[0].line == 1
    assert {d.source for d in docs} == {"pydoc_data.topics"}


def test_fifo_named_as_input_is_refused_not_waited_on(tmp_path):
    """F16: a FIFO named as input hung forever (open() waits for a writer)."""
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(CoocError, match="not a regular file"):
        discover_files(fifo)


def test_cooc_artefacts_inside_a_corpus_folder_are_not_read(tmp_path):
    """F19: cooc's own manifest.json inside a corpus folder was read as a JSON corpus file,
    with hundreds of skip warnings."""
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "a.jsonl", ["one", "two"])
    art = tmp_path / "data" / "corpus.tokens"
    art.mkdir()
    (art / "manifest.json").write_text(json.dumps({"magic": "COOC-TOKENS", "shards": [{}] * 50}))
    other = tmp_path / "data" / "notes"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"magic": "something else"}))
    assert discover_files(tmp_path / "data") == [tmp_path / "data" / "a.jsonl",
                                                 other / "manifest.json"]


# --- record blocks (the fast JSON-lines path) against the per-line reader ------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)
LINE_KINDS = st.one_of(
    # good objects: unicode, escapes (ensure_ascii), nested fields, blanks around the braces
    st.tuples(st.text(min_size=1, max_size=12).filter(lambda t: not t.isspace()),
              st.dictionaries(st.sampled_from(["id", "meta", "cooc_x", "t"]), JSON_VALUES,
                              max_size=3),
              st.booleans(), st.sampled_from(["", " ", "\r", " \t"]), st.booleans()).map(
        lambda a: (json.dumps({**a[1], "text": a[0]} if a[4] else {"text": a[0], **a[1]},
                              ensure_ascii=a[2]) + a[3]).encode("utf-8", "surrogatepass")),
    st.sampled_from([
        b"", b"   ", b"{not json", b"[1, 2]", b'"text"', b"{}", b'{"id": 1}', b'{"text": null}',
        b'{"text": 3}', b'{"text": ""}', b'{"text": " \\n "}', b'{"text": "bad \xff byte"}',
        b'{"text": "lone \\ud800"}', b'{"text": "pair \\ud83d\\ude00"}', b'{"text": "x", "n": NaN}',
        b'{"text": "big", "n": 123456789012345678901234567890}', b'{"text": "a", "text": "b"}',
        b'{"text": "nested", "o": {"a": [1, {"b": "\\u00e9\\/"}]}}', b"\xef\xbb\xbf{}",
        b'{"text": "ws"}  ', b'{"text": "cr"}\r', b'{"text": "x"} trailing', b"\x00", b'{"text": "cut',
        b'{"text": "x"',
    ]))


@settings(max_examples=60, deadline=None)
@given(st.lists(LINE_KINDS, max_size=25), st.sampled_from(["jsonl", "jsonl.gz", "jsonl.zst"]),
       st.booleans(), st.booleans(), st.sampled_from([2, 5, 64, 1 << 20]), st.booleans(),
       st.floats(0, 1))
def test_record_blocks_equal_the_per_line_reader(lines, fmt, bom, final_newline, chunk, fast,
                                                 cut_at):
    """Same documents, line numbers, records (minus their \\n) and report (skips, messages,
    counts) as iter_records, for any read size, with and without orjson, through cut files."""
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    if bom:
        data = b"\xef\xbb\xbf" + data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"a.{fmt}"
        compress(path, data)
        if fmt != "jsonl" and cut_at < 0.3:  # a cut stream: the same lines before the cut
            raw = path.read_bytes()
            path.write_bytes(raw[: int(len(raw) * (0.5 + cut_at))])
        patch = pytest.MonkeyPatch()
        patch.setattr(readers_mod, "_CHUNK", chunk)
        if not fast:
            patch.setattr(readers_mod, "_fast_loads", lambda: None)
        try:
            slow_report, block_report = SkipReport(), SkipReport()
            want = [(d.line, d.text, d.record[:-1] if d.record.endswith(b"\n") else d.record)
                    for d in readers_mod.iter_records([path], report=slow_report)]
            got = [(int(line), text, rec)
                   for b in readers_mod.iter_record_blocks([path], report=block_report)
                   for line, text, rec in zip(b.lines, b.texts, b.records, strict=True)]
        finally:
            patch.undo()
    assert got == want
    assert block_report == slow_report


def test_record_blocks_on_the_bad_corpus(bad_corpus):
    root, _ = bad_corpus
    files = discover_files(root)
    slow, fast = SkipReport(), SkipReport()
    want = [(d.source, d.line, d.text) for d in readers_mod.iter_records(files, report=slow)]
    got = [(str(files[b.file]), int(line), text)
           for b in readers_mod.iter_record_blocks(files, report=fast)
           for line, text in zip(b.lines, b.texts, strict=True)]
    assert got == want and fast == slow and fast.skipped
