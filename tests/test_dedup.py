"""Exact and Bloom dedup (cooc.curate): fast paths against slow first-seen references, the
runner's invariants (kept + removed + skipped = input, same output for any batch size and
memory budget, kill + resume gives the same bytes), formats round-trip, Bloom FP rate."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from curate_fixtures import DiesInDecide, Killed, read_output, run_texts, write_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc.curate.seen as seen_module
from cooc.cli.main import main
from cooc.corpus.readers import iter_documents, iter_records
from cooc.corpus.segment import split_text, unit_spans
from cooc.curate.bloom import BloomDedup, BloomFilter, bloom_size
from cooc.curate.exact import ExactDedup
from cooc.curate.hashing import cut, units
from cooc.curate.run import check_output, run_steps
from cooc.curate.seen import FirstSeen
from cooc.curate.step import DocumentBatch
from cooc.errors import CoocError
from cooc.options import RunOptions

WORDS = ["a", "b", "Mr.", "c.", "d!", "e?", "\n", "\n\n", " ", "é", "x. "]
text_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map("".join).filter(
    lambda t: t.strip())
corpus_st = st.lists(text_st, min_size=1, max_size=40)


@pytest.fixture
def tiny_table(monkeypatch):
    """A first-seen table of 8 slots that spills to a run every few keys."""
    monkeypatch.setattr(seen_module, "MIN_CAPACITY", 8)
    return 2 * 8 * seen_module.SLOT_BYTES


def batches_of(texts, size):
    for i in range(0, len(texts), size):
        yield DocumentBatch(texts[i:i + size], np.arange(i, min(i + size, len(texts))))


# -- references ------------------------------------------------------------------------------


def reference_documents(texts):
    """duplicate_of per document: -1 for a first copy, else the first copy's ordinal."""
    first: dict[str, int] = {}
    out = []
    for i, t in enumerate(texts):
        out.append(first.get(t, -1))
        first.setdefault(t, i)
    return out


def reference_units(texts, granularity):
    """(kept, new text or None) per document: units seen before anywhere are dropped."""
    seen: set[str] = set()
    out = []
    for t in texts:
        spans = units(t, granularity)
        drop = []
        for s, e in spans:
            drop.append(t[s:e] in seen)
            seen.add(t[s:e])
        if all(drop):
            out.append((False, None))
        elif any(drop):
            out.append((True, cut(t, spans, drop)[0]))
        else:
            out.append((True, None))
    return out


def test_references_on_known_answers():
    assert reference_documents(["a", "b", "a", "a", "b"]) == [-1, -1, 0, 0, 1]
    assert reference_units(["p\n\nq", "q\n\nr", "p\n\nq"], "paragraph") == [
        (True, None), (True, "r"), (False, None)]


# -- kernels and steps -----------------------------------------------------------------------


@given(st.lists(st.integers(0, 30), max_size=300), st.integers(1, 50))
def test_first_seen_equals_dict(keys, chunk):
    seen_module.MIN_CAPACITY, old = 8, seen_module.MIN_CAPACITY
    try:
        table = FirstSeen(2 * 8 * seen_module.SLOT_BYTES)
        got_first, got_new = [], []
        k = np.array(keys, np.uint64)
        for i in range(0, len(keys), chunk):
            f, n = table.get_or_insert(k[i:i + chunk] * 7, k[i:i + chunk] ^ 5,
                                       np.arange(i, min(i + chunk, len(keys)), dtype=np.int64))
            got_first += f.tolist()
            got_new += n.tolist()
        table.close()
    finally:
        seen_module.MIN_CAPACITY = old
    ref: dict[int, int] = {}
    want_first = [ref.setdefault(x, i) for i, x in enumerate(keys)]
    assert got_first == want_first
    assert got_new == [want_first[i] == i for i in range(len(keys))]


def test_first_seen_spills_and_stays_exact(tiny_table):
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 500, 3000).astype(np.uint64)
    table = FirstSeen(tiny_table)
    first, _ = table.get_or_insert(keys, keys + np.uint64(1), np.arange(3000, dtype=np.int64))
    assert len(table.runs) > 10
    ref: dict[int, int] = {}
    assert first.tolist() == [ref.setdefault(int(x), i) for i, x in enumerate(keys)]
    table.close()


@given(corpus_st, st.integers(1, 9), st.booleans())
def test_exact_documents_equal_reference(texts, batch_size, small):
    seen_module.MIN_CAPACITY, old = 8, seen_module.MIN_CAPACITY
    try:
        step = ExactDedup(memory_bytes=384 if small else 1 << 20)
        got = []
        for b in batches_of(texts, batch_size):
            d = step.decide(b)
            assert (d.keep == (d.duplicate_of < 0)).all()
            got += d.duplicate_of.tolist()
        step.close()
    finally:
        seen_module.MIN_CAPACITY = old
    assert got == reference_documents(texts)


@given(corpus_st, st.integers(1, 9), st.sampled_from(["paragraph", "span"]))
def test_exact_units_equal_reference(texts, batch_size, granularity):
    step = ExactDedup(granularity)
    got = []
    for b in batches_of(texts, batch_size):
        d = step.decide(b)
        got += [(bool(d.keep[i]), d.texts.get(i)) for i in range(len(b))]
        for i, ranges in d.removed_spans.items():  # the cut ranges give the new text
            t, pieces, pos = b.texts[i], [], 0
            for s, e in ranges:
                pieces.append(t[pos:s])
                pos = e
            assert "".join(pieces) + t[pos:] == d.texts[i]
    assert got == reference_units(texts, granularity)


def test_normalize_folds_case_and_spaces():
    d = ExactDedup(normalize=True).decide(DocumentBatch(["A  b", "a b\n", "ab"], np.arange(3)))
    assert d.keep.tolist() == [True, False, True]
    assert d.duplicate_of.tolist() == [-1, 0, -1]


@given(st.text(alphabet="ab .?\n。", max_size=40))
def test_unit_spans_match_split_text(text):
    for g in ("paragraph", "sentence"):
        got = [text[s:e] for s, e in unit_spans(text, g)]
        if g == "sentence":
            got = [u.replace("\n", " ") for u in got]
        assert got == split_text(text, g)


def test_bad_parameters_say_what_to_do():
    with pytest.raises(ValueError, match="granularity"):
        ExactDedup("sentence")
    with pytest.raises(ValueError, match="fp_rate"):
        bloom_size(10, 1.5)
    with pytest.raises(ValueError, match="expected_items"):
        bloom_size(0, 0.01)


# -- Bloom filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1e-2, 1e-3])
def test_bloom_false_positive_rate_near_target(p):
    n = 200_000
    bf = BloomFilter(n, p, seed=3)
    m, k = bloom_size(n, p)
    assert (bf.m, bf.k) == (m, k) and m == int(np.ceil(-n * np.log(p) / np.log(2) ** 2))
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**63, (2, 2 * n), dtype=np.uint64)
    was = bf.add_hashes(keys[0, :n], keys[1, :n])
    assert bf.contains_hashes(keys[0, :n], keys[1, :n]).all()  # no false negatives
    fp = bf.contains_hashes(keys[0, n:], keys[1, n:]).mean()
    assert fp <= 1.2 * p, (fp, p)
    assert was.mean() <= 1.2 * p  # while filling, the rate only grows to p


def test_bloom_save_load_union(tmp_path):
    a, b = BloomFilter(1000, 0.01, seed=7), BloomFilter(1000, 0.01, seed=7)
    a.add(["one", "two"])
    b.add(["three"])
    a.save(tmp_path / "a.bloom")
    b.save(tmp_path / "b.bloom")
    la = BloomFilter.load(tmp_path / "a.bloom")
    assert (la.bits == a.bits).all() and (la.m, la.k, la.seed) == (a.m, a.k, a.seed)
    u = la.union(BloomFilter.load(tmp_path / "b.bloom"))
    assert u.contains(["one", "two", "three"]).all()
    assert not u.contains(["four"]).any()
    with pytest.raises(CoocError, match="same expected_items, fp_rate and seed"):
        a.union(BloomFilter(1000, 0.01, seed=8))
    assert main(["dedup", "bloom-union", str(tmp_path / "a.bloom"), str(tmp_path / "b.bloom"),
                 "-o", str(tmp_path / "u.bloom")]) == 0
    assert (BloomFilter.load(tmp_path / "u.bloom").bits == u.bits).all()
    assert main(["stats", str(tmp_path / "u.bloom")]) == 0
    assert main(["verify", str(tmp_path / "u.bloom")]) == 0


def test_damaged_bloom_filter_is_refused_in_one_line(tmp_path, capsys):
    f = BloomFilter(1000, 0.01)
    f.add(["x"])
    f.save(tmp_path / "f.bloom")
    bits = tmp_path / "f.bloom" / "bits.u64"
    data = bytearray(bits.read_bytes())
    data[3] ^= 0xFF
    bits.write_bytes(bytes(data))
    (tmp_path / "c.jsonl").write_text('{"text": "x"}\n')
    rc = main(["dedup", "bloom", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "out"),
               "--load-filter", str(tmp_path / "f.bloom")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "checksum" in err[0] and "damaged" in err[0]


def test_bloom_dedup_step_against_exact_on_small_corpus(tmp_path):
    texts = [f"doc {i % 50}" for i in range(300)]
    step = BloomDedup(1000, 1e-6, save_to=tmp_path / "s.bloom")
    keep = np.concatenate([step.decide(b).keep for b in batches_of(texts, 7)])
    assert keep.tolist() == [d < 0 for d in reference_documents(texts)]
    step.close()
    again = BloomDedup(initial=tmp_path / "s.bloom")
    assert not again.decide(DocumentBatch(texts[:50], np.arange(50))).keep.any()


# -- the runner ------------------------------------------------------------------------------


@settings(max_examples=20)
@given(st.lists(st.sampled_from(["same", "other", "x y", "z. w. v. u.", "q\n\nr"]),
                min_size=2, max_size=30),
       st.sampled_from(["jsonl", "jsonl.gz", "jsonl.zst", "parquet", "txt"]), st.integers(1, 7),
       st.floats(0, 1))
def test_runner_keeps_first_copies_and_accounts_for_every_record(texts, fmt, batch_size, split):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_corpus(tmp / "in", texts, fmt, bad_every=0 if fmt == "parquet" else 4,
                             split=int(split * len(texts)))
        r = run_steps(files, [ExactDedup()], tmp / "out",
                      RunOptions(batch_size=batch_size, quiet=True), checkpoint_every=2)
        check_output(tmp / "out")
        assert r["kept"] + r["removed"] + r["skipped"] == r["input_records"]
        assert r["kept"] + r["removed"] == len(texts)
        if fmt != "parquet":
            assert r["skipped"] > 0 or len(texts) < 4
        out = run_texts(tmp / "out")
        kept = [d for k, v in out.items() if k.startswith("kept") for d in v]
        removed = [d for k, v in out.items() if k.startswith("removed") for d in v]
        norm = (lambda t: t.replace("\n", " ")) if fmt == "txt" else (lambda t: t)
        want = reference_documents([norm(t) for t in texts])
        assert [d["text"] for d in kept] == [norm(t) for t, w in zip(texts, want, strict=True)
                                             if w < 0]
        assert sorted(d["cooc_duplicate_of"] for d in removed) == sorted(w for w in want if w >= 0)
        for d in removed:
            assert d["cooc_reason"] == "duplicate" and d["cooc_step"] == "dedup-exact"
            assert d["cooc_cluster"] == d["cooc_duplicate_of"]
        if fmt in ("jsonl", "jsonl.gz"):
            assert all(d["meta"] == {"k": [1, 2]} and "id" in d for d in kept + removed)
        if fmt == "parquet":
            assert all(isinstance(d["n"], int) and "id" in d for d in kept + removed)
        if fmt == "txt":
            assert (tmp / "out" / "kept" / "part0.jsonl").is_file()


def test_same_output_for_any_batch_size_memory_and_threads(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    texts = [f"t{rng.integers(0, 60)}.\n\nP{rng.integers(0, 5)}. S{rng.integers(0, 3)}."
             for _ in range(400)]
    files = write_corpus(tmp_path / "in", texts, "jsonl.gz", bad_every=9)
    monkeypatch.setattr(seen_module, "MIN_CAPACITY", 8)
    outputs = []
    runs = [(1024, 64 << 20, 1), (3, 1 << 20, 2), (17, 2 << 20, 2), (5, 8 << 20, 1)]
    for i, (batch, memory, threads) in enumerate(runs):
        step = ExactDedup("paragraph", memory_bytes=384 if batch == 3 else 0)
        r = run_steps(files, [step, ExactDedup()], tmp_path / f"out{i}",
                      RunOptions(batch_size=batch, memory_bytes=memory, num_proc=threads,
                                 quiet=True))
        assert r["kept"] + r["removed"] + r["skipped"] == r["input_records"]
        outputs.append(run_texts(tmp_path / f"out{i}"))
        if batch == 3:
            assert r["steps"][0]["spilled_runs"] > 0
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3]
    kept = [d for k, v in outputs[0].items() if k.startswith("kept") for d in v]
    assert any("cooc_removed_spans" in d for d in kept)


@pytest.mark.parametrize("fmt", ["jsonl.gz", "parquet", "txt"])
def test_killed_run_resumes_to_identical_bytes(tmp_path, fmt):
    texts = [f"doc {i % 13}\n\npara {i % 5}" for i in range(200)]
    files = write_corpus(tmp_path / "in", texts, fmt)
    opts = RunOptions(batch_size=7, quiet=True)
    whole = run_steps(files, [ExactDedup("paragraph")], tmp_path / "whole", opts,
                      checkpoint_every=3)
    with pytest.raises(Killed):
        run_steps(files, [DiesInDecide(ExactDedup("paragraph"), 17)], tmp_path / "cut", opts,
                  checkpoint_every=3)
    assert not (tmp_path / "cut").exists() and (tmp_path / "cut.work").is_dir()
    resumed = run_steps(files, [ExactDedup("paragraph")], tmp_path / "cut", opts,
                        checkpoint_every=3)
    assert resumed["resumed_at_batch"] == 15 and whole["resumed_at_batch"] == 0
    assert not (tmp_path / "cut.work").exists()
    names = sorted(str(p.relative_to(tmp_path / "whole")) for p in (tmp_path / "whole").rglob("*")
                   if p.is_file() and p.name != "report.json" and p.name != "manifest.json")
    assert names and names == sorted(
        str(p.relative_to(tmp_path / "cut")) for p in (tmp_path / "cut").rglob("*")
        if p.is_file() and p.name not in ("report.json", "manifest.json"))
    for name in names:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes()


class LongerThanMedian:
    """A global step: removes documents longer than the median length of what it was fit on."""

    name, reasons, needs_fit = "long", ("kept", "long"), True

    def __init__(self):
        self.fit_ordinals_ = []

    def fit(self, batches):
        lengths = []
        for b in batches:
            lengths += [len(t) for t in b.texts]
            self.fit_ordinals_ += b.ordinals.tolist()
        self.median_ = float(np.median(lengths))

    def decide(self, batch):
        from cooc.curate.step import Decisions

        d = Decisions.keep_all(len(batch))
        d.keep = np.array([len(t) <= self.median_ for t in batch.texts])
        d.reason = (~d.keep).astype(np.uint8)
        return d

    def report(self):
        return {}


def test_global_step_is_fit_on_what_earlier_steps_keep(tmp_path):
    texts = ["a", "bb", "a", "ccc", "bb", "dddd", "eeeee", "a"]
    files = write_corpus(tmp_path / "in", texts, "jsonl")
    long = LongerThanMedian()
    r = run_steps(files, [ExactDedup(), long], tmp_path / "out", RunOptions(batch_size=3, quiet=True))
    firsts = [i for i, d in enumerate(reference_documents(texts)) if d < 0]
    assert long.fit_ordinals_ == firsts and long.median_ == 3.0
    kept = [d["text"] for p in sorted((tmp_path / "out" / "kept").iterdir()) for d in read_output(p)]
    assert kept == ["a", "bb", "ccc"]
    assert r["steps"][1]["removed_by_reason"] == {"long": 2}
    assert r["steps"][0]["removed_by_reason"] == {"duplicate": 3}


def test_records_carry_the_same_documents(tmp_path):
    files = write_corpus(tmp_path, ["a", "b\n\nc", "d"] * 5, "jsonl", bad_every=3)
    docs = list(iter_documents(files))
    recs = list(iter_records(files))
    assert [(d.text, d.source, d.line) for d in docs] == [(d.text, d.source, d.line) for d in recs]
    assert all(d.record is None for d in docs)
    assert all(json.loads(r.record)["text"] == r.text for r in recs)


def test_cli_exact_and_errors(tmp_path, capsys):
    files = write_corpus(tmp_path / "in", ["x", "y", "x", "z. a. b. c."] * 3, "jsonl")
    out = tmp_path / "out"
    assert main(["dedup", "exact", str(tmp_path / "in"), "-o", str(out), "--granularity",
                 "span"]) == 0
    err = capsys.readouterr().err
    assert "removed" in err and "skipped" in err
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] + report["removed"] == 12 and len(files) == 2
    assert main(["dedup", "exact", str(tmp_path / "in"), "-o", str(out), "--memory", "lots"]) == 2
    assert "memory" in capsys.readouterr().err
    (tmp_path / "notdir").write_text("x")
    assert main(["dedup", "exact", str(tmp_path / "in"), "-o", str(tmp_path / "notdir")]) == 2
    assert "refusing to replace" in capsys.readouterr().err
    assert main(["dedup", "exact", str(tmp_path / "in"), "-o", str(out), "--fresh", "-q"]) == 0
    assert main(["dedup", "bloom", str(tmp_path / "in"), "-o", str(tmp_path / "b"),
                 "--fp-rate", "0"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["dedup", "bloom", str(tmp_path / "in"), "-o", str(tmp_path / "b"), "-q",
                 "--expected-items", "10000000", "--memory", "4M"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "raise memory" in err[0]


KILLER = """
import os, signal, sys
import numpy as np
from cooc.curate.exact import ExactDedup
from cooc.curate.run import run_steps
from cooc.options import RunOptions

class KillAfter(ExactDedup):
    def decide(self, batch):
        if int(batch.ordinals[0]) >= int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().decide(batch)

run_steps(sys.argv[1].split(","), [KillAfter("span")], sys.argv[2],
          RunOptions(batch_size=5, quiet=True, num_proc=2), checkpoint_every=2)
"""


def test_sigkilled_run_resumes_to_identical_bytes(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    texts = [f"S{i % 7}. T{i % 3}. U{i % 11}. V. W{i % 2}." for i in range(120)]
    files = write_corpus(tmp_path / "in", texts, "jsonl.zst")
    src = ",".join(map(str, files))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", KILLER, src, str(tmp_path / "cut"), "63"],
                          env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (tmp_path / "cut.work" / "checkpoint.json").is_file()
    opts = RunOptions(batch_size=5, quiet=True, num_proc=2)
    resumed = run_steps(files, [ExactDedup("span")], tmp_path / "cut", opts, checkpoint_every=2)
    assert resumed["resumed_at_batch"] == 12
    run_steps(files, [ExactDedup("span")], tmp_path / "whole", opts, checkpoint_every=2)
    for p in (tmp_path / "whole").rglob("part*"):
        assert p.read_bytes() == (tmp_path / "cut" / p.relative_to(tmp_path / "whole")).read_bytes()


# -- JSON lines written without re-serializing (the fast writer) against the old reference ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=5)
RECORD_LINE = st.tuples(
    st.sampled_from(["same", "other", "é 日本", "tab\t\"q\"\\", "\u2028 sep", "x"]),
    st.dictionaries(st.sampled_from(["id", "meta", "cooc_step", "cooc_cluster", "k"]),
                    JSON_VALUES, max_size=3),
    st.booleans(), st.sampled_from(["", " ", "\r", " \t "]), st.booleans(),
).map(lambda a: (json.dumps({**a[1], "text": a[0]} if a[4] else {"text": a[0], **a[1]},
                            ensure_ascii=a[2]) + a[3]).encode())


class EveryThird:
    """Removes ordinals 1 and 2 mod 3 with odd names, reasons and null/known fields."""

    name, reasons, needs_fit = 'third"{%s}', ("kept", "one%d", "two{}é"), False

    def decide(self, batch):
        from cooc.curate.step import Decisions

        d = Decisions.keep_all(len(batch))
        m = batch.ordinals % 3
        d.keep = m == 0
        d.reason = m.astype(np.uint8)
        d.duplicate_of = np.where(m == 1, -1, batch.ordinals - 1)
        d.cluster = np.where(m == 1, 7, -1)
        return d

    def report(self):
        return {}


def loads_any(line: bytes):
    import orjson

    try:
        return orjson.loads(line)
    except ValueError:  # beyond orjson (integers over 64 bits): the stdlib parser
        return json.loads(line)


@settings(max_examples=25, deadline=None)
@given(st.lists(RECORD_LINE | st.sampled_from([b"{bad", b"", b'{"text": 1}']), min_size=1,
                max_size=30), st.integers(1, 9), st.sampled_from(["jsonl", "jsonl.zst"]),
       st.booleans())
def test_jsonl_output_equals_the_re_serializing_reference(lines, batch_size, fmt, two_steps):
    """Kept lines are the input lines byte for byte; removed lines parse (orjson) to what
    the old writer made: the record re-serialized with the added fields after its own."""
    import tempfile

    import zstandard

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "in" / f"a.{fmt}"
        path.parent.mkdir()
        data = b"".join(line + b"\n" for line in lines)
        path.write_bytes(zstandard.ZstdCompressor().compress(data) if fmt.endswith("zst")
                         else data)
        steps = [ExactDedup(), EveryThird()] if two_steps else [ExactDedup()]
        r = run_steps([path], steps, tmp / "out", RunOptions(batch_size=batch_size, quiet=True),
                      checkpoint_every=2)
        docs = list(iter_records([path]))  # the reference reader
        texts = [d.text for d in docs]
        kept, removed = [], []
        for i, (doc, dup) in enumerate(zip(docs, reference_documents(texts), strict=True)):
            line = doc.record.rstrip(b"\n")
            if dup >= 0:
                fields = ("dedup-exact", "duplicate", dup, dup)
            elif two_steps and i % 3:
                fields = (EveryThird.name, EveryThird.reasons[i % 3],
                          None if i % 3 == 1 else i - 1, 7 if i % 3 == 1 else None)
            else:
                kept.append(line + b"\n")
                continue
            obj = json.loads(line)
            obj.update(zip(("cooc_step", "cooc_reason", "cooc_duplicate_of", "cooc_cluster"),
                           fields, strict=True))
            removed.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())
        assert r["kept"] == len(kept) and r["removed"] == len(removed)
        raw = {}
        for kind in ("kept", "removed"):
            b = (tmp / "out" / kind / f"a.{fmt}").read_bytes()
            raw[kind] = (zstandard.ZstdDecompressor().stream_reader(
                io.BytesIO(b), read_across_frames=True).read() if fmt.endswith("zst") else b)
        assert raw["kept"] == b"".join(kept)
        got = raw["removed"].splitlines()
        assert len(got) == len(removed)
        for g, want in zip(got, removed, strict=True):
            a, b = loads_any(g), json.loads(want)
            assert a == b and list(a) == list(b)


@pytest.mark.parametrize("fmt", ["jsonl.gz", "jsonl.zst", "jsonl"])
def test_writing_thread_gives_the_same_bytes(tmp_path, fmt):
    texts = [f"doc {i % 17} é" for i in range(300)]
    files = write_corpus(tmp_path / "in", texts, fmt, bad_every=11)
    for threads in (1, 2):
        run_steps(files, [ExactDedup()], tmp_path / f"out{threads}",
                  RunOptions(batch_size=7, num_proc=threads, quiet=True), checkpoint_every=3)
        check_output(tmp_path / f"out{threads}")
    names = sorted(p.relative_to(tmp_path / "out1") for p in (tmp_path / "out1").rglob("part*"))
    assert len(names) == 4
    for name in names:
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()
