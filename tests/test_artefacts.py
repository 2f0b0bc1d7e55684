"""One query vocabulary: every artefact's reader (co-occurrence index, token store, n-gram
index, LM trie, ARPA model, vectors) answers `stats()` (plain numbers) and `verify()` (None, or the
format's CoocError naming the file on one line), and `cooc stats` / `cooc verify` take any of
them, telling them apart by what the path holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cooc.cli.main import main
from cooc.cli.query import KIND_NAMES, MAGICS, artefact_kind, open_artefact
from cooc.errors import CoocError

SENTENCES = [f"w{i % 7} w{i % 5} w{i % 3} w{i % 11} w{(i * 3) % 13}" for i in range(300)]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("artefacts")
    corpus = d / "c.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    paths = {"index": d / "c.cooc", "store": d / "c.tokens", "ngrams": d / "c.ngrams",
             "arpa": d / "c.arpa", "lm": d / "c.lm", "vectors": d / "c.vec"}
    ws = ["--tokenizer", "whitespace", "-q"]
    assert main(["build", str(corpus), "-o", str(paths["index"]), "--context-length", "4", *ws]) == 0
    assert main(["tokenize", str(corpus), "-o", str(paths["store"]), *ws]) == 0
    assert main(["ngram", "count", str(corpus), "-o", str(paths["ngrams"]), "--order", "3", *ws]) == 0
    assert main(["lm", "estimate", str(corpus), "-o", str(paths["arpa"]), "--order", "3",
                 "--discount-fallback", "0.5", "1", "1.5", "-q"]) == 0
    assert main(["lm", "index", str(paths["arpa"]), "-o", str(paths["lm"]), "--bits", "8"]) == 0
    assert main(["embed", "ppmi-svd", str(paths["index"]), "-o", str(paths["vectors"]), "--dim",
                 "4", "--min-count", "1", "-q"]) == 0
    return paths


def _numbers_and_text(x) -> bool:
    if isinstance(x, dict):
        return all(_numbers_and_text(v) for v in x.values())
    if isinstance(x, list):
        return all(_numbers_and_text(v) for v in x)
    return x is None or isinstance(x, (bool, int, float, str))


KINDS = ["index", "store", "ngrams", "lm", "arpa", "vectors"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_reader_answers_stats_and_verify(made, kind):
    path = made[kind]
    assert artefact_kind(str(path)) == kind
    art = open_artefact(str(path), kind)
    s = art.stats()
    assert _numbers_and_text(s) and json.loads(json.dumps(s))  # plain: JSON as it is
    assert str(path) in json.dumps(s)  # names what it describes
    assert art.verify() is None


def test_the_magic_table_is_the_formats():
    from cooc.cooccur import format as index_format
    from cooc.curate import bloom
    from cooc.embed import format as vectors_format
    from cooc.embed import pairs_format
    from cooc.lm import trie
    from cooc.ngram import writer
    from cooc.store import format as store_format

    assert MAGICS == {index_format.MAGIC: "index", store_format.MAGIC: "store",
                      writer.MAGIC: "ngrams", trie.MAGIC: "lm", vectors_format.MAGIC: "vectors",
                      pairs_format.MAGIC: "pairs", bloom.MAGIC: "bloom"}


def test_index_stats_live_on_the_index(made):
    from cooc.cooccur import Analyzer, open_index

    with open_index(made["index"]) as idx:
        s = idx.stats()
        assert Analyzer(idx).stats() == s
        assert s["pairs"] == idx.num_pairs and s["index_bytes"] == idx.nbytes()
        assert s["tokens"] == sum(len(x.split()) for x in SENTENCES)


def test_store_stats(made):
    from cooc.store import open_store

    s = open_store(made["store"]).stats()
    assert s["documents"] == len(SENTENCES) and s["tokens"] == 5 * len(SENTENCES)
    assert s["bytes"] == sum(s["array_bytes"].values()) > 4 * s["tokens"]
    assert s["tokenizer"] == "whitespace" and s["shards"] >= 1


def test_arpa_model_stats_and_verify(made):
    from cooc.errors import IndexFormatError
    from cooc.lm import LanguageModel, read_arpa

    lm = LanguageModel(read_arpa(made["arpa"]))
    s = lm.stats()
    assert s["grams"] == sum(lm.model.counts) and s["bytes"] == lm.nbytes
    assert s["file_bytes"] == made["arpa"].stat().st_size
    assert [o["grams"] for o in s["orders"].values()] == lm.model.counts
    lm.backoff[-1] = 0.5  # the highest order has no backoffs
    with pytest.raises(IndexFormatError, match=f"^{made['arpa']}: a 3-gram .* has a backoff"):
        lm.verify()
    lm = LanguageModel(read_arpa(made["arpa"]))
    b = int(lm.slot_base[2])
    lm.tkeys[b + int((lm.tkeys[b:] != 0).argmax())] = 0  # a 2-gram lost from its table
    with pytest.raises(IndexFormatError, match="2-grams are in the hash table"):
        lm.verify()
    lm.model.meta.pop("source")
    with pytest.raises(IndexFormatError, match="^the language model \\(in memory\\)"):
        lm.verify()


@pytest.mark.parametrize("kind", KINDS)
def test_cooc_stats_and_verify_take_any_artefact(made, kind, capsys):
    path = str(made[kind])
    assert main(["stats", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == path
    assert main(["stats", path]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["verify", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"cooc: {path}: ok ({KIND_NAMES[kind]}): ") and out.count("\n") == 1


def _damage(path: Path) -> Path:
    """Flip a byte in the middle of the folder's largest array file (or of the file)."""
    victim = path if path.is_file() else max(
        (p for p in path.rglob("*") if p.is_file() and p.suffix != ".json"),
        key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x5A
    victim.write_bytes(bytes(data))
    return victim


@pytest.mark.parametrize("kind", KINDS)
def test_damage_is_one_line_naming_the_file(made, kind, tmp_path, capsys):
    import shutil

    src = made[kind]
    path = tmp_path / src.name
    (shutil.copytree if src.is_dir() else shutil.copy)(src, path)
    if kind == "arpa":  # a word of the text made a number: the reader names file and line
        text = path.read_text(encoding="utf-8").splitlines()
        i = next(i for i, line in enumerate(text) if line.startswith("-") and "\t" in line)
        text[i] = "x" + text[i]
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
        victim = path
    else:
        victim = _damage(path)
        with pytest.raises(CoocError) as e:
            open_artefact(str(path), kind).verify()
        assert "\n" not in str(e.value) and victim.name in str(e.value)
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("cooc: verify: ") and out.count("\n") == 1 and victim.name in out
