"""First-use checks (`cooc.formats.checked`): no reader answers from bytes that fail their
checksums, yet a sound artefact is hashed once per machine, not once per open."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cooc.cli.main import main
from cooc.cooccur.reader import CoocIndex
from cooc.errors import IndexFormatError
from cooc.formats import checked
from cooc.lm.trie import TrieLanguageModel
from cooc.ngram import open_ngrams

SENTENCES = [f"w{i % 7} w{i % 5} w{i % 3} w{i % 11} w{(i * 3) % 13}" for i in range(200)]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("checked")
    corpus = d / "c.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    ws = ["--tokenizer", "whitespace", "-q"]
    assert main(["build", str(corpus), "-o", str(d / "c.cooc"), "--context-length", "4", *ws]) == 0
    assert main(["ngram", "count", str(corpus), "-o", str(d / "c.ngrams"), "--order", "3", *ws]) == 0
    assert main(["lm", "estimate", str(corpus), "-o", str(d / "c.arpa"), "--order", "3",
                 "--discount-fallback", "0.5", "1", "1.5", "-q"]) == 0
    assert main(["lm", "index", str(d / "c.arpa"), "-o", str(d / "c.lm")]) == 0
    return {"index": d / "c.cooc", "ngrams": d / "c.ngrams", "lm": d / "c.lm"}


OPENERS = {"index": CoocIndex.open, "ngrams": open_ngrams, "lm": TrieLanguageModel}
DAMAGE = {"index": "data.bin", "ngrams": "counts.u64", "lm": "trie.u64"}


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """The number of full checks run (checksums read), with stamps in a fresh cache and no
    racy margin (files written a moment ago may be stamped)."""
    monkeypatch.setenv("COOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(checked, "RACY_SECONDS", 0.0)
    calls = []
    real = checked.file_problem
    monkeypatch.setattr(checked, "file_problem", lambda *a: calls.append(a) or real(*a))
    return calls


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", list(OPENERS))
def test_a_sound_artefact_is_hashed_once_and_a_changed_one_again(made, kind, counted, tmp_path):
    art = tmp_path / made[kind].name
    shutil.copytree(made[kind], art)
    OPENERS[kind](art)
    OPENERS[kind](art)
    assert len(counted) == 1  # the second open trusted the stamp
    _flip(art / DAMAGE[kind])  # a write changes the file's ctime: the stamp no longer holds
    with pytest.raises(IndexFormatError, match="checksum"):
        OPENERS[kind](art)
    assert len(counted) == 2


def test_a_file_replaced_by_another_with_the_same_times_is_checked_again(made, counted, tmp_path):
    art = tmp_path / "c.cooc"
    shutil.copytree(made["index"], art)
    CoocIndex.open(art)
    target = art / "data.bin"
    st = target.stat()
    damaged = tmp_path / "data.bin"
    shutil.copyfile(target, damaged)
    _flip(damaged)
    os.utime(damaged, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime, new inode
    os.replace(damaged, target)
    with pytest.raises(IndexFormatError, match="data.bin fails its checksum"):
        CoocIndex.open(art)


def test_always_mode_and_racy_files_are_never_trusted(made, counted, tmp_path, monkeypatch):
    art = tmp_path / "c.cooc"
    shutil.copytree(made["index"], art)
    monkeypatch.setenv("COOC_CHECKSUMS", "always")
    CoocIndex.open(art)
    CoocIndex.open(art)
    assert len(counted) == 2
    monkeypatch.setenv("COOC_CHECKSUMS", "once")
    monkeypatch.setattr(checked, "RACY_SECONDS", 3600.0)  # every file is "just written"
    CoocIndex.open(art)
    CoocIndex.open(art)
    assert len(counted) == 4
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json"))


def test_an_unwritable_cache_costs_speed_only(made, counted, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("COOC_CACHE_DIR", str(tmp_path / "file"))
    CoocIndex.open(made["index"])
    CoocIndex.open(made["index"])
    assert len(counted) == 2


def test_a_bad_mode_is_a_one_line_error(made, monkeypatch, capsys):
    monkeypatch.setenv("COOC_CHECKSUMS", "sometimes")
    assert main(["neighbours", str(made["index"]), "w1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "COOC_CHECKSUMS" in err and "\n" not in err


def test_the_cli_refuses_a_damaged_index_in_one_line(made, tmp_path, capsys):
    art = tmp_path / "c.cooc"
    shutil.copytree(made["index"], art)
    _flip(art / "data.bin")
    assert main(["neighbours", str(art), "w1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.bin fails its checksum" in err and "\n" not in err
