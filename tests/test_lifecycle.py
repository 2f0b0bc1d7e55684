"""The artefact lifecycle (`cooc.formats.artefact`): a writer killed at any phase leaves the
target as the whole old artefact or the whole new one, never neither, and the same command
run again gives the bytes of an uninterrupted build; the swap itself (exchange and rename
fallback), the clean-up of killed writers' leftovers, and manifests written before (old keys
and entry shapes) still open."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cooc
from cooc.cli.main import main as cli_main
from cooc.errors import CoocError
from cooc.formats import artefact
from cooc.formats.manifest import manifest_files, read_folder_manifest, write_manifest

SRC = str(Path(cooc.__file__).resolve().parents[1])
CORPUS_OLD = "a b c\nb c d\na b\n"
CORPUS_NEW = "x y z w\ny z\nx y\nw x y z\nz z y\n"
FALLBACK = ["0.5", "1", "1.5"]


# -- helpers ----------------------------------------------------------------------------------


def digest(path: Path) -> dict[str, str]:
    """sha256 of every file of an artefact (a folder's files by relative path)."""
    path = Path(path)
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if any(s in p.name for s in (".tmp-", ".old-", ".partial", ".build")))


def verify_index(path):
    from cooc.cooccur.reader import open_index
    from cooc.cooccur.verify import verify_index as check

    assert check(path) == []
    with open_index(path) as ix:
        assert ix.vocab_size > 0


def verify_store(path):
    from cooc.store import open_store

    open_store(path).verify()


def verify_ngrams(path):
    from cooc.ngram.reader import open_ngrams

    open_ngrams(path).verify()


def verify_arpa(path):
    from cooc.lm.arpa import read_arpa

    assert read_arpa(path).order == 3


def verify_trie(path):
    from cooc.lm.trie import open_trie_lm

    open_trie_lm(path).verify()


WS = ["--tokenizer", "whitespace", "-q"]
# name -> (target name, command for (input, output), verify)
WRITERS = {
    "index": ("t.cooc", lambda i, o: ["build", i, "-o", o, *WS], verify_index),
    "store": ("t.tokens", lambda i, o: ["tokenize", i, "-o", o, *WS], verify_store),
    "ngrams": ("t.ngrams", lambda i, o: ["ngram", "count", i, "-o", o, *WS], verify_ngrams),
    "arpa": ("t.arpa", lambda i, o: ["lm", "estimate", i, "-o", o, *WS, "--order", "3",
                                     "--discount-fallback", *FALLBACK], verify_arpa),
    "trie": ("t.lm", lambda i, o: ["lm", "index", i, "-o", o], verify_trie),
}

KILLER = """
import os, signal, sys
from pathlib import Path
from cooc.formats import artefact
phase, name, mode = sys.argv[1:4]
if mode == "rename":  # as on a system without renameat2(RENAME_EXCHANGE)
    artefact.exchange = lambda a, b: False
def hook(p, target):
    if p == phase and Path(target).name == name:
        os.kill(os.getpid(), signal.SIGKILL)
artefact.set_phase_hook(hook)
from cooc.cli.main import main
raise SystemExit(main(sys.argv[4:]))
"""


def run_cli(args: list[str], cwd: Path, phase: str = "-", name: str = "-",
            mode: str = "exchange") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", KILLER, phase, name, mode, *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """For every writer: the inputs, and solo builds of the old and the new artefact."""
    root = tmp_path_factory.mktemp("lifecycle")
    (root / "old.txt").write_text(CORPUS_OLD)
    (root / "new.txt").write_text(CORPUS_NEW)
    out = {}
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for src in ("old", "new"):
            assert cli_main(WRITERS["arpa"][1](f"{src}.txt", f"{src}.arpa")) == 0
        for w, (name, cmd, _) in WRITERS.items():
            inputs = ("old.arpa", "new.arpa") if w == "trie" else ("old.txt", "new.txt")
            for which, i in zip(("old", "new"), inputs, strict=True):
                target = root / "solo" / w / which / name
                target.parent.mkdir(parents=True)
                assert cli_main(cmd(str(root / i), str(target))) == 0
            out[w] = [root / i for i in inputs]
    finally:
        os.chdir(cwd)
    return root, out


# -- a writer killed at every phase -----------------------------------------------------------


KILLS = [(w, p, "exchange") for w in WRITERS for p in artefact.PHASES]
KILLS += [(w, "swapped", "rename") for w in WRITERS]


@pytest.mark.parametrize("writer, phase, mode", KILLS)
def test_killed_writer_leaves_old_or_new_and_rerun_gives_the_same_bytes(built, tmp_path, writer,
                                                                        phase, mode):
    root, inputs = built
    name, cmd, verify = WRITERS[writer]
    old_solo = root / "solo" / writer / "old" / name
    new_solo = root / "solo" / writer / "new" / name
    old, new = digest(old_solo), digest(new_solo)
    assert old != new
    target = tmp_path / name
    if old_solo.is_dir():
        shutil.copytree(old_solo, target)
    else:
        shutil.copy2(old_solo, target)
    args = cmd(str(inputs[writer][1]), str(target))

    r = run_cli(args, tmp_path, phase, name, mode)
    assert r.returncode == -9, (r.returncode, r.stderr[-2000:])
    verify(target)  # it opens and verifies, whatever the moment of the kill
    got = digest(target)
    assert got == (new if phase == "swapped" else old), f"neither old nor new after {phase}"

    r = run_cli(args, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    verify(target)
    assert digest(target) == new
    assert leftovers(tmp_path) == []


def test_phases_in_order_and_once(built, tmp_path):
    root, inputs = built
    seen = []
    previous = artefact.set_phase_hook(lambda p, t: seen.append((p, t.name)))
    try:
        target = tmp_path / "t.ngrams"
        shutil.copytree(root / "solo" / "ngrams" / "old" / "t.ngrams", target)
        assert cli_main(WRITERS["ngrams"][1](str(inputs["ngrams"][1]), str(target))) == 0
    finally:
        assert artefact.set_phase_hook(previous) is not None
    assert seen == [(p, "t.ngrams") for p in artefact.PHASES]


# -- the swap ---------------------------------------------------------------------------------


def folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"magic": "TEST", "text": text}))
    (path / "data.bin").write_text(text)
    return path


def content(path: Path) -> str:
    return (path / "data.bin").read_text()


def exchange_works(tmp_path: Path) -> bool:
    a, b = folder(tmp_path / "xa", "a"), folder(tmp_path / "xb", "b")
    ok = artefact.exchange(a, b)
    shutil.rmtree(a)
    shutil.rmtree(b)
    return ok


@pytest.mark.parametrize("syscall_only", [False, True])
def test_renameat2_exchanges_two_folders(tmp_path, syscall_only):
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux's")
    a, b = folder(tmp_path / "a", "A"), folder(tmp_path / "b", "B")
    try:
        artefact.renameat2(a, b, artefact.RENAME_EXCHANGE, syscall_only=syscall_only)
    except OSError as e:
        pytest.skip(f"no RENAME_EXCHANGE here: {e}")
    assert content(a) == "B" and content(b) == "A"
    with pytest.raises(FileNotFoundError):
        artefact.renameat2(tmp_path / "missing", b, artefact.RENAME_EXCHANGE,
                           syscall_only=syscall_only)


def test_swap_by_exchange_never_leaves_the_target_empty(tmp_path):
    if not exchange_works(tmp_path):
        pytest.skip("no RENAME_EXCHANGE on this file system")
    target = folder(tmp_path / "t", "old")
    new = folder(artefact.tmp_path(target), "new")
    seen = []

    def hook(phase, t):
        seen.append((phase, content(t)))

    previous = artefact.set_phase_hook(hook)
    try:
        artefact.swap_into_place(new, target)
    finally:
        artefact.set_phase_hook(previous)
    assert seen == [("swapping", "old"), ("swapped", "new")]
    assert content(target) == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_swap_falls_back_to_two_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(artefact, "exchange", lambda a, b: False)
    target = folder(tmp_path / "t", "old")
    new = folder(artefact.tmp_path(target), "new")
    seen = []

    def hook(phase, t):
        old = artefact.old_path(t)
        seen.append((phase, content(t), content(old) if old.exists() else None))

    previous = artefact.set_phase_hook(hook)
    try:
        artefact.swap_into_place(new, target)
    finally:
        artefact.set_phase_hook(previous)
    assert seen == [("swapping", "old", None), ("swapped", "new", "old")]
    assert content(target) == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_swap_into_a_missing_target_renames(tmp_path):
    target = tmp_path / "t"
    artefact.swap_into_place(folder(artefact.tmp_path(target), "new"), target)
    assert content(target) == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_failed_second_rename_puts_the_old_one_back(tmp_path, monkeypatch):
    monkeypatch.setattr(artefact, "exchange", lambda a, b: False)
    target = folder(tmp_path / "t", "old")
    real = os.rename

    def rename(a, b):
        if Path(a).name.startswith("t.tmp-"):
            raise OSError("disk on fire")
        real(a, b)

    monkeypatch.setattr(artefact.os, "rename", rename)
    with pytest.raises(OSError, match="disk on fire"):
        artefact.swap_into_place(folder(artefact.tmp_path(target), "new"), target)
    assert content(target) == "old" and not artefact.old_path(target).exists()


# -- leftovers of killed writers --------------------------------------------------------------


def test_stale_leftovers_of_dead_writers_are_removed(tmp_path):
    pid = dead_pid()
    target = folder(tmp_path / "t", "current")
    folder(artefact.tmp_path(target, pid), "half-written")
    folder(artefact.old_path(target, pid), "old")
    (tmp_path / f"t.tmp-{pid + 1}x").write_text("not ours")  # not a leftover name
    alive = folder(artefact.tmp_path(target, 1), "a running writer's")  # pid 1 runs
    artefact.remove_stale(target)
    assert content(target) == "current"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["t", f"t.tmp-{pid + 1}x",
                                                                  alive.name])


def test_killed_between_the_two_renames_the_old_one_comes_back(tmp_path):
    """The rename fallback killed after moving the target away: the next writer, and a
    reader that finds the target missing, put the old copy back."""
    pid = dead_pid()
    target = tmp_path / "t"
    folder(artefact.old_path(target, pid), "old")
    folder(artefact.tmp_path(target, pid), "new, never swapped")
    artefact.remove_stale(target)
    assert content(target) == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_readers_restore_an_interrupted_swap(built, tmp_path):
    root, _ = built
    pid = dead_pid()
    for w, (name, _, verify) in WRITERS.items():
        if w == "arpa":
            continue  # a file: replaced in one step, never missing
        target = tmp_path / name
        shutil.copytree(root / "solo" / w / "old" / name, artefact.old_path(target, pid))
        verify(target)
        assert digest(target) == digest(root / "solo" / w / "old" / name)
    assert leftovers(tmp_path) == []


def test_old_copy_of_a_running_writer_is_left_alone(tmp_path):
    target = tmp_path / "t"
    folder(artefact.old_path(target, 1), "old")
    assert not artefact.restore_interrupted(target)
    assert not target.exists()


def test_folder_artefact_refuses_foreign_targets_before_the_work(tmp_path):
    (tmp_path / "file").write_text("x")
    folder(tmp_path / "other", "x")
    (tmp_path / "empty").mkdir()
    for name in ("file", "other"):
        with pytest.raises(CoocError, match="refusing to replace .* not a cooc thing"):
            artefact.FolderArtefact(tmp_path / name, "MAGIC", "cooc thing")
        assert not artefact.tmp_path(tmp_path / name).exists()
    with artefact.FolderArtefact(tmp_path / "empty", "MAGIC", "cooc thing") as art:
        f = art.write_bytes("x", "x.txt", b"hello")
        assert f["sha256"] == hashlib.sha256(b"hello").hexdigest() and f["bytes"] == 5
        art.finish({"magic": "MAGIC", "format_version": 1, "created_by": "test",
                    "files": art.files})
    m = read_folder_manifest(tmp_path / "empty", "manifest.json", "MAGIC", 1, "a thing", "-")
    assert m["files"] == [f]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file", "other"]


@pytest.mark.parametrize("writer", ["index", "store", "ngrams", "trie"])
def test_writers_refuse_foreign_targets(built, tmp_path, writer):
    _, inputs = built
    name, cmd, _ = WRITERS[writer]
    target = tmp_path / name
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert cli_main(cmd(str(inputs[writer][1]), str(target))) == 2
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert leftovers(tmp_path) == []


def test_folder_artefact_abort_leaves_the_target(tmp_path):
    target = folder(tmp_path / "t", "old")
    with pytest.raises(RuntimeError), artefact.FolderArtefact(target, "TEST", "test") as art:
        art.write_bytes("x", "x.txt", b"new")
        raise RuntimeError
    assert content(target) == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_atomic_file(tmp_path):
    target = tmp_path / "out.tsv"
    target.write_text("old")
    stale = artefact.tmp_path(target, dead_pid())
    stale.write_text("half")
    with pytest.raises(ValueError), artefact.atomic_file(target) as tmp:
        tmp.write_text("new")
        raise ValueError
    assert target.read_text() == "old" and not stale.exists()
    seen = []
    previous = artefact.set_phase_hook(lambda p, t: seen.append(p))
    try:
        with artefact.atomic_file(target) as tmp:
            tmp.write_text("new")
    finally:
        artefact.set_phase_hook(previous)
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == [
        "out.tsv"]
    assert seen == list(artefact.PHASES)


def test_unknown_phase_is_an_error():
    with pytest.raises(ValueError, match="unknown artefact phase"):
        artefact.enter_phase("nope", "x")


# -- manifests written before -----------------------------------------------------------------


def test_manifest_files_reads_every_shape():
    entry = {"file": "a.bin", "dtype": "<u4", "shape": [2], "sha256": "0" * 64}
    now = [{"name": "a", **entry, "bytes": 8}]
    assert manifest_files({"files": now}) == now
    assert manifest_files({"arrays": [{"name": "a", **entry, "nbytes": 8}]}) == now
    assert manifest_files({"files": {"a": {**entry, "nbytes": 8}}}) == now
    assert manifest_files({"shards": []}) is None
    assert manifest_files({"files": [1]}) is None


def test_write_manifest_is_strict_json(tmp_path):
    write_manifest(tmp_path, {"magic": "X", "text": "é\udcff"})
    assert json.loads((tmp_path / "manifest.json").read_text())["text"] == "é\udcff"
    with pytest.raises(ValueError):
        write_manifest(tmp_path, {"x": float("nan")})


def to_old_shape(writer: str, path: Path) -> None:
    """Rewrite a manifest as the cooc before the one lifecycle wrote it."""
    m = json.loads((path / "manifest.json").read_text())
    del m["manifest_sha256"]  # written since
    arrays = [{**{k: v for k, v in e.items() if k != "bytes"}, "nbytes": e["bytes"]}
              for e in m.pop("files") if e["dtype"] is not None]  # vocab.json: not listed
    if writer == "index":
        m["arrays"] = arrays
    elif writer in ("ngrams", "trie"):
        m["files"] = {e.pop("name"): e for e in arrays}
    else:  # store: per shard, without shapes, file names inside the shard
        for s in m["shards"]:
            s["arrays"] = {e["name"]: {"file": e["file"].split("/", 1)[1], "dtype": e["dtype"],
                                       "nbytes": e["nbytes"], "sha256": e["sha256"]}
                           for e in arrays if e["file"].startswith(s["name"] + "/")}
    (path / "manifest.json").write_text(json.dumps(m, indent=2))


@pytest.mark.parametrize("writer", ["index", "store", "ngrams", "trie"])
def test_artefacts_written_before_still_open(built, tmp_path, writer):
    root, _ = built
    name, _, verify = WRITERS[writer]
    target = tmp_path / name
    shutil.copytree(root / "solo" / writer / "new" / name, target)
    to_old_shape(writer, target)
    verify(target)
    if writer == "store":
        from cooc.store import open_store

        a = open_store(target)
        b = open_store(root / "solo" / writer / "new" / name)
        got = [(t.tolist(), n.tolist()) for t, n in a.iter_batches(4)]
        assert got == [(t.tolist(), n.tolist()) for t, n in b.iter_batches(4)]
        assert a.document_origin(1) == b.document_origin(1)
