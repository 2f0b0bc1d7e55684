"""Regressions of the hostile-user findings (issue "Trust", F1-F19): each test failed on the
code before its fix. Corpus-reader findings live in test_corpus.py (F5, F16, F19)."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.errors import CoocError
from cooc.lm.arpa import read_arpa

_ARPA = """\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<unk>\t0
-0.5\t<s>\t-0.3
-0.6\t</s>\t0
-0.7\ta\t-0.2
-0.8\tb\t-0.1

\\2-grams:
-0.3\t<s> a
-0.2\ta b
-0.4\tb </s>

\\3-grams:
-0.1\ta b </s>

\\end\\
"""


def _arpa(tmp_path, text, name="m.arpa"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_arpa_reads(tmp_path):
    model = read_arpa(_arpa(tmp_path, _ARPA))
    assert model.counts == [5, 3, 1]


@pytest.mark.parametrize("value, problem", [
    ("-1e400", "not a finite number"), ("1e400", "not a finite number"),
    ("-1e39", "not a finite number"), ("0.7", "is positive"), ("nan", "not a finite number"),
])
def test_arpa_values_a_model_cannot_hold_are_refused_with_their_line(tmp_path, value, problem):
    """F7: -1e400, 1e400, -1e39 and positive log10 probabilities were accepted (perplexity
    inf, 0 or 0.14); KenLM refuses positive ones."""
    path = _arpa(tmp_path, _ARPA.replace("-0.7\ta\t-0.2", f"{value}\ta\t-0.2"))
    with pytest.raises(CoocError, match=f"m.arpa:10: .*{problem}"):
        read_arpa(path)
    assert main(["lm", "arpa", str(path)]) == 2


def test_arpa_backoff_out_of_float32_is_refused(tmp_path):
    path = _arpa(tmp_path, _ARPA.replace("-0.7\ta\t-0.2", "-0.7\ta\t1e39"))
    with pytest.raises(CoocError, match="m.arpa:10: backoff"):
        read_arpa(path)


def test_arpa_ngram_without_its_context_is_reported_by_lm_arpa(tmp_path, capsys):
    """F10: an n-gram whose context is missing: `lm arpa` said the file was fine, `score` and
    `index` raised ValueError."""
    path = _arpa(tmp_path, _ARPA.replace("-0.1\ta b </s>", "-0.1\tb a </s>"))
    assert main(["lm", "arpa", str(path)]) == 2
    err = capsys.readouterr().err
    assert "m.arpa:19: the 3-gram 'b a </s>' has no context 'b a'" in err
    assert err.count("\n") == 1
    text = tmp_path / "t.txt"
    text.write_text("a b\n")
    assert main(["lm", "score", str(path), str(text)]) == 2
    assert main(["lm", "index", str(path), "-o", str(tmp_path / "m.lm")]) == 2
    assert not (tmp_path / "m.lm").exists()


def test_truncated_gzip_arpa_is_a_one_line_error(tmp_path, capsys):
    """F10: a truncated .arpa.gz raised EOFError."""
    lines = ["\\data\\", "ngram 1=2003", "", "\\1-grams:", "-1\t<unk>", "-1\t<s>", "-1\t</s>"]
    lines += [f"-2.{i}\tw{i}" for i in range(2000)] + ["", "\\end\\", ""]
    data = gzip.compress("\n".join(lines).encode())
    whole = tmp_path / "whole.arpa.gz"
    whole.write_bytes(data)
    assert read_arpa(whole).counts == [2003]
    cut = tmp_path / "cut.arpa.gz"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["lm", "arpa", str(cut)]) == 2
    err = capsys.readouterr().err
    assert "truncated or damaged" in err and err.count("\n") == 1


def test_arpa_header_count_larger_than_the_file_is_an_error_not_an_allocation(tmp_path):
    """F10: a huge count in \\data\\ raised ArrayMemoryError."""
    path = _arpa(tmp_path, _ARPA.replace("ngram 2=3", "ngram 2=300000000000000"))
    with pytest.raises(CoocError, match="the header .* says 300000000000000"):
        read_arpa(path)


def test_target_lock_refuses_a_second_writer_and_dies_with_its_holder(tmp_path):
    """F1's mechanism: one writer per target; the lock goes with the holder's process."""
    import os
    import signal
    import subprocess
    import sys

    from cooc.formats.lock import TargetBusyError, TargetLock

    target = tmp_path / "x.cooc"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from cooc.formats.lock import TargetLock; "
         f"TargetLock({str(target)!r}, 'build').acquire(); print('held', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TargetBusyError, match=f"being written by process {holder.pid} \\(build"):
            TargetLock(target).acquire()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with TargetLock(target) as lock, TargetLock(target):  # free again; re-entrant in a process
        assert lock.path.exists()
    with TargetLock(target):
        pass


@pytest.mark.parametrize("engine", ["local", "in-process"])
def test_strict_failure_leaves_the_good_index_in_place(tmp_path, capsys, engine):
    """F3: `cooc build bad/ -o good.cooc --strict` replaced the good index, then exited 2."""
    from corpus_fixtures import make_bad_corpus

    from cooc.cooccur.build.job import build_index
    from cooc.cooccur.config import BuildConfig
    from cooc.options import RunOptions

    good = tmp_path / "good"
    good.mkdir()
    (good / "a.jsonl").write_text('{"text": "one two three"}\n{"text": "two three four"}\n')
    make_bad_corpus(tmp_path / "bad")
    out = tmp_path / "good.cooc"
    assert main(["build", str(good), "-o", str(out), "--tokenizer", "whitespace", "-q"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    options = RunOptions(strict=True, quiet=True, engine=engine, num_proc=1)
    with pytest.raises(CoocError, match="strict: .* bad records skipped.*nothing was written"):
        build_index(tmp_path / "bad", out, BuildConfig(tokenizer="whitespace"), options)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".good.cooc.", "good.cooc."))
                and p.name != ".good.cooc.lock"]


def test_lm_score_of_a_missing_or_empty_file_is_an_error(tmp_path, capsys):
    """F6: `cooc lm score X.lm nofile.txt` scored the words "nofile.txt" and exited 0; an
    empty file gave perplexity nan."""
    model = _arpa(tmp_path, _ARPA)
    assert main(["lm", "score", str(model), str(tmp_path / "nofile.txt")]) == 2
    assert "nofile.txt: no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["lm", "score", str(model), str(empty)]) == 2
    assert "holds no sentences" in capsys.readouterr().err
    assert main(["lm", "score", str(model), "a b"]) == 0  # a sentence given inline still works
    assert "Tokens:\t3" in capsys.readouterr().out


def test_cli_strict_failure_leaves_the_good_index_in_place(tmp_path, capsys):
    """F3 through the CLI: the reported command."""
    from corpus_fixtures import make_bad_corpus

    good = tmp_path / "good"
    good.mkdir()
    (good / "a.jsonl").write_text('{"text": "one two three"}\n')
    make_bad_corpus(tmp_path / "bad")
    out = tmp_path / "good.cooc"
    assert main(["build", str(good), "-o", str(out), "--tokenizer", "whitespace", "-q"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["build", str(tmp_path / "bad"), "-o", str(out), "--tokenizer", "whitespace",
                 "--strict"]) == 2
    err = capsys.readouterr().err
    assert "cooc: skipped" in err and "nothing was written" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_of_range_numbers_are_one_line_errors(tmp_path, capsys):
    """F14: --context-length 99999999999999999999 raised OverflowError; ngram continuations
    '#151851' (one past the vocabulary) raised ValueError."""
    data = tmp_path / "a.txt"
    data.write_text("one two three\n")
    assert main(["build", str(data), "-o", str(tmp_path / "x.cooc"), "-q", "--tokenizer",
                 "whitespace", "--context-length", "99999999999999999999"]) == 2
    assert "context_length must be an integer in [2," in capsys.readouterr().err
    assert main(["build", str(data), "-o", str(tmp_path / "x.cooc"), "-q", "--tokenizer",
                 "whitespace", "--count-mode", "harmonic", "--radius", "1000000000"]) == 2
    assert "use a radius of at most 16" in capsys.readouterr().err
    ngrams = str(tmp_path / "x.ngrams")
    assert main(["ngram", "count", str(data), "-o", ngrams, "-q", "--tokenizer", "qwen"]) == 0
    capsys.readouterr()
    assert main(["ngram", "continuations", ngrams, "#151851"]) == 2
    err = capsys.readouterr().err
    assert "token #151851 is not in this index's vocabulary" in err and err.count("\n") == 1
    assert main(["ngram", "continuations", ngrams, "#151850"]) == 0


_SPILLING_BUILD = """
import sys
try:
    from cooc.cooccur.build import accumulate, counter
except ImportError:  # the layout before issue 11 (to show the test fails there)
    from cooc.pipeline import accumulate, counter
counter.MIN_DATA_BUDGET = 192 << 10  # spills and checkpoints every few batches
accumulate.MIN_MERGE_BYTES = 32 << 10
accumulate.MAX_RUNS = 3
from cooc.cli.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def _corpus(folder, seed, docs=120):
    import numpy as np

    rng = np.random.default_rng(seed)
    words = [f"w{seed}_{i}" for i in range(300)]
    folder.mkdir()
    with open(folder / "a.jsonl", "w") as f:
        for _ in range(docs):
            f.write(json.dumps({"text": " ".join(rng.choice(words, rng.integers(50, 400)))}) + "\n")
    return folder


def test_two_writers_to_one_target_never_mix(tmp_path):
    """F1: two `cooc build` runs writing the same output shared the checkpoint folder: one
    exited 0 with counts taken from the other corpus and `verify` said ok. Every run now ends
    with the target equal to one of the two solo builds, the other writer refused."""
    import os
    import random
    import subprocess
    import sys
    import time

    a, b = _corpus(tmp_path / "a", 1), _corpus(tmp_path / "b", 2)
    argv = ["--tokenizer", "whitespace", "--memory", "1", "--batch-size", "8", "--num-proc", "1",
            "-q"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

    def build(data, out):
        return subprocess.Popen([sys.executable, "-c", _SPILLING_BUILD, "build", str(data), "-o",
                                 str(out), *argv], env=env, stderr=subprocess.PIPE, text=True)

    solo = {}
    for name, data in (("a", a), ("b", b)):
        p = build(data, tmp_path / f"solo-{name}.cooc")
        assert p.wait() == 0, p.stderr.read()
        solo[name] = {f.name: f.read_bytes() for f in (tmp_path / f"solo-{name}.cooc").iterdir()}
    assert solo["a"] != solo["b"]
    runs = int(os.environ.get("COOC_CONCURRENCY_RUNS", "4"))
    rng = random.Random(0)
    outcomes = []
    for i in range(runs):
        target = tmp_path / f"t{i}.cooc"
        first = build(a, target)
        time.sleep(rng.uniform(0.2, 1.5))
        second = build(b, target)
        rc = (first.wait(), second.wait())
        errs = (first.stderr.read(), second.stderr.read())
        got = {f.name: f.read_bytes() for f in target.iterdir()}
        assert got in (solo["a"], solo["b"]), (i, rc, errs)
        for code, err in zip(rc, errs, strict=True):
            assert code == 0 or (code == 2 and "is being written by process" in err), (i, rc, errs)
        assert 0 in rc
        outcomes.append(rc)
    print("exit codes (first, second) per run:", outcomes)
    assert any(rc == (0, 2) for rc in outcomes)  # the runs did overlap


def test_an_edited_manifest_number_is_refused_for_every_artefact(tmp_path, capsys):
    """F7/F11: manifests were outside the checksums (editing the LM trie's quantization_bits
    moved perplexity from 25 to 1,012 with exit 0)."""
    data = tmp_path / "a.txt"
    import random

    rng = random.Random(5)
    data.write_text("".join(" ".join(f"w{int(rng.paretovariate(1.2)) % 500}" for _ in range(12))
                            + "\n" for _ in range(400)))
    paths = {"index": tmp_path / "x.cooc", "store": tmp_path / "x.tokens",
             "ngrams": tmp_path / "x.ngrams", "trie": tmp_path / "x.lm"}
    ws = ["--tokenizer", "whitespace", "-q"]
    assert main(["build", str(data), "-o", str(paths["index"]), *ws]) == 0
    assert main(["tokenize", str(data), "-o", str(paths["store"]), *ws]) == 0
    assert main(["ngram", "count", str(data), "-o", str(paths["ngrams"]), *ws]) == 0
    arpa = tmp_path / "x.arpa"
    assert main(["lm", "estimate", str(data), "-o", str(arpa), "--order", "3", "-q"]) == 0
    assert main(["lm", "index", str(arpa), "-o", str(paths["trie"])]) == 0
    edits = {"index": ("num_diagonal", 1), "store": ("tokens", 1), "ngrams": ("order", 1),
             "trie": ("quantization_bits", 1)}
    for kind, path in paths.items():
        capsys.readouterr()
        assert main(["verify", str(path)]) == 0, kind
        manifest = json.loads((path / "manifest.json").read_text())
        key, delta = edits[kind]
        manifest[key] += delta
        (path / "manifest.json").write_text(json.dumps(manifest))
        capsys.readouterr()
        assert main(["verify", str(path)]) != 0, kind
        out = capsys.readouterr()
        assert "fails its manifest_sha256" in out.out + out.err, kind


def _store(tmp_path, name="x.tokens"):
    data = tmp_path / "a.txt"
    data.write_text("".join(f"w{i % 13} w{i % 7} w{i % 5} w{i % 3}\n" for i in range(300)))
    store = tmp_path / name
    assert main(["tokenize", str(data), "-o", str(store), "--tokenizer", "whitespace", "-q"]) == 0
    return store


def _patch(path, offset, value, dtype):
    import numpy as np

    a = np.fromfile(path, dtype)
    a[offset] = value
    a.tofile(path)


@pytest.mark.parametrize("damage, command, message", [
    # F4: a flipped id gave a different index with exit 0, and verify passed
    (("tokens.u32", 5, 3, "<u4"), "build", "tokens.u32 fails its checksum"),
    # F8: an id >= the vocabulary size: SIGSEGV
    (("tokens.u32", 5, 10**6, "<u4"), "build", "outside the vocabulary"),
    # F4: a decreasing doc_ptr; F9: a negative document length: heap corruption
    (("doc_ptr.i64", 2, 1, "<i8"), "build", "doc_ptr.i64 is not a list of document starts"),
    (("doc_ptr.i64", 2, 1, "<i8"), "ngram", "doc_ptr.i64 is not a list of document starts"),
    (("doc_ptr.i64", 2, 1, "<i8"), "lm", "doc_ptr.i64 is not a list of document starts"),
    (("tokens.u32", 5, 10**6, "<u4"), "ngram", "outside the vocabulary"),
])
def test_a_damaged_store_fails_the_job_before_any_kernel(tmp_path, capsys, damage, command,
                                                         message):
    """F4, F8, F9: builds from a token store checked neither checksums nor value ranges."""
    from manifest_edit import resealed

    store = _store(tmp_path)
    file, offset, value, dtype = damage
    _patch(store / "shard-000000" / file, offset, value, dtype)
    if "checksum" not in message:  # damage that a sealed manifest agrees with: structure checks
        import hashlib

        manifest = json.loads((store / "manifest.json").read_text())
        for e in manifest["files"]:
            if e["file"].endswith(file):
                e["sha256"] = hashlib.sha256((store / e["file"]).read_bytes()).hexdigest()
        (store / "manifest.json").write_text(json.dumps(resealed(manifest)))
    out = tmp_path / "out"
    argv = {"build": ["build", str(store), "-o", f"{out}.cooc", "-q"],
            "ngram": ["ngram", "count", str(store), "-o", f"{out}.ngrams", "-q"],
            "lm": ["lm", "estimate", str(store), "-o", f"{out}.arpa", "-q"]}[command]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("cooc: error") == 1
    assert not list(tmp_path.glob("out.*"))


def test_unwritable_outputs_are_one_line_errors(tmp_path, capsys, monkeypatch):
    """F12: unwritable outputs (-o /proc/x, a folder where a file is expected, a full disk):
    every writer raised a Python exception."""
    import errno

    from cooc.formats import manifest

    data = tmp_path / "a.txt"
    data.write_text("one two three\ntwo three four\n")
    ws = ["--tokenizer", "whitespace", "-q"]
    for argv in (["build", str(data), "-o", "/proc/x.cooc", *ws],
                 ["tokenize", str(data), "-o", "/proc/x.tokens", *ws],
                 ["ngram", "count", str(data), "-o", "/proc/x.ngrams", *ws]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("cooc: error") == 1 and "Traceback" not in err
    index = tmp_path / "x.cooc"
    assert main(["build", str(data), "-o", str(index), *ws]) == 0
    assert main(["export", str(index), "-f", "tsv", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    before = {p.name: p.read_bytes() for p in index.iterdir()}

    def full(self, a):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.f.name))

    monkeypatch.setattr(manifest.HashedFile, "append", full)
    assert main(["build", str(data), "-o", str(index), "--context-length", "4", *ws]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in index.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "x.cooc"]


_SIGNAL_AT = """
import os, signal, sys
from cooc.formats import artefact
phase_wanted = sys.argv[1]
def hook(phase, target):
    if phase == phase_wanted and str(target).endswith(".cooc"):
        os.kill(os.getpid(), signal.SIGTERM)
artefact.set_phase_hook(hook)
from cooc.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("phase, new_in_place", [
    ("writing", False), ("checksummed", False), ("swapping", True), ("swapped", True)])
def test_sigterm_at_any_phase_exits_130_saying_what_is_in_place(tmp_path, phase, new_in_place):
    """F13: Ctrl-C or SIGTERM during the final write gave SystemError and exit 1; SIGTERM at
    the final rename left `.old-PID` behind."""
    import os
    import subprocess
    import sys

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one two three\n")
    b.write_text("four five six seven\n")
    out = tmp_path / "x.cooc"
    ws = ["--tokenizer", "whitespace", "-q"]
    assert main(["build", str(b), "-o", str(tmp_path / "solo.cooc"), *ws]) == 0
    assert main(["build", str(a), "-o", str(out), *ws]) == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    new = {p.name: p.read_bytes() for p in (tmp_path / "solo.cooc").iterdir()}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _SIGNAL_AT, phase, "build", str(b), "-o", str(out),
                        *ws], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    got = {p.name: p.read_bytes() for p in out.iterdir()}
    got.pop("manifest.json"), old.pop("manifest.json"), new.pop("manifest.json")
    if new_in_place:
        assert got == new and f"the new {out} is in place" in r.stderr
    else:
        assert got == old and "nothing was changed" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "solo.cooc", "x.cooc"]


def test_messages_mean_what_they_say(tmp_path, capsys, caplog):
    """F19: a corpus with zero good documents built with exit 0 and "7288880.00 bytes per
    entry"; the LM hint named write_trie; "--stride 1" reported 3,187,200 tokens for a
    27,440-token corpus; "data.bin has 893648 bytes, expected 893648"."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": ""}\n{"nope": 1}\n')
    assert main(["build", str(empty), "-o", str(tmp_path / "e.cooc")]) == 0
    err = capsys.readouterr().err
    assert "no documents to count (2 bad records skipped, see above): the index at" in caplog.text
    assert "bytes per entry" not in err and "no pairs" in err
    assert main(["stats", str(tmp_path / "e.cooc")]) == 0
    assert "bytes per entry  - (no entries)" in capsys.readouterr().out
    with pytest.raises(CoocError, match="cooc lm index MODEL.arpa"):
        from cooc.lm.trie import open_trie_lm

        open_trie_lm(tmp_path)
    data = tmp_path / "a.txt"
    data.write_text("one two three four five six\n")
    assert main(["build", str(data), "-o", str(tmp_path / "s.cooc"), "--tokenizer", "whitespace",
                 "--context-length", "4", "--stride", "1"]) == 0
    assert "tokens in windows (overlapping)" in capsys.readouterr().err
    index = tmp_path / "s.cooc"
    manifest = json.loads((index / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["name"] == "data")
    entry["bytes"] += 8
    from manifest_edit import resealed

    (index / "manifest.json").write_text(json.dumps(resealed(manifest)))
    assert main(["verify", str(index)]) != 0
    out = capsys.readouterr()
    said = out.out + out.err
    assert f"data.bin is listed with {entry['bytes']} bytes, its shape needs {entry['bytes'] - 8}" in said


def test_a_store_with_a_damaged_manifest_is_reported_not_read_as_a_corpus(tmp_path, capsys):
    """F11: a store manifest that is bad JSON was read as a corpus: exit 0, empty index."""
    store = _store(tmp_path)
    (store / "manifest.json").write_text("{not json")
    assert main(["build", str(store), "-o", str(tmp_path / "y.cooc"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is unreadable" in err and err.count("\n") == 1
    assert not (tmp_path / "y.cooc").exists()


def test_scratch_folders_of_killed_jobs_are_removed_by_the_next_job(tmp_path):
    """F17: the `cooc-ngrams-*` folders (and temp/old folders) of killed runs stayed forever."""
    import os
    import signal
    import subprocess
    import sys

    data = tmp_path / "a.txt"
    data.write_text("".join(f"w{i % 17} w{i % 5} w{i % 3}\n" for i in range(2000)))
    out = tmp_path / "x.ngrams"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # a count killed while its scratch folder exists (at the index's first file)
    hook = ("import os, signal, sys\nfrom cooc.formats import artefact\n"
            "artefact.set_phase_hook(lambda phase, target: os.kill(os.getpid(), signal.SIGKILL)"
            " if phase == 'writing' else None)\nfrom cooc.cli.main import main\n"
            "raise SystemExit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", hook, "ngram", "count", str(data), "-o", str(out),
                        "--tokenizer", "whitespace", "-q"], env=env, timeout=120)
    assert r.returncode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "a.txt")
    assert left and any(n.startswith("cooc-ngrams-") for n in left)  # what a kill leaves
    assert main(["ngram", "count", str(data), "-o", str(out), "--tokenizer", "whitespace",
                 "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "x.ngrams"]


def test_a_kill_while_writing_the_index_keeps_the_checkpoint(tmp_path):
    """F18: a kill during the final write discarded the whole checkpoint (the final merge
    had deleted the runs it names); the rerun started over."""
    import os
    import signal
    import subprocess
    import sys

    data = _corpus(tmp_path / "data", 3, docs=60)
    store = tmp_path / "d.tokens"
    assert main(["tokenize", str(data), "-o", str(store), "--tokenizer", "whitespace", "-q"]) == 0
    kill = _SPILLING_BUILD.replace(
        "from cooc.cli.main import main",
        "import os, signal\nfrom cooc.formats import artefact\n"
        "artefact.set_phase_hook(lambda p, t: os.kill(os.getpid(), signal.SIGKILL) "
        "if p == 'checksummed' else None)\nfrom cooc.cli.main import main")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    argv = ["build", str(store), "--memory", "1", "--batch-size", "8", "--num-proc", "1"]
    solo = tmp_path / "solo.cooc"
    assert subprocess.run([sys.executable, "-c", _SPILLING_BUILD, *argv, "-o", str(solo), "-q"],
                          env=env).returncode == 0
    out = tmp_path / "x.cooc"
    r = subprocess.run([sys.executable, "-c", kill, *argv, "-o", str(out), "-q"], env=env)
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run([sys.executable, "-c", _SPILLING_BUILD, *argv, "-o", str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "60 documents already counted" in r.stderr, r.stderr
    assert ({p.name: p.read_bytes() for p in out.glob("*.bin")}
            == {p.name: p.read_bytes() for p in solo.glob("*.bin")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.tokens", "data", "solo.cooc",
                                                          "x.cooc"]


# -- F15 (issue 12): memory budgets hold for huge windows and huge documents --------------

def _f15_corpus(folder, long_words=4000, seed=15):
    """Whitespace text: one long document of many distinct words, and a few short ones."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = [f"v{i}" for i in range(400)]
    folder.mkdir()
    docs = [" ".join(rng.choice(words, long_words))]
    docs += [" ".join(rng.choice(words, rng.integers(1, 40))) for _ in range(30)]
    with open(folder / "a.jsonl", "w") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    return folder, docs


def _whole_document_counts(docs):
    """Directed pair counts of whole-document windows: the windows holding both words."""
    from collections import Counter

    c: Counter = Counter()
    for d in docs:
        s = sorted(set(d.split()))
        c.update((a, b) for a in s for b in s if a != b)
    return c


def _index_words(path):
    from cooc.cooccur import open_index

    idx = open_index(path)
    texts = idx.token_texts
    out = {}
    for a in range(idx.vocab_size):
        cols, counts = idx.row(a)
        for b, n in zip(cols.tolist(), counts.tolist(), strict=True):
            out[(texts[a], texts[b])] = int(n)
    return out


def test_a_window_spanning_the_corpus_reaches_the_accumulator_in_budgeted_parts(tmp_path,
                                                                                monkeypatch):
    """F15: a context length of a billion (or 0, whole documents) made one window of a whole
    document, whose upper triangle (up to V**2/2 pairs) count_windows built whole, and then
    its concatenated copy, before the accumulator (which spills within its budget) saw any
    of it: 15.5 GB at --memory 1G. Now the accumulator gets row ranges of at most what the
    batch share allows, and the index is the same."""
    import cooc
    from cooc.cooccur.build import accumulate, counter
    from cooc.cooccur.config import BuildConfig, WindowConfig
    from cooc.options import RunOptions

    data, docs = _f15_corpus(tmp_path / "data")
    budget = 96 << 10
    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", budget)  # --memory 1: this budget
    monkeypatch.setattr(accumulate, "MIN_MERGE_BYTES", 16 << 10)
    seen = []
    add = accumulate.CountAccumulator.add
    monkeypatch.setattr(accumulate.CountAccumulator, "add",
                        lambda self, batch: (seen.append(batch.num_entries), add(self, batch)))
    whole = _whole_document_counts(docs)
    built = {}
    for length in (0, 2_000_000):
        cfg = BuildConfig(tokenizer="whitespace", window=WindowConfig(context_length=length))
        seen.clear()
        res = cooc.build(data, tmp_path / f"{length}.cooc", cfg,
                         RunOptions(quiet=True, memory_bytes=1, num_proc=2))
        # the batch share over 16 bytes an entry (and a row alone: at most 400 entries)
        assert len(seen) > 3 and max(seen) <= counter.BATCH_SHARE * budget / 16, seen
        assert res.spills > 0
        assert _index_words(res.path) == whole
        built[length] = {p.name: p.read_bytes() for p in res.path.glob("*.bin")}
    assert built[0] == built[2_000_000]


def test_a_huge_context_length_allocates_nothing_of_its_size(tmp_path):
    """F15: the counter built its occurrence-pair weights as [0] + [1] * (context length -
    1), a Python list and an array of the context length (8 GB each at 1e9), even in
    windows mode, which does not use them. Occurrence pairs within a radius of millions
    count as within the documents' lengths."""
    import tracemalloc

    import cooc
    from cooc.cooccur.build.counter import new_counter
    from cooc.cooccur.config import BuildConfig, WindowConfig
    from cooc.options import RunOptions

    (tmp_path / "tmp").mkdir()
    for window in (WindowConfig(context_length=2_000_000),
                   WindowConfig(context_length=2_000_000, count_mode="occurrences",
                                radius=1_999_999)):
        tracemalloc.start()
        try:
            new_counter(400, 1 << 20, tmp_path / "tmp", window, None, 1, {})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, peak
    data, docs = _f15_corpus(tmp_path / "data", long_words=300)
    longest = max(len(d.split()) for d in docs)
    built = []
    for radius in (1_999_999, longest - 1):
        cfg = BuildConfig(tokenizer="whitespace", window=WindowConfig(
            context_length=2_000_000, count_mode="occurrences", radius=radius))
        res = cooc.build(data, tmp_path / f"r{radius}.cooc", cfg, RunOptions(quiet=True))
        built.append({p.name: p.read_bytes() for p in res.path.glob("*.bin")})
    assert built[0] == built[1]


@settings(max_examples=40)
@given(docs=st.lists(st.lists(st.integers(0, 29), max_size=60), min_size=1, max_size=8),
       length=st.sampled_from([0, 3, 1000]), mode=st.sampled_from(["windows", "occurrences"]),
       include_self=st.booleans(), max_entries=st.integers(1, 300), threads=st.integers(1, 3),
       radius=st.integers(0, 5))
def test_triangle_parts_join_to_the_whole_and_keep_their_bound(docs, length, mode, include_self,
                                                               max_entries, threads, radius):
    """F15: however small the parts, they are consecutive row ranges of at most max_entries
    entries (or one row), and together the triangle counted whole."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from cooc.cooccur.build.count import (
        count_by_distance,
        count_windows,
        distance_counts,
        window_counts,
    )
    from cooc.cooccur.build.csr import concat_rows
    from cooc.kernels import windows

    vocab = 30
    tokens = np.array([t for d in docs for t in d], np.uint32)
    doc_ptr = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    win_ptr = np.unique(doc_ptr) if length == 0 else windows.document_windows(doc_ptr, length)
    weights = np.array([0] + [1, 2, 3, 4, 5][:radius], np.uint64)
    with ThreadPoolExecutor(threads) as pool:
        if radius:
            want, _ = count_by_distance(tokens, win_ptr, vocab, weights, include_self, pool,
                                        threads)
            _, parts = distance_counts(tokens, win_ptr, vocab, weights, include_self, pool,
                                       threads, max_entries=max_entries)
        else:
            want, _ = count_windows(tokens, win_ptr, vocab, mode, include_self, pool, threads)
            _, parts = window_counts(tokens, win_ptr, vocab, mode, include_self, pool, threads,
                                     max_entries=max_entries)
        parts = list(parts)
    row = 0
    for p in parts:
        assert p.row_start == row and (p.num_entries <= max_entries or p.num_rows == 1)
        row += p.num_rows
    assert row == vocab
    got = concat_rows(parts)
    assert np.array_equal(got.row_ptr, want.row_ptr)
    assert np.array_equal(got.cols, want.cols) and np.array_equal(got.counts, want.counts)


_F15_WORDS = ["the", "model", "reads", "état", "naïve", "ﬁle", "x2", "42", "你好", "a'b", "(c)"]
_F15_SEPS = [" ", " ", " ", "  ", ". ", ", ", " - ", "\t", ".  "]
_F15_ENDS = ["\n", "\n\n", ".\n", " \n", "\n \n"]
_f15_lines = st.lists(st.tuples(
    st.lists(st.tuples(st.integers(0, len(_F15_WORDS) - 1), st.integers(0, len(_F15_SEPS) - 1)),
             min_size=1, max_size=8),
    st.integers(0, len(_F15_ENDS) - 1)), min_size=1, max_size=40)


@settings(max_examples=60)
@given(lines=_f15_lines, max_chars=st.integers(8, 300))
def test_long_texts_tokenized_in_pieces_give_the_whole_texts_ids(lines, max_chars):
    """F15: a 100 MB document was tokenized as one text (the tokenizer's buffers, the ids and
    their copies at once: 733 MB at --memory 512M). Pieces are cut where the whitespace
    tokenizer and Qwen's pre-tokenizer split anyway (between two words, at a line's start):
    the same ids, for pieces of any size that leaves a line start in each piece's second
    half; for the whitespace tokenizer any whitespace will do."""
    import numpy as np

    from cooc.tokenizers import load_tokenizer
    from cooc.tokenizers.base import piece_bounds

    rows = ["".join(_F15_WORDS[w] + _F15_SEPS[s] for w, s in words).rstrip() + _F15_ENDS[e]
            for words, e in lines]
    text = "".join(rows)
    for spec in ("whitespace", "qwen"):
        tok = load_tokenizer(spec, num_threads=2)
        size = max(max_chars, 2 * max(map(len, rows)) + 4) if spec == "qwen" else max(
            max_chars, 2 * max(len(w) for w in text.split()) + 4)
        bounds = piece_bounds(text, size, tok.splits_on_whitespace)
        assert bounds[0] == 0 and bounds[-1] == len(text)
        assert all(0 < b - a <= size for a, b in zip(bounds, bounds[1:]))  # noqa: B905
        pieces = tok.encode_pieces(text, size)
        assert len(pieces) == len(bounds) - 1
        got = np.concatenate(pieces) if pieces else np.zeros(0, np.uint32)
        assert got.tolist() == tok.encode(text).tolist(), spec


def test_a_long_document_is_tokenized_in_budgeted_pieces_and_stays_one_document(tmp_path,
                                                                                monkeypatch):
    """F15: the tokenizer got a document longer than a tokenizer batch whole; now it gets
    pieces of at most the batch's characters, and the store, the index and the n-gram
    counts are those of the whole document (one document: one length, one <s> ... </s>)."""
    from cooc.ngram.reader import open_ngrams
    from cooc.store import open_store
    from cooc.tokenizers import load_tokenizer
    from cooc.tokenizers.whitespace import WhitespaceTokenizer

    words = [f"w{i % 97}{'é' if i % 7 == 0 else ''}" for i in range(40_000)]
    text = "".join(w + ("\n" if i % 13 == 12 else " ") for i, w in enumerate(words)).strip()
    assert len(text) > 2 * (1 << 16)
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"text": text}) + "\n" + json.dumps({"text": "w1 w2 w3"}) + "\n")
    longest = []
    encode = WhitespaceTokenizer.encode_batch
    monkeypatch.setattr(WhitespaceTokenizer, "encode_batch", lambda self, texts: (
        longest.append(max(map(len, texts), default=0)), encode(self, texts))[1])
    store = tmp_path / "a.tokens"
    assert main(["tokenize", str(data), "-o", str(store), "--tokenizer", "whitespace",
                 "--memory", "1", "-q"]) == 0
    assert max(longest) <= 1 << 16  # the smallest tokenizer batch (--memory 1)
    tok = load_tokenizer("whitespace")
    want = tok.encode(text)
    remap = tok.freeze()
    s = open_store(store)
    assert s.num_documents == 2
    got = next(s.iter_batches(1 << 20))
    assert got[1].tolist() == [len(want), 3]
    texts = s.tokenizer(1).token_texts()
    assert [texts[i] for i in got[0][: len(want)].tolist()] == text.split()
    assert remap is not None
    built = []
    for memory in ("1", "1G"):  # tokenizer batches of 65,536 characters, or of 10 M
        longest.clear()
        out = tmp_path / f"a{memory}.ngrams"
        assert main(["ngram", "count", str(data), "-o", str(out), "--tokenizer", "whitespace",
                     "--order", "3", "--markers", "--memory", memory, "-q"]) == 0
        assert (max(longest) <= 1 << 16) == (memory == "1")
        built.append({p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"})
    assert built[0] == built[1]
    idx = open_ngrams(out)
    ids = {t: i for i, t in enumerate(idx.token_texts())}
    assert idx.lookup([idx.bos_id, ids[words[0]], ids[words[1]]]) == 1
    assert idx.lookup([ids[words[-1]], idx.eos_id]) == 1
    assert idx.lookup([idx.bos_id, ids["w1"], ids["w2"]]) == 1


def test_long_documents_are_counted_span_by_span_with_the_same_ngrams(tmp_path, monkeypatch):
    """F15: NgramCounter packed a document longer than its batch in one piece (~64 bytes a
    token of the whole document at once); now span by span, with the same keys."""
    import numpy as np

    from cooc.kernels import ngram as kn
    from cooc.ngram import count
    from cooc.ngram.count import NgramCounter
    from cooc.ngram.writer import key_shape

    sorted_sizes = []
    sort_count = kn.sort_count
    monkeypatch.setattr(count.kn, "sort_count", lambda keys, counts: (
        sorted_sizes.append(len(keys)), sort_count(keys, counts))[1])
    rng = np.random.default_rng(5)
    doc = rng.integers(0, 50, 700).astype(np.uint32)
    for order, markers in ((3, True), (5, False)):
        v = 52 if markers else 50
        counted = []
        for batch_tokens in (32, 1 << 12):
            sorted_sizes.clear()
            with NgramCounter(order, v, markers=markers, tmp_dir=tmp_path, num_threads=2,
                              batch_tokens=batch_tokens) as c:
                c.add(np.concatenate([doc[:5], doc]), np.array([5, 700], np.int64))
                counted.append([(k.copy(), n.copy()) for k, n in c.merged()])
            assert max(sorted_sizes) <= max(batch_tokens, 7), (batch_tokens, sorted_sizes)
        a, b = ([np.concatenate(x) for x in zip(*m)] for m in counted)  # noqa: B905
        assert all(np.array_equal(x, y) for x, y in zip(a, b))  # noqa: B905
        bits, per_word, nwords = key_shape(order, v)
        bos, eos = (50, 51) if markers else (-1, -1)
        whole = kn.pack_grams(doc, np.array([700], np.int64), order, bits, per_word, nwords,
                              bos, eos)
        spans = [kn.pack_span(doc, a, min(a + 64, len(whole)), order, bits, per_word, nwords,
                              bos, eos) for a in range(0, len(whole), 64)]
        assert np.array_equal(np.concatenate(spans), whole)


def test_a_document_whose_ids_outgrow_the_budget_is_refused_naming_the_budget(tmp_path,
                                                                             monkeypatch, capsys):
    """F15: a document whose ids alone pass the memory budget was counted anyway, far past
    the budget; now its ids come off the counting shares, and past a quarter of them the
    build stops before counting with a one-line error naming the --memory that would do."""
    from cooc.cooccur.build import counter

    monkeypatch.setattr(counter, "MIN_DATA_BUDGET", 64 << 10)
    data = tmp_path / "a.txt"
    data.write_text(" ".join(f"w{i % 50}" for i in range(30_000)) + "\n")
    assert main(["build", str(data), "-o", str(tmp_path / "a.cooc"), "--tokenizer",
                 "whitespace", "--memory", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert "30,000 tokens of a document longer than a batch" in err and "--memory" in err
    assert err.count("\n") == 1 and not (tmp_path / "a.cooc").exists()
    data.write_text(" ".join(f"w{i % 50}" for i in range(3_000)) + "\n")  # within: built
    assert main(["build", str(data), "-o", str(tmp_path / "a.cooc"), "--tokenizer",
                 "whitespace", "--memory", "1", "-q"]) == 0
