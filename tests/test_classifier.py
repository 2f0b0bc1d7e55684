"""The fastText-style classifier and its filter (cooc.curate.classifier): features against a
slow reference, planted classes learnt, seeded runs reproduced, the artefact round trip,
the threshold and pareto rules through the runner."""

import json

import numpy as np
import pytest
from curate_fixtures import run_texts, write_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.curate.classifier import ClassifierFilter, HashedNgramClassifier, pareto_draws
from cooc.curate.run import run_steps
from cooc.errors import CoocError
from cooc.kernels.minhash import mix64
from cooc.options import RunOptions

PETS = "cat dog mouse bird fish".split()
MONEY = "stock bond market price trade".split()
FILLER = "the a of and to in".split()


def make(rng, vocab, n, length=20):
    return [" ".join(rng.choice(vocab + FILLER, length)) for _ in range(n)]


def reference_features(clf, text):
    words, _ = clf.shingler.word_hashes([text])
    words = list(words) + [np.uint64(0x656E642D6F662D74)]  # the end-of-text word
    out = []
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as the kernel's does
        for i in range(len(words)):
            out.append(int(words[i] % np.uint64(clf.buckets)))
            h = words[i]
            for j in range(i + 1, min(len(words), i + clf.ngrams)):
                h = mix64(h * np.uint64(0x9E3779B97F4A7C15) + words[j])
                out.append(int(h % np.uint64(clf.buckets)))
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="ab cD.é", max_size=30), min_size=1, max_size=5),
       st.integers(1, 4), st.sampled_from([7, 1000, 2_000_000]))
def test_features_match_reference(texts, ngrams, buckets):
    clf = HashedNgramClassifier(ngrams=ngrams, buckets=buckets)
    feats, ptr = clf.featurize(texts)
    for d, t in enumerate(texts):
        assert feats[ptr[d]:ptr[d + 1]].tolist() == reference_features(clf, t)


def test_learns_planted_classes_and_is_reproducible():
    rng = np.random.default_rng(0)
    texts = make(rng, PETS, 300) + make(rng, MONEY, 300)
    y = [0] * 300 + [1] * 300
    a = HashedNgramClassifier(dim=8, buckets=1 << 15, epochs=5).fit(texts, y)
    b = HashedNgramClassifier(dim=8, buckets=1 << 15, epochs=5).fit(texts, y)
    assert np.array_equal(a.embeddings, b.embeddings) and np.array_equal(a.output, b.output)
    test = make(rng, PETS, 100) + make(rng, MONEY, 100)
    truth = np.array([0] * 100 + [1] * 100)
    assert ((a.score(test) > 0.5) == truth).mean() == 1.0
    two = HashedNgramClassifier(dim=8, buckets=1 << 15, epochs=5, num_threads=2).fit(texts, y)
    assert ((two.score(test) > 0.5) == truth).mean() >= 0.99
    losses = a.train_stats["loss_per_epoch"]
    assert losses[-1] < losses[0]


def test_save_load_round_trip_and_damage(tmp_path):
    rng = np.random.default_rng(1)
    texts = make(rng, PETS, 50) + make(rng, MONEY, 50)
    clf = HashedNgramClassifier(dim=4, buckets=1 << 12).fit(texts, [0] * 50 + [1] * 50)
    clf.save(tmp_path / "m.clf")
    back = HashedNgramClassifier.load(tmp_path / "m.clf")
    assert np.array_equal(back.score(texts), clf.score(texts))
    with open(tmp_path / "m.clf" / "output.f32", "r+b") as f:
        f.write(b"\x00\x00\x80\x7f")
    with pytest.raises(CoocError, match="damaged"):
        HashedNgramClassifier.load(tmp_path / "m.clf")


def test_pareto_rule_is_per_ordinal_and_matches_numpy_in_distribution():
    a = pareto_draws(3, np.arange(10, 20), 9.0)
    b = np.concatenate([pareto_draws(3, np.arange(10, 15), 9.0),
                        pareto_draws(3, np.arange(15, 20), 9.0)])
    assert np.array_equal(a, b)
    many = pareto_draws(5, np.arange(200_000), 9.0)
    ref = np.random.default_rng(0).pareto(9.0, 200_000)
    for q in (0.1, 0.5, 0.9, 0.99):
        assert abs(np.quantile(many, q) - np.quantile(ref, q)) < 0.01


@pytest.mark.parametrize("rule", ["threshold", "pareto"])
def test_filter_through_the_runner(tmp_path, rule):
    rng = np.random.default_rng(2)
    texts = make(rng, PETS, 40) + make(rng, MONEY, 40)
    rng.shuffle(texts)
    files = write_corpus(tmp_path / "in", texts, "jsonl", split=[30])
    clf = HashedNgramClassifier(dim=4, buckets=1 << 12).fit(
        make(rng, PETS, 100) + make(rng, MONEY, 100), [0] * 100 + [1] * 100)
    kw = {"threshold": 0.5} if rule == "threshold" else {"pareto": 9.0, "seed": 4}
    outs = []
    for bs in (3, 64):
        r = run_steps(files, [ClassifierFilter(clf, **kw)], tmp_path / f"o{bs}",
                      RunOptions(batch_size=bs, quiet=True))
        assert r["kept"] + r["removed"] == len(texts)
        outs.append(run_texts(tmp_path / f"o{bs}"))
    assert outs[0] == outs[1]
    docs = [d for v in outs[0].values() for d in v]
    for d in docs:
        s = d["cooc_scores"]["filter-classifier"]
        money = any(w in d["text"].split() for w in MONEY)
        if rule == "threshold":
            assert (d.get("cooc_reason") is None) == (s >= 0.5)
            assert (s >= 0.5) == money
    if rule == "pareto":  # pets score ~0: kept only when the draw beats ~1
        kept_pets = sum(1 for k, v in outs[0].items() if k.startswith("kept") for d in v
                        if not any(w in d["text"].split() for w in MONEY))
        assert kept_pets <= 4


def test_callable_scorer_plugs_in(tmp_path):
    files = write_corpus(tmp_path / "in", ["short", "a much longer text here"], "jsonl")
    r = run_steps(files, [ClassifierFilter(lambda texts: [min(1.0, len(t) / 10) for t in texts],
                                           threshold=0.9)], tmp_path / "o", RunOptions(quiet=True))
    assert r["kept"] == 1 and r["removed"] == 1


def test_cli_train_filter_and_errors(tmp_path, capsys):
    rng = np.random.default_rng(3)
    (tmp_path / "pos.jsonl").write_text("".join(json.dumps({"text": t}) + "\n"
                                                for t in make(rng, MONEY, 60)))
    (tmp_path / "neg.jsonl").write_text("".join(json.dumps({"text": t}) + "\n"
                                                for t in make(rng, PETS, 60)))
    assert main(["classifier", "train", "-p", str(tmp_path / "pos.jsonl"), "-n",
                 str(tmp_path / "neg.jsonl"), "-o", str(tmp_path / "m.clf"), "--buckets",
                 "4096", "--dim", "4", "--epochs", "20", "-q"]) == 0
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n"
                            for t in make(rng, MONEY, 5) + make(rng, PETS, 5)))
    assert main(["filter", "classifier", str(data), "-o", str(tmp_path / "out"), "--model",
                 str(tmp_path / "m.clf"), "--threshold", "0.5", "-q"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["kept"] == 5 and report["removed"] == 5
    assert main(["classifier", "score", str(tmp_path / "m.clf"), str(data)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["score"] > 0.5
    for argv, match in ((["--threshold", "2"], "threshold must be"),
                        (["--pareto", "0"], "pareto must be")):
        rc = main(["filter", "classifier", str(data), "-o", str(tmp_path / "o2"), "--model",
                   str(tmp_path / "m.clf"), *argv, "-q"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and match in err[0]
    rc = main(["classifier", "train", "-p", str(tmp_path / "pos.jsonl"), "-n",
               str(tmp_path / "neg.jsonl"), "-o", str(tmp_path / "x.clf"), "--dim", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "dim must be" in err[0]
