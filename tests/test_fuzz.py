"""Fuzz suite (issue "Trust"): random bytes and structured mutations into every reader and
every artefact, through the CLI.

The property, for every command: exit 0 with a correct result, or exit 2 with one
`cooc: error:` line on stderr (exit 1 only for `verify`, with its findings on stdout) -- never
a signal, a Python traceback, a hang, or an exit-0 wrong answer. The CLI runs in a long-lived
worker process (`fuzz_harness.Worker`): a segfault or a hang kills the worker, not pytest.

Inputs:
- corpus files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt, .txt.gz, .txt.zst): random
  bytes and generated/mutated valid files -> `build`, `tokenize` (+ `build STORE`),
  `ngram count`, `lm estimate`. Exit 0 is fine (bad records are skipped); a build that
  succeeds must pass its own `verify`, and the index built through the token store must equal
  the direct one.
- ARPA files (plain, .gz): line edits of a real model and ARPA-shaped noise -> `lm arpa`,
  `lm score`, `lm index` (+ `lm score` of the trie). What `lm arpa` accepts the others must
  accept, and the float32 trie must score as the ARPA file does.
- Google n-gram folders: line edits of a real export, sidecar edits -> `ngram import`; an
  import that succeeds must pass `ngram verify`.
- artefacts (X.cooc + X.cooc.positions, X.tokens, X.ngrams, X.lm), built once per module:
  byte flips, truncations, growth, deleted files, JSON edits of the manifests (numbers +-1, 0,
  -1, huge, wrong types, removed keys, nested garbage), with or without fixing the checksums
  and sizes the manifest records -> `verify`, `stats`, queries, builds from the store. A
  command that exits 0 must print what it prints for the unmutated artefact (edits of
  descriptive manifest fields may change what `stats` prints); if `verify` passes, every other
  command must too.

Budget: each fuzz test runs 8-30 examples by default (the whole file, replays included, takes
~2.5 min on 2 shared cores), derandomized: the same cases every run. COOC_FUZZ_RANDOM=1 draws
new ones, COOC_FUZZ_EXAMPLES=N runs N examples per fuzz test, COOC_FUZZ_SURVEY=1 (random too)
catalogues new failures instead of failing.

Findings: a failure is named by a signature (`fuzz_harness.signature`); those listed in
`fuzz_cases/findings.json` are known (tolerated by the fuzz tests, replayed as
xfail(strict=True) by `test_replay`), any other fails the test and the minimized case is
written to $COOC_FUZZ_SAVE_DIR (default: out/fuzz_new/) for `fuzz_cases/`.
"""

from __future__ import annotations

import copy
import fnmatch
import gzip
import hashlib
import json
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import fuzz_harness as fh
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_edit import resealed

from cooc.formats.manifest import MANIFEST_CHECKSUM

CASES = fh.CASES
FINDINGS_FILE = CASES / "findings.json"
SAVE_DIR = Path(os.environ.get("COOC_FUZZ_SAVE_DIR", fh.ROOT / "out" / "fuzz_new"))
_EXAMPLES = int(os.environ.get("COOC_FUZZ_EXAMPLES", "0") or 0)
# COOC_FUZZ_SURVEY=1: record every new failure (first case of each signature) in
# $COOC_FUZZ_SAVE_DIR/survey.jsonl instead of failing: a long run that catalogues findings
SURVEY = os.environ.get("COOC_FUZZ_SURVEY", "") not in ("", "0")


# The fuzz tests draw the same cases on every run (derandomized) unless asked to explore:
# the README's test command must pass on any fresh machine; new cases are looked for on
# purpose, with COOC_FUZZ_RANDOM=1 or COOC_FUZZ_SURVEY=1 (a finding is then saved, and fixed
# or listed, as the module says)
EXPLORE = SURVEY or os.environ.get("COOC_FUZZ_RANDOM", "") not in ("", "0")


def budget(default: int) -> settings:
    """Examples per fuzz test: `default` (sized for the CI budget) or $COOC_FUZZ_EXAMPLES."""
    return settings(max_examples=_EXAMPLES or default, deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=not EXPLORE)


def load_findings() -> list[dict]:
    return json.loads(FINDINGS_FILE.read_text()) if FINDINGS_FILE.exists() else []


FINDINGS = load_findings()


def known(sig: str) -> dict | None:
    for f in FINDINGS:
        if any(fnmatch.fnmatchcase(sig, pat) for pat in f.get("match", [])):
            return f
    return None


# -- the tiny corpus and the artefacts built from it ---------------------------------------

DOCS = [
    "the cat sat on the mat",
    "a dog and a cat",
    "the quick brown fox jumps over the lazy dog",
    "cat dog fox mat",
    "on the mat the cat sat",
    "the dog sat on a mat",
    "a cat and a dog and a fox",
]
SENTENCES = "the cat sat\na dog\nzebra the mat\n"
WS = ["--tokenizer", "whitespace"]


@dataclass
class Probe:
    """Commands run in order (stopping at the first that does not exit 0); its result is the
    last exit status, the stdouts and the contents of `collect` (files or folders)."""

    name: str
    steps: list[list[str]]
    collect: list[str] = field(default_factory=list)
    role: str = "query"  # "verify" (exit 1 allowed), "stats" (shows descriptive fields), "query"


PROBES: dict[str, list[Probe]] = {
    "cooc": [
        Probe("verify", [["verify", "a.cooc"]] + [["verify", f"a.cooc.positions/{c}.cooc"] for c in
                                                 ("pairs", "distance", "first", "first_distance")],
              role="verify"),
        Probe("stats", [["stats", "a.cooc"]], role="stats"),
        Probe("neighbours", [["neighbours", "a.cooc", "cat", "--json"]]),
        Probe("neighbours-pmi", [["neighbours", "a.cooc", "the", "--by", "npmi", "-k", "5"]]),
        Probe("top", [["top", "a.cooc", "-n", "5"]]),
        Probe("mutual", [["mutual", "a.cooc", "cat", "dog"]]),
        Probe("common", [["common", "a.cooc", "cat", "#1"]]),
        Probe("positions", [["positions", "a.cooc", "cat", "dog", "--json"]]),
        Probe("export", [["export", "a.cooc", "-f", "tsv", "-o", "out.tsv"]], ["out.tsv"]),
        Probe("diff", [["diff", "b.cooc", "a.cooc", "--json", "-t", "cat"]], role="stats"),
        Probe("merge", [["merge", "a.cooc", "b.cooc", "-o", "m.cooc", "-q", "--num-proc", "1"],
                        ["neighbours", "m.cooc", "dog", "--json"]]),
    ],
    "tokens": [
        Probe("verify", [["verify", "a.tokens"]], role="verify"),
        Probe("build", [["build", "a.tokens", "-o", "y.cooc", "-q", "--num-proc", "1"],
                        ["stats", "y.cooc", "--json"], ["neighbours", "y.cooc", "cat", "--json"]],
              role="stats"),
        Probe("ngram", [["ngram", "count", "a.tokens", "-o", "y.ngrams", "-q", "--num-proc", "1"],
                        ["ngram", "continuations", "y.ngrams", "the", "--json"]]),
    ],
    "ngrams": [
        Probe("verify", [["ngram", "verify", "a.ngrams"]], role="verify"),
        Probe("stats", [["ngram", "stats", "a.ngrams"]], role="stats"),
        Probe("lookup", [["ngram", "lookup", "a.ngrams", "the cat", "--json"]]),
        Probe("lookup3", [["ngram", "lookup", "a.ngrams", "a cat and"]]),
        Probe("continuations", [["ngram", "continuations", "a.ngrams", "a", "--json"]]),
        Probe("unigrams", [["ngram", "continuations", "a.ngrams", "", "--top-k", "0"]]),
        # the k-gram files (the sidecar copies the manifest's header: descriptive)
        Probe("export", [["ngram", "export", "a.ngrams", "-o", "exp"]],
              ["exp/1-grams", "exp/2-grams", "exp/3-grams"]),
    ],
    "lm": [
        Probe("score", [["lm", "score", "a.lm", "s.txt", "--per-token"]]),
        Probe("score-json", [["lm", "score", "a.lm", "the cat sat on the mat", "--json"]]),
    ],
}
ARTEFACT_DIRS = {"cooc": ["a.cooc", "a.cooc.positions"], "tokens": ["a.tokens"],
                 "ngrams": ["a.ngrams"], "lm": ["a.lm"]}
# manifest fields that only describe (stats may print them): edits may change `stats` output
DESCRIPTIVE = {
    "cooc": ("created_by", "meta", "id_order"),
    "tokens": ("created_by", "corpus", "skip_report", "fingerprint", "text_field"),
    "ngrams": ("created_by", "corpus", "skip_report", "documents", "tokens", "bytes", "config"),
    "lm": ("created_by", "bytes", "dropped"),
}


class Fuzz:
    """The worker, the pristine artefacts and the probes' outputs on them."""

    def __init__(self, root: Path):
        self.root = root
        self.worker = fh.Worker()
        self.n = 0
        self.base = root / "base"
        self.base.mkdir()
        self.baseline: dict[str, dict[str, tuple]] = {}

    def close(self) -> None:
        self.worker.shutdown()

    def newdir(self, prefix: str) -> Path:
        self.n += 1
        d = self.root / f"{prefix}-{self.n}"
        d.mkdir()
        return d

    def run(self, argv: list[str], cwd: Path, **kw) -> fh.Outcome:
        o = self.worker.run(argv, cwd=cwd, **kw)
        if o.hang:  # a slow first compile in a fresh worker is not a hang: once more, longer
            again = self.worker.run(argv, cwd=cwd, timeout=4 * self.worker.timeout)
            if not again.hang:
                return again
        return o

    def must(self, argv: list[str], cwd: Path) -> fh.Outcome:
        o = self.worker.run(argv, cwd=cwd, timeout=600, in_process=True)  # warms the worker
        assert o.rc == 0 and o.ok_status, fh.describe(o)
        return o

    def build(self) -> None:
        b = self.base
        (b / "c.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in DOCS))
        (b / "c.txt").write_text("".join(d + "\n" for d in DOCS))
        (b / "s.txt").write_text(SENTENCES)
        q = ["-q", "--num-proc", "1"]
        self.must(["build", "c.jsonl", "-o", "a.cooc", *WS, *q, "--positions"], b)
        self.must(["build", "c.jsonl", "-o", "b.cooc", *WS, *q], b)
        self.must(["tokenize", "c.jsonl", "-o", "a.tokens", *WS, *q], b)
        self.must(["ngram", "count", "c.jsonl", "-o", "a.ngrams", *WS, *q], b)
        self.must(["lm", "estimate", "c.txt", "-o", "m.arpa", *WS, *q, "--order", "3",
                   "--discount-fallback", "0.5", "1", "1.5"], b)
        self.must(["lm", "index", "m.arpa", "-o", "a.lm"], b)
        self.must(["ngram", "export", "a.ngrams", "-o", "google"], b)
        for kind in PROBES:
            d = self.artefact_copy(kind)
            # in the worker itself first: its kernels are then compiled for every case
            first = {p.name: run_probe(self, p, d, in_process=True)[1] for p in PROBES[kind]}
            shutil.rmtree(d)
            d = self.artefact_copy(kind)
            again = {p.name: run_probe(self, p, d)[1] for p in PROBES[kind]}
            shutil.rmtree(d)
            for name, (rc, out) in first.items():
                assert rc == 0, f"baseline {kind} {name}: exit {rc}\n{out}"
                assert again[name] == (rc, out), f"baseline {kind} {name} is not deterministic"
            self.baseline[kind] = first
        threads = self.worker.run(selftest="threads", in_process=True).stdout.split()
        assert threads == ["MainThread"], f"the worker forks with threads running: {threads}"

    def artefact_copy(self, kind: str) -> Path:
        d = self.newdir(kind)
        for name in ARTEFACT_DIRS[kind]:
            shutil.copytree(self.base / name, d / name)
        if kind == "cooc":
            shutil.copytree(self.base / "b.cooc", d / "b.cooc")
        shutil.copy(self.base / "s.txt", d / "s.txt")
        return d

    def artefact_files(self, kind: str) -> list[str]:
        return sorted(str(p.relative_to(self.base)) for name in ARTEFACT_DIRS[kind]
                      for p in (self.base / name).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def fz(tmp_path_factory):
    f = Fuzz(tmp_path_factory.mktemp("fuzz"))
    try:
        f.build()
        yield f
    finally:
        f.close()


def _read_collected(d: Path, rel: str) -> str:
    p = d / rel
    if p.is_dir():
        return "".join(f"--- {q.relative_to(d)}\n" + q.read_bytes().decode("utf-8", "replace")
                       for q in sorted(p.rglob("*")) if q.is_file())
    return p.read_bytes().decode("utf-8", "replace") if p.exists() else "<missing>"


def run_probe(fz: Fuzz, probe: Probe, d: Path, check: Checker | None = None,
              in_process: bool = False):
    """(outcomes, (exit status, output)) of a probe in folder d."""
    outs, text = [], []
    rc = 0
    for argv in probe.steps:
        o = fz.worker.run(argv, cwd=d, in_process=True) if in_process else fz.run(argv, cwd=d)
        outs.append(o)
        if check is not None:
            check.prop(o, allow_rc1=probe.role == "verify")
        rc = o.rc if o.ok_status else None
        text.append(o.stdout)
        if rc != 0:
            break
    if rc == 0:
        text += [_read_collected(d, c) for c in probe.collect]
    return outs, (rc, "\n".join(text))


# -- checking ---------------------------------------------------------------------------------


@dataclass
class Failure:
    signature: str
    message: str


class Checker:
    """Collects the failures of one example; `context` names the input kind."""

    def __init__(self, fz: Fuzz, context: str):
        self.fz = fz
        self.context = context
        self.failures: list[Failure] = []

    def prop(self, o: fh.Outcome, allow_rc1: bool = False) -> bool:
        p = fh.problem(o, allow_rc1=allow_rc1)
        if p:
            self.failures.append(Failure(fh.signature(o, self.context), p + "\n" + fh.describe(o)))
        return p is None

    def wrong(self, what: str, o: fh.Outcome | None, detail: str, klass: str = "") -> None:
        cmd = fh.command_name(o.argv) if o else "?"
        sig = f"{self.context}{'|' + klass if klass else ''}|{cmd}|wrong:{what}"
        self.failures.append(Failure(sig, f"exit-0 wrong answer: {what}\n{detail}"
                                     + ("\n" + fh.describe(o) if o else "")))

    def call(self, argv: list[str], cwd: Path, allow_rc1: bool = False) -> fh.Outcome:
        o = self.fz.run(argv, cwd=cwd)
        self.prop(o, allow_rc1)
        return o


def settle(check: Checker, save) -> None:
    """Fail on failures that are not known findings; save the case of a new one."""
    new = [f for f in check.failures if known(f.signature) is None]
    if not new:
        return
    sigs = sorted({f.signature for f in new})
    name = hashlib.sha1("\n".join(sigs).encode()).hexdigest()[:10]
    SAVE_DIR.mkdir(parents=True, exist_ok=True)
    if SURVEY:  # catalogue the failures (the first case of each signature), do not fail
        for f in new:
            h = hashlib.sha1(f.signature.encode()).hexdigest()[:10]
            if not list(SAVE_DIR.glob(h + ".*")):
                where = save(SAVE_DIR, h)
                with open(SAVE_DIR / "survey.jsonl", "a") as log:
                    log.write(json.dumps({"signature": f.signature, "case": str(where),
                                          "message": f.message[:3000]}) + "\n")
        return
    where = save(SAVE_DIR, name)
    lines = [f"{len(new)} new fuzz finding(s); case saved as {where}"]
    for f in new:
        lines += [f"== {f.signature}", f.message[:4000]]
    raise AssertionError("\n".join(lines))


# -- byte mutations -----------------------------------------------------------------------

def apply_byte_ops(data: bytes, ops: list) -> bytes:
    b = bytearray(data)
    for op in ops:
        kind = op[0]
        n = len(b)
        if kind == "flip" and n:
            b[op[1] % n] ^= op[2] or 1
        elif kind == "set" and n:
            b[op[1] % n] = op[2]
        elif kind == "truncate":
            del b[op[1] % (n + 1):]
        elif kind == "insert":
            pos = op[1] % (n + 1)
            b[pos:pos] = bytes.fromhex(op[2])
        elif kind == "delete" and n:
            pos = op[1] % n
            del b[pos:pos + op[2]]
        elif kind == "zero":
            b[:] = bytes(n)
        elif kind == "replace":
            b[:] = bytes.fromhex(op[1])
    return bytes(b)


POS = st.integers(0, 1 << 16)
BYTE_OP = st.one_of(
    st.tuples(st.just("flip"), POS, st.integers(1, 255)),
    st.tuples(st.just("set"), POS, st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, ord("\n"), ord('"')])),
    st.tuples(st.just("truncate"), POS),
    st.tuples(st.just("insert"), POS, st.binary(min_size=1, max_size=16).map(bytes.hex)),
    st.tuples(st.just("delete"), POS, st.integers(1, 16)),
    st.tuples(st.just("zero")),
    st.tuples(st.just("replace"), st.binary(max_size=64).map(bytes.hex)),
).map(list)
BYTE_OPS = st.lists(BYTE_OP, min_size=1, max_size=3)


# -- corpus inputs -----------------------------------------------------------------------

CORPUS_SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet", ".txt", ".txt.gz", ".txt.zst"]
WORDS = ["the", "cat", "dog", "a", "mat", "</s>", "<s>", "<unk>", "é", "\u2028", "\x00", "\t",
         "\ufeff", "\ud7ff", "猫", "🐈", "\\", '"', "\r", " "]
TEXT = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=24),
)
JSON_VALUE = st.recursive(
    st.one_of(TEXT, st.integers(-(2**70), 2**70), st.none(), st.booleans(),
              st.floats(allow_nan=True, allow_infinity=True)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
RECORD = st.one_of(
    st.fixed_dictionaries({"text": TEXT}),
    st.fixed_dictionaries({"text": JSON_VALUE}, optional={"id": st.integers(), "x": JSON_VALUE}),
    JSON_VALUE,
)
JSON_LINE = st.one_of(
    RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    RECORD.map(lambda r: json.dumps(r).encode()),
    st.binary(max_size=24),
    st.sampled_from([b"", b" ", b"{", b'{"text": "unterminated', b'{"text": "a\\ud800b"}',
                     b'{"text": "x", "text": 3}', b"\xef\xbb\xbf{}", b"[1, 2", b"null",
                     b'{"text": "' + b"w " * 2000 + b'"}', b"[" * 3000, b'{"text": ' + b"[" * 3000,
                     b'{"text": 1' + b"0" * 5000 + b"}", b'{"text": "\\u0000 \\udfff"}']),
)
TXT_LINE = st.one_of(TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=24))


def _join(lines: list[bytes], crlf: bool, bom: bool, final_newline: bool) -> bytes:
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(lines) + (sep if final_newline else b"")
    return (b"\xef\xbb\xbf" if bom else b"") + data


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if suffix.endswith(".zst"):
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


PARQUET_COLUMN = st.one_of(
    st.lists(st.one_of(TEXT, st.none()), max_size=6).map(lambda v: ("string", v)),
    st.lists(st.one_of(TEXT, st.none()), max_size=6).map(lambda v: ("large_string", v)),
    st.lists(st.one_of(TEXT, st.none()), max_size=6).map(lambda v: ("dictionary", v)),
    st.lists(st.one_of(st.binary(max_size=10), st.none()), max_size=6).map(lambda v: ("binary", v)),
    st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.none()), max_size=6).map(lambda v: ("int64", v)),
    st.lists(st.lists(TEXT, max_size=2), max_size=4).map(lambda v: ("list", v)),
    st.lists(st.fixed_dictionaries({"a": TEXT}), max_size=4).map(lambda v: ("struct", v)),
)


def make_parquet(columns: dict, row_group: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    n = min((len(v) for _, v in columns.values()), default=0)
    for name, (typ, values) in columns.items():
        values = values[:n]
        if typ == "string":
            arr = pa.array(values, pa.string())
        elif typ == "large_string":
            arr = pa.array(values, pa.large_string())
        elif typ == "dictionary":
            arr = pa.array(values, pa.string()).dictionary_encode()
        elif typ == "binary":
            arr = pa.array(values, pa.binary())
        elif typ == "int64":
            arr = pa.array(values, pa.int64())
        else:
            arr = pa.array(values)
        arrays.append(arr)
        names.append(name)
    table = pa.table(arrays, names=names) if arrays else pa.table({})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=max(1, row_group))
    return sink.getvalue().to_pybytes()


@st.composite
def corpus_inputs(draw, suffix: str | None = None) -> tuple[str, bytes]:
    """(suffix, file bytes): random bytes, or a generated file, maybe mutated (before or after
    compression)."""
    suffix = suffix or draw(st.sampled_from(CORPUS_SUFFIXES))
    if draw(st.integers(0, 5)) == 0:
        return suffix, draw(st.binary(max_size=300))
    if suffix == ".parquet":
        cols = draw(st.dictionaries(st.sampled_from(["text", "other", "Text"]), PARQUET_COLUMN,
                                    min_size=0, max_size=2))
        data = make_parquet(cols, draw(st.integers(1, 4)))
    else:
        line = JSON_LINE if suffix.startswith(".json") else TXT_LINE
        raw = _join(draw(st.lists(line, max_size=8)), draw(st.booleans()),
                    draw(st.integers(0, 7)) == 0, draw(st.integers(0, 3)) > 0)
        if draw(st.integers(0, 3)) == 0:
            raw = apply_byte_ops(raw, draw(BYTE_OPS))
        data = _compress(raw, suffix)
        if suffix.endswith((".gz", ".zst")) and draw(st.integers(0, 2)) == 0:
            extra = draw(st.sampled_from([b"", b"garbage", data]))  # trailing junk, 2 members
            data = data + extra
    if draw(st.integers(0, 2)) == 0:
        data = apply_byte_ops(data, draw(BYTE_OPS))
    return suffix, data


def check_corpus(fz: Fuzz, suffix: str, data: bytes) -> Checker:
    c = Checker(fz, f"corpus:{suffix}")
    d = fz.newdir("corpus")
    name = "in" + suffix
    (d / name).write_bytes(data)
    q = [*WS, "-q", "--num-proc", "1"]
    built = c.call(["build", name, "-o", "a.cooc", *q], d)
    if built.rc == 0:
        v = c.call(["verify", "a.cooc"], d, allow_rc1=True)
        if v.rc != 0 and v.ok_status:
            c.wrong("built an index its own verify rejects", v, v.stdout)
    tok = c.call(["tokenize", name, "-o", "a.tokens", *q], d)
    if tok.rc == 0:
        v = c.call(["verify", "a.tokens"], d, allow_rc1=True)
        if v.rc != 0 and v.ok_status:
            c.wrong("wrote a token store its own verify rejects", v, v.stdout)
        via = c.call(["build", "a.tokens", "-o", "b.cooc", "-q", "--num-proc", "1"], d)
        if via.rc == 0 and built.rc == 0:
            a, b = _array_sums(d / "a.cooc"), _array_sums(d / "b.cooc")
            if a != b:
                c.wrong("the index built through the token store differs from the direct one",
                        via, f"direct {a}\nvia store {b}")
    ng = c.call(["ngram", "count", name, "-o", "a.ngrams", *q], d)
    if ng.rc == 0:
        v = c.call(["ngram", "verify", "a.ngrams"], d, allow_rc1=True)
        if v.rc != 0 and v.ok_status:
            c.wrong("counted an n-gram index its own verify rejects", v, v.stdout)
    lm = c.call(["lm", "estimate", name, "-o", "a.arpa", *q, "--order", "3",
                 "--discount-fallback", "0.5", "1", "1.5"], d)
    if lm.rc == 0:
        v = c.call(["lm", "arpa", "a.arpa"], d)
        if v.rc != 0 and v.ok_status:
            c.wrong("estimated an ARPA file `lm arpa` rejects", v, v.stderr)
    shutil.rmtree(d, ignore_errors=True)
    return c


def _array_sums(index: Path) -> list:
    try:
        m = json.loads((index / "manifest.json").read_text())
        return [(a["name"], a["sha256"]) for a in m["arrays"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"unreadable: {e}"]


def save_corpus(suffix: str, data: bytes):
    def save(where: Path, name: str) -> Path:
        p = where / f"{name}{suffix}"
        p.write_bytes(data)
        return p
    return save


@pytest.mark.parametrize("suffix", CORPUS_SUFFIXES)
def test_fuzz_corpus_readers(fz, suffix):
    @budget(8)
    @given(inp=corpus_inputs(suffix))
    def run(inp):
        sfx, data = inp
        settle(check_corpus(fz, sfx, data), save_corpus(sfx, data))

    run()


# -- ARPA inputs ---------------------------------------------------------------------------

ARPA_NUMBERS = ["nan", "inf", "-inf", "0", "-0", "1e39", "-1e39", "1", "-99", "", "x", "1e-50",
                "3.4e38", "-3.5e38", "99999999999", "-1", "0x10", "-0.5", "1e400", "--1",
                "18446744073709551617", "2147483648"]
ARPA_TOKENS = ["<unk>", "<s>", "</s>", "a", "cat", "zzz", "", "\x00", "é", "a b", "\\", "\ufeff"]
ARPA_NOISE = ["\\data\\", "ngram 1=2", "ngram 2=1", "ngram 3=1", "ngram 1=0", "\\1-grams:",
              "\\2-grams:", "\\3-grams:", "\\end\\", "-0.5\t<s>\t-0.1", "-1\t</s>", "-1\t<unk>",
              "-0.3\t<s> </s>", "-0.2\ta", "-0.2\t<s> a </s>", "", " ", "\t", "ngram 9=1",
              "\\9-grams:", "ngram 1=99999999999"]

LINE_OP = st.one_of(
    st.tuples(st.just("del"), POS),
    st.tuples(st.just("dup"), POS),
    st.tuples(st.just("swap"), POS, POS),
    st.tuples(st.just("field"), POS, st.integers(0, 4), st.sampled_from(ARPA_NUMBERS + ARPA_TOKENS)),
    st.tuples(st.just("ins"), POS, st.sampled_from(ARPA_NOISE) | TEXT),
    st.tuples(st.just("sep"), POS, st.sampled_from([" ", "  ", "\t\t", "\r\t", ""])),
).map(list)


def apply_line_ops(text: str, ops: list) -> str:
    lines = text.split("\n")
    for op in ops:
        n = len(lines)
        if not n:
            break
        i = op[1] % n
        if op[0] == "del":
            del lines[i]
        elif op[0] == "dup":
            lines.insert(i, lines[i])
        elif op[0] == "swap":
            j = op[2] % n
            lines[i], lines[j] = lines[j], lines[i]
        elif op[0] == "field":
            parts = re.split(r"(\s+)", lines[i])
            words = [k for k in range(0, len(parts), 2)]
            if words:
                parts[words[op[2] % len(words)]] = op[3]
                lines[i] = "".join(parts)
        elif op[0] == "ins":
            lines.insert(i, op[2])
        elif op[0] == "sep":
            lines[i] = lines[i].replace("\t", op[2])
    return "\n".join(lines)


@st.composite
def arpa_inputs(draw, base_text: str, gz: bool) -> bytes:
    how = draw(st.integers(0, 9))
    if how == 0:
        data = draw(st.binary(max_size=200))
    elif how == 1:
        data = "\n".join(draw(st.lists(st.sampled_from(ARPA_NOISE), max_size=14))).encode()
    else:
        data = apply_line_ops(base_text, draw(st.lists(LINE_OP, min_size=1, max_size=3))).encode(
            "utf-8", "surrogatepass")
        if draw(st.integers(0, 3)) == 0:
            data = apply_byte_ops(data, draw(BYTE_OPS))
    if gz:
        data = gzip.compress(data, mtime=0)
        if draw(st.integers(0, 2)) == 0:
            data = apply_byte_ops(data, draw(BYTE_OPS))
    return data


def check_arpa(fz: Fuzz, data: bytes, gz: bool) -> Checker:
    name = "m.arpa.gz" if gz else "m.arpa"
    c = Checker(fz, "arpa" + (".gz" if gz else ""))
    d = fz.newdir("arpa")
    (d / name).write_bytes(data)
    (d / "s.txt").write_text(SENTENCES)
    a = c.call(["lm", "arpa", name, "--json"], d)
    s = c.call(["lm", "score", name, "s.txt", "--per-token"], d)
    x = c.call(["lm", "index", name, "-o", "a.lm", "--bits", "0"], d)
    if a.rc == 0:
        for o in (s, x):
            if o.ok_status and o.rc != 0:
                c.wrong("`lm arpa` accepts a model this command refuses", o, a.stdout)
    t = None
    if x.rc == 0:
        t = c.call(["lm", "score", "a.lm", "s.txt", "--per-token"], d)
    if t is not None and s.rc == 0 and t.rc == 0 and t.stdout != s.stdout:
        c.wrong("the float32 trie scores differently from the ARPA file", t,
                f"ARPA:\n{s.stdout}\ntrie:\n{t.stdout}")
    if a.rc == 2 and s.rc == 0 and s.ok_status:
        c.wrong("`lm score` uses a model `lm arpa` refuses", s, a.stderr)
    shutil.rmtree(d, ignore_errors=True)
    return c


def save_bytes(name_suffix: str, data: bytes):
    def save(where: Path, name: str) -> Path:
        p = where / f"{name}{name_suffix}"
        p.write_bytes(data)
        return p
    return save


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_fuzz_arpa(fz, gz):
    base_text = (fz.base / "m.arpa").read_text()

    @budget(20)
    @given(data=arpa_inputs(base_text, gz))
    def run(data):
        settle(check_arpa(fz, data, gz), save_bytes(".arpa.gz" if gz else ".arpa", data))

    run()


# -- Google n-gram folders -----------------------------------------------------------------

GOOGLE_OP = st.one_of(
    st.tuples(st.just("lines"), st.sampled_from(["1-grams", "2-grams", "3-grams"]),
              st.lists(LINE_OP, min_size=1, max_size=3)),
    st.tuples(st.just("bytes"), st.sampled_from(["1-grams", "2-grams", "3-grams", "cooc-ngrams.json"]),
              BYTE_OPS),
    st.tuples(st.just("remove"), st.sampled_from(["1-grams", "2-grams", "3-grams", "cooc-ngrams.json"])),
    st.tuples(st.just("gzip"), st.sampled_from(["1-grams", "2-grams", "3-grams"])),
    st.tuples(st.just("add"), st.sampled_from(["4-grams", "9-grams", "0-grams", "1-grams.gz"]),
              st.binary(max_size=40).map(bytes.hex)),
).map(list)


def apply_google_ops(files: dict[str, bytes], ops: list, json_ops: list) -> dict[str, bytes]:
    files = dict(files)
    for op in ops:
        if op[0] == "lines" and op[1] in files:
            files[op[1]] = apply_line_ops(files[op[1]].decode("utf-8", "surrogateescape"),
                                          op[2]).encode("utf-8", "surrogateescape")
        elif op[0] == "bytes" and op[1] in files:
            files[op[1]] = apply_byte_ops(files[op[1]], op[2])
        elif op[0] == "remove":
            files.pop(op[1], None)
        elif op[0] == "gzip" and op[1] in files:
            files[op[1] + ".gz"] = gzip.compress(files.pop(op[1]), mtime=0)
        elif op[0] == "add":
            files[op[1]] = bytes.fromhex(op[2])
    if json_ops and "cooc-ngrams.json" in files:
        try:
            doc = json.loads(files["cooc-ngrams.json"])
        except ValueError:
            doc = None
        if doc is not None:
            for path, edit in json_ops:
                doc = apply_json_edit(doc, path, edit)
            files["cooc-ngrams.json"] = json.dumps(doc).encode()
    return files


def check_google(fz: Fuzz, files: dict[str, bytes]) -> Checker:
    c = Checker(fz, "google")
    d = fz.newdir("google")
    (d / "g").mkdir()
    for name, data in files.items():
        (d / "g" / name).write_bytes(data)
    imp = c.call(["ngram", "import", "g", "-o", "a.ngrams"], d)
    if imp.rc == 0:
        v = c.call(["ngram", "verify", "a.ngrams"], d, allow_rc1=True)
        if v.rc != 0 and v.ok_status:
            c.wrong("imported an n-gram index its own verify rejects", v, v.stdout)
        c.call(["ngram", "stats", "a.ngrams"], d)
        c.call(["ngram", "lookup", "a.ngrams", "the cat"], d)
        c.call(["ngram", "continuations", "a.ngrams", "", "--top-k", "3"], d)
    shutil.rmtree(d, ignore_errors=True)
    return c


def save_google(files: dict[str, bytes]):
    def save(where: Path, name: str) -> Path:
        p = where / f"{name}.google"
        p.mkdir(exist_ok=True)
        for k, v in files.items():
            (p / k).write_bytes(v)
        return p
    return save


def test_fuzz_google_import(fz):
    base = {p.name: p.read_bytes() for p in (fz.base / "google").iterdir()}
    sidecar_paths = json_paths(json.loads(base["cooc-ngrams.json"]))

    @budget(25)
    @given(ops=st.lists(GOOGLE_OP, max_size=3),
           json_ops=st.lists(st.tuples(st.sampled_from(sidecar_paths), JSON_EDIT), max_size=2),
           noise=st.none() | st.dictionaries(st.sampled_from(["1-grams", "2-grams", "cooc-ngrams.json"]),
                                             st.binary(max_size=60), min_size=1))
    def run(ops, json_ops, noise):
        files = noise if noise is not None else apply_google_ops(base, ops, json_ops)
        settle(check_google(fz, files), save_google(files))

    run()


# -- JSON edits (manifests, vocabularies, sidecars) ----------------------------------------

INT_EDITS = ["+1", "-1", "zero", "neg1", "2**31", "2**32", "2**63-1", "2**63", "2**64", "-2**63",
             "10**30", "*2", "//2", "1.0*"]
VALUES = [None, True, False, "", "x", 1.5, math.nan, math.inf, 1e308, [], {}, [[[[[[]]]]]],
          {"a": {"b": {"c": [None]}}}, "<u8", ">u8", "|O", "<f8", "V8", "S3", "<i4",
          "../manifest.json", "/dev/zero", ".", "manifest.json", "sha256", "md5", "-1", "0",
          "COOC-INDEX", "whitespace", "qwen"]
JSON_EDIT = st.one_of(
    st.tuples(st.just("int"), st.sampled_from(INT_EDITS)),
    st.tuples(st.just("set"), st.sampled_from(range(len(VALUES)))),
    st.tuples(st.just("remove")),
    st.tuples(st.just("wrap")),
    st.tuples(st.just("dup")),
    st.tuples(st.just("str"), st.sampled_from(["append", "upper", "empty"])),
).map(list)


def json_paths(doc, prefix=()) -> list[list]:
    """Every path in a JSON document (keys and indices), the root included."""
    out = [list(prefix)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_paths(v, (*prefix, i))
    return out


def _int_edit(v, e):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        v = 0
    v = int(v) if not (isinstance(v, float) and not math.isfinite(v)) else 0
    return {"+1": v + 1, "-1": v - 1, "zero": 0, "neg1": -1, "2**31": 2**31, "2**32": 2**32,
            "2**63-1": 2**63 - 1, "2**63": 2**63, "2**64": 2**64, "-2**63": -(2**63),
            "10**30": 10**30, "*2": v * 2, "//2": v // 2, "1.0*": float(v)}[e]


def apply_json_edit(doc, path: list, edit: list):
    """doc with one edit at path (no change if the path no longer exists)."""
    doc = copy.deepcopy(doc)
    parent, key = None, None
    node = doc
    for k in path:
        if isinstance(node, dict) and k in node:
            parent, key, node = node, k, node[k]
        elif isinstance(node, list) and isinstance(k, int) and k < len(node):
            parent, key, node = node, k, node[k]
        else:
            return doc
    op = edit[0]
    if op == "int":
        new = _int_edit(node, edit[1])
    elif op == "set":
        new = VALUES[edit[1]]
    elif op == "wrap":
        new = [node]
    elif op == "str":
        s = node if isinstance(node, str) else json.dumps(node)
        new = {"append": s + "x", "upper": s.upper(), "empty": ""}[edit[1]]
    elif op == "dup":
        if isinstance(node, list) and node:
            new = node + node[-1:]
        elif isinstance(node, dict):
            new = {**node, "extra": node}
        else:
            new = node
    elif op == "remove":
        if parent is None:
            return {}
        if isinstance(parent, dict):
            del parent[key]
        else:
            del parent[key]
        return doc
    else:
        raise ValueError(op)
    if parent is None:
        return new
    parent[key] = new
    return doc


# -- artefact mutations --------------------------------------------------------------------

def _fix_entries(node, scope: str, fname: str, data: bytes, inside: bool = False) -> None:
    """Set sha256, nbytes (and a 1-d shape) of the entries naming file `fname` (inside the
    entry named `scope`, e.g. a token store's shard, when scope is given)."""
    if isinstance(node, dict):
        inside = inside or (bool(scope) and node.get("name") == scope)
        if node.get("file") == fname and (inside or not scope):
            node["sha256"] = hashlib.sha256(data).hexdigest()
            node["nbytes"] = len(data)
            shape, dtype = node.get("shape"), node.get("dtype")
            if isinstance(shape, list) and len(shape) == 1 and isinstance(dtype, str):
                size = int(dtype[-1]) if dtype[-1:].isdigit() else 1
                node["shape"] = [len(data) // max(size, 1)]
        for v in node.values():
            _fix_entries(v, scope, fname, data, inside)
    elif isinstance(node, list):
        for v in node:
            _fix_entries(v, scope, fname, data, inside)


def _rehash(d: Path, rel: str) -> None:
    """Record file `rel`'s new checksum and size in the nearest manifest above it, as a writer
    with a bug would: the checksums then cannot catch the damage."""
    p = d / rel
    data = p.read_bytes() if p.exists() else b""
    parts = rel.split("/")
    for i in range(len(parts) - 1, 0, -1):
        mpath = d.joinpath(*parts[:i], "manifest.json")
        if mpath == p or not mpath.is_file():
            continue
        try:
            m = json.loads(mpath.read_bytes())
        except ValueError:
            return
        _fix_entries(m, "/".join(parts[i:-1]), parts[-1], data)
        mpath.write_text(json.dumps(_resealed(m), indent=1, allow_nan=True))
        return


def _resealed(doc):
    """`doc` with its manifest checksum recomputed, as a writer with a bug would seal it (a
    manifest the checksum cannot be computed for, e.g. holding NaN, is left as it is)."""
    if not isinstance(doc, dict) or MANIFEST_CHECKSUM not in doc:
        return doc
    try:
        return resealed(doc)
    except ValueError:
        return doc


def apply_mutations(d: Path, muts: list) -> None:
    for m in muts:
        kind, rel = m[0], m[1]
        p = d / rel
        if kind == "delete":
            if p.exists():
                p.unlink()
        elif kind == "bytes":
            if p.exists():
                p.write_bytes(apply_byte_ops(p.read_bytes(), m[2]))
                if m[3]:
                    _rehash(d, rel)
        elif kind == "json":
            try:
                doc = json.loads(p.read_bytes())
            except (OSError, ValueError):
                continue
            doc = apply_json_edit(doc, m[2], m[3])
            if len(m) > 4 and m[4]:
                doc = _resealed(doc)
            p.write_text(json.dumps(doc, indent=1, allow_nan=True,
                                    ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
        elif kind == "reformat":
            try:
                doc = json.loads(p.read_bytes())
            except (OSError, ValueError):
                continue
            else:
                p.write_text(json.dumps(doc, indent=m[2], separators=(", ", ":  ")))
        else:
            raise ValueError(kind)


def mutation_class(m: list) -> str:
    rel = re.sub(r"a\.cooc\.positions/[a-z_]+\.cooc/", "positions/", m[1])
    rel = re.sub(r"shard-\d+/", "shard/", rel).removeprefix("a.cooc/").removeprefix("a.tokens/")
    rel = rel.removeprefix("a.ngrams/").removeprefix("a.lm/")
    if m[0] == "json":
        keys = [k for k in m[2] if isinstance(k, str)][:2]
        return f"json:{rel}:{'.'.join(keys) or '<root>'}{'+reseal' if len(m) > 4 and m[4] else ''}"
    if m[0] == "bytes":
        ops = sorted({o[0] for o in m[2]})
        what = "truncate" if ops == ["truncate"] else "bytes"
        return f"{what}:{rel}{'+rehash' if m[3] else ''}"
    return f"{m[0]}:{rel}"


def _descriptive_only(kind: str, muts: list) -> bool:
    return all(m[0] == "reformat" or (m[0] == "json" and m[1].endswith("manifest.json")
                                      and m[2] and m[2][0] in DESCRIPTIVE[kind])
               for m in muts)


@st.composite
def artefact_mutations(draw, fz: Fuzz, kind: str) -> list:
    files = fz.artefact_files(kind)
    if kind == "cooc":  # half the time the main index, else the positions indexes
        main = [f for f in files if f.startswith("a.cooc/")]
        pos = [f for f in files if not f.startswith("a.cooc/")]
        pools = [main, main, pos]
    else:
        pools = [files]
    out = []
    for _ in range(draw(st.integers(1, 2))):
        rel = draw(st.sampled_from(draw(st.sampled_from(pools))))
        how = draw(st.integers(0, 9))
        if rel.endswith(".json") and how < 6:
            doc = json.loads((fz.base / rel).read_bytes())
            path = draw(st.sampled_from(json_paths(doc)))
            out.append(["json", rel, path, draw(JSON_EDIT), draw(st.booleans())])
        elif how == 6:
            out.append(["delete", rel])
        elif how == 7 and rel.rsplit("/", 1)[-1] in UNCHECKSUMMED_JSON:
            out.append(["reformat", rel, draw(st.sampled_from([None, 0, 3]))])
        else:
            out.append(["bytes", rel, draw(BYTE_OPS), draw(st.booleans())])
    return out


# the JSON files no checksum covers: reformatting them changes no meaning (a manifest's own
# checksum is over its canonical form); other JSON files (vocab.json) are checksummed bytes
UNCHECKSUMMED_JSON = ("manifest.json", "positions.json")


def check_artefact(fz: Fuzz, kind: str, muts: list) -> Checker:
    classes = sorted({mutation_class(m) for m in muts})
    c = Checker(fz, kind)
    d = fz.artefact_copy(kind)
    apply_mutations(d, muts)
    base = fz.baseline[kind]
    descriptive = _descriptive_only(kind, muts)
    same_meaning = all(m[0] == "reformat" for m in muts)
    # checksums rewritten to match the damage: the artefact may now simply say something else
    # (a count of 5 for 3 is undetectable), so only crashes and verify's blind spots count
    rehashed = any((m[0] == "bytes" and m[3]) or (m[0] == "json" and len(m) > 4 and m[4])
                   for m in muts)
    results = {}
    for probe in PROBES[kind]:
        outs, (rc, out) = run_probe(fz, probe, d, c)
        results[probe.name] = (outs[-1], rc)
        if rc is None:
            continue  # a crash, reported by the property
        if same_meaning and (rc, out) != base[probe.name]:
            c.wrong("a meaning-preserving edit changed the result", outs[-1],
                    f"expected exit {base[probe.name][0]}:\n{base[probe.name][1][:1500]}\n"
                    f"got exit {rc}:\n{out[:1500]}", "+".join(classes))
        elif (rc == 0 and out != base[probe.name][1] and not rehashed
              and not (descriptive and probe.role == "stats")):
            c.wrong("a damaged artefact gives a different answer with exit 0", outs[-1],
                    f"expected:\n{base[probe.name][1][:1500]}\ngot:\n{out[:1500]}",
                    "+".join(classes))
    ver = results.get("verify")
    if ver and ver[1] == 0:
        for name, (o, rc) in results.items():
            if rc not in (0, None) and o.ok_status:
                c.wrong("verify passes an artefact another command rejects", o,
                        f"{name} exits {rc}: {o.stderr[-500:]}", "+".join(classes))
    shutil.rmtree(d, ignore_errors=True)
    return c


def save_mutation(kind: str, muts: list):
    def save(where: Path, name: str) -> Path:
        p = where / f"{name}.mutation.json"
        p.write_text(json.dumps({"artefact": kind, "mutations": muts}, indent=1, allow_nan=True))
        return p
    return save


@pytest.mark.parametrize("kind", list(PROBES))
def test_fuzz_artefacts(fz, kind):
    examples = {"cooc": 20, "tokens": 20, "ngrams": 24, "lm": 30}[kind]

    @budget(examples)
    @given(muts=artefact_mutations(fz, kind))
    def run(muts):
        settle(check_artefact(fz, kind, muts), save_mutation(kind, muts))

    run()


def test_meaning_preserving_edits_change_nothing(fz):
    """Reformatted manifests (whitespace only) give the same answers: the oracle's premise."""
    for kind in PROBES:
        muts = [["reformat", f, 3] for f in fz.artefact_files(kind) if f.endswith("manifest.json")]
        c = check_artefact(fz, kind, muts)
        assert not c.failures, "\n".join(f.message for f in c.failures)


# -- replaying the kept cases -------------------------------------------------------------

def case_paths() -> list[Path]:
    if not CASES.is_dir():
        return []
    return sorted(p for p in CASES.iterdir()
                  if p.name not in ("findings.json", "README.md") and not p.name.startswith("."))


def replay(fz: Fuzz, p: Path) -> Checker:
    name = p.name
    if name.endswith(".mutation.json"):
        spec = json.loads(p.read_text())
        return check_artefact(fz, spec["artefact"], spec["mutations"])
    if name.endswith(".google"):
        return check_google(fz, {q.name: q.read_bytes() for q in p.iterdir() if q.is_file()})
    if name.endswith((".arpa", ".arpa.gz")):
        return check_arpa(fz, p.read_bytes(), name.endswith(".gz"))
    for sfx in sorted(CORPUS_SUFFIXES, key=len, reverse=True):
        if name.endswith(sfx):
            return check_corpus(fz, sfx, p.read_bytes())
    raise AssertionError(f"{p}: no reader for this case name")


class KnownFinding(AssertionError):
    """A kept case still shows its finding (the replay's expected failure)."""


def _finding_of(case_name: str) -> dict | None:
    return next((f for f in FINDINGS if f.get("case") == case_name), None)


def _case_param(p: Path):
    f = _finding_of(p.name)
    marks = [pytest.mark.xfail(strict=True, raises=KnownFinding,
                               reason=f"finding {f['id']}: {f['reason']}")] if f else []
    return pytest.param(p, id=p.name, marks=marks)


@pytest.mark.parametrize("case", [_case_param(p) for p in case_paths()])
def test_replay(fz, case):
    """Seeds must pass; a finding's case must fail with a failure its `match` names (an
    expected failure, KnownFinding) and with no failure that no finding names (a real one)."""
    c = replay(fz, case)
    report = "\n".join(f"== {f.signature}\n{f.message[:3000]}" for f in c.failures)
    unknown = [f for f in c.failures if known(f.signature) is None]
    if unknown:
        raise AssertionError("failures no finding names:\n" + report)
    finding = _finding_of(case.name)
    if finding and any(any(fnmatch.fnmatchcase(f.signature, pat) for pat in finding["match"])
                       for f in c.failures):
        raise KnownFinding(report)
    assert not c.failures, report


def test_every_finding_has_its_case():
    names = {p.name for p in case_paths()}
    for f in FINDINGS:
        assert f.get("case") in names, f"finding {f.get('id')}: no case {f.get('case')!r}"


# -- the harness can fail --------------------------------------------------------------------

def test_harness_reports_a_segfault():
    with fh.Worker(timeout=30) as w:
        o = w.run(selftest="segv")
        assert o.signal == "SIGSEGV"
        assert "died" in fh.problem(o)
        assert "Fatal Python error: Segmentation fault" in o.log  # faulthandler's stack
        after = w.run(["--version"])  # the worker survives its child
        assert after.rc == 0 and "cooc" in after.stdout and w.restarts == 0


def test_harness_reports_an_abort():
    with fh.Worker(timeout=30) as w:
        o = w.run(selftest="abort")
        assert o.signal == "SIGABRT" and fh.problem(o)


def test_harness_reports_a_traceback():
    with fh.Worker(timeout=30) as w:
        o = w.run(selftest="traceback")
        assert o.signal is None and "ZeroDivisionError: deliberate" in o.traceback
        assert fh.problem(o).startswith("a Python traceback: ZeroDivisionError")
        assert fh.exception_type(o) == "ZeroDivisionError"


def test_harness_reports_a_hang():
    with fh.Worker(timeout=2) as w:
        o = w.run(selftest="hang")
        assert o.hang and "hang" in fh.problem(o)
        assert "_selftest" in o.log  # the stack dumped before the kill
        assert w.run(["--version"]).rc == 0


def test_harness_checks_the_one_line_error():
    with fh.Worker(timeout=30) as w:
        assert fh.problem(w.run(selftest="error")) is None
        assert "2 'cooc: error:' lines" in fh.problem(w.run(selftest="two-errors"))
        assert "exit status 3" in fh.problem(w.run(selftest="exit"))
        o = w.run(["stats", "/nonexistent/x.cooc"])
        assert o.rc == 2 and fh.problem(o) is None


def test_harness_reports_a_crash_inside_a_command(tmp_path):
    """A command that segfaults inside cooc: the signal and the cooc frame of the crash."""
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "import os, signal\n"
        "import cooc.cli.query as q\n"
        "def boom(args):\n"
        "    os.kill(os.getpid(), signal.SIGSEGV)\n"
        "q.cmd_top = boom\n")
    with fh.Worker(timeout=30, env={"PYTHONPATH": f"{fh.SRC}{os.pathsep}{tmp_path}"}) as w:
        o = w.run(["top", str(tmp_path / "x.cooc")])
        assert o.signal == "SIGSEGV"
        # the innermost frame inside src/cooc on the stack faulthandler dumped
        assert fh.signature(o, "t").startswith("t|top|signal:SIGSEGV@cooc/cli/main.py:")
        o2 = w.run(["stats", str(tmp_path / "x.cooc")])
        assert o2.rc == 2


def test_a_new_failure_fails_the_fuzz_test_and_keeps_its_case(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "SAVE_DIR", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "SURVEY", False)
    c = Checker(None, "corpus:.jsonl")
    c.failures.append(Failure("corpus:.jsonl|build|signal:SIGSEGV@cooc/x.py:1", "died"))
    with pytest.raises(AssertionError, match="1 new fuzz finding"):
        settle(c, save_corpus(".jsonl", b"{"))
    assert [p.read_bytes() for p in tmp_path.glob("*.jsonl")] == [b"{"]
    known_one = "tokens|build|traceback:KeyError@cooc/x.py:2"  # a listed finding is tolerated
    monkeypatch.setattr(sys.modules[__name__], "FINDINGS",
                        [{"id": "FZ00", "match": ["tokens|build|traceback:KeyError@*"]}])
    settle(Checker(None, "x"), save_corpus(".jsonl", b""))
    c = Checker(None, "tokens")
    c.failures.append(Failure(known_one, "known"))
    settle(c, save_corpus(".jsonl", b""))


def test_harness_finding_signatures():
    o = fh.Outcome(argv=["ngram", "lookup", "a.ngrams", "x"], traceback=(
        'Traceback (most recent call last):\n  File "/r/src/cooc/cli/main.py", line 62, in main\n'
        '  File "/r/src/cooc/ngram/reader.py", line 83, in __init__\nTypeError: bad\n'))
    assert fh.signature(o, "ngrams") == "ngrams|ngram lookup|traceback:TypeError@cooc/ngram/reader.py:83"
    assert known("nothing|like|this") is None

