"""Contamination (cooc.curate.contamination): the kernel's hits equal a brute-force n-gram
reference; planted examples (whole and partial) are all found, with no false hit."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from curate_fixtures import read_output
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.curate.contamination import ContaminationFilter
from cooc.curate.run import run_steps
from cooc.curate.step import DocumentBatch
from cooc.options import RunOptions


def words_of(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def reference_keys(example: str, n: int, min_n: int) -> set[tuple]:
    w = words_of(example)
    if len(w) >= n:
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}
    return {tuple(w)} if len(w) >= min_n else set()


def reference_hits(doc: str, keys: set[tuple]) -> int:
    """Distinct keys found in doc: every window of every key length."""
    w = words_of(doc)
    lengths = {len(k) for k in keys}
    found = {tuple(w[i:i + m]) for m in lengths for i in range(len(w) - m + 1)} & keys
    return len(found)


def write_eval(path: Path, examples: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": e}) + "\n" for e in examples))
    return path


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from("a b c d e".split()), min_size=1, max_size=12),
                min_size=1, max_size=6),
       st.lists(st.lists(st.sampled_from("a b c d e F, g.".split()), min_size=1, max_size=30),
                min_size=1, max_size=12),
       st.integers(2, 5), st.integers(1, 4), st.sampled_from([1, 2, 3]))
def test_hits_equal_brute_force(tmp_path_factory, examples, docs, n, batch_size, threads):
    min_n = max(1, n - 2)
    examples = [" ".join(e) for e in examples]
    docs = [" ".join(d) for d in docs] * (70 if threads > 1 else 1)  # enough to split
    path = write_eval(tmp_path_factory.mktemp("ev") / "e.jsonl", examples)
    step = ContaminationFilter([path], n=n, min_ngram=min_n, num_threads=threads)
    got = []
    batch_size = batch_size if threads == 1 else 1000
    for i in range(0, len(docs), batch_size):
        d = step.decide(DocumentBatch(docs[i:i + batch_size],
                                      np.arange(i, min(i + batch_size, len(docs)))))
        got += d.score.astype(int).tolist()
    keys = set().union(*(reference_keys(e, n, min_n) for e in examples))
    assert got == [reference_hits(d, keys) for d in docs]
    table = step.example_table()
    for e, ex in enumerate(examples):
        mine = reference_keys(ex, n, min_n)
        seen = {k for k in mine if any(reference_hits(d, {k}) for d in docs)}
        assert table["keys"][e] == len(mine) and table["found"][e] == len(seen)


def test_planted_examples_are_found_and_nothing_else(tmp_path):
    rng = np.random.default_rng(13)
    vocab = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}x" for i in range(3000)]
    eval_vocab = [f"q{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}z" for i in range(3000)]
    examples = [" ".join(rng.choice(eval_vocab, rng.integers(9, 40))) for _ in range(60)]
    docs = [" ".join(rng.choice(vocab, rng.integers(50, 200))) for _ in range(2000)]
    planted: dict[int, int] = {}  # training document -> example
    for k, e in enumerate(rng.choice(len(examples), 25, replace=False).tolist()):
        words = examples[e].split()
        if k % 2 and len(words) > 13:  # partial: a window of 13+ words
            a = int(rng.integers(0, len(words) - 13))
            words = words[a:a + 13 + int(rng.integers(0, len(words) - 13 - a + 1))]
        text = " ".join(words).upper() if k % 3 == 0 else ", ".join(words)  # case, punctuation
        d = int(rng.integers(0, len(docs)))
        while d in planted:
            d = int(rng.integers(0, len(docs)))
        cut = docs[d].split()
        at = int(rng.integers(0, len(cut)))
        docs[d] = " ".join(cut[:at]) + " " + text + ". " + " ".join(cut[at:])
        planted[d] = e
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    ev = write_eval(tmp_path / "eval.jsonl", examples)
    r = run_steps([train], [ContaminationFilter([ev])], tmp_path / "out",
                  RunOptions(quiet=True, batch_size=97))
    removed = [d["text"] for d in read_output(tmp_path / "out" / "removed" / "train.jsonl")]
    assert sorted(removed) == sorted(docs[d] for d in planted)
    rep = r["steps"][0]
    found = {x["source"]: x for x in rep["contaminated_examples"]}
    assert set(found) == {f"{ev}:{e + 1}" for e in planted.values()}
    for d, e in planted.items():
        first = found[f"{ev}:{e + 1}"]["first_training_documents"]
        assert d in [f["ordinal"] for f in first] or len(first) == 5
        assert first[0]["ordinal"] == min(x for x, y in planted.items() if y == e)
        assert first[0]["line"] == first[0]["ordinal"] + 1 and first[0]["file"] == 0
    s = rep["eval_sets"][0]
    assert s["contaminated"] == len(set(planted.values())) and s["too_short"] == 0


def test_cli_reports_and_errors(tmp_path, capsys):
    ev = write_eval(tmp_path / "e.jsonl", ["one two three four five six seven eight nine"])
    (tmp_path / "t.jsonl").write_text(json.dumps({"text": "x one two three four five six "
                                                          "seven eight nine y"}) + "\n"
                                      + json.dumps({"text": "nothing"}) + "\n")
    rc = main(["contamination", str(tmp_path / "t.jsonl"), "--eval", str(ev), "-o",
               str(tmp_path / "o")])
    assert rc == 0
    assert "1 of 1 examples contaminated" in capsys.readouterr().err
    rc = main(["contamination", str(tmp_path / "t.jsonl"), "--eval", str(ev), "-o",
               str(tmp_path / "o2"), "--min-ngram", "20", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "min_ngram" in err[0]
    (tmp_path / "empty.jsonl").write_text('{"text": ""}\n')
    rc = main(["contamination", str(tmp_path / "t.jsonl"), "--eval",
               str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "o3"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "no examples" in err[-1]


def test_bad_settings():
    with pytest.raises(ValueError, match="list"):
        ContaminationFilter("eval.jsonl")
    with pytest.raises(ValueError, match="n must be"):
        ContaminationFilter(["x"], n=0)
