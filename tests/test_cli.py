"""The `cooc` command through `main(argv)`: reference-compatible commands, exports, errors."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from reference import reference_dict_of_sets, reference_windows

from cooc.cli.main import main
from cooc.cooccur import open_index


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


DOCS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "birds fly"] * 5


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A whitespace index built the reference way, with pickle and TSV outputs."""
    d = tmp_path_factory.mktemp("cli")
    data = d / "data"
    data.mkdir()
    write_jsonl(data / "a.jsonl", DOCS)
    rc = main(["build", "--data-dir", str(data), "--context-length", "4", "--batch-size", "3",
               "--num-proc", "2", "--out-file", str(d / "X.pkl"), "--readable-out",
               str(d / "Y.txt"), "--tokenizer", "whitespace", "-q"])
    assert rc == 0
    return d


def test_reference_build_outputs(built):
    assert (built / "X.cooc" / "manifest.json").is_file()
    with open(built / "X.pkl", "rb") as f:
        got = pickle.load(f)
    idx = open_index(built / "X.cooc")
    texts = idx.token_texts
    ids = {t: i for i, t in enumerate(texts) if t}
    docs = [[ids[w] for w in d.split()] for d in DOCS]
    want = reference_dict_of_sets(reference_windows(docs, 4))
    assert got == want
    assert isinstance(next(iter(got.values())), set)
    lines = (built / "Y.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["token_id", "token_text", "cooccurring_count",
                                    "example_cooccurring_tokens"]
    rows = {int(r.split("\t")[0]): r.split("\t") for r in lines[1:]}
    assert set(rows) == set(want)
    cat = ids["cat"]
    assert rows[cat][1] == "cat" and int(rows[cat][2]) == len(want[cat])
    examples = [e.split(":", 1) for e in rows[cat][3].split(";")]
    assert all(int(i) in want[cat] and texts[int(i)] == t for i, t in examples)


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["--stats"], "pairs"),
        (["--query-token", "cat", "--top-k", "3"], "neighbours of #"),
        (["--top-connected", "2"], "most connected"),
        (["--mutual-check", "cat", "and"], "met in"),
        (["--mutual-check", "cat", "dog"], "never met"),  # windows of 4: [a cat and a] [dog]
        (["--mutual-check", "cat", "birds"], "never met"),
        (["--common-coocs", "cat", "dog"], "share"),
    ],
)
def test_analyze_reference_commands(built, capsys, argv, expect):
    assert main(["analyze", "--data", str(built / "X.pkl"), *argv]) == 0
    assert expect in capsys.readouterr().out


def test_query_commands(built, capsys):
    idx = str(built / "X.cooc")
    assert main(["neighbours", idx, "cat", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # windows of 4: [the cat sat on] [the mat] ... [a cat and a] [dog]
    assert {r["text"] for r in rows} == {"the", "sat", "on", "a", "and"}
    assert rows == sorted(rows, key=lambda r: (-r["count"], r["token_id"]))
    assert main(["neighbours", idx, "#0", "--by", "pmi"]) == 0
    capsys.readouterr()
    assert main(["stats", idx, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["directed_entries"] == 2 * stats["pairs"]
    assert main(["verify", idx]) == 0


def test_exports(built, tmp_path):
    import pyarrow.parquet as pq
    import scipy.sparse as sp

    idx_path = str(built / "X.cooc")
    idx = open_index(idx_path)
    assert main(["export", idx_path, "-f", "parquet", "-o", str(tmp_path / "e.parquet")]) == 0
    t = pq.read_table(tmp_path / "e.parquet").to_pydict()
    assert all(a <= b for a, b in zip(t["a"], t["b"], strict=True))
    assert len(t["a"]) == idx.num_pairs
    for a, b, c in zip(t["a"], t["b"], t["count"], strict=True):
        assert idx.pair_count(a, b) == c == idx.pair_count(b, a)
    assert main(["export", idx_path, "-f", "scipy", "-o", str(tmp_path / "m.npz")]) == 0
    m = sp.load_npz(tmp_path / "m.npz")
    assert m.shape == (idx.vocab_size, idx.vocab_size) and m.nnz == idx.num_entries
    assert (m != m.T).nnz == 0
    a = np.array([0, 1, 2]), np.array([1, 2, 0])
    assert idx.pair_counts(*a).tolist() == [int(m[i, j]) for i, j in zip(*a, strict=True)]


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["build", str(tmp_path / "missing"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cooc: error:") and "\n" not in err and "missing" in err
    write_jsonl(tmp_path / "a.jsonl", ["x"])
    assert main(["build", str(tmp_path / "a.jsonl"), "--tokenizer", "nope", "-o",
                 str(tmp_path / "a.cooc"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "\n" not in err
    bad = tmp_path / "bad.cooc"
    bad.mkdir()
    (bad / "manifest.json").write_text("{not json")
    assert main(["stats", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cooc: error:") and "\n" not in err


def test_multi_token_query_is_explained(tmp_path, capsys):
    write_jsonl(tmp_path / "a.jsonl", ["Hello world, tokenization matters."])
    assert main(["build", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "q.cooc"), "-q"]) == 0
    assert main(["neighbours", str(tmp_path / "q.cooc"), "tokenization"]) == 2
    err = capsys.readouterr().err
    assert "tokens, not one" in err and "#" in err
    assert main(["neighbours", str(tmp_path / "q.cooc"), " world"]) == 0


def test_bad_input_exit_codes(tmp_path, capsys):
    from corpus_fixtures import make_bad_corpus

    want = make_bad_corpus(tmp_path / "bad")
    out = str(tmp_path / "bad.cooc")
    assert main(["build", str(tmp_path / "bad"), "-o", out, "--tokenizer", "whitespace"]) == 0
    err = capsys.readouterr().err
    for reason, n in want.items():
        if reason not in ("documents", "files") and n:
            assert f"{reason}: {n}" in err
    assert main(["build", str(tmp_path / "bad"), "-o", out, "--tokenizer", "whitespace",
                 "--strict", "-q"]) != 0


def test_killed_build_leaves_no_index(tmp_path):
    """SIGINT/SIGTERM at any moment: either a complete index or nothing at the target."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    docs = [" ".join(rng.choice(words, 400)) for _ in range(3000)]
    data = write_jsonl(tmp_path / "big.jsonl", docs)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for sig, delay in ((signal.SIGINT, 1.5), (signal.SIGTERM, 2.5)):
        out = tmp_path / f"k{int(sig)}.cooc"
        p = subprocess.Popen([sys.executable, "-m", "cooc", "build", str(data), "-o", str(out),
                              "--tokenizer", "whitespace", "-q"], env=env,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        # 0: done first; 130: our handler; death by the signal itself: it landed before the
        # handler was set or after it was restored (interpreter start-up or exit)
        assert p.returncode in (0, 130, -sig), err
        if out.exists():  # the work was finished: the index must be complete
            assert main(["verify", str(out)]) == 0
        else:
            assert p.returncode != 0, err
        assert not [x for x in tmp_path.iterdir() if x.name.startswith(f".{out.name}")]
