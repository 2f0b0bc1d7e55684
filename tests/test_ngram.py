"""N-gram counting and the n-gram index against a naive collections.Counter."""

from __future__ import annotations

import collections
import gzip
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.errors import CoocError
from cooc.ngram import (
    NgramConfig,
    count_ngrams,
    count_ngrams_from_arrays,
    open_ngrams,
)
from cooc.ngram.google import escape, export_google, import_google, unescape
from cooc.options import RunOptions


def naive_counts(docs, order, markers=False, bos=None, eos=None):
    """Every k-gram (k = 1..order) of every document, as tuples, counted."""
    c = collections.Counter()
    for d in docs:
        s = list(d)
        if markers:
            s = [bos, *s, eos]
        for k in range(1, order + 1):
            for i in range(len(s) - k + 1):
                c[tuple(s[i : i + k])] += 1
    return c


def index_counts(idx):
    """Every stored k-gram of the index with its count, as a dict of id tuples."""
    out = {}
    for k in range(1, idx.order + 1):
        grams, counts = idx.iter_grams(k)
        for g, c in zip(grams.tolist(), counts.tolist(), strict=True):
            out[tuple(g)] = c
    return out


def _arrays(docs):
    tokens = np.array([t for d in docs for t in d], np.uint32)
    return tokens, np.array([len(d) for d in docs], np.int64)


def _count(docs, vocab, path, order, markers=False, memory=1 << 30, batch_tokens=0, threads=1,
           split=0):
    tokens, lens = _arrays(docs)
    if split:  # the caller's batches: documents in groups of `split`
        ptr = np.concatenate([[0], np.cumsum(lens)])
        batches = [(tokens[ptr[i] : ptr[min(i + split, len(lens))]], lens[i : i + split])
                   for i in range(0, len(lens), split)]
    else:
        batches = [(tokens, lens)]
    return count_ngrams_from_arrays(
        batches, vocab, path, NgramConfig(order=order, markers=markers),
        RunOptions(memory_bytes=memory, batch_tokens=batch_tokens, num_proc=threads,
                   quiet=True))


def _checksums(path):
    m = json.loads((Path(path) / "manifest.json").read_text())
    return {f["name"]: f["sha256"] for f in m["files"]}


docs_strategy = st.lists(st.lists(st.integers(0, 5), max_size=25), min_size=1, max_size=12)


def test_reference_helpers_catch_a_difference(tmp_path):
    # the comparison must be able to fail: drop one document from the reference
    docs = [[0, 1, 2, 1], [2, 2, 0]]
    _count(docs, 3, tmp_path / "x.ngrams", 3)
    got = index_counts(open_ngrams(tmp_path / "x.ngrams"))
    assert got == naive_counts(docs, 3)
    assert got != naive_counts(docs[:1], 3)


@settings(max_examples=30)
@given(docs=docs_strategy, order=st.integers(1, 5), markers=st.booleans(),
       batch=st.integers(1, 40), split=st.integers(0, 4), threads=st.integers(1, 2))
def test_counts_equal_counter_and_do_not_depend_on_budget(docs, order, markers, batch, split,
                                                          threads):
    with tempfile.TemporaryDirectory() as tmp:
        big = _count(docs, 6, Path(tmp) / "a.ngrams", order, markers)
        small = _count(docs, 6, Path(tmp) / "b.ngrams", order, markers, memory=1024,
                       batch_tokens=batch, threads=threads, split=split)
        ref = naive_counts(docs, order, markers, 6, 7)
        idx = open_ngrams(Path(tmp) / "a.ngrams")
        assert index_counts(idx) == ref
        assert _checksums(Path(tmp) / "a.ngrams") == _checksums(Path(tmp) / "b.ngrams")
        assert big.grams == small.grams == {k: sum(1 for g in ref if len(g) == k)
                                            for k in range(1, order + 1)}


def test_tiny_budget_spills_and_merges(tmp_path):
    rng = np.random.default_rng(1)
    docs = [rng.integers(0, 50, rng.integers(1, 60)).tolist() for _ in range(80)]
    r = _count(docs, 50, tmp_path / "s.ngrams", 6, True, memory=1024, batch_tokens=64)
    assert r.stats.spills > 3
    _count(docs, 50, tmp_path / "m.ngrams", 6, True)
    assert _checksums(tmp_path / "s.ngrams") == _checksums(tmp_path / "m.ngrams")
    assert index_counts(open_ngrams(tmp_path / "s.ngrams")) == naive_counts(docs, 6, True, 50, 51)


def test_wide_keys_several_words(tmp_path):
    # V = 70000: 17 bits a token, 3 tokens a word, order 8 takes 3 words
    rng = np.random.default_rng(2)
    docs = [rng.choice([5, 69_999, 40_000, 123], rng.integers(0, 30)).tolist() for _ in range(30)]
    _count(docs, 70_000, tmp_path / "w.ngrams", 8, memory=4096, batch_tokens=50)
    idx = open_ngrams(tmp_path / "w.ngrams")
    assert index_counts(idx) == naive_counts(docs, 8)


def test_lookups_and_continuations(tmp_path):
    rng = np.random.default_rng(3)
    docs = [rng.integers(0, 300, rng.integers(0, 400)).tolist() for _ in range(40)]
    _count(docs, 300, tmp_path / "x.ngrams", 4, markers=True)
    idx = open_ngrams(tmp_path / "x.ngrams")
    idx.verify()
    ref = naive_counts(docs, 4, True, 300, 301)
    for k in range(1, 5):
        grams = [g for g in ref if len(g) == k]
        q = np.array(grams, np.int64)
        assert idx.lookup_many(q).tolist() == [ref[g] for g in grams]
        assert idx.lookup_many(q, num_threads=2).tolist() == [ref[g] for g in grams]
        absent = rng.integers(0, 302, (500, k))
        want = [ref.get(tuple(g), 0) for g in absent.tolist()]
        assert idx.lookup_many(absent).tolist() == want
    assert idx.lookup([301, 300]) == 0  # </s> <s> never meet
    mixed = np.array([[1, 2, 3], [4, 0, 0]])
    assert idx.lookup_many(mixed, lens=[3, 1]).tolist() == [ref.get((1, 2, 3), 0), ref[(4,)]]
    for ctx in [(300,), (int(docs[0][0]),), tuple(docs[0][:2]), tuple(docs[0][:3]), (7, 7, 7)]:
        ids, counts = idx.continuations(ctx)
        want = {g[-1]: c for g, c in ref.items() if len(g) == len(ctx) + 1 and g[:-1] == ctx}
        assert dict(zip(ids.tolist(), counts.tolist(), strict=True)) == want
        assert list(ids) == sorted(want)
    with pytest.raises(ValueError, match="outside"):
        idx.lookup([302])
    with pytest.raises(ValueError, match="at most 3"):
        idx.continuations([1, 2, 3, 4])


@pytest.mark.parametrize("threads", [1, 3])
def test_large_batches_sorted_with_shared_prefixes(tmp_path, threads):
    """Batches of 4096+ lookups are sorted and neighbours copy shared prefixes' nodes: mixed
    lengths, duplicates, present and absent, in any order, give the counts one by one."""
    rng = np.random.default_rng(4)
    docs = [rng.integers(0, 40, rng.integers(0, 300)).tolist() for _ in range(60)]
    _count(docs, 40, tmp_path / "x.ngrams", 4, markers=True)
    idx = open_ngrams(tmp_path / "x.ngrams")
    ref = naive_counts(docs, 4, True, 40, 41)
    present = [g + (0,) * (4 - len(g)) for g in ref]
    pick = rng.integers(0, len(present), 30_000)
    q = np.array([present[i] for i in pick], np.int64)
    q[::7, 3] = rng.integers(0, 42, len(q[::7]))  # some absent
    q[::11] = rng.integers(0, 42, (len(q[::11]), 4))
    lens = rng.integers(1, 5, len(q))
    lens[::5] = [len(g) for g in (list(ref)[i] for i in pick[::5])]
    want = [ref.get(tuple(g[:n]), 0) for g, n in zip(q.tolist(), lens.tolist(), strict=True)]
    assert idx.lookup_many(q, lens=lens, num_threads=threads).tolist() == want
    # the kernel alone, in the caller's order (neighbours share prefixes by chance only)
    small = [idx.lookup_many(q[i : i + 1000], lens=lens[i : i + 1000]) for i in range(0, len(q), 1000)]
    assert np.concatenate(small).tolist() == want
    assert sum(c > 0 for c in want) > 10_000 and want.count(0) > 1000


@settings(max_examples=15, deadline=None)
@given(docs=docs_strategy, order=st.integers(1, 5), markers=st.booleans(), seed=st.integers(0, 99))
def test_hashed_lookups_equal_counter(docs, order, markers, seed):
    """The hash variant answers every stored n-gram, and absent ones, as the naive count."""
    from cooc.ngram import HashedNgrams

    with tempfile.TemporaryDirectory() as tmp:
        _count(docs, 6, Path(tmp) / "h.ngrams", order, markers=markers)
        idx = open_ngrams(Path(tmp) / "h.ngrams")
        hashed = HashedNgrams(idx)
    ref = naive_counts(docs, order, markers, 6, 7)
    v = 8 if markers else 6
    rng = np.random.default_rng(seed)
    q = rng.integers(0, v, (400, order))
    lens = rng.integers(1, order + 1, 400)
    grams = [g + (0,) * (order - len(g)) for g in ref]
    if grams:
        q[:len(grams[:200])] = grams[:200]
        lens[:len(grams[:200])] = [len(g) for g in list(ref)[:200]]
    want = [ref.get(tuple(g[:n]), 0) for g, n in zip(q.tolist(), lens.tolist(), strict=True)]
    assert hashed.lookup_many(q, lens=lens).tolist() == want
    assert hashed.lookup_many(q, lens=lens).tolist() == idx.lookup_many(q, lens=lens).tolist()
    with pytest.raises(ValueError, match="outside"):
        hashed.lookup([v])


def _write_corpus(tmp_path, lines):
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


WORDS = ["a", "b", "cat", "dog", "x\\y", "é"]


@settings(max_examples=10)
@given(docs=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=15), min_size=1,
                     max_size=8), markers=st.booleans())
def test_whitespace_text_equals_counter(docs, markers):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = _write_corpus(tmp, [" ".join(d) for d in docs])
        count_ngrams(src, tmp / "t.ngrams", NgramConfig(order=3, tokenizer="whitespace",
                                                         markers=markers),
                     RunOptions(quiet=True, num_proc=1))
        idx = open_ngrams(tmp / "t.ngrams")
        texts = idx.token_texts()
        got = {tuple(texts[i] for i in g): c for g, c in index_counts(idx).items()}
        assert got == naive_counts(docs, 3, markers, "<s>", "</s>")
        if markers:
            assert idx.lookup(idx.encode("<s> " + " ".join(docs[0][:2]))) >= 1


def test_store_equals_text(tmp_path):
    src = _write_corpus(tmp_path, ["the cat sat on the mat", "the dog sat", "a b a b a"])
    assert main(["tokenize", str(src), "-o", str(tmp_path / "s.tokens"), "--tokenizer",
                 "whitespace", "-q"]) == 0
    cfg = NgramConfig(order=3, tokenizer="whitespace", markers=True)
    count_ngrams(str(tmp_path / "s.tokens"), tmp_path / "a.ngrams", cfg, RunOptions(quiet=True))
    count_ngrams(src, tmp_path / "b.ngrams", cfg, RunOptions(quiet=True))
    assert _checksums(tmp_path / "a.ngrams") == _checksums(tmp_path / "b.ngrams")
    idx = open_ngrams(tmp_path / "a.ngrams")
    assert idx.lookup(idx.encode("sat on the")) == 1
    assert idx.lookup(idx.encode("the mat </s>")) == 1
    assert idx.lookup(idx.encode("mat the")) == 0  # never across documents


@pytest.mark.parametrize("gz", [False, True])
def test_google_round_trip(tmp_path, gz):
    rng = np.random.default_rng(4)
    docs = [rng.integers(0, 40, rng.integers(0, 50)).tolist() for _ in range(30)]
    _count(docs, 40, tmp_path / "x.ngrams", 4, markers=True)
    files = export_google(open_ngrams(tmp_path / "x.ngrams"), tmp_path / "g", gz)
    assert [f.name for f in files] == [f"{k}-grams" + (".gz" if gz else "") for k in range(1, 5)]
    opener = gzip.open if gz else open
    with opener(files[1], "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert int(lines[0]) == len(lines) - 1 == open_ngrams(tmp_path / "x.ngrams").grams[2]
    assert all(len(x.split("\t")) == 2 and len(x.split("\t")[0].split(" ")) == 2 for x in lines[1:])
    import_google(tmp_path / "g", tmp_path / "y.ngrams")
    assert _checksums(tmp_path / "x.ngrams") == _checksums(tmp_path / "y.ngrams")
    # without the sidecar: ids in 1-grams line order; the same counts by text
    (tmp_path / "g" / "cooc-ngrams.json").unlink()
    import_google(tmp_path / "g", tmp_path / "z.ngrams")
    a, b = open_ngrams(tmp_path / "x.ngrams"), open_ngrams(tmp_path / "z.ngrams")
    ta, tb = a.token_texts(), b.token_texts()
    assert ({tuple(ta[i] for i in g): c for g, c in index_counts(a).items()}
            == {tuple(tb[i] for i in g): c for g, c in index_counts(b).items()})


def test_escapes_round_trip():
    for t in ["a b", "\t\n\r", "\\s", "\\", " hello", "plain", ""]:
        e = escape(t)
        assert not any(ch in e for ch in " \t\n\r")
        assert unescape(e) == t
    with pytest.raises(ValueError):
        unescape("bad\\q")


def _google_folder(tmp_path, two_grams: str) -> Path:
    g = tmp_path / "bad"
    g.mkdir(exist_ok=True)
    (g / "1-grams").write_text("3\na\t2\nb\t2\nc\t1\n", encoding="utf-8")
    (g / "2-grams").write_text(two_grams, encoding="utf-8")
    return g


@pytest.mark.parametrize("body, line, words", [
    ("3\na b\t1\nb c\t1\n", 1, "header says 3"),
    ("2\na b\t1\nb c 1\n", 3, "no TAB"),
    ("2\na b\t1\nb c\tmany\n", 3, "not an integer"),
    ("2\na b c\t1\nb c\t1\n", 2, "3 tokens in a 2-grams"),
    ("x\na b\t1\n", 1, "header must be"),
    ("1\na zz\t1\n", 2, "unknown token"),
])
def test_bad_google_files_give_one_line_errors(tmp_path, body, line, words):
    g = _google_folder(tmp_path, body)
    with pytest.raises(CoocError) as e:
        import_google(g, tmp_path / "out.ngrams")
    msg = str(e.value)
    assert "\n" not in msg and "2-grams" in msg and words in msg
    assert f"line {line}" in msg
    assert not (tmp_path / "out.ngrams").exists()
    assert not list(tmp_path.glob("out.ngrams.tmp-*"))


def test_cli(tmp_path, capsys):
    src = _write_corpus(tmp_path, ["the cat sat on the mat", "the dog sat on the cat"])
    out = tmp_path / "c.ngrams"
    assert main(["ngram", "count", str(src), "-o", str(out), "--order", "3", "--tokenizer",
                 "whitespace", "--markers", "--memory", "64M", "-q"]) == 0
    assert main(["ngram", "lookup", str(out), "sat on the"]) == 0
    assert capsys.readouterr().out.strip().endswith("\t2")
    assert main(["ngram", "lookup", str(out), "<s> the", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    ids = open_ngrams(out).encode("on the").tolist()
    assert main(["ngram", "lookup", str(out), " ".join(f"#{i}" for i in ids)]) == 0
    assert capsys.readouterr().out.strip().endswith("\t2")
    assert main(["ngram", "continuations", str(out), "on the", "--top-k", "5", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {c["text"]: c["count"] for c in got["continuations"]} == {"mat": 1, "cat": 1}
    assert main(["ngram", "continuations", str(out), "the"]) == 0
    assert "continuations" in capsys.readouterr().out
    assert main(["ngram", "stats", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["orders"]["2"]["grams"] == len({("<s>", "the"), ("the", "cat"), ("cat", "sat"),
                                             ("sat", "on"), ("on", "the"), ("the", "mat"),
                                             ("mat", "</s>"), ("the", "dog"), ("dog", "sat"),
                                             ("cat", "</s>")})
    assert main(["ngram", "stats", str(out)]) == 0
    assert "B/gram" in capsys.readouterr().out
    assert main(["ngram", "export", str(out), "-o", str(tmp_path / "g"), "--gzip"]) == 0
    assert main(["ngram", "import", str(tmp_path / "g"), "-o", str(tmp_path / "d.ngrams")]) == 0
    assert _checksums(out) == _checksums(tmp_path / "d.ngrams")
    capsys.readouterr()
    assert main(["ngram", "count", str(src), "-o", str(out), "--order", "9"]) == 2
    assert "order must be" in capsys.readouterr().err
    assert main(["ngram", "lookup", str(tmp_path), "x"]) == 2
    assert "not an n-gram index" in capsys.readouterr().err


def test_cli_verify_names_a_damaged_file(tmp_path, capsys):
    src = _write_corpus(tmp_path, ["a b c d", "b c d e", "c d e f"])
    out = tmp_path / "v.ngrams"
    assert main(["ngram", "count", str(src), "-o", str(out), "--order", "3", "--tokenizer",
                 "whitespace", "-q"]) == 0
    assert main(["ngram", "verify", str(out)]) == 0
    assert "ok" in capsys.readouterr().out
    victim = max((p for p in out.iterdir() if p.suffix != ".json"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert main(["ngram", "verify", str(out)]) == 1
    assert victim.name in capsys.readouterr().out
