"""DSIR importance resampling (cooc.curate.dsir): log weights against a slow reference, the
Gumbel top-k selection, independence of batches, enrichment of a planted target."""

import json
from collections import Counter

import numpy as np
import pytest
from curate_fixtures import run_texts, write_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.curate.dsir import DSIRResample, gumbel_noise
from cooc.curate.run import run_steps
from cooc.curate.step import DocumentBatch
from cooc.options import RunOptions

A = "cat dog mouse bird fish horse cow".split()
B = "stock bond market price trade bank fund".split()


def batches(texts, size):
    return [DocumentBatch(texts[i:i + size], np.arange(i, min(i + size, len(texts))))
            for i in range(0, len(texts), size)]


def reference_weights(step, target, raw):
    """The weights the slow way: counters of each text's features."""
    def counts(texts):
        c = Counter()
        for t in texts:
            f, _ = step.features([t])
            c.update(f.tolist())
        return c
    ct, cr = counts(target), counts(raw)
    nt, nr = sum(ct.values()), sum(cr.values())
    out = []
    for t in raw:
        f, _ = step.features([t])
        out.append(sum(np.log(ct[x] / nt + 1e-8) - np.log(cr[x] / nr + 1e-8) for x in f.tolist()))
    return np.array(out)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.sampled_from(A + B), min_size=1, max_size=15).map(" ".join),
                min_size=1, max_size=30),
       st.lists(st.lists(st.sampled_from(A), min_size=1, max_size=15).map(" ".join),
                min_size=1, max_size=10),
       st.integers(1, 8), st.integers(0, 30), st.sampled_from([7, 10_000]))
def test_weights_and_selection_equal_reference(tmp_path_factory, raw, target, size, k, buckets):
    folder = tmp_path_factory.mktemp("t")
    (folder / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in target))
    step = DSIRResample([folder / "t.jsonl"], k=k, buckets=buckets, seed=3)
    step.fit(batches(raw, size))
    np.testing.assert_allclose(step.log_weight_, reference_weights(step, target, raw),
                               rtol=1e-9, atol=1e-9)
    keys = step.log_weight_ + gumbel_noise(3, np.arange(len(raw)))
    want = np.zeros(len(raw), bool)
    want[np.argsort(-keys, kind="stable")[:min(k, len(raw))]] = True
    got = np.concatenate([step.decide(b).keep for b in batches(raw, size)])
    assert (got == want).all()


def test_enriches_a_planted_target(tmp_path):
    rng = np.random.default_rng(0)
    target = [" ".join(rng.choice(A, 30)) for _ in range(200)]
    raw = [" ".join(rng.choice(A if i % 10 == 0 else B, 30)) for i in range(1000)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in target))
    files = write_corpus(tmp_path / "in", raw, "jsonl.gz", split=[400])
    outs = []
    for bs in (7, 500):
        r = run_steps(files, [DSIRResample([tmp_path / "t.jsonl"], k=100, seed=1)],
                      tmp_path / f"o{bs}", RunOptions(batch_size=bs, quiet=True))
        assert r["kept"] == 100 and r["removed"] == 900
        outs.append(run_texts(tmp_path / f"o{bs}"))
    assert outs[0] == outs[1]
    kept = [d["text"] for k, v in outs[0].items() if k.startswith("kept") for d in v]
    assert sum(t.split()[0] in A for t in kept) >= 95  # 10 % of the raw corpus, ~all kept
    removed = [d for k, v in outs[0].items() if k.startswith("removed") for d in v]
    assert all(d["cooc_reason"] == "not-selected" for d in removed)
    assert all("select-dsir" in d["cooc_scores"] for d in removed)


def test_equal_weights_sample_uniformly():
    n = 20_000
    g = gumbel_noise(9, np.arange(n))
    chosen = np.argpartition(-g, 999)[:1000]
    assert abs(np.mean(chosen < n // 2) - 0.5) < 0.05  # no side preferred


def test_cli_and_errors(tmp_path, capsys):
    (tmp_path / "t.jsonl").write_text(json.dumps({"text": "cat dog"}) + "\n")
    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": t}) + "\n"
                                              for t in ["cat dog cat", "stock bond", "dog"]))
    assert main(["filter", "dsir", str(tmp_path / "r.jsonl"), "--target", str(tmp_path / "t.jsonl"),
                 "--k", "2", "-o", str(tmp_path / "o"), "-q"]) == 0
    kept = [json.loads(x)["text"] for x in (tmp_path / "o" / "kept" / "r.jsonl").read_text().split("\n") if x]
    assert "stock bond" not in kept and len(kept) == 2
    rc = main(["filter", "dsir", str(tmp_path / "r.jsonl"), "--target", str(tmp_path / "t.jsonl"),
               "--fraction", "2", "-o", str(tmp_path / "o2"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "fraction must be" in err[0]
    with pytest.raises(ValueError, match="one of them"):
        DSIRResample([tmp_path / "t.jsonl"])
