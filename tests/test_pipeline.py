"""Pipelines (cooc.curate.pipeline): a TOML file runs its steps as run_steps does, paths are
relative to the file, and every mistake is one line naming the step and the key."""

import json

import pytest
from curate_fixtures import run_texts, write_corpus

from cooc.cli.main import main
from cooc.curate.contamination import ContaminationFilter
from cooc.curate.exact import ExactDedup
from cooc.curate.minhash import MinHashDedup
from cooc.curate.pipeline import build_steps, run_pipeline
from cooc.curate.run import run_steps
from cooc.errors import CoocError
from cooc.options import RunOptions

TEXTS = ["the cat sat on the mat today", "the cat sat on the mat today",
         "the cat sat on the mat today!", "one two three four five six seven eight nine ten",
         "something else entirely here", "x y z"] * 3


def test_toml_pipeline_equals_run_steps(tmp_path, capsys):
    files = write_corpus(tmp_path / "data", TEXTS, "jsonl")
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "e.jsonl").write_text(
        json.dumps({"text": "one two three four five six seven eight nine ten"}) + "\n")
    (tmp_path / "p.toml").write_text('''
[input]
paths = ["data/part0.jsonl", "data/part1.jsonl"]

[output]
dir = "curated"
checkpoint_every = 2

[run]
batch_size = 4
memory = "256M"

[[step]]
type = "dedup-exact"

[[step]]
type = "dedup-minhash"
threshold = 0.5
ngram = 2

[[step]]
type = "filter-contamination"
eval_sets = ["evals/e.jsonl"]
n = 5
min_ngram = 5
''')
    assert main(["curate", "run", str(tmp_path / "p.toml")]) == 0
    err = capsys.readouterr().err
    assert "dedup-exact" in err and "filter-contamination" in err
    want = run_steps(files, [ExactDedup(), MinHashDedup(0.5, ngram=2),
                             ContaminationFilter([tmp_path / "evals" / "e.jsonl"], n=5,
                                                 min_ngram=5)],
                     tmp_path / "direct", RunOptions(batch_size=4, quiet=True))
    got = json.loads((tmp_path / "curated" / "report.json").read_text())
    assert got["kept"] == want["kept"] and got["removed"] == want["removed"]
    assert [s["removed_by_reason"] for s in got["steps"]] == \
        [s["removed_by_reason"] for s in want["steps"]]
    assert run_texts(tmp_path / "curated") == run_texts(tmp_path / "direct")
    assert got["steps"][2]["removed_by_reason"]["contaminated"] == 1  # the copies went first


@pytest.mark.parametrize("steps, match", [
    ([], "no \\[\\[step\\]\\]"),
    ([{"threshold": 0.5}], "give its type"),
    ([{"type": "dedup-magic"}], "unknown type"),
    ([{"type": "dedup-exact", "granularty": "span"}], "step 1 \\(dedup-exact\\): unknown parameter "
                                                       "'granularty'"),
    ([{"type": "dedup-exact"}, {"type": "dedup-minhash", "threshold": 2}],
     "step 2 \\(dedup-minhash\\): threshold must be"),
])
def test_bad_steps_are_named(steps, match):
    with pytest.raises(CoocError, match=match):
        build_steps({"step": steps})


def test_bad_files_one_line(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[input\npaths=")
    assert main(["curate", "run", str(tmp_path / "bad.toml")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    (tmp_path / "p.toml").write_text('[input]\npaths = ["x.jsonl"]\n[[step]]\ntype = "dedup-exact"\n')
    assert main(["curate", "run", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[output] dir" in err[0]
    (tmp_path / "p.toml").write_text('[input]\npaths = ["x.jsonl"]\n[output]\ndir = "o"\n'
                                     '[run]\nmemmory = "1G"\n[[step]]\ntype = "dedup-exact"\n')
    assert main(["curate", "run", str(tmp_path / "p.toml")]) == 2
    assert "[run]" in capsys.readouterr().err


def test_python_dict_pipeline(tmp_path):
    write_corpus(tmp_path / "d", TEXTS, "jsonl.gz")
    r = run_pipeline({"input": {"paths": [str(tmp_path / "d")]},
                      "output": {"dir": str(tmp_path / "o")},
                      "run": {"quiet": True},
                      "step": [{"type": "dedup-exact", "normalize": True}]})
    assert r["kept"] == 5 and r["removed"] == 13
