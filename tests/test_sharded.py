"""Dedup as map / shuffle / reduce tasks (`cooc.curate.sharded`): the same records as the
streaming runner (`run_steps`) whatever the shards, batch size and memory budget, in this
process and on a local Ray cluster; a killed run resumes; bad input is counted."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from curate_fixtures import DiesInDecide, Killed, run_texts, write_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc.curate.sharded as sharded
from cooc.cli.main import main
from cooc.curate.exact import ExactDedup
from cooc.curate.minhash import MinHashDedup
from cooc.curate.run import check_output, run_steps
from cooc.curate.sharded import run_sharded
from cooc.errors import CoocError
from cooc.options import RunOptions

BASES = ["the cat sat on the mat and looked at the dog",
         "a quick brown fox jumps over the lazy dog every day",
         "rain falls on the plain in spain when clouds come",
         "one two three four five six seven eight nine ten"]


def near_copies(seed: int, n: int) -> list[str]:
    """Documents drawn from a few bases with word edits, exact copies and unrelated ones."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = BASES[rng.integers(len(BASES))].split()
        kind = rng.integers(4)
        if kind == 1:  # one word changed
            words[rng.integers(len(words))] = f"x{rng.integers(3)}"
        elif kind == 2:  # unrelated
            words = [f"u{rng.integers(1000)}" for _ in range(10)]
        out.append(" ".join(words))
    return out


def records(out: Path) -> dict:
    return run_texts(out)


def same_report(a: dict, b: dict) -> None:
    for key in ("input_records", "documents", "kept", "removed", "skipped"):
        assert a[key] == b[key], key
    assert a["steps"][0]["removed_by_reason"] == b["steps"][0]["removed_by_reason"]
    assert a["skip_report"]["skipped"] == b["skip_report"]["skipped"]


STEPS = {"exact": lambda: ExactDedup(), "exact-normalized": lambda: ExactDedup(normalize=True),
         "minhash": lambda: MinHashDedup(0.6, ngram=2, permutations=32),
         "minhash-longest": lambda: MinHashDedup(0.5, ngram=1, permutations=16, keep="longest")}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 60), st.sampled_from(sorted(STEPS)),
       st.sampled_from(["jsonl", "jsonl.gz", "parquet", "txt"]),
       st.lists(st.floats(0, 1), max_size=3), st.integers(1, 9),
       st.sampled_from([1 << 11, 1 << 16, 64 << 20]))
def test_sharded_equals_streaming(seed, n, step, fmt, cuts, batch_size, memory):
    texts = near_copies(seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_corpus(tmp / "in", texts, fmt, bad_every=0 if fmt == "parquet" else 5,
                             split=[int(c * n) for c in cuts])
        want = run_steps(files, [STEPS[step]()], tmp / "local",
                         RunOptions(batch_size=7, quiet=True))
        got = run_sharded(files, STEPS[step](), tmp / "tasks",
                          RunOptions(batch_size=batch_size, memory_bytes=memory, quiet=True,
                                     engine="in-process"))
        check_output(tmp / "tasks")
        same_report(want, got)
        assert got["kept"] + got["removed"] + got["skipped"] == got["input_records"]
        assert records(tmp / "local") == records(tmp / "tasks")
        if fmt == "jsonl":  # uncompressed outputs are the same bytes
            for p in (tmp / "local").rglob("part*"):
                assert p.read_bytes() == (tmp / "tasks" / p.relative_to(tmp / "local")).read_bytes()


def test_small_memory_splits_into_partitions(tmp_path):
    texts = near_copies(3, 400)
    files = write_corpus(tmp_path / "in", texts, "jsonl", split=[100, 250])
    run_steps(files, [ExactDedup()], tmp_path / "local", RunOptions(quiet=True))
    r = run_sharded(files, ExactDedup(), tmp_path / "tasks",
                    RunOptions(quiet=True, engine="in-process", memory_bytes=1 << 10))
    assert r["steps"][0]["partitions"] > 1
    assert records(tmp_path / "local") == records(tmp_path / "tasks")
    run_steps(files, [MinHashDedup(0.6, ngram=2)], tmp_path / "mlocal", RunOptions(quiet=True))
    r = run_sharded(files, MinHashDedup(0.6, ngram=2), tmp_path / "mtasks",
                    RunOptions(quiet=True, engine="in-process", memory_bytes=1 << 12))
    assert r["steps"][0]["spilled_partitions"] > 0 and r["removed"] > 0
    assert records(tmp_path / "mlocal") == records(tmp_path / "mtasks")


def test_killed_run_resumes_and_skips_finished_tasks(tmp_path, monkeypatch):
    texts = near_copies(11, 120)
    files = write_corpus(tmp_path / "in", texts, "jsonl.gz", bad_every=7, split=[30, 60, 90])
    opts = RunOptions(quiet=True, engine="in-process", batch_size=8)
    whole = run_sharded(files, MinHashDedup(0.6, ngram=2), tmp_path / "whole", opts)
    calls = {"map": 0, "write": 0}
    real_map, real_write = sharded.map_task, sharded.write_task

    def counting_map(*args):
        calls["map"] += 1
        return real_map(*args)

    def dying_write(*args):
        calls["write"] += 1
        hashes = real_write(*args)
        if calls["write"] == 3:  # killed after writing, before its task was marked done
            work = Path(args[6])
            (work / "tasks" / "write-2.json").unlink()
            with open(work / "out" / "kept" / "part2.jsonl.gz", "ab") as f:
                f.write(b"half a member")
            raise Killed
        return hashes

    monkeypatch.setattr(sharded, "map_task", counting_map)
    monkeypatch.setattr(sharded, "write_task", dying_write)
    with pytest.raises(Killed):
        run_sharded(files, MinHashDedup(0.6, ngram=2), tmp_path / "cut", opts)
    assert not (tmp_path / "cut").exists() and (tmp_path / "cut.work").is_dir()
    assert calls == {"map": 4, "write": 3}
    monkeypatch.setattr(sharded, "write_task", real_write)
    resumed = run_sharded(files, MinHashDedup(0.6, ngram=2), tmp_path / "cut", opts)
    assert calls["map"] == 4  # no file was mapped again
    same_report(whole, resumed)
    assert records(tmp_path / "whole") == records(tmp_path / "cut")
    assert not (tmp_path / "cut.work").exists()


def test_granularity_below_documents_is_refused_in_one_line(tmp_path, capsys):
    files = write_corpus(tmp_path / "in", ["a\n\nb", "b"], "jsonl")
    with pytest.raises(CoocError, match="local engine only"):
        run_sharded(files, ExactDedup("paragraph"), tmp_path / "out",
                    RunOptions(quiet=True, engine="in-process"))
    rc = main(["dedup", "exact", *map(str, files), "-o", str(tmp_path / "o2"),
               "--granularity", "span", "--engine", "ray", "-q"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "local engine only" in err[0]


def test_ray_equals_local(tmp_path):
    ray = pytest.importorskip("ray")
    texts = near_copies(5, 300)
    files = write_corpus(tmp_path / "in", texts, "jsonl", bad_every=6, split=[50, 120, 200])
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        steps = {**STEPS, **per_document_steps(tmp_path), **global_steps(tmp_path)}
        for name in ("exact", "minhash", "classifier-pareto", "perplexity", "quantile",
                     "dsir", "contamination"):
            want = run_steps(files, [steps[name]()], tmp_path / f"{name}-local",
                             RunOptions(quiet=True))
            got = run_sharded(files, steps[name](), tmp_path / f"{name}-ray",
                              RunOptions(quiet=True, engine="ray", num_proc=1,
                                         memory_bytes=256 << 20))
            same_report(want, got)
            assert got["removed"] > 0
            for p in (tmp_path / f"{name}-local").rglob("part*"):
                assert p.read_bytes() == (tmp_path / f"{name}-ray" /
                                          p.relative_to(tmp_path / f"{name}-local")).read_bytes()
        rc = main(["dedup", "minhash", *map(str, files), "-o", str(tmp_path / "cli"),
                   "--threshold", "0.6", "--ngram", "2", "--permutations", "32",
                   "--engine", "ray", "--memory", "256M", "-q"])
        assert rc == 0
        assert records(tmp_path / "cli") == records(tmp_path / "minhash-local")
    finally:
        ray.shutdown()


@pytest.mark.parametrize("fmt", ["jsonl.zst", "parquet"])
def test_streaming_minhash_killed_run_resumes_to_identical_bytes(tmp_path, fmt):
    texts = near_copies(17, 150)
    files = write_corpus(tmp_path / "in", texts, fmt, split=[40, 90])
    opts = RunOptions(batch_size=6, quiet=True)

    def step():
        return MinHashDedup(0.6, ngram=2, permutations=32)

    whole = run_steps(files, [step()], tmp_path / "whole", opts, checkpoint_every=4)
    with pytest.raises(Killed):
        run_steps(files, [DiesInDecide(step(), 14)], tmp_path / "cut", opts, checkpoint_every=4)
    resumed = run_steps(files, [step()], tmp_path / "cut", opts, checkpoint_every=4)
    assert resumed["resumed_at_batch"] == 12 and whole["removed"] > 0
    same_report(whole, resumed)
    names = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("part*"))
    assert names
    for name in names:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes()


def per_document_steps(tmp_path):
    """A threshold perplexity filter, a classifier with the pareto rule, a language filter."""
    from cooc.curate.classifier import ClassifierFilter
    from cooc.curate.perplexity import PerplexityFilter

    train = tmp_path / "lm.txt"
    train.write_text("\n".join(BASES) + "\n")
    assert main(["lm", "estimate", str(train), "-o", str(tmp_path / "m.arpa"), "--order", "2",
                 "--discount-fallback", "0.5", "1", "1.5", "-q"]) == 0
    steps = {"perplexity": lambda: PerplexityFilter(tmp_path / "m.arpa", threshold=30.0),
             "classifier-pareto": lambda: ClassifierFilter(
                 lambda texts: [0.5 if "cat" in t else 0.05 for t in texts], pareto=2.0, seed=3)}
    try:
        import py3langid  # noqa: F401

        from cooc.curate.language import LanguageFilter

        steps["language"] = lambda: LanguageFilter(["en"], 0.9)
    except ImportError:
        pass
    return steps


def global_steps(tmp_path):
    """The global filters: a perplexity quantile, DSIR, contamination."""
    import json

    from cooc.curate.contamination import ContaminationFilter
    from cooc.curate.dsir import DSIRResample
    from cooc.curate.perplexity import PerplexityFilter

    train = tmp_path / "lm.txt"
    train.write_text("\n".join(BASES) + "\n")
    if not (tmp_path / "m.arpa").exists():
        assert main(["lm", "estimate", str(train), "-o", str(tmp_path / "m.arpa"), "--order",
                     "2", "--discount-fallback", "0.5", "1", "1.5", "-q"]) == 0
    (tmp_path / "target.jsonl").write_text(json.dumps({"text": BASES[0]}) + "\n")
    (tmp_path / "eval.jsonl").write_text(json.dumps({"text": BASES[2]}) + "\n"
                                         + json.dumps({"text": BASES[3][:30]}) + "\n")
    return {"quantile": lambda: PerplexityFilter(tmp_path / "m.arpa", quantile=0.4),
            "dsir": lambda: DSIRResample([tmp_path / "target.jsonl"], k=25, seed=2),
            "contamination": lambda: ContaminationFilter([tmp_path / "eval.jsonl"], n=5,
                                                         min_ngram=3)}


def test_global_filters_as_tasks_equal_streaming(tmp_path):
    texts = near_copies(23, 160)
    files = write_corpus(tmp_path / "in", texts, "jsonl", bad_every=8, split=[30, 100])
    for name, make in global_steps(tmp_path).items():
        want = run_steps(files, [make()], tmp_path / f"{name}-local", RunOptions(quiet=True))
        got = run_sharded(files, make(), tmp_path / f"{name}-tasks",
                          RunOptions(quiet=True, engine="in-process", batch_size=9))
        same_report(want, got)
        assert 0 < got["removed"] < len(texts), name
        for p in (tmp_path / f"{name}-local").rglob("part*"):
            assert p.read_bytes() == (tmp_path / f"{name}-tasks" /
                                      p.relative_to(tmp_path / f"{name}-local")).read_bytes()
        if name == "contamination":
            a, b = want["steps"][0], got["steps"][0]
            assert a["contaminated_examples"] == b["contaminated_examples"]
            assert a["eval_sets"] == b["eval_sets"] and a["hits"] == b["hits"]
        if name == "quantile":
            assert want["steps"][0]["cutoff"] == got["steps"][0]["cutoff"]
            assert want["steps"][0]["tokens"] == got["steps"][0]["tokens"]


def test_per_document_steps_as_tasks_equal_streaming(tmp_path):
    texts = near_copies(21, 200)
    files = write_corpus(tmp_path / "in", texts, "jsonl.gz", bad_every=9, split=[40, 130])
    for name, make in per_document_steps(tmp_path).items():
        want = run_steps(files, [make()], tmp_path / f"{name}-local", RunOptions(quiet=True))
        got = run_sharded(files, make(), tmp_path / f"{name}-tasks",
                          RunOptions(quiet=True, engine="in-process", batch_size=7))
        same_report(want, got)
        assert 0 < got["removed"] < len(texts), name
        for key in ("documents", "removed"):
            assert got["steps"][0][key] == want["steps"][0][key], (name, key)
        assert records(tmp_path / f"{name}-local") == records(tmp_path / f"{name}-tasks")
